// The sliding-window page: its keys, defaults, request and rendering; the shell (shell.js) does the
// rest (state, URL, loads, player, downloads). Every number comes from the API, one request per change
// (/api/convolve/view): the layer check (shape, cost, formulas, allowed groups, connectivity), the
// convolution (maps, weights) and the first traces of the animated region (windows, products, sums);
// /api/trace gives the rest of the region, and a moved region.
import { decodeArray, postFrame, postJSON } from "./api.js";
import { createShell } from "./shell.js";
import { KEYS } from "./keys.js";
import { InputPicker, specToString, stringToSpec } from "./inputs.js";
import { addLayerOption, isPointwise, pointwiseUrl } from "./links.js";
import { formatInt } from "./format.js";
import { plotlyReady } from "./plots.js";
import { drawKernelEditor, flatWeights, customJSON } from "./weight_editor.js";
import * as draw from "./conv_draw.js";
import { Heatmap } from "./heatmap.js";

const $ = (id) => document.getElementById(id);
const MAX_REGION = 24;
const FOLLOW_UP_MS = 150; // the whole region's trace waits for the controls to rest this long (or a step)
const PREVIEW = 400; // the output is drawn ~450 px wide: a larger one comes as every n-th pixel (exact values)

const DEFAULTS = { input: "sample:colour", outChannels: "4", kernelH: "3", kernelW: "3", stride: "1", padding: "1",
  dilation: "1", groups: "1", bias: "1", flip: "0", relu: "0", weights: "random", weightSeed: "0",
  presetMode: "depthwise", channel: "0", regionRow: "", regionCol: "", regionSize: "12", step: "0", speed: "6" };
const CONTROLS = { outChannels: "out-channels", kernelH: "kernel-h", kernelW: "kernel-w", stride: "stride",
  padding: "padding", dilation: "dilation", groups: "groups", weightSeed: "weights-seed", presetMode: "preset-mode",
  weights: "weights-kind", bias: "bias", flip: "flip", relu: "relu", speed: "speed",
  regionRow: { id: "region-row", apply: () => moveRegion() }, regionCol: { id: "region-col", apply: () => moveRegion() },
  regionSize: { id: "region-size", apply: () => moveRegion() } };

const data = { check: null, conv: null, input: null, inputMeta: null, inputKey: null, output: null, traces: [], region: null,
  bounds: null, req: null };
let revealedUpto = -1;
// The maps a control change redraws are canvases (heatmap.js): Plotly redrew them in ~80 ms per change.
// A resize redraws them, and the overlays follow. The whole-input view stays a Plotly image.
const maps = {
  input: new Heatmap($("input-plot"), { onDraw: () => placeOverlays() }),
  region: new Heatmap($("region-plot"), { onClick: (row, col) => jumpTo(row, col), onDraw: () => placeOverlays() }),
  output: new Heatmap($("output-plot"), { onClick: (row, col) => jumpTo(row, col), onDraw: () => placeOverlays() }),
};

/** "1" → 1, "1,2" → [1, 2], "same" / "valid" as they are (the API's padding, stride and dilation forms). */
function pairSpec(text) {
  const t = String(text).trim();
  if (t === "same" || t === "valid") return t;
  if (t.includes(",")) return t.split(",").map((v) => parseInt(v, 10));
  return parseInt(t, 10);
}

/** The API request for a state. Preset and custom weights fix out_channels and the kernel. */
function request(s) {
  const layer = { stride: pairSpec(s.stride), padding: pairSpec(s.padding), dilation: pairSpec(s.dilation),
    bias: s.bias === "1", flip: s.flip === "1", activation: s.relu === "1" ? "relu" : "none" };
  let weights;
  if (s.weights.startsWith("preset:")) {
    weights = { kind: "preset", name: s.weights.slice(7), mode: s.presetMode };
    delete layer.bias; // a preset brings its own bias (or none)
  } else if (s.weights.startsWith("layer:")) { // a model's layer (issue 13): "layer:<model>:<layer name>"
    const [model, name] = s.weights.slice(6).split(/:(.*)/s);
    weights = { kind: "layer", model, layer: name };
    layer.groups = +s.groups;
  } else if (s.weights === "custom" && s.custom) {
    const c = JSON.parse(s.custom);
    weights = { kind: "custom", weight: c.weight, bias: c.bias };
    layer.groups = +s.groups;
  } else {
    weights = { kind: "random", seed: +s.weightSeed };
    Object.assign(layer, { out_channels: +s.outChannels, kernel_size: [+s.kernelH, +s.kernelW], groups: +s.groups });
  }
  return { input: stringToSpec(s.input), layer, weights };
}

