// The receptive-field page: a network (or the user's stack) walked on the chosen input; the player steps
// through its layers, drawing the field of the output nearest the followed point on the picture. Every
// number (sizes, jumps, starts, positions, boxes) comes from POST /api/receptive; the page only draws.
import { decodeArray, getJSON, postJSON } from "./api.js";
import { createShell } from "./shell.js";
import { KEYS } from "./keys.js";
import { InputPicker, specToString, stringToSpec } from "./inputs.js";
import { paintChannel } from "./plots.js";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const EXAMPLE = JSON.stringify({ name: "my stack", layers: [
  { op: "conv", out: 16, k: 3, padding: 1 }, { op: "conv", out: 16, k: 1 }, { op: "pool", k: 2 },
  { op: "conv", out: 32, k: 3, padding: 1 }, { op: "conv", out: 32, k: 3, stride: 2, padding: 1 },
  { op: "conv", out: 8, k: 1 }] }, null, 1);

const DEFAULTS = { input: "sample:colour", network: "googlenet", custom: EXAMPLE, pointRow: "", pointCol: "", step: "0", speed: "2" };
const CONTROLS = { network: "network", speed: "speed" };
const data = { rf: null, image: null };

function request(s) {
  const body = { input: stringToSpec(s.input), include_input: true };
  if (s.pointRow !== "" && s.pointCol !== "") body.point = [+s.pointRow, +s.pointCol];
  if (s.network === "custom") {
    try { body.design = JSON.parse(s.custom); } catch { body.design = { layers: "not JSON" }; }
  } else if (s.network.startsWith("model:")) body.model = s.network.slice(6);
  else body.network = s.network;
  return body;
}

/** The API names a bad value of a stack by its path through the request ("k (design.layers[0].conv.k) is
 * 0; …"): the page says it as a person reads the stack ("k of layer 1 (conv) in my own stack is 0; …"),
 * branches included; an empty stack is said so (pydantic's "List should have at least 1 item"). */
export function stackMessage(message) {
  if (/^layers \(design\.layers\):.*at least 1 item/.test(message)) return "my own stack has no layers: add at least one, e.g. {\"op\": \"conv\", \"out\": 16, \"k\": 3}";
  return message.replace(/^(\w+) \(design\.([^)]*)\)/, (_, field, path) => `${field} of ${placeIn(path)}`);
}

function placeIn(path) {
  const parts = [], step = /(?:layers\[(\d+)\]|branches\[(\d+)\]\[(\d+)\])(?:\.(conv|pool|relu|fc|concat|add))?/g;
  for (const [, layer, branch, inBranch, op] of path.matchAll(step)) {
    const kind = op ? ` (${op})` : "";
    parts.push(layer !== undefined ? `layer ${+layer + 1}${kind}` : `layer ${+inBranch + 1}${kind} of branch ${+branch + 1}`);
  }
  return `${parts.reverse().join(" of ") || "the stack"} in my own stack`;
}

/** One request answers both: the shell's check (is this stack valid on this input?) and the run. */
async function check(body, ctx) {
  try {
    const rf = await postJSON("/api/receptive", body, { signal: ctx.signal });
    return { valid: true, rf };
  } catch (err) {
    if (err.name === "AbortError") throw err;
    return { valid: false, error: { message: body.design ? stackMessage(err.message) : err.message } };
  }
}

const shell = createShell({
  page: "receptive", keys: KEYS.receptive, defaults: DEFAULTS, controls: CONTROLS, request, check,
  run: async () => ({}), render, onControl: (name) => (name === "network" ? { step: "0" } : null),
  player: { count: () => data.rf?.rows.length || 0, show, pace: (speed) => ({ delta: 1, ms: 1000 / speed }) },
});
const picker = new InputPicker((spec) => shell.set({ input: specToString(spec), pointRow: null, pointCol: null, step: "0" }, { load: true }));

