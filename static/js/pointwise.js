// The 1×1 page: its keys, defaults, request and rendering; the shell (shell.js) does the rest (state,
// URL, loads, player, downloads). Every number comes from the API: one request per change
// (/api/convolve/view: the layer check with the 1×1 formulas and the values it reads, the maps and
// weights), /api/trace (W·x + b written out), /api/pointwise/matmul (the matrix product); the sections
// below (pooling vs 1×1, NiN, FC ≡ conv) are pointwise_sections.js. The sweep only looks values up in
// those arrays and moves canvases and boxes.
import { decodeArray, postFrame, postJSON } from "./api.js";
import { createShell } from "./shell.js";
import { KEYS } from "./keys.js";
import { InputPicker, specToString, stringToSpec } from "./inputs.js";
import { formatInt } from "./format.js";
import { fmt, plotlyReady } from "./plots.js";
import { buildEditor, clearEditor, customJSON, flatWeights, refreshInPlace } from "./weight_editor.js";
import * as draw from "./pointwise_draw.js";
import { Heatmap } from "./heatmap.js";
import { addLayerOption } from "./links.js"; // issue 13
import * as sections from "./pointwise_sections.js";
import { fieldMessage } from "./field_check.js";

const $ = (id) => document.getElementById(id);
const DEFAULTS = { input: "sample:colour", outChannels: "4", weights: "preset:greyscale", weightSeed: "0", bias: "1",
  relu: "0", step: "0", ninWidths: "8,4", speed: "4", fcChannels: "8", fcBlock: "7", fcOutputs: "10", fcSize: "14" };
const CONTROLS = { outChannels: "out-channels", weightSeed: "weights-seed", weights: "weights-kind", bias: "bias", relu: "relu",
  speed: { id: "speed", apply: () => {} }, ninWidths: { id: "nin-widths", apply: () => loadNin() },
  fcChannels: { id: "fc-c", apply: () => loadFc() }, fcBlock: { id: "fc-k", apply: () => loadFc() },
  fcOutputs: { id: "fc-o", apply: () => loadFc() }, fcSize: { id: "fc-size", apply: () => loadFc() } };
const EDITOR_MAX = 64; // the matrix editor shows W up to 64 values
const FOLLOW_UP_MS = 150; // the sections below the pixel wait for the controls to rest this long
const START_REGION = 9; // an untouched page starts at the centre of the 9×9 patch with the most detail
// The output maps are 150-px thumbnails: a larger output comes as every n-th pixel (exact values, the
// server's preview_size), the pixel's y vector from the engine's trace of that pixel, and the whole
// output only afterwards, for the sweep (a 1024×768 photo's is 12.6 MB: its transfer and decoding were
// most of a change's second on this page).
const OUTPUT_PREVIEW = 300;

const data = { check: null, conv: null, req: null, input: null, inputKey: null, output: null, w2d: null, outViews: [],
  h: 0, w: 0, matmul: null, reducedFor: null, outputStep: 1, fullOutput: null, pixelY: null };
let masked = false, lastShown = 0, writtenTimer = null, recentre = false; // recentre: a new input was chosen
let followUpAbort = null, ninShown = null; // ninShown: input|widths|pixel of the NiN drawing on screen
const wMap = new Heatmap(document.getElementById("w-plot")); // W, a canvas (pointwise_draw.drawWeights)

/** The API request for a state. A preset fixes C_out and the bias; custom weights bring their own. */
function request(s) {
  const layer = { kernel_size: 1, activation: s.relu === "1" ? "relu" : "none" };
  let weights;
  if (s.weights.startsWith("preset:")) weights = { kind: "preset", name: s.weights.slice(7) };
  else if (s.weights.startsWith("layer:")) { // a model's layer (issue 13): "layer:<model>:<layer name>"
    const [model, name] = s.weights.slice(6).split(/:(.*)/s);
    weights = { kind: "layer", model, layer: name };
    layer.bias = s.bias === "1";
  }
  else if (s.weights === "custom" && s.custom) weights = { kind: "custom", ...JSON.parse(s.custom) };
  else {
    weights = { kind: "random", seed: +s.weightSeed };
    Object.assign(layer, { out_channels: +s.outChannels, bias: s.bias === "1" });
  }
  if (weights.kind === "custom") layer.bias = s.bias === "1" && weights.bias != null;
  return { input: stringToSpec(s.input), layer, weights };
}

/** Choosing "custom" starts from the weights on screen; leaving it drops them. */
function onControl(name, value) {
  if (name !== "weights") return null;
  if (value === "custom" && data.conv) return { custom: customJSON(flatWeights(data.conv.weight), data.conv.weight.shape, data.conv.bias) };
  return { custom: null }; // a 1×1 keeps H and W: the pixel stays where it is
}