/** Choosing a 1×1 kernel sets padding 0; a k×k preset sets "same". Visibly, and still editable. */
function onControl(name, value, shell) {
  const s = shell.state;
  let padding = null, why = "";
  if ((name === "kernelH" || name === "kernelW") && s.weights === "random") {
    const [kh, kw] = name === "kernelH" ? [value, s.kernelW] : [s.kernelH, value];
    if (kh === "1" && kw === "1") [padding, why] = ["0", "a 1×1 kernel reads one pixel and needs none"];
  } else if (name === "weights" && value.startsWith("preset:")) {
    const kind = document.querySelector(`#weights-kind option[value="${value}"]`)?.dataset.kind;
    [padding, why] = kind === "1x1" ? ["0", "a 1×1 preset needs none"] : ["same", "the output keeps the input's size"];
  } else if (name === "weights" && value === "custom" && data.conv) {
    return { custom: customJSON(flatWeights(data.conv.weight), data.conv.weight.shape, data.conv.bias) };
  }
  $("padding-note").textContent = padding === null || padding === s.padding ? "" : `padding set to ${padding}: ${why} (you can change it)`;
  const patch = padding === null ? {} : { padding };
  if (name === "weights" && value !== "custom") patch.custom = null;
  if (name === "channel" || name === "weights") patch.step = "0";
  return patch;
}

const shell = createShell({
  page: "conv", keys: KEYS.conv, defaults: DEFAULTS, controls: CONTROLS, request, onControl,
  view, render, onInvalid: (check) => setGroups(check.allowed_groups),
  player: { count: () => data.traces.length, show },
  downloads: {
    "download-png": (s) => ({ url: "/api/convolve", body: { ...request(s), encoding: "png", channel: +s.channel },
      filename: `convlens-output-channel-${s.channel}.png` }),
    "download-npy": (s) => ({ url: "/api/convolve", body: { ...request(s), encoding: "npy" }, filename: "convlens-output.npy" }),
  },
});
// A new input gets a new starting region from the server (where that input has detail).
const picker = new InputPicker((spec) => shell.set({ input: specToString(spec), step: "0", regionRow: null, regionCol: null,
  ...(shell.touched("regionSize") ? {} : { regionSize: null }) }, { load: true }));

const regionSize = () => Math.max(1, Math.min(+shell.state.regionSize || 12, MAX_REGION));

/** One request per change (POST /api/convolve/view): the layer check and, for a valid layer, the
 * convolution and the traces the plots need first, of the region placed on the new output by the server
 * (or, for a new input, the region with the most detail). The input comes along only when it changed. */
async function view(body, ctx) {
  const s = shell.state, inputKey = s.input, same = data.input && data.inputKey === inputKey;
  const pick = !same && !shell.touched("regionRow");
  const trace = { channel: +s.channel || 0, size: regionSize(), upto: +s.step || 0,
    ...(pick ? {} : { row: +s.regionRow || 0, col: +s.regionCol || 0 }) };
  const answer = await postFrame("/api/convolve/view", { ...body, include_input: !same, preview_size: PREVIEW, trace },
    { signal: ctx.signal });
  return { ...answer, inputKey, picked: pick };
}

async function render({ check, conv, body, trace, inputKey, picked }, ctx) {
  if (conv.input_array) Object.assign(data, { input: decodeArray(conv.input_array), inputMeta: conv.input_array, inputKey });
  Object.assign(data, { check, conv, req: body, output: decodeArray(conv.output) });
  if (picked) shell.set(pickedRegion(trace.region, check.output_shape), { touch: false });
  const channel = Math.min(+shell.state.channel || 0, check.output_shape[0] - 1);
  if (String(channel) !== shell.state.channel) shell.set({ channel }, { touch: shell.touched("channel") }); // (a URL write)
  showChannels(); // the output, drawn at once: canvases need no plotly.js
  ctx.mark("output");
  shell.message(`output [${check.output_shape.join("×")}] · ${formatInt(check.cost.params)} parameters · ${formatInt(check.cost.macs)} MACs`, true);
  setGroups(check.allowed_groups);
  syncImpliedFields(check.layer);
  showWork(check);
  drawWeightsEditor();
  showPointwiseLink(check);
  await loadRegion(ctx, trace);
}

/** The region the server chose for a new input. On a small output (an 8×8 layer opened from /network)
 * no 12×12 region avoids padding, and the server's is the square of outputs whose windows read none:
 * the region size follows it. */
function pickedRegion(r, [, h, w]) {
  const rows = r.row_stop - r.row_start, cols = r.col_stop - r.col_start;
  const shrunk = rows < Math.min(regionSize(), h) || cols < Math.min(regionSize(), w);
  return { regionRow: r.row_start, regionCol: r.col_start, ...(shrunk ? { regionSize: Math.max(rows, cols) } : {}) };
}

