// The cost lab's layer-stack editor: a design (the API's list of tagged layers) as a list of cards
// with labelled fields; add, remove, reorder and edit layers, and the branches of a concat or add.
// The JSON stays available under "advanced". The editor holds no numbers of its own: every count
// comes from /api/cost once onChange reports the edited layers.
//
//   const ed = new LayerEditor(container, { label: "design A", onChange: (layers) => … });
//   ed.set(layers);      // show a design (a preset, or one restored from the URL)
const OPS = { conv: "convolution", pool: "pooling", relu: "ReLU", fc: "fully connected", concat: "concat (branches stacked on C)",
  add: "add (branches summed)" };
const FRESH = { conv: () => ({ op: "conv", out: 16, k: 3, padding: 1 }), pool: () => ({ op: "pool", k: 2 }),
  relu: () => ({ op: "relu" }), fc: () => ({ op: "fc", out: 10 }),
  concat: () => ({ op: "concat", branches: [[{ op: "conv", out: 8, k: 1 }], []] }),
  add: () => ({ op: "add", branches: [[{ op: "conv", out: 16, k: 3, padding: 1 }], []] }) };
// Fields per op: [key, label, kind, hint]. "pair" fields take 3 or "3,1"; padding also "same" / "valid".
const FIELDS = {
  conv: [["out", "out channels", "int"], ["k", "kernel", "pair", "3 or 3,1"], ["stride", "stride", "pair"],
    ["padding", "padding", "pad", "1, 1,0, same or valid"], ["groups", "groups (0 = depthwise)", "int0"], ["bias", "bias", "bool"]],
  pool: [["kind", "kind", "kind"], ["k", "window", "pair"], ["stride", "stride (blank = window)", "pairOpt"],
    ["padding", "padding", "int0"]],
  relu: [],
  fc: [["out", "outputs", "int"], ["bias", "bias", "bool"]],
  concat: [["name", "name", "text"]],
  add: [["name", "name", "text"]],
};

// What each kind of field takes, in words: field_check.js names it when a typed value is not one.
const ALLOWED = { int: "a whole number of at least 1", int0: "a whole number of at least 0",
  pair: "a whole number of at least 1, or two as 3,1", pairOpt: "a whole number of at least 1, two as 3,1, or blank",
  pad: "a whole number of at least 0, two as 1,0, same or valid" };

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
};

/** Field text → the API's value: "3" → 3, "3,1" → [3, 1], "same"/"valid" kept; null when it is not one. */
export function parseField(kind, text) {
  const t = String(text).trim();
  if (kind === "text" || kind === "kind") return t;
  if (kind === "pairOpt" && t === "") return undefined;
  if (kind === "pad" && (t === "same" || t === "valid")) return t;
  const parts = t.split(",").map((v) => v.trim());
  if (!parts.every((v) => /^\d+$/.test(v))) return null;
  const nums = parts.map(Number);
  if (kind === "int" || kind === "int0") return nums.length === 1 && (kind === "int0" || nums[0] >= 1) ? nums[0] : null;
  if (nums.length > 2 || (kind !== "pad" && nums.some((v) => v < 1))) return null;
  return nums.length === 1 ? nums[0] : nums;
}

const fieldText = (v) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(",") : String(v));

export class LayerEditor {
  constructor(container, { label, onChange }) {
    this.container = container;
    this.label = label;
    this.onChange = onChange;
    this.layers = [];
  }

  set(layers) {
    this.layers = structuredClone(layers);
    this.render();
  }

  /** The layers changed: render the cards again if their list changed, then put the keyboard focus on the
   * first enabled control named in focusOn (aria-labels): rebuilding the cards dropped it to the page, so
   * a keyboard user could not press "down" twice or remove two layers in a row. */
  changed(rerender = false, focusOn = []) {
    if (rerender) this.render();
    else this.syncJson();
    for (const label of focusOn) {
      const target = this.container.querySelector(`[aria-label="${CSS.escape(label)}"]`);
      if (target && !target.disabled) { target.focus(); break; }
    }
    this.onChange(structuredClone(this.layers));
  }

  render() {
    const list = this.list(this.layers, this.label);
    const json = el("textarea", { class: "design mono", spellcheck: "false", "aria-label": `${this.label} as JSON` });
    const note = el("p", { class: "small muted json-note", role: "status" });
    json.addEventListener("input", () => {
      try {
        const parsed = JSON.parse(json.value);
        if (!Array.isArray(parsed)) throw new Error("the design is a list of layers: [ {…}, {…} ]");
        this.layers = parsed;
        note.textContent = "";
        this.container.querySelector(".stack").replaceWith(this.list(this.layers, this.label));
        this.onChange(structuredClone(this.layers));
      } catch (err) {
        note.textContent = `not valid JSON: ${err.message}`;
      }
    });
    this.json = json;
    this.syncJson();
    const details = el("details", { class: "advanced" }, el("summary", { text: "advanced: the design as JSON" }), json, note);
    this.container.replaceChildren(list, details);
  }

  syncJson() {
    if (this.json && document.activeElement !== this.json) this.json.value = JSON.stringify(this.layers, null, 1);
  }