const shell = createShell({
  page: "pointwise", keys: KEYS.pointwise, defaults: DEFAULTS, controls: CONTROLS, request, onControl, render,
  view,
  player: { count: () => data.h * data.w, show, pace: (speed) => ({ delta: speed, ms: 16 }) },
  downloads: {
    "download-png": (s) => ({ url: "/api/convolve", body: { ...request(s), encoding: "png", channel: 0 },
      filename: "convlens-1x1-channel-0.png" }),
    "download-npy": (s) => ({ url: "/api/convolve", body: { ...request(s), encoding: "npy" }, filename: "convlens-1x1-output.npy" }),
  },
});
const picker = new InputPicker((spec) => { recentre = true; shell.set({ input: specToString(spec) }, { load: true }); });

/** One request per change (POST /api/convolve/view): the layer check and, for a valid layer, the
 * convolution; the input comes along (and the server picks where to start) only for a new input. On an
 * input larger than the preview, the pixel's y vector comes from its trace, in the same answer. */
async function view(body, ctx) {
  followUpAbort?.abort(); // the sections below belong to the layer being replaced
  const inputKey = shell.state.input, same = data.input && data.inputKey === inputKey;
  const p = +shell.state.step || 0, r = Math.floor(p / data.w), c = p % data.w;
  const pixel = same && Math.max(data.h, data.w) > OUTPUT_PREVIEW;
  const answer = await postFrame("/api/convolve/view", { ...body, include_input: !same, preview_size: OUTPUT_PREVIEW,
    ...(same ? {} : { region_size: START_REGION }), ...(pixel ? { trace: { row: r, col: c, size: 1, all_channels: true } } : {}) },
  { signal: ctx.signal });
  return { ...answer, inputKey, pixelY: answer.trace && { r, c, values: answer.trace.traces.map((t) => t.value) } };
}

/** y at a pixel when it is known exactly: the whole output, or the traced pixel; else null. */
function yAt(r, c) {
  const whole = data.outputStep === 1 ? data.output : data.fullOutput;
  if (whole) return whole.map((ch) => ch[r][c]);
  const t = data.pixelY;
  return t && t.r === r && t.c === c ? t.values : null;
}

async function render({ check, conv, body, inputKey, pixelY }, ctx) {
  const inputChanged = Boolean(conv.input_array);
  if (inputChanged) {
    const input = decodeArray(conv.input_array);
    Object.assign(data, { input, inputKey, h: input[0].length, w: input[0][0].length, reducedFor: null });
    clearMatrices(); // another input's matrices have other shapes: they must not stay up
    draw.paintInput($("input-canvas"), input, conv.input_array); // canvases first: they need no plotly.js
  }
  const output = decodeArray(conv.output);
  const w2d = decodeArray({ ...conv.weight, shape: conv.weight.shape.slice(0, 2).concat([1]) }).map((rows) => rows.map((r) => r[0]));
  Object.assign(data, { check, conv, req: body, output, w2d, matmul: null, outputStep: conv.output_step || 1,
    fullOutput: null, pixelY });
  shell.message(`[${conv.input.shape.join("×")}] → [${conv.output_shape.join("×")}] · ${formatInt(check.cost.params)} params · ${formatInt(check.cost.macs)} MACs`, true);
  syncForm(check.layer);
  data.outViews = draw.drawOutputs($("outputs"), output, conv.output, data.outputStep);
  masked = false;
  ctx.mark("output");
  $("reads-1x1").textContent = check.formulas.pointwise.reads;
  $("reads-3x3").textContent = check.formulas.pointwise.reads_3x3;
  showWork(check);
  drawMatrixEditor();
  if ((recentre || !shell.touched("step")) && conv.region) { // not the flat top-left corner: where the input has detail
    const { row_start: r0, row_stop: r1, col_start: c0, col_stop: c1 } = conv.region;
    // form: false: writing the form back from the state would put the random weights' C_out (4) and bias
    // over the preset's (1, none) that syncForm just showed
    shell.set({ step: Math.floor((r0 + r1) / 2) * data.w + Math.floor((c0 + c1) / 2) }, { touch: recentre, form: false });
    recentre = false;
  }
  shell.resetPlayer(data.h * data.w);
  const wWidth = draw.weightsWidth(check.layer.in_channels);
  wMap.setWidth(wWidth ? `${wWidth}px` : "");
  draw.drawWeights(wMap, w2d, conv.weight, check.layer.out_channels, check.layer.in_channels);
  await plotlyReady(); // the sections below use Plotly
  if (ctx.isStale()) return;
  followUps(body);
}

