// The input chooser shared by the pages: sample, seeded random tensor, or an uploaded file.
// It turns the form into the API's input spec and back; uploads go to POST /api/inputs.
import { postFile } from "./api.js";

const $ = (id) => document.getElementById(id);

/** "sample:edges" | "random:3,16,16,0,normal" | "upload:<id>" | "activation:<model>:<input id>:<layer>" (the
 * activation layer L of model M reads for the stored model input X; the layer's name goes last, it may hold
 * colons) — the compact form kept in the URL. */
export function specToString(spec) {
  if (spec.kind === "sample") return `sample:${spec.name}`;
  if (spec.kind === "random") return `random:${spec.shape.join(",")},${spec.seed},${spec.distribution}`;
  if (spec.kind === "activation") return `activation:${spec.model}:${spec.input}:${spec.layer}`;
  return `upload:${spec.id}`;
}

export function stringToSpec(text) {
  const [kind, rest = ""] = text.split(/:(.*)/s);
  if (kind === "sample") return { kind, name: rest };
  if (kind === "upload") return { kind, id: rest };
  if (kind === "activation") {
    const [model, after = ""] = rest.split(/:(.*)/s), [input, layer = ""] = after.split(/:(.*)/s);
    return { kind, model, input, layer };
  }
  const [c, h, w, seed, distribution] = rest.split(",");
  return { kind: "random", shape: [+c, +h, +w], seed: +seed || 0, distribution: distribution || "normal" };
}

/** How the picker names a layer's activation: "activation of layer L of model M for input 1a2b3c4d…". */
export function activationLabel(spec) {
  return `activation of layer ${spec.layer} of model ${spec.model.length > 16 ? spec.model.slice(0, 8) + "…" : spec.model}`
    + ` for input ${spec.input.slice(0, 8)}…`;
}

export class InputPicker {
  /** onChange(spec) is called whenever the chosen input changes. */
  constructor(onChange) {
    this.onChange = onChange;
    this.uploaded = null; // {id, shape, source}
    $("input-kind").addEventListener("change", () => this.changed());
    for (const id of ["rand-c", "rand-h", "rand-w", "rand-seed", "rand-dist"]) $(id).addEventListener("change", () => this.changed());
    $("file-input").addEventListener("change", (e) => e.target.files[0] && this.upload(e.target.files[0]));
    const zone = $("drop-zone");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files[0]) this.upload(e.dataTransfer.files[0]);
    });
  }

  spec() {
    const kind = $("input-kind").value;
    if (kind.startsWith("sample:")) return { kind: "sample", name: kind.slice(7) };
    if (kind === "upload" && this.uploaded) return { kind: "upload", id: this.uploaded.id };
    if (kind === "activation" && this.activation) return this.activation;
    return { kind: "random", shape: [+$("rand-c").value, +$("rand-h").value, +$("rand-w").value],
             seed: +$("rand-seed").value, distribution: $("rand-dist").value };
  }

  /** Put a spec (from the URL) into the form. */
  set(spec) {
    if (spec.kind === "sample") $("input-kind").value = `sample:${spec.name}`;
    else if (spec.kind === "activation") {
      this.activation = spec;
      const opt = $("activation-option");
      opt.textContent = activationLabel(spec);
      opt.disabled = opt.hidden = false;
      $("input-kind").value = "activation";
    } else if (spec.kind === "upload") {
      this.uploaded = { id: spec.id };
      $("upload-option").disabled = false;
      $("input-kind").value = "upload";
    } else {
      $("input-kind").value = "random";
      [$("rand-c").value, $("rand-h").value, $("rand-w").value] = spec.shape;
      $("rand-seed").value = spec.seed;
      $("rand-dist").value = spec.distribution;
    }
    $("random-fields").hidden = $("input-kind").value !== "random";
  }

  changed() {
    $("random-fields").hidden = $("input-kind").value !== "random";
    this.showStatus();
    this.onChange(this.spec());
  }

  /** The status line speaks of the upload only while the upload is the chosen input. */
  showStatus() {
    const status = $("input-status");
    status.className = "muted small";
    status.textContent = $("input-kind").value === "upload" ? (this.uploadLabel || "") : "";
  }

  async upload(file) {
    const status = $("input-status");
    status.textContent = `uploading ${file.name}…`;
    status.className = "small muted";
    let body;
    try {
      body = await postFile("/api/inputs", file);
    } catch (err) {
      status.textContent = `upload refused: ${err.message}`;
      status.className = "small message error";
      return;
    }
    this.uploaded = body;
    this.uploadLabel = `${file.name}: [${body.shape.join("×")}]`;  // the server never stores the name
    status.textContent = this.uploadLabel;
    $("upload-option").disabled = false;
    $("input-kind").value = "upload";
    this.changed();
  }
}