  /** An ordered list of layer cards for `layers` (a design or a branch), with a button to add one. */
  list(layers, where) {
    const ol = el("ol", { class: "stack", "aria-label": where });
    layers.forEach((layer, i) => ol.append(this.card(layers, i, where)));
    const op = el("select", { "aria-label": `kind of layer to add to ${where}` },
      ...Object.entries(OPS).map(([k, text]) => el("option", { value: k, text })));
    const add = el("button", { type: "button", class: "small", text: "+ layer",
      "aria-label": `add a layer to ${where}`,
      onclick: () => { layers.push(FRESH[op.value]()); this.changed(true, [`layer ${layers.length} of ${where}: kind`]); } });
    ol.append(el("li", { class: "add-layer" }, op, add));
    return ol;
  }

  card(layers, i, where) {
    const layer = layers[i];
    const name = `layer ${i + 1} of ${where}`;
    const moved = (j, dir) => `move layer ${j + 1} of ${where} ${dir}`;
    const move = (d) => () => {
      const j = i + d;
      if (j < 0 || j >= layers.length) return;
      [layers[i], layers[j]] = [layers[j], layers[i]];
      // the focus follows the layer: on its same arrow, or the other one once it reached an end
      this.changed(true, d < 0 ? [moved(j, "up"), moved(j, "down")] : [moved(j, "down"), moved(j, "up")]);
    };
    const opSelect = el("select", { "aria-label": `${name}: kind`,
      onchange: (e) => { layers[i] = { ...FRESH[e.target.value](), ...(layer.name ? { name: layer.name } : {}) }; this.changed(true, [`${name}: kind`]); } },
      ...Object.entries(OPS).map(([k, text]) => el("option", { value: k, text })));
    opSelect.value = layer.op;
    const up = el("button", { type: "button", text: "↑", "aria-label": `move ${name} up`, onclick: move(-1) });
    const down = el("button", { type: "button", text: "↓", "aria-label": `move ${name} down`, onclick: move(1) });
    [up.disabled, down.disabled] = [i === 0, i === layers.length - 1]; // an arrow that cannot move is not offered
    const tools = el("span", { class: "tools" }, up, down,
      el("button", { type: "button", text: "✕", "aria-label": `remove ${name}`,
        onclick: () => { layers.splice(i, 1); this.changed(true, [`remove ${name}`, `remove layer ${i} of ${where}`, `add a layer to ${where}`]); } }));
    const head = el("div", { class: "layer-head" }, el("b", { text: `${i + 1}` }), opSelect, tools);
    const li = el("li", { class: `layer op-${layer.op}` }, head, this.fields(layer, name));
    if (layer.branches) li.append(this.branches(layer, name));
    return li;
  }

  fields(layer, name) {
    const box = el("div", { class: "fields" });
    for (const [key, label, kind, hint] of FIELDS[layer.op] || []) {
      let input;
      if (kind === "bool") {
        input = el("input", { type: "checkbox" });
        input.checked = !!layer[key];
        input.addEventListener("change", () => { layer[key] = input.checked; this.changed(); });
      } else if (kind === "kind") {
        input = el("select", {}, el("option", { value: "max", text: "max" }), el("option", { value: "avg", text: "average" }));
        input.value = layer.kind || "max";
        input.addEventListener("change", () => { layer.kind = input.value; this.changed(); });
      } else {
        input = el("input", { type: "text", inputmode: kind === "text" ? "text" : "numeric", size: kind === "text" ? 14 : 5,
          value: fieldText(layer[key]), ...(hint ? { placeholder: hint } : {}),
          ...(ALLOWED[kind] ? { "data-allowed": ALLOWED[kind], "data-name": `${label} (${name})` } : {}) });
        input.addEventListener("input", () => {
          const v = parseField(kind, input.value);
          input.setAttribute("aria-invalid", v === null ? "true" : "false");
          if (v === null) return; // mid-typing or not a value: the design keeps its last valid one
          if (v === undefined) delete layer[key];
          else layer[key] = v;
          this.changed();
        });
      }
      box.append(el("label", { title: hint || "" }, `${label} `, input));
      input.setAttribute("aria-label", `${name}: ${label}`);
    }
    return box;
  }

  branches(layer, name) {
    const box = el("div", { class: "branches" });
    layer.branches.forEach((branch, b) => {
      const where = `branch ${b + 1} of ${name}`;
      const remove = el("button", { type: "button", class: "small", text: "remove branch", "aria-label": `remove ${where}`,
        onclick: () => { layer.branches.splice(b, 1); this.changed(true, [`remove ${where}`, `add a branch to ${name}`]); } });
      remove.disabled = layer.branches.length <= 1;
      box.append(el("div", { class: "branch" },
        el("div", { class: "branch-head" }, el("span", { text: `branch ${b + 1}${branch.length ? "" : " (empty: the input as it is)"}` }), remove),
        this.list(branch, where)));
    });
    box.append(el("button", { type: "button", class: "small", text: "+ branch", "aria-label": `add a branch to ${name}`,
      onclick: () => { layer.branches.push([]); this.changed(true, [`kind of layer to add to branch ${layer.branches.length} of ${name}`]); } }));
    return box;
  }
}