/** The sections below the pixel, one request after another: the server runs two heavy requests at
 * once, and on a photo the matrix product alone is megabytes, so a burst would queue the rest. They
 * start once the controls have rested FOLLOW_UP_MS, and a newer load aborts them, so a user moving a
 * control on a photo is never waiting behind the matrices of a layer already gone. */
async function followUps(body) {
  followUpAbort?.abort();
  followUpAbort = new AbortController();
  const { signal } = followUpAbort;
  await new Promise((resolve) => setTimeout(resolve, FOLLOW_UP_MS));
  if (signal.aborted) return;
  if (data.outputStep > 1) await loadFullOutput(body, signal);
  if (signal.aborted) return;
  await loadMatmul(body, signal);
  if (!signal.aborted && data.reducedFor !== data.inputKey) await loadReduce(body.input, data.inputKey);
  if (!signal.aborted) await loadNin();
}

function syncForm(layer) {
  const s = shell.state, fixed = !s.weights.startsWith("random");
  $("out-channels").disabled = fixed;
  if (fixed) $("out-channels").value = layer.out_channels;
  $("weights-seed").disabled = s.weights !== "random";
  $("bias").disabled = s.weights.startsWith("preset:");
  if (s.weights.startsWith("preset:")) $("bias").checked = layer.bias;
  const opt = document.querySelector(`#weights-kind option[value="${s.weights}"]`);
  $("preset-description").textContent = opt?.dataset.description || "";
}

/** One frame: the pixel's boxes, its x and y vectors (looked up), markers, and the matrix rows. While
 * playing, each output pixel is uncovered when its own input pixel is visited. */
function show(p, { playing = false } = {}) {
  if (!data.w) return;
  const r = Math.floor(p / data.w), c = p % data.w;
  draw.placePixelBoxes($("input-canvas"), $("box1"), $("box3"), r, c);
  draw.drawBars($("x-bars"), data.input.map((ch) => ch[r][c]), "x");
  draw.drawBars($("y-bars"), yAt(r, c) ?? data.output.map(() => null), "y");
  draw.placeMarkers(data.outViews, r, c);
  if (playing) {
    if (!masked) { draw.coverMasks(data.outViews, lastShown, data.w); masked = true; }
    draw.revealMasks(data.outViews, lastShown, p, data.w);
  } else if (masked) { draw.clearMasks(data.outViews); masked = false; }
  lastShown = p;
  if (data.matmul) {
    draw.placeRow($("x-plot"), p, data.matmul.x_shape[1]);
    draw.placeRow($("y-plot"), p, data.matmul.y_shape[1]);
  }
  $("position-label").textContent = `pixel (${r}, ${c}) · row ${p} of X`;
  if (!playing) {
    clearTimeout(writtenTimer);
    writtenTimer = setTimeout(() => { loadWritten(r, c); loadNin(); }, 120);
  }
}

const writtenGuard = shell.guard("written"), matmulGuard = shell.guard("matmul"), reduceGuard = shell.guard("reduce"),
  ninGuard = shell.guard("nin"), fullGuard = shell.guard("full-output");
let fcGeneration = 0; // FC ≡ conv does not depend on the layer above: a new layer load must not drop its answer

/** W·x + b at this pixel, term by term, from the engine's trace of every output channel there. The
 * request is the one that produced the arrays on screen, not the form's current one. */
async function loadWritten(r, c) {
  if (!data.req) return;
  const token = writtenGuard();
  const positions = data.output.map((_, o) => ({ channel: o, row: r, col: c }));
  let res;
  try { res = await postJSON("/api/trace", { ...data.req, positions }); } catch (err) {
    if (!token.stale()) $("written").textContent = err.message;
    return;
  }
  if (token.stale()) return;
  if (data.outputStep > 1) { // the preview may skip this pixel: its y comes from the trace (exact)
    data.pixelY = { r, c, values: res.traces.map((t) => t.value) };
    redrawPixelY();
  }
  const lines = res.traces.map((t) => {
    const terms = t.products.map((p, i) => `${fmt(t.weights[i][0][0])}·${fmt(t.windows[i][0][0])}`);
    const shown = terms.length <= 12 ? terms.join(" + ") : `${terms.slice(0, 12).join(" + ")} + … (${terms.length} terms)`;
    const act = t.value !== t.pre_activation ? ` → ReLU → ${fmt(t.value)}` : "";
    return `y${t.channel} = ${shown} + ${fmt(t.bias)} = ${fmt(t.pre_activation)}${act}`;
  });
  $("written").innerHTML = `<span id="written-pixel" data-row="${r}" data-col="${c}" data-values="${res.traces.map((t) => t.value).join(",")}"></span>` +
    `x = input[:, ${r}, ${c}] = (${res.traces[0].windows.map((w) => fmt(w[0][0])).join(", ")})\n${lines.join("\n")}`;
}

