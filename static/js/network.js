// /network: a real network on one input. The shell keeps the state (model, input kind, test image,
// size) in the URL and runs check-then-run: the check is the model's cost table (GET /api/models/{id}),
// the run its forward pass (POST /api/models/{id}/run, binary frame). Every number shown comes from the
// API; this file only lays them out. The drawing pad's strokes are sent as a 32×32 grid of ink levels
// (block means of the canvas); the server turns them into the dataset's 8×8 format.
import { getJSON, postFile, postFrame, postJSON } from "./api.js";
import { formatBytes, formatCount, formatInt } from "./format.js";
import { KEYS } from "./keys.js";
import { convUrl, pointwiseUrl } from "./links.js";
import { createPad } from "./network_pad.js";
import { csv, download, netronAttachment, tableRows } from "./network_export.js";
import { renderRoofline } from "./network_roofline.js";
import { createShell, showMessage } from "./shell.js";

const $ = (id) => document.getElementById(id);
const GRID = 32; // the drawing is sent as GRID×GRID ink levels
const details = new Map(); // "model|size" → the cost table answer (it does not change with the input)
let lastRun = null, lastDetail = null;

// ---- the drawing pad (network_pad.js) ----
const pad = createPad($("pad"), GRID);

// ---- requests ----
const isDigits = (state) => state.model === "digits";

function modelInput(state) {
  if (isDigits(state) && state.inputKind === "draw") return { kind: "drawing", size: GRID, values: pad.grid() };
  if (isDigits(state) && state.inputKind === "test") return { kind: "test_image", index: +state.testIndex || 0 };
  if (state.inputKind === "image" && state.imageId) return { kind: "image", id: state.imageId }; // converted server-side
  const c = lastDetail?.model?.input_shape?.[1] ?? 3, size = sizeOf(state);
  const [h, w] = lastDetail ? lastDetail.input_shape.slice(2) : [size?.[0] ?? 32, size?.[1] ?? 32];
  return { kind: "random", shape: [c, h, w], seed: 0 };
}

// The models list (GET /api/models), fetched once and again after an upload: it says which models leave
// their input size dynamic, the only ones that are asked for a size.
let modelsList = null;
const dynamicModels = new Set();
function listModels(fresh = false) {
  if (fresh || !modelsList) {
    modelsList = getJSON("/api/models").then((models) => {
      dynamicModels.clear();
      models.filter((m) => m.input_shape.slice(2).some((d) => typeof d === "string")).forEach((m) => dynamicModels.add(m.id));
      return models;
    });
    modelsList.catch(() => { modelsList = null; });
  }
  return modelsList;
}

function sizeOf(state) {
  return dynamicModels.has(state.model) ? [+state.size || 224, +state.size || 224] : null;
}

async function modelDetail(state, signal) {
  await listModels().catch(() => null);
  const size = sizeOf(state), key = `${state.model}|${size}`;
  if (details.has(key)) return details.get(key);
  const url = `/api/models/${encodeURIComponent(state.model)}`;
  try {
    const answer = { valid: true, detail: await getJSON(size ? `${url}?height=${size[0]}&width=${size[1]}` : url, { signal }) };
    details.set(key, answer);
    return answer;
  } catch (err) {
    if (err.name === "AbortError") throw err;
    return { valid: false, error: { message: err.message } };
  }
}