/** The groups the API allows for this layer: the control offers only those. */
function setGroups(allowed) {
  if (!allowed) return;
  const el = $("groups"), current = shell.state.groups, options = allowed.map((g) => `<option value="${g}">${g}</option>`).join("");
  if (el.dataset.options === options && el.options.length === allowed.length && el.value === current) return; // unchanged
  el.dataset.options = options;
  el.innerHTML = options;
  if (!allowed.map(String).includes(current)) el.appendChild(new Option(`${current} (not allowed)`, current));
  el.value = current;
}

function syncImpliedFields(layer) {
  const implied = !shell.state.weights.startsWith("random");
  for (const [id, v] of [["out-channels", layer.out_channels], ["kernel-h", layer.kernel_size[0]], ["kernel-w", layer.kernel_size[1]]]) {
    $(id).disabled = implied;
    if (implied) $(id).value = v;
  }
  const preset = shell.state.weights.startsWith("preset:");
  $("groups").disabled = preset;
  $("bias").disabled = preset;
  if (preset) $("bias").checked = layer.bias;
  $("preset-mode").disabled = !preset;
  $("weights-seed").disabled = shell.state.weights !== "random";
  const opt = document.querySelector(`#weights-kind option[value="${shell.state.weights}"]`);
  $("preset-description").textContent = preset ? (opt?.dataset.description || "") : "";
}

/** A 1×1 layer links to /pointwise with the same input and weights. */
function showPointwiseLink(check) {
  const show = isPointwise(check.layer) && !check.layer.flip;
  $("pointwise-link").hidden = !show;
  if (show) $("pointwise-href").href = pointwiseUrl({ ...data.req, layer: { ...data.req.layer, out_channels: check.layer.out_channels } });
}

function showWork(check) {
  const f = check.formulas;
  $("work").textContent = [f.out_height, f.out_width, f.params, f.macs, f.flops, "", "PyTorch:", f.torch].join("\n");
}

function drawWeightsEditor() {
  const el = $("weight-editor");
  if (shell.state.weights !== "custom") { el.innerHTML = ""; return; }
  drawKernelEditor(el, data.conv.weight, data.conv.bias, +shell.state.channel,
    (custom) => shell.set({ custom, weights: "custom" }, { load: true }));
}

/** The region to animate, in output coordinates, from the state (cut to the output). */
function regionOf([c, h, w]) {
  const size = regionSize(), s = shell.state, channel = Math.min(+s.channel || 0, c - 1);
  const r0 = Math.max(0, Math.min(+s.regionRow || 0, h - Math.min(size, h))), c0 = Math.max(0, Math.min(+s.regionCol || 0, w - Math.min(size, w)));
  return { channel, row_start: r0, row_stop: Math.min(h, r0 + size), col_start: c0, col_stop: Math.min(w, c0 + size) };
}

/** Trace the region (the layer on screen, not a newer form), unless its traces came with the run
 * ({region, traces}), and draw everything that depends on it. */
async function loadRegion(ctx, sent = null) {
  const region = sent ? sent.region : regionOf(data.check.output_shape), req = data.req;
  const res = sent || await postJSON("/api/trace", { ...req, positions: draw.drawnPositions(region, +shell.state.step || 0) });
  if (ctx.isStale()) return;
  data.whole = wholeTrace(ctx, req, region); // show() asks for it when a step was not traced yet
  const traces = new Array(draw.regionCount(region)); // steps 0…shownUpto only, until the whole region's trace is in
  for (const t of res.traces) traces[draw.stepOf(region, t.row, t.col)] = t;
  let shownUpto = 0;
  while (shownUpto + 1 < traces.length && traces[shownUpto + 1]) shownUpto++;
  Object.assign(data, { traces, region, bounds: draw.receptiveBounds(res.traces), shownUpto });
  const channels = res.traces[0].input_channels, meta = data.inputMeta, outMeta = data.conv.output;
  draw.drawInputs(maps.input, data.input, meta, channels, data.bounds);
  revealedUpto = Math.min(+shell.state.step || 0, data.traces.length - 1); // drawn revealed up to the step shown
  draw.drawRegion(maps.region, data.traces, region, revealedUpto, outMeta, region.channel);
  draw.drawOutput(maps.output, data.output, outMeta, region.channel, region, data.conv.output_step);
  draw.selectChannel($("channels-plot"), region.channel);
  $("oc-label").textContent = region.channel;
  $("input-caption").textContent = draw.feedCaption(channels, region.channel);
  $("region-caption").textContent = `channel ${region.channel}, rows ${region.row_start}–${region.row_stop - 1}, cols ${region.col_start}–${region.col_stop - 1}`;
  $("region-row").value = region.row_start;
  $("region-col").value = region.col_start;
  shell.resetPlayer(data.traces.length);
  await plotlyReady(); // only the whole-input view is Plotly: parsing plotly.js would hold back the rest
  if (ctx.isStale()) return;
  draw.drawOverview($("overview-plot"), data.input, meta, data.bounds);
  draw.drawConnectivity($("connectivity-plot"), $("connectivity-caption"), data.check.connectivity, data.check.layer);
  const whole = data.whole;
  setTimeout(() => { if (!ctx.isStale() && data.whole === whole) whole(); }, FOLLOW_UP_MS);
}