/** The whole output of a previewed layer, for the sweep's y vectors (after the controls rest). */
async function loadFullOutput(req, signal) {
  const token = fullGuard();
  let conv;
  try { conv = await postFrame("/api/convolve", req, { signal }); } catch { return; } // the preview stays
  if (token.stale()) return;
  data.fullOutput = decodeArray(conv.output);
  redrawPixelY(); // the bars may be waiting ("…") for this pixel's y
}

/** The current pixel's y bars, once its values are known. */
function redrawPixelY() {
  const p = +shell.state.step || 0, y = yAt(Math.floor(p / data.w), p % data.w);
  if (y) draw.drawBars($("y-bars"), y, "y");
}

/** Another input is coming: its matrices have other shapes, so the old ones must not stay on screen. */
function clearMatrices() {
  for (const id of ["x-plot", "wt-plot", "y-plot"]) if (window.Plotly) Plotly.purge($(id));
  for (const id of ["matmul-shapes", "x-label", "wt-label", "y-label", "matmul-check"]) $(id).textContent = "";
  delete $("matmul-check").dataset.value;
}

async function loadMatmul(req, signal) {
  const token = matmulGuard();
  let m;
  try {
    // only the rows drawn: a photo's X and Y are 22 MB whole, a few thousand rows are ~100 KB
    m = await postFrame("/api/pointwise/matmul", { ...req, layer: { ...req.layer, activation: "none" },
      row_step: draw.matrixStep(data.h * data.w) }, { signal });
  } catch (err) {
    if (!token.stale() && err.name !== "AbortError") { clearMatrices(); $("matmul-check").textContent = err.message; }
    return;
  }
  if (token.stale()) return;
  const [hw, cin] = m.x_shape, cout = m.y_shape[1], [h, w] = m.output_shape.slice(1);
  $("matmul-shapes").textContent = `input (${cin}, ${h}, ${w}) → reshape → X (${hw} × ${cin}) · Wᵀ (${cin} × ${cout}) + b = Y (${hw} × ${cout}) → reshape → output (${cout}, ${h}, ${w})`;
  const step = draw.matrixStep(hw), drawn = step > 1 ? `; every ${step}th row drawn, hover for its values` : "";
  $("x-label").textContent = `(${hw} × ${cin}): row p = pixel (p ÷ ${w}, p mod ${w})${drawn}`;
  $("wt-label").textContent = `(${cin} × ${cout})`;
  $("y-label").textContent = `(${hw} × ${cout})${shell.state.relu === "1" ? ", before the ReLU" : ""}${drawn}`;
  const matrix = (enc) => decodeArray({ ...enc, shape: [1, ...enc.shape] })[0];
  await draw.drawMatrix($("x-plot"), matrix(m.x_matrix), m.x_matrix, m.row_step);
  await draw.drawMatrix($("wt-plot"), matrix(m.w_matrix), m.w_matrix);
  await draw.drawMatrix($("y-plot"), matrix(m.y_matrix), m.y_matrix, m.row_step);
  if (token.stale()) return;
  $("matmul-check").textContent = `engine: max |conv1×1 − matmul| = ${m.max_abs_conv_vs_matmul.toExponential(2)}, ` +
    `max |conv1×1 − per-pixel W·x| = ${m.max_abs_conv_vs_per_pixel.toExponential(2)} (float32)`;
  $("matmul-check").dataset.value = m.max_abs_conv_vs_matmul;
  data.matmul = m;
  show(+shell.state.step || 0, { playing: shell.player.playing() });
}

/** Pooling vs a 1×1: depends on the input only, so it is asked again only when the input changes. */
async function loadReduce(input, inputKey) {
  if (await sections.showReduce(input, data.conv.input.shape, reduceGuard())) data.reducedFor = inputKey;
}

/** NiN at the current pixel. Its weights are its own (seeded), so a new layer above does not change it:
 * it is asked again only when the input, the widths or the pixel changed. */
