// The 1×1 view. State (input, layer, pixel) lives in the URL; every number shown comes from the API:
// /api/convolve for the maps, /api/trace for the written-out product, /api/pointwise/* for the
// equivalences. The sweep only looks values up in those arrays and moves canvases and boxes.
import { decodeArray, postJSON } from "./api.js";
import { checkThenRun, debounced, layerMessage } from "./ui.js";
import { InputPicker, specToString, stringToSpec } from "./inputs.js";
import { fmt, plotlyReady, signedScale } from "./plots.js";
import * as draw from "./pointwise_draw.js";
import { readState, writeState } from "./urlstate.js";


const $ = (id) => document.getElementById(id);
const DEFAULTS = { input: "sample:colour", outChannels: "4", weights: "preset:greyscale", weightSeed: "0", bias: "1",
  relu: "0", step: "0", ninWidths: "8,4", speed: "4", fcChannels: "8", fcBlock: "7", fcOutputs: "10", fcSize: "14" };
const FORM = { outChannels: "out-channels", weightSeed: "weights-seed", weights: "weights-kind", ninWidths: "nin-widths" };
const FC_FORM = { fcChannels: "fc-c", fcBlock: "fc-k", fcOutputs: "fc-o", fcSize: "fc-size" };
const CHECKS = { bias: "bias", relu: "relu" };

const state = { ...DEFAULTS, ...readState() };
const data = { conv: null, input: null, output: null, w2d: null, outViews: [], h: 0, w: 0 };
const perf = (window.__convlens = { frameTimes: [], ready: false, loads: 0, firstPlotMs: null, step: (d) => step(d, false) });
let timer = null, generation = 0, writtenTimer = null, fcGeneration = 0;
const picker = new InputPicker((spec) => { state.input = specToString(spec); changed(); });

function request() {
  const layer = { kernel_size: 1, activation: state.relu === "1" ? "relu" : "none" };
  let weights;
  if (state.weights.startsWith("preset:")) weights = { kind: "preset", name: state.weights.slice(7) };
  else if (state.weights === "custom" && state.custom) weights = { kind: "custom", ...JSON.parse(state.custom) };
  else {
    weights = { kind: "random", seed: +state.weightSeed };
    Object.assign(layer, { out_channels: +state.outChannels, bias: state.bias === "1" });
  }
  if (weights.kind === "custom") layer.bias = state.bias === "1" && weights.bias != null;
  return { input: stringToSpec(state.input), layer, weights };
}

const message = layerMessage;
const changed = debounced(() => load(), 200);

async function load() {
  const my = ++generation;
  stop();
  writeState(state);
  const req = request();
  data.matmul = null;  // the matrices on screen belong to the previous request until loadMatmul redraws
  if (data.req && JSON.stringify(data.req.input) !== JSON.stringify(req.input)) clearMatrices();
  try {
    const answer = await checkThenRun(req, () => my !== generation);
    if (!answer) return;
    const { check, conv } = answer;
    message(`[${conv.input.shape.join("×")}] → [${conv.output_shape.join("×")}] · ${conv.cost.params.toLocaleString()} params · ${conv.cost.macs.toLocaleString()} MACs`, true);
    const input = decodeArray(conv.input_array), output = decodeArray(conv.output);
    const w2d = decodeArray({ ...conv.weight, shape: conv.weight.shape.slice(0, 2).concat([1]) }).map((rows) => rows.map((r) => r[0]));
    Object.assign(data, { req, conv, check, input, output, w2d, h: input[0].length, w: input[0][0].length });
    syncForm(conv.layer);
    draw.paintInput($("input-canvas"), input, conv.input_array); // canvases first: they need no plotly.js
    data.outViews = draw.drawOutputs($("outputs"), output, conv.output);
    perf.firstOutputMs ??= performance.now();
    await plotlyReady();
    if (my !== generation) return;
    const wWidth = draw.weightsWidth(conv.layer.in_channels);
    $("w-plot").style.width = wWidth ? `${wWidth}px` : "";
    await draw.drawWeights($("w-plot"), w2d, conv.weight, conv.layer.out_channels, conv.layer.in_channels);
    perf.firstPlotMs ??= performance.now();
    $("scrubber").max = data.h * data.w - 1;
    $("reads-1x1").textContent = check.formulas.pointwise.reads;
    $("reads-3x3").textContent = check.formulas.pointwise.reads_3x3;
    showWork(check);
    drawMatrixEditor();
    setStep(Math.min(+state.step || 0, data.h * data.w - 1));
    perf.ready = true;
    perf.loads += 1;
    document.body.dataset.ready = String(perf.loads);
    loadMatmul(req, my);
    loadReduce(req.input, my);
    loadNin(my);
  } catch (err) {
    if (my === generation) message(err.message, false);
  }
}