/** The whole region's trace, for the player: asked for at the first step that needs it, or once the
 * controls have rested FOLLOW_UP_MS. Its JSON (~350 KB for 12×12, ~16 ms of server time) would otherwise
 * hold up the plots, or the next change's requests while a user moves a control. Returns a function
 * that starts it (once) and gives its promise. */
function wholeTrace(ctx, req, region) {
  let answer = null;
  return () => (answer ??= postJSON("/api/trace", { ...req, region }, { signal: ctx.signal }).then((all) => {
    if (!ctx.isStale() && data.region === region) Object.assign(data, { traces: all.traces, shownUpto: Infinity });
  }, (err) => { if (err.name !== "AbortError" && !ctx.isStale()) shell.message(err.message, false); }));
}

/** A region control or a click moved the region: trace the new one (no new convolution). */
async function moveRegion() {
  if (!data.check) return;
  shell.player.stop();
  const p = shell.partial("region");
  await loadRegion({ isStale: p.stale });
  if (!p.stale()) p.finish();
}

function showChannels() {
  draw.drawChannels($("channels-plot"), data.output, data.conv.output, +shell.state.channel, (k) => {
    shell.set({ channel: k, step: 0 });
    drawWeightsEditor();
    moveRegion();
  });
}

/** One animation frame: move the window (overlay boxes), write the numbers, mark the output cell. */
function show(t, { force = false } = {}) {
  const tr = data.traces[t];
  if (!tr || t > data.shownUpto) { // past the positions drawn first: shown when the whole region's trace is in
    const traces = data.traces;
    data.whole?.().then(() => { if (data.traces !== traces && +shell.state.step === t) show(t, { force }); });
    return;
  }
  placeOverlays(t);
  $("computation").innerHTML = draw.computationHTML(tr);
  $("position-label").textContent = `${t + 1}/${data.traces.length} · output (${tr.row}, ${tr.col})`;
  if (force || t !== revealedUpto) { // every frame reveals its value: the next one is a single cell painted
    const next = !force && t === revealedUpto + 1 && maps.region.setCell(0, tr.row, tr.col, tr.value);
    revealedUpto = t;
    if (!next) draw.drawRegion(maps.region, data.traces, data.region, t, data.conv.output, data.region.channel);
  }
}

/** Overlays sit over plots in pixels: redo them whenever a plot is redrawn or resized. */
function placeOverlays(t = +shell.state.step) {
  const tr = data.traces[t];
  if (!tr) return;
  draw.placeWindow(maps.input, tr, tr.input_channels.length);
  draw.placeHit(maps.region, tr.row, tr.col);
  draw.placeHit(maps.output, tr.row, tr.col);
  draw.placeOutline(maps.output, data.region);
}

/** Jump to an output pixel: move the region so it contains the pixel, then trace it. */
async function jumpTo(row, col) {
  shell.player.stop();
  const r = data.region;
  if (row >= r.row_start && row < r.row_stop && col >= r.col_start && col < r.col_stop) return shell.player.go(draw.stepOf(r, row, col));
  const half = Math.floor(regionSize() / 2);
  shell.set({ regionRow: Math.max(0, row - half), regionCol: Math.max(0, col - half), step: 0 });
  await moveRegion();
  shell.player.go(draw.stepOf(data.region, row, col));
}

/** Click or drag on the whole-input view: centre the region on the output pixel whose window is there. */
function wireOverviewDrag() {
  const gd = $("overview-plot");
  let dragging = false;
  const moveTo = (ev) => {
    const at = draw.inputPointAt(gd, ev);
    if (!at) return;
    const [row, col] = draw.outputAt(data.check.layer, data.check.output_shape, at);
    const half = Math.floor(regionSize() / 2);
    shell.set({ regionRow: Math.max(0, row - half), regionCol: Math.max(0, col - half), step: 0 });
    moveRegion();
  };
  gd.addEventListener("pointerdown", (ev) => { dragging = true; gd.setPointerCapture?.(ev.pointerId); moveTo(ev); });
  gd.addEventListener("pointermove", (ev) => { if (dragging) moveTo(ev); });
  gd.addEventListener("pointerup", () => { dragging = false; });
}

picker.set(stringToSpec(shell.state.input));
addLayerOption($("weights-kind"), shell.state.weights, shell.state.network); // opened on a model's layer from /network
wireOverviewDrag();
shell.start();