async function loadNin() {
  if (!data.conv) return;
  const p = +shell.state.step || 0, r = Math.floor(p / data.w), c = p % data.w;
  const key = `${data.inputKey}|${shell.state.ninWidths}|${r},${c}`;
  if (key === ninShown) return;
  if (await sections.showNin(data.req.input, shell.state.ninWidths.split(",").map(Number), r, c, ninGuard())) ninShown = key;
}

/** FC ≡ conv, from its own fields (a newer FC request supersedes an older one; a layer load does not). */
function loadFc() {
  const s = shell.state, my = ++fcGeneration;
  return sections.showFc({ channels: +s.fcChannels, block: +s.fcBlock, outputs: +s.fcOutputs, size: +s.fcSize },
    { stale: () => my !== fcGeneration });
}

/** A value an FC field does not allow is never sent (the shell waits): the block says what is wrong
 * instead of keeping the previous sizes' answer beside the field, and a late answer cannot come back. */
function wireFcFields() {
  for (const { id } of [CONTROLS.fcChannels, CONTROLS.fcBlock, CONTROLS.fcOutputs, CONTROLS.fcSize]) {
    $(id).addEventListener("input", (e) => {
      if (e.target.checkValidity() && e.target.value !== "") return;
      fcGeneration++;
      sections.showFcError(fieldMessage(e.target));
    });
  }
}

/** The formulas with this layer's numbers, as the API writes them (app/engine/explain.py). */
function showWork(check) {
  const f = check.formulas, p = f.pointwise;
  $("work").textContent = [f.params, f.macs, `for a 1×1: ${p.params}; ${p.macs}`, "", "PyTorch:", p.torch, "NumPy:", p.numpy].join("\n");
}

/** W as a table of number fields (custom weights only); an edit sends the whole matrix as custom weights.
 * The same matrix coming back is refreshed in place, so the keyboard focus stays where the person is. */
function drawMatrixEditor() {
  const el = $("weight-editor");
  const [co, ci] = data.conv.weight.shape;
  if (shell.state.weights !== "custom") { clearEditor(el); return; }
  if (co * ci > EDITOR_MAX) { clearEditor(el, `<p class='muted'>The editor shows matrices up to ${EDITOR_MAX} values.</p>`); return; }
  const flat = flatWeights(data.conv.weight), key = `${co}x${ci}`;
  if (refreshInPlace(el, key, flat)) return;
  buildEditor(el, key, `<table class="edit">${data.w2d.map((row, o) => `<tr>${row.map((v, c) =>
    `<td><input data-idx="${o * ci + c}" type="number" step="any" value="${+v.toFixed(4)}" aria-label="W[${o}, ${c}]"></td>`).join("")}</tr>`).join("")}</table>`,
  flat, (edited) => shell.set({ custom: customJSON(edited, data.conv.weight.shape, data.conv.bias), weights: "custom" }, { load: true }));
}

/** The input pixel under a pointer event, through the canvas's content box. */
function pixelFromEvent(e) {
  const canvas = $("input-canvas"), s = draw.scaleOf(canvas), rect = canvas.getBoundingClientRect();
  const x = e.clientX - rect.left - canvas.clientLeft, y = e.clientY - rect.top - canvas.clientTop;
  const clamp = (v, n) => Math.max(0, Math.min(n - 1, Math.floor(v / s)));
  return clamp(y, data.h) * data.w + clamp(x, data.w);
}

function wireCanvas() {
  const canvas = $("input-canvas");
  canvas.addEventListener("click", (e) => { if (data.w) shell.player.go(pixelFromEvent(e)); });
  canvas.addEventListener("mousemove", (e) => { if (data.w && !shell.player.playing()) shell.player.show(pixelFromEvent(e)); });
}

/** A link to one section (/learn's "full view" of the FC step opens /pointwise#fc): the sections above it
 * grow as their figures arrive, which pushed the browser's one jump off its target; it is kept in view
 * until the person scrolls, clicks or types, or 8 s have passed. */
function keepAnchorInView() {
  const target = location.hash.length > 1 && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!target) return;
  const watch = new ResizeObserver(() => target.scrollIntoView({ block: "start" }));
  const release = () => {
    watch.disconnect();
    for (const ev of ["wheel", "pointerdown", "keydown", "touchstart"]) removeEventListener(ev, release, true);
  };
  for (const ev of ["wheel", "pointerdown", "keydown", "touchstart"]) addEventListener(ev, release, true);
  watch.observe(document.body);
  setTimeout(release, 8000);
}

keepAnchorInView();
picker.set(stringToSpec(shell.state.input));
addLayerOption($("weights-kind"), shell.state.weights, shell.state.network); // opened on a model's layer from /network
wireCanvas();
wireFcFields();
shell.start();
loadFc();