function syncForm(layer) {
  const fixed = !state.weights.startsWith("random");
  $("out-channels").disabled = fixed;
  if (fixed) $("out-channels").value = layer.out_channels;
  $("bias").disabled = state.weights.startsWith("preset:");
  if (state.weights.startsWith("preset:")) $("bias").checked = layer.bias;
  const opt = document.querySelector(`#weights-kind option[value="${state.weights}"]`);
  $("preset-description").textContent = opt?.dataset.description || "";
}

/** One frame: the pixel's boxes, its x and y vectors (looked up), markers, and the matrix rows. */
function setStep(p, paused = true) {
  const t0 = performance.now();
  const r = Math.floor(p / data.w), c = p % data.w;
  const prev = +state.step;
  state.step = String(p);
  draw.placePixelBoxes($("input-canvas"), $("box1"), $("box3"), r, c);
  draw.drawBars($("x-bars"), data.input.map((ch) => ch[r][c]), "x");
  draw.drawBars($("y-bars"), data.output.map((ch) => ch[r][c]), "y");
  draw.placeMarkers(data.outViews, r, c);
  if (timer) draw.revealMasks(data.outViews, prev, p, data.w);
  if (data.matmul) {
    draw.placeRow($("x-plot"), p, data.matmul.x_shape[1]);
    draw.placeRow($("y-plot"), p, data.matmul.y_shape[1]);
  }
  $("scrubber").value = p;
  $("position-label").textContent = `pixel (${r}, ${c}) · row ${p} of X`;
  perf.frameTimes.push(performance.now() - t0);
  if (paused) {
    writeState(state);
    clearTimeout(writtenTimer);
    writtenTimer = setTimeout(() => { loadWritten(r, c); loadNin(generation); }, 120);
  }
}

/** W·x + b at this pixel, term by term, from the engine's trace of every output channel there. */
async function loadWritten(r, c) {
  // The request that produced the arrays on screen, not the form's current one: a preset switched
  // while this was scheduled would ask for output channels the new layer does not have.
  const my = generation;
  const positions = data.output.map((_, o) => ({ channel: o, row: r, col: c }));
  const res = await postJSON("/api/trace", { ...data.req, positions });
  if (my !== generation) return;
  const lines = res.traces.map((t) => {
    const terms = t.products.map((p, i) => `${fmt(t.weights[i][0][0])}·${fmt(t.windows[i][0][0])}`);
    const shown = terms.length <= 12 ? terms.join(" + ") : `${terms.slice(0, 12).join(" + ")} + … (${terms.length} terms)`;
    const act = t.value !== t.pre_activation ? ` → ReLU → ${fmt(t.value)}` : "";
    return `y${t.channel} = ${shown} + ${fmt(t.bias)} = ${fmt(t.pre_activation)}${act}`;
  });
  $("written").innerHTML = `<span id="written-pixel" data-row="${r}" data-col="${c}" data-values="${res.traces.map((t) => t.value).join(",")}"></span>` +
    `x = input[:, ${r}, ${c}] = (${res.traces[0].windows.map((w) => fmt(w[0][0])).join(", ")})\n${lines.join("\n")}`;
}