// ---- drawing the answers ----
function greyCanvas(values, h, w, lo, hi) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d"), img = ctx.createImageData(w, h), span = hi - lo || 1;
  for (let i = 0; i < h * w; i++) {
    const g = Math.round(255 * (values[i] - lo) / span);
    img.data.set([g, g, g, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

function thumbs(preview, label) {
  const [c, h, w] = preview.shape, out = [];
  for (let k = 0; k < c; k++) {
    const v = preview.values.subarray(k * h * w, (k + 1) * h * w);
    const fig = document.createElement("figure");
    const canvas = greyCanvas(v, h, w, preview.channel_min[k], preview.channel_max[k]);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${label} channel ${k}`);
    fig.append(canvas);
    const cap = document.createElement("figcaption");
    cap.textContent = `ch ${k}`;
    fig.append(cap);
    out.push(fig);
  }
  return out;
}

/** A classifier picks one of its classes for any input: said beside an uploaded picture's prediction. */
function caveat(state, p) {
  const text = isDigits(state)
    ? "This model only knows handwritten digits 0–9: it picks one of them for any picture, so a high percentage does not mean the picture is a digit."
    : `A classifier picks one of its ${formatInt(p.classes.length)} classes for any picture: a high value does not mean the picture shows that class.`;
  const note = document.createElement("p");
  note.className = "small wide caveat";
  note.textContent = text;
  return note;
}

function renderPrediction(run, state) {
  const el = $("prediction");
  el.replaceChildren();
  const p = run.prediction;
  if (!p) {
    const note = document.createElement("p");
    note.className = "muted small wide";
    note.textContent = "The model's output is not a class vector (more than 1,000 values), so there is no prediction to show.";
    el.append(note);
    return;
  }
  p.values.forEach((v, i) => {
    const d = document.createElement("div");
    d.className = `cls${i === p.top ? " top" : ""}`;
    d.dataset.cls = p.classes[i];
    d.innerHTML = `<div>${p.classes[i]}: <span class="v">${p.kind === "probabilities" ? (100 * v).toFixed(1) + " %" : v.toFixed(3)}</span></div>`;
    const bar = document.createElement("div");
    bar.className = "prob-bar";
    bar.style.width = `${Math.max(0, Math.min(1, p.kind === "probabilities" ? v : 0)) * 100}%`;
    d.append(bar);
    el.append(d);
  });
  el.dataset.top = p.classes[p.top];
  if (state.inputKind === "image") el.append(caveat(state, p));
  // a held-out test image comes with its true class: say whether the model got it right
  if (run.label != null) {
    el.querySelector(`.cls[data-cls="${CSS.escape(run.label)}"]`)?.classList.add("truth");
    const note = document.createElement("p");
    note.className = "small wide verdict";
    note.textContent = `This test image is a ${run.label} (its label in the dataset): the model `
      + (p.classes[p.top] === run.label ? "is right." : `says ${p.classes[p.top]}, which is wrong.`);
    el.append(note);
  }
}

/** The model's input as the server made it (a drawing's 8×8 digit, a photo converted): what the model sees. */
function renderModelInput(run) {
  const p = run.input_preview, box = $("model-input-box");
  box.hidden = !p || p.shape.length !== 3;
  if (box.hidden) return;
  const [c, h, w] = p.shape, canvas = $("model-input"), ctx2 = canvas.getContext("2d");
  canvas.width = w;
  canvas.height = h;
  const lo = Math.min(0, ...p.channel_min), hi = Math.max(1, ...p.channel_max), span = hi - lo;
  const img = ctx2.createImageData(w, h), rgb = c === 3;
  for (let i = 0; i < h * w; i++) {
    const v = (k) => Math.round(255 * (p.values[(rgb ? k : 0) * h * w + i] - lo) / span);
    img.data.set([v(0), v(1), v(2), 255], i * 4);
  }
  ctx2.putImageData(img, 0, 0);
  $("model-input-caption").textContent = `what the model sees: ${run.input_shape.slice(1).join("×")}`
    + (c > 1 && !rgb ? " (first channel)" : "")
    + `, values ${Math.min(...p.channel_min).toFixed(2)} … ${Math.max(...p.channel_max).toFixed(2)}`;
}

/** The class maps: the input of the global average pooling that feeds the prediction. */
function renderClassMaps(run, detail) {
  const box = $("class-maps-box"), el = $("class-maps");
  const gap = detail.layers.find((r) => r.op === "GlobalAveragePool" || r.op === "ReduceMean");
  const mapsRun = gap && run.layers.find((l) => l.output === gap.inputs[0]);
  const gapRun = gap && run.layers.find((l) => l.output === gap.output);
  // Only when the pooled maps ARE the scores: one map per class (a model that pools features and then
  // has a fully connected head has no class maps, and its pooled channels are no class's score).
  const perClass = mapsRun?.shape?.[1] === run.prediction?.values?.length;
  box.hidden = !(mapsRun?.preview && gapRun?.preview && perClass);
  if (box.hidden) return;
  el.replaceChildren();
  thumbs(mapsRun.preview, "class map").forEach((fig, k) => {
    fig.querySelector("figcaption").textContent = `${run.prediction?.classes?.[k] ?? k}: mean ${gapRun.preview.values[k].toFixed(3)}`;
    el.append(fig);
  });
}

function renderLayers(run, detail) {
  const el = $("layers");
  el.replaceChildren();
  run.layers.forEach((l, i) => {
    const row = detail.layers[i];
    const div = document.createElement("div");
    div.className = "layer";
    const head = document.createElement("header");
    head.innerHTML = `<strong></strong><span class="tag"></span><span class="muted"></span>`;
    head.children[0].textContent = l.name;
    head.children[1].textContent = row?.is_1x1 ? "Conv 1×1" : l.op;
    if (row?.is_1x1) head.children[1].classList.add("pw");
    head.children[2].textContent = `${l.shape.join("×")} · min ${l.min.toFixed(2)} max ${l.max.toFixed(2)} · ${l.time_ms.toFixed(3)} ms`;
    if (l.op === "Conv") head.append(openButton(l.name, row?.is_1x1));
    div.append(head);
    if (l.preview && l.preview.shape.length === 3 && l.preview.shape[1] > 1) {
      const t = document.createElement("div");
      t.className = "thumbs";
      t.append(...thumbs(l.preview, l.name));
      div.append(t);
    }
    el.append(div);
  });
}

/** A button that opens this convolution in /pointwise (1×1) or /conv, with its real weights (weights kind
 * "layer") acting on the real activation this input gives it (input kind "activation"; the layer's geometry
 * comes from POST /api/models/{id}/layer). */
function openButton(name, is1x1) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "open-layer";
  b.dataset.layer = name;
  b.textContent = is1x1 ? "open in /pointwise" : "open in /conv";
  // one name per layer, not twelve alike; it starts with the visible text, as the words a person says to it
  b.setAttribute("aria-label", `${b.textContent}: ${name}`);
  b.addEventListener("click", async () => {
    try {
      const state = shell.state, size = sizeOf(state);
      const view = await postJSON(`/api/models/${encodeURIComponent(state.model)}/layer`, { input: modelInput(state), layer: name,
        ...(size && lastDetail?.model?.input_shape?.slice(2).some((d) => typeof d === "string") ? { size } : {}) });
      // the input is named, not copied: "activation of layer L of model M for this run's stored model input"
      const req = { input: { kind: "activation", model: state.model, layer: name, input: lastRun.input.id }, layer: view.layer,
        weights: { kind: "layer", model: state.model, layer: name } };
      const back = { network: location.search.slice(1) }; // this view, for the layer page's link back
      location.assign(view.is_1x1 && view.layer.groups === 1 && [].concat(view.layer.stride).every((v) => v === 1)
        ? pointwiseUrl(req, back) : convUrl(req, back));
    } catch (err) {
      showMessage(err.message, false);
    }
  });
  return b;
}

function renderTable(run, detail) {
  const body = $("cost-table").tBodies[0];
  body.replaceChildren();
  for (const r of tableRows(run, detail)) {
    const tr = body.insertRow();
    if (r.is_1x1) tr.className = "pw";
    const cells = [r.layer, r.op + (r.bn_folded ? " (BN folded)" : ""), r.geometry, r.shapes, formatInt(r.params),
      formatCount(r.macs), formatBytes(r.bytes), r.macs_per_byte.toFixed(2), r.time_ms.toFixed(3), `${(100 * r.share).toFixed(1)} %`, r.bound];
    cells.forEach((v) => { tr.insertCell().textContent = v; });
  }
  const t = detail.totals;
  const foot = $("cost-table").tFoot;
  foot.replaceChildren();
  const tr = foot.insertRow();
  ["total", "", "", "", formatInt(t.params), formatCount(t.macs), formatBytes(t.bytes_moved), "", run.total_ms.toFixed(3), "100 %", ""]
    .forEach((v) => { tr.insertCell().textContent = v; });
  tr.cells[4].dataset.value = t.params;
  tr.cells[5].dataset.value = t.macs;
  $("totals").textContent = `${formatInt(t.params)} parameters, ${formatCount(t.macs)} MACs (${formatCount(t.flops)} FLOPs), `
    + `${formatBytes(t.bytes_moved)} moved, ${run.total_ms.toFixed(2)} ms in the NumPy engine. 1×1 convolutions: `
    + `${(100 * t.pointwise_params_share).toFixed(1)} % of the parameters, ${(100 * t.pointwise_macs_share).toFixed(1)} % of the MACs, `
    + `${(100 * run.pointwise_time_share).toFixed(1)} % of the time.`;
  $("by-op").textContent = "By layer type: " + detail.by_op.map((o) => `${o.op} ×${o.layers}: ${formatInt(o.params)} params, `
    + `${formatCount(o.macs)} MACs`).join("; ");
}

// ---- models list and upload ----
async function loadModels(selected, fresh = false) {
  const models = await listModels(fresh);
  const sel = $("model");
  sel.replaceChildren(...models.map((m) => new Option(m.builtin ? `${m.name}` : `${m.name} (${m.id.slice(0, 8)})`, m.id)));
  sel.value = selected;
  const m = models.find((x) => x.id === selected);
  if (m?.test_images) $("test-index").max = String(m.test_images - 1); // a number out of range is named on the page
  $("model-note").textContent = m ? `${formatInt(m.params)} parameters, ${m.nodes} layers, input ${m.input_shape.join("×")}`
    + (m.accuracy ? `; held-out accuracy ${(100 * m.accuracy).toFixed(1)} % on ${m.test_images} test images` : "") : "";
}

function showInputs(state) {
  const digits = isDigits(state);
  $("input-kind").querySelectorAll("option").forEach((o) => { o.disabled = !digits && !["random", "image"].includes(o.value); });
  $("image-box").hidden = state.inputKind !== "image";
  $("pad-box").hidden = !(digits && state.inputKind === "draw");
  $("test-box").hidden = !(digits && state.inputKind === "test");
  $("size-box").hidden = !dynamicModels.has(state.model);
}

const shell = createShell({
  page: "network",
  keys: KEYS.network,
  defaults: { model: "digits", inputKind: "draw", testIndex: "0", size: "224", imageId: "", drawing: "" },
  controls: { model: "model", inputKind: "input-kind", testIndex: "test-index", size: "size" },
  request: (state) => ({ state: { ...state } }),
  check: async (body, ctx) => {
    if (body.state.inputKind === "image" && !body.state.imageId) { // nothing to run yet: no random stand-in
      showInputs(body.state);
      return { valid: false, error: { message: "Choose an image file above (PNG, JPEG, …): the model runs on it." } };
    }
    const answer = await modelDetail(body.state, ctx.signal);
    if (answer.valid) lastDetail = answer.detail;
    return answer;
  },
  run: async (body, ctx) => {
    const state = body.state;
    if (!isDigits(state) && !["random", "image"].includes(state.inputKind)) shell.set({ inputKind: "random" }, { touch: false });
    const req = { input: modelInput(shell.state), preview_channels: 16, ...(sizeOf(state) && lastDetail?.model?.input_shape?.slice(2).some((d) => typeof d === "string") ? { size: sizeOf(state) } : {}) };
    return { run: await postFrame(`/api/models/${encodeURIComponent(state.model)}/run`, req, { signal: ctx.signal }) };
  },
  render: async ({ check, run }, ctx) => {
    lastRun = run;
    showInputs(shell.state);
    renderPrediction(run, shell.state);
    ctx.mark("output");
    renderModelInput(run);
    renderClassMaps(run, check.detail);
    renderLayers(run, check.detail);
    renderTable(run, check.detail);
    await renderRoofline(run, check.detail);
    await loadModels(shell.state.model);
  },
  onInvalid: () => { // the previous input's results would pass for this one's
    for (const id of ["prediction", "class-maps", "layers"]) $(id).replaceChildren();
    $("model-input-box").hidden = true;
    $("class-maps-box").hidden = true;
  },
  onControl: (name, value) => (name === "model" && value !== "digits" && shell.state.inputKind !== "image" ? { inputKind: "random" } : null),
});

$("model-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const info = await postFile("/api/models/upload", file);
    await loadModels(info.id, true);
    shell.set({ model: info.id, inputKind: "random" }, { load: true });
  } catch (err) {
    showMessage(err.message, false);
  }
});
$("image-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const info = await postFile("/api/inputs", file); // the upload limits apply; the id goes into the URL
    shell.set({ inputKind: "image", imageId: info.id }, { load: true });
  } catch (err) {
    showMessage(err.message, false);
  }
});
$("pad-clear").addEventListener("click", () => { pad.clear(); shell.set({ drawing: null }); });
// The downloads are named after the model's .onnx file (digits.onnx for the built-in one), the file the
// metrics are opened over in Netron; the built-in model's name is a sentence, not a file name.
const fileStem = () => (lastDetail.model.builtin ? lastDetail.model.id : lastDetail.model.name)
  .replace(/\.onnx$/i, "").replace(/[^\w.-]+/g, "_");
$("download-csv").addEventListener("click", () => {
  if (lastRun && lastDetail) download(csv(lastRun, lastDetail), "text/csv", `${fileStem()}-layers.csv`);
});
$("download-netron").addEventListener("click", () => {
  if (lastRun && lastDetail) {
    download(JSON.stringify(netronAttachment(lastRun, lastDetail), null, 1), "application/json", `${fileStem()}.metrics.json`);
  }
});

pad.clear();
if (!(shell.state.drawing && pad.fromText(shell.state.drawing))) pad.drawSeven(); // a reload keeps the drawing
// each stroke goes into the URL, so a reload or a shared link shows (and runs) the same drawing
pad.wire(() => { if (pad.drawn && shell.state.inputKind === "draw") shell.set({ drawing: pad.toText() }, { load: true }); });
showInputs(shell.state);
loadModels(shell.state.model).catch(() => {});
shell.start();