function paintImage(canvas, arr) {
  const ch = decodeArray(arr);
  if (ch.length !== 3) return paintChannel(canvas, ch[0], arr.channel_min[0], arr.channel_max[0]);
  const h = ch[0].length, w = ch[0][0].length;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const k = 4 * (r * w + c);
      for (let j = 0; j < 3; j++) img.data[k + j] = Math.round(255 * Math.min(1, Math.max(0, ch[j][r][c])));
      img.data[k + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

async function render({ check: answer }) {
  data.rf = answer.rf;
  $("custom-box").hidden = shell.state.network !== "custom";
  $("custom-stack").value = shell.state.custom;
  paintImage($("rf-canvas"), data.rf.input_array);
  $("rf-stopped").textContent = data.rf.stopped ? `The walk ${data.rf.stopped}.` : "";
  const [c, h, w] = data.rf.input.shape, [gh, gw] = data.rf.grid;
  const frame = gh === h && gw === w ? "" : ` (its fields are in its own ${gh}×${gw} input's coordinates, drawn stretched over the picture)`;
  // "GoogLeNet (Inception v1), 224×224 on the input [3×96×128]" read as a contradiction: the size in a
  // paper architecture's name is the paper's input, the walk is over this one (a stack or a model has none)
  const paper = !(shell.state.network === "custom" || shell.state.network.startsWith("model:"));
  shell.message(`${data.rf.rows.length} layers of ${data.rf.network}${paper ? " (the paper's input size)" : ""}, `
    + `walked over this input [${c}×${h}×${w}]${frame}`, true);
  table();
  shell.resetPlayer(data.rf.rows.length);
}

function pct(v, n) { return `${(v / n) * 100}%`; }

function placeBox(el, box, h, w) {
  const [t, l, b, r] = box;
  Object.assign(el.style, { top: pct(t, h), left: pct(l, w), height: pct(b - t + 1, h), width: pct(r - l + 1, w) });
}

function axisText(a) {
  const size = a.size_min === a.size_max ? `${a.size_max}` : `${a.size_min}–${a.size_max} (over ${a.paths} paths)`;
  const jump = a.jump_min === a.jump_max ? `${a.jump_max}` : `${a.jump_min}–${a.jump_max}`;
  return { size, jump };
}

/** Step t: layer t's field (solid) over the previous layer's (dashed), and what changed. */
function show(t) {
  const rows = data.rf.rows, row = rows[t];
  if (!row) return;
  const [h, w] = data.rf.grid, ov = $("rf-overlay");
  ov.innerHTML = "";
  const add = (cls, box) => { const d = document.createElement("div"); d.className = cls; placeBox(d, box, h, w); ov.appendChild(d); };
  add("rf-before", row.box_before);
  add("rf-now", row.box);
  const dot = document.createElement("div");
  dot.className = "rf-point";
  Object.assign(dot.style, { top: pct(data.rf.point[0] + 0.5, h), left: pct(data.rf.point[1] + 0.5, w) });
  ov.appendChild(dot);
  const a = axisText(row.h), b = axisText(row.w);
  $("position-label").textContent = `${t + 1}/${rows.length} · ${row.name}`;
  $("rf-title").textContent = `${row.name} (${row.kind}) → [${row.out_shape.join("×")}]`;
  const same = row.whole_input ? "It sees the whole input: every output reads every input value." :
    !row.grows ? "Unchanged from the layer before: this layer mixes values of the same field." : "";
  $("rf-text").innerHTML = `Output (${row.position.join(", ")}) sees input rows ${row.box[0]}…${row.box[2]} and ` +
    `columns ${row.box[1]}…${row.box[3]}${row.inside ? "" : " (all padding)"}.<br>Field ${a.size} × ${b.size} pixels; ` +
    `jump ${a.jump} × ${b.jump}; output 0 starts at input (${row.h.start}, ${row.w.start}).<br>${esc(same)}`;
  for (const tr of $("rf-table").querySelectorAll("tr[data-i]")) tr.classList.toggle("now", +tr.dataset.i === t);
}

function table() {
  const head = "<tr><th>layer</th><th>kind</th><th>output</th><th>field H × W</th><th>jump</th><th>start</th></tr>";
  $("rf-table").innerHTML = head + data.rf.rows.map((r, i) => {
    const a = axisText(r.h), b = axisText(r.w);
    return `<tr data-i="${i}" class="${r.grows ? "" : "same"}"><td style="padding-left:${0.5 + r.depth}rem">` +
      `<button type="button" data-i="${i}">${esc(r.name)}</button></td><td>${esc(r.kind)}</td><td>${r.out_shape.join("×")}</td>` +
      `<td>${r.whole_input ? "whole input" : `${a.size} × ${b.size}`}${r.grows ? "" : " (unchanged)"}</td>` +
      `<td>${a.jump} × ${b.jump}</td><td>${r.h.start}, ${r.w.start}</td></tr>`;
  }).join("");
}

$("rf-table").addEventListener("click", (e) => {
  const i = e.target.closest("button")?.dataset.i;
  if (i !== undefined) shell.player.go(+i);
});
$("rf-canvas").addEventListener("click", (e) => {
  const r = e.target.getBoundingClientRect(), [h, w] = data.rf.grid;
  shell.set({ pointRow: Math.floor(((e.clientY - r.top) / r.height) * h), pointCol: Math.floor(((e.clientX - r.left) / r.width) * w) }, { load: true });
});
// Text that is not JSON is explained here: sent on, it came back as "layers (design.layers) is 'not JSON'".
$("custom-apply").addEventListener("click", () => {
  const text = $("custom-stack").value;
  try {
    JSON.parse(text);
  } catch (err) {
    shell.message(`my own stack is not valid JSON (${err.message}); write it as the example: {"name": …, "layers": [{"op": "conv", "out": 16, "k": 3}, …]}`, false);
    return;
  }
  shell.set({ custom: text }, { load: true });
});

/** Uploaded models (GET /api/models) join the network choices, so a model uploaded on /network can be
 * walked here too; a link naming one keeps it selected once the list is in. */
async function addUploadedModels() {
  const models = await getJSON("/api/models");
  const sel = $("network"), group = document.createElement("optgroup");
  group.label = "uploaded models";
  for (const m of models.filter((x) => !x.builtin && ![...sel.options].some((o) => o.value === `model:${x.id}`))) {
    group.append(new Option(`${m.name} (${m.id.slice(0, 8)}, imported ONNX)`, `model:${m.id}`));
  }
  if (group.children.length) sel.append(group);
  sel.value = shell.state.network;
}

picker.set(stringToSpec(shell.state.input));
addUploadedModels().catch(() => {}); // the built-in choices work without the list
shell.start();