/** Another input is coming: its matrices have other shapes, so the old ones must not stay on screen. */
function clearMatrices() {
  for (const id of ["x-plot", "wt-plot", "y-plot"]) if (window.Plotly) Plotly.purge($(id));
  for (const id of ["matmul-shapes", "x-label", "wt-label", "y-label", "matmul-check"]) $(id).textContent = "";
  delete $("matmul-check").dataset.value;
}

async function loadMatmul(req, my) {
  let m;
  try {
    m = await postJSON("/api/pointwise/matmul", { ...req, layer: { ...req.layer, activation: "none" } });
  } catch (err) {
    if (my === generation) { clearMatrices(); $("matmul-check").textContent = err.message; }
    return;
  }
  if (my !== generation) return;
  const [hw, cin] = m.x_shape, cout = m.y_shape[1];
  $("matmul-shapes").textContent = `input (${cin}, ${data.h}, ${data.w}) → reshape → X (${hw} × ${cin}) · Wᵀ (${cin} × ${cout}) + b = Y (${hw} × ${cout}) → reshape → output (${cout}, ${data.h}, ${data.w})`;
  $("x-label").textContent = `(${hw} × ${cin}): row p = pixel (p ÷ ${data.w}, p mod ${data.w})`;
  $("wt-label").textContent = `(${cin} × ${cout})`;
  $("y-label").textContent = `(${hw} × ${cout})${state.relu === "1" ? ", before the ReLU" : ""}`;
  await draw.drawMatrix($("x-plot"), decodeArray({ ...m.x_matrix, shape: [1, ...m.x_matrix.shape] })[0], { channel_min: m.x_matrix.channel_min, channel_max: m.x_matrix.channel_max });
  await draw.drawMatrix($("wt-plot"), decodeArray({ ...m.w_matrix, shape: [1, ...m.w_matrix.shape] })[0], m.w_matrix);
  await draw.drawMatrix($("y-plot"), decodeArray({ ...m.y_matrix, shape: [1, ...m.y_matrix.shape] })[0], m.y_matrix);
  if (my !== generation) return;
  $("matmul-check").textContent = `engine: max |conv1×1 − matmul| = ${m.max_abs_conv_vs_matmul.toExponential(2)}, ` +
    `max |conv1×1 − per-pixel W·x| = ${m.max_abs_conv_vs_per_pixel.toExponential(2)} (float32)`;
  $("matmul-check").dataset.value = m.max_abs_conv_vs_matmul;
  data.matmul = m;
  setStep(+state.step, false);
}

async function loadReduce(input, my) {
  const res = await postJSON("/api/pointwise/reduce", { input });
  if (my !== generation) return;
  const [cin, h, w] = data.conv.input.shape;
  $("reduce").innerHTML = res.map((r) => `<div class="work small reduce-card"><b>${r.name}</b><br>` +
    `[${cin}×${h}×${w}] → <b class="reduce-shape">[${r.output_shape.join("×")}]</b><br>` +
    `parameters: <b>${r.params.toLocaleString()}</b> · ${r.name.includes("pool") ? "comparisons" : "MACs"}: ${r.work.toLocaleString()}</div>`).join("");
}

async function loadNin(my) {
  if (!data.conv) return;
  const r = Math.floor(+state.step / data.w), c = +state.step % data.w;
  const res = await postJSON("/api/pointwise/nin", { input: data.req.input, widths: state.ninWidths.split(",").map(Number), row: r, col: c });
  if (my !== generation) return;
  $("nin-diagram").innerHTML = draw.ninSVG(res);
  $("nin-check").textContent = `pixel (${r}, ${c}) · output [${res.output_shape.join("×")}] · engine: max |1×1 conv stack − per-pixel MLP| = ${res.max_abs_conv_stack_vs_mlp.toExponential(2)}`;
}

/** FC ≡ conv. Its own fields: an invalid size clears the old score map instead of leaving it up. */
async function loadFc() {
  const body = { channels: +state.fcChannels, block: +state.fcBlock, outputs: +state.fcOutputs, size: +state.fcSize };
  const my = ++fcGeneration;
  let res;
  try { res = await postJSON("/api/pointwise/fc", body); } catch (err) {
    if (my !== fcGeneration) return;
    $("fc-text").textContent = err.message;
    $("fc-text").className = "work small message error";
    if (window.Plotly) Plotly.purge($("fc-plot"));
    return;
  }
  if (my !== fcGeneration) return;
  const { block: k, outputs: o, size } = body;
  $("fc-text").className = "work small";
  $("fc-text").innerHTML = [
    `FC layer: ${res.inputs_formula} inputs → ${o} outputs; ${res.params_formula}.`,
    `The same weights as a ${k}×${k} convolution with ${o} filters: weight [${res.conv_weight_shape.join(", ")}].`,
    `On one ${k}×${k}×${body.channels} block: max |FC − conv| = <b id="fc-block">${res.max_abs_block.toExponential(2)}</b>`,
    `Slid over a ${size}×${size} input, the conv gives a map of scores [${res.score_map_shape.join("×")}] instead of one vector;`,
    `max |conv map − FC on each crop| = <b>${res.max_abs_map.toExponential(2)}</b>.`].join("<br>");
  const map = decodeArray(res.score_map)[0];
  const lim = Math.max(Math.abs(res.score_map.channel_min[0]), Math.abs(res.score_map.channel_max[0]));
  await plotlyReady();
  if (my !== fcGeneration) return;
  Plotly.react($("fc-plot"), [{ type: "heatmap", z: map, ...signedScale(lim), hovertemplate: "score 0 at (%{y}, %{x}) = %{z:.3f}<extra></extra>" }],
    { height: 260, margin: { t: 24, r: 8, b: 24, l: 32 }, title: { text: "score map, output 0", font: { size: 12 } },
      yaxis: { autorange: "reversed", scaleanchor: "x" } }, { displaylogo: false, responsive: true });
}

/** The formulas with this layer's numbers, as the API writes them (app/engine/explain.py). */
function showWork(check) {
  const f = check.formulas, p = f.pointwise;
  $("work").textContent = [f.params, f.macs, `for a 1×1: ${p.params}; ${p.macs}`,
    "", "PyTorch:", p.torch, "NumPy:", p.numpy].join("\n");
}

function drawMatrixEditor() {
  const el = $("matrix-editor");
  const [co, ci] = data.conv.weight.shape;
  if (state.weights !== "custom") { el.innerHTML = ""; return; }
  if (co * ci > 64) { el.innerHTML = "<p class='muted'>The editor shows matrices up to 64 values.</p>"; return; }
  el.innerHTML = `<table class="edit">${data.w2d.map((row, o) => `<tr>${row.map((v, c) =>
    `<td><input data-o="${o}" data-c="${c}" type="number" step="any" value="${+v.toFixed(4)}" style="width:4.2rem"></td>`).join("")}</tr>`).join("")}</table>`;
  el.querySelectorAll("input").forEach((inp) => inp.addEventListener("change", () => {
    data.w2d[+inp.dataset.o][+inp.dataset.c] = parseFloat(inp.value) || 0;
    setCustom();
  }));
}

function setCustom() {
  state.custom = JSON.stringify({ weight: data.w2d.map((row) => row.map((v) => [[v]])), bias: data.conv.bias });
  state.weights = "custom";
  $("weights-kind").value = "custom";
  changed();
}

function step(delta, paused = !timer) {
  const n = data.h * data.w;
  if (!n) return;
  setStep((+state.step + delta + n) % n, paused);
}

function play() {
  if (timer) return stop();
  $("btn-play").textContent = "⏸";
  if (+state.step >= data.h * data.w - 1) state.step = "0";
  draw.coverMasks(data.outViews, +state.step, data.w);
  const tick = () => {
    const n = data.h * data.w, next = Math.min(n - 1, +state.step + +state.speed);
    setStep(next, false);
    if (next >= n - 1) return stop();
    timer = requestAnimationFrame(tick);
  };
  timer = requestAnimationFrame(tick);
}

function stop() {
  if (!timer) return;
  cancelAnimationFrame(timer);
  timer = null;
  $("btn-play").textContent = "▶";
  draw.clearMasks(data.outViews);
  setStep(+state.step, true);
}

function pixelFromEvent(e) {
  const canvas = $("input-canvas"), s = draw.scaleOf(canvas), rect = canvas.getBoundingClientRect();
  const x = e.clientX - rect.left - canvas.clientLeft, y = e.clientY - rect.top - canvas.clientTop;
  const clamp = (v, n) => Math.max(0, Math.min(n - 1, Math.floor(v / s)));
  return clamp(y, data.h) * data.w + clamp(x, data.w);
}

function wire() {
  for (const [k, id] of Object.entries(FORM)) $(id).value = state[k];
  for (const [k, id] of Object.entries(CHECKS)) $(id).checked = state[k] === "1";
  picker.set(stringToSpec(state.input));
  for (const id of [...Object.values(FORM), ...Object.values(CHECKS)]) {
    $(id).addEventListener("change", () => {
      const wasCustom = state.weights === "custom";
      for (const [k, i] of Object.entries(FORM)) state[k] = $(i).value;
      for (const [k, i] of Object.entries(CHECKS)) state[k] = $(i).checked ? "1" : "0";
      if (id === "nin-widths") { writeState(state); return loadNin(generation); }
      if (state.weights === "custom" && !wasCustom && data.conv) return setCustom();
      if (state.weights !== "custom") delete state.custom;
      changed();
    });
  }
  for (const [k, id] of Object.entries(FC_FORM)) {
    $(id).value = state[k];
    $(id).addEventListener("change", () => { state[k] = $(id).value; writeState(state); loadFc(); });
  }
  $("speed").value = state.speed;
  $("speed").addEventListener("change", () => { state.speed = $("speed").value; writeState(state); });
  $("input-canvas").addEventListener("click", (e) => { stop(); setStep(pixelFromEvent(e), true); });
  $("input-canvas").addEventListener("mousemove", (e) => { if (!timer) setStep(pixelFromEvent(e), false); });
  $("input-canvas").addEventListener("mouseleave", () => { if (!timer) setStep(+state.step, true); });
  $("btn-play").addEventListener("click", play);
  $("btn-back").addEventListener("click", () => { stop(); step(-1, true); });
  $("btn-forward").addEventListener("click", () => { stop(); step(1, true); });
  $("btn-first").addEventListener("click", () => { stop(); setStep(0, true); });
  $("scrubber").addEventListener("input", (e) => { stop(); setStep(+e.target.value, true); });
  document.addEventListener("keydown", (e) => {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) && e.target.type !== "range") return;
    if (e.key === " ") { e.preventDefault(); play(); }
    else if (e.key === "ArrowRight") { e.preventDefault(); stop(); step(1, true); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); stop(); step(-1, true); }
  });
  $("download-png").addEventListener("click", () => download("png"));
  $("download-npy").addEventListener("click", () => download("npy"));
}

async function download(kind) {
  const res = await fetch("/api/convolve", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...request(), encoding: kind, channel: 0 }) });
  if (!res.ok) return message((await res.json()).error.message, false);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = kind === "png" ? "convlens-1x1-channel-0.png" : "convlens-1x1-output.npy";
  a.click();
}

wire();
load();
loadFc();
