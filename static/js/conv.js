// Sliding-window view. One state object (persisted in the URL); everything drawn derives from it
// and from the API's answers. JavaScript never computes a convolution: values come from /api/trace.
import { postJSON, decodeArray } from "./api.js";
import { checkThenRun, debounced, layerMessage } from "./ui.js";
import { InputPicker, specToString, stringToSpec } from "./inputs.js";
import { readState, writeState } from "./urlstate.js";
import * as draw from "./conv_draw.js";
import { plotlyReady } from "./plots.js";


const $ = (id) => document.getElementById(id);
const DEFAULTS = { input: "sample:colour", outChannels: "4", kernelH: "3", kernelW: "3", stride: "1", padding: "1",
  dilation: "1", groups: "1", bias: "1", flip: "0", relu: "0", weights: "random", weightSeed: "0",
  presetMode: "depthwise", channel: "0", regionRow: "0", regionCol: "0", regionSize: "12", step: "0" };
const FORM = { outChannels: "out-channels", kernelH: "kernel-h", kernelW: "kernel-w", stride: "stride",
  padding: "padding", dilation: "dilation", groups: "groups", weightSeed: "weights-seed", presetMode: "preset-mode",
  weights: "weights-kind", regionRow: "region-row", regionCol: "region-col", regionSize: "region-size" };
const CHECKS = { bias: "bias", flip: "flip", relu: "relu" };
const REVEAL_EVERY = 6; // restyle the revealed output every N frames while playing (heatmap updates are slow)

const state = { ...DEFAULTS, ...readState() };
const data = { check: null, conv: null, input: null, output: null, weight: null, traces: [], region: null, bounds: null };
// Hooks for benchmarks/browser.py and the tests: frame times, readiness, and a step driver.
const perf = (window.__convlens = { frameTimes: [], ready: false, loads: 0, firstPlotMs: null, step: (d) => step(d, false), marks: {} });
let timer = null, revealedUpto = -1, generation = 0;
const picker = new InputPicker((spec) => { state.input = specToString(spec); changed(); });

function paddingSpec(text) {
  const t = text.trim();
  if (t === "same" || t === "valid") return t;
  if (t.includes(",")) return t.split(",").map((v) => parseInt(v, 10));
  return parseInt(t, 10);
}

/** The API request for the current state. Preset and custom weights fix out_channels and the kernel. */
function request() {
  const layer = { stride: +state.stride, padding: paddingSpec(state.padding), dilation: +state.dilation,
    bias: state.bias === "1", flip: state.flip === "1", activation: state.relu === "1" ? "relu" : "none" };
  let weights;
  if (state.weights.startsWith("preset:")) {
    weights = { kind: "preset", name: state.weights.slice(7), mode: state.presetMode };
    delete layer.bias;
  } else if (state.weights === "custom" && state.custom) {
    const c = JSON.parse(state.custom);
    weights = { kind: "custom", weight: c.weight, bias: c.bias };
    layer.groups = +state.groups;
  } else {
    weights = { kind: "random", seed: +state.weightSeed };
    Object.assign(layer, { out_channels: +state.outChannels, kernel_size: [+state.kernelH, +state.kernelW], groups: +state.groups });
  }
  return { input: stringToSpec(state.input), layer, weights };
}

function stateToForm() {
  picker.set(stringToSpec(state.input));
  for (const [k, id] of Object.entries(FORM)) $(id).value = state[k];
  for (const [k, id] of Object.entries(CHECKS)) $(id).checked = state[k] === "1";
}

function formToState() {
  for (const [k, id] of Object.entries(FORM)) state[k] = $(id).value;
  for (const [k, id] of Object.entries(CHECKS)) state[k] = $(id).checked ? "1" : "0";
  if (state.weights !== "custom") delete state.custom;
}

const message = layerMessage;
const changed = debounced(() => load(), 200);

/** Check the layer (cheap), then run it and trace the region. Stale answers are dropped. */
async function load() {
  const my = ++generation;
  stop();
  writeState(state);
  const req = request();
  try {
    perf.marks.start ??= performance.now();
    const answer = await checkThenRun(req, () => my !== generation);
    if (!answer) return;
    const { check, conv } = answer;
    perf.marks.convolve ??= performance.now();
    data.check = check;
    Object.assign(data, { req, conv, input: decodeArray(conv.input_array), output: decodeArray(conv.output), weight: decodeArray(conv.weight) });
    showChannels(clampRegion().channel); // the output, drawn at once: canvases need no plotly.js
    perf.firstOutputMs ??= performance.now();
    plotlyReady(); // only now: parsing plotly.js takes ~1 s here and would have held back the output
    message(`output [${check.output_shape.join("×")}] · ${check.cost.params.toLocaleString()} params · ${check.cost.macs.toLocaleString()} MACs`, true);
    showWork(check);
    syncImpliedFields(conv.layer);
    drawWeightsEditor();
    await loadRegion(my);
  } catch (err) {
    if (my === generation) message(err.message, false);
  }
}

function syncImpliedFields(layer) {
  const implied = !state.weights.startsWith("random");
  for (const [id, v] of [["out-channels", layer.out_channels], ["kernel-h", layer.kernel_size[0]], ["kernel-w", layer.kernel_size[1]]]) {
    $(id).disabled = implied;
    if (implied) $(id).value = v;
  }
  const preset = state.weights.startsWith("preset:");
  $("groups").disabled = preset;
  $("bias").disabled = preset; // a preset brings its own bias (or none)
  if (preset) {
    $("groups").value = layer.groups;
    $("bias").checked = layer.bias;
  }
  const p = document.querySelector(`#weights-kind option[value="${state.weights}"]`);
  $("preset-description").textContent = state.weights.startsWith("preset:") ? (p?.dataset.description || "") : "";
}

function clampRegion() {
  const [, h, w] = data.check.output_shape;
  const size = Math.max(1, Math.min(+state.regionSize || 12, 24));
  const r0 = Math.max(0, Math.min(+state.regionRow || 0, h - 1)), c0 = Math.max(0, Math.min(+state.regionCol || 0, w - 1));
  const channel = Math.max(0, Math.min(+state.channel || 0, data.check.output_shape[0] - 1));
  Object.assign(state, { regionRow: String(r0), regionCol: String(c0), channel: String(channel) });
  return { channel, row_start: r0, row_stop: Math.min(h, r0 + size), col_start: c0, col_stop: Math.min(w, c0 + size) };
}

async function loadRegion(my = generation) {
  const region = clampRegion();
  const res = await postJSON("/api/trace", { ...data.req, region }); // the layer on screen, not a newer form
  perf.marks.trace ??= performance.now();
  await plotlyReady();
  if (my !== generation) return;
  Object.assign(data, { traces: res.traces, region, bounds: draw.receptiveBounds(res.traces) });
  const channels = res.traces[0].input_channels;
  const meta = data.conv.input_array, outMeta = data.conv.output;
  await draw.drawInputs($("input-plot"), data.input, meta, channels, data.bounds);
  perf.firstPlotMs ??= performance.now(); // ms since navigation start
  revealedUpto = -1;
  await draw.drawRegion($("region-plot"), data.traces, region, -1, outMeta, region.channel);
  await draw.drawOverview($("overview-plot"), data.input, meta, data.bounds);
  await draw.drawOutput($("output-plot"), data.output, outMeta, region.channel, region);
  showChannels(region.channel);
  draw.drawConnectivity($("connectivity-plot"), data.check.connectivity, data.check.layer.in_channels);
  $("oc-label").textContent = region.channel;
  $("input-caption").textContent = `(channels ${channels[0]}–${channels[channels.length - 1]} feed output channel ${region.channel})`;
  $("region-caption").textContent = `channel ${region.channel}, rows ${region.row_start}–${region.row_stop - 1}, cols ${region.col_start}–${region.col_stop - 1}`;
  $("scrubber").max = data.traces.length - 1;
  ["region-row", "region-col"].forEach((id, i) => { $(id).value = [region.row_start, region.col_start][i]; });
  setStep(Math.min(+state.step || 0, data.traces.length - 1), true);
  if (!perf.ready) wirePlotClicks(); // Plotly adds .on() to a div once it has drawn into it
  perf.ready = true;
  perf.loads += 1;
  document.body.dataset.ready = String(perf.loads);
}

function showChannels(selected) {
  draw.drawChannels($("channels-plot"), data.output, data.conv.output, selected, (k) => {
    Object.assign(state, { channel: String(k), step: "0" });
    loadRegion();
  });
}

/** One animation frame: move the window (overlay boxes), write the numbers, mark the output cell. */
function setStep(t, forceReveal = false) {
  const t0 = performance.now();
  const tr = data.traces[t];
  state.step = String(t);
  placeOverlays();
  $("computation").innerHTML = draw.computationHTML(tr);
  $("scrubber").value = t;
  $("position-label").textContent = `${t + 1}/${data.traces.length} · output (${tr.row}, ${tr.col})`;
  if (forceReveal || t < revealedUpto || t - revealedUpto >= REVEAL_EVERY) {
    revealedUpto = t;
    Plotly.restyle($("region-plot"), { z: [draw.regionZ(data.traces, data.region, t)] });
  }
  perf.frameTimes.push(performance.now() - t0);
}

/** Overlays sit over plots in pixels: redo them whenever a plot is redrawn or resized. */
function placeOverlays() {
  const tr = data.traces[+state.step];
  if (!tr) return;
  draw.placeWindow($("input-plot"), tr, tr.input_channels.length);
  draw.placeHit($("region-plot"), tr.row, tr.col);
  draw.placeHit($("output-plot"), tr.row, tr.col);
}

/** Move by delta positions. While playing, the revealed output is restyled in batches, not per frame. */
function step(delta, paused = !timer) {
  const n = data.traces.length;
  if (!n) return;
  setStep((+state.step + delta + n) % n, paused);
  if (paused) writeState(state);
}

function play() {
  if (timer) return stop();
  $("btn-play").textContent = "⏸";
  const tick = () => {
    if (+state.step >= data.traces.length - 1) return stop();
    step(1);
    timer = setTimeout(tick, 1000 / +$("speed").value);
  };
  timer = setTimeout(tick, 0);
}

function stop() {
  if (timer) {
    clearTimeout(timer);
    timer = null;
    if (data.traces.length) setStep(+state.step, true);
    writeState(state);
  }
  $("btn-play").textContent = "▶";
}

/** Jump to an output pixel: move the region so it contains the pixel, then trace it. */
async function jumpTo(row, col, channel = +state.channel) {
  stop();
  const r = data.region;
  if (channel === r.channel && row >= r.row_start && row < r.row_stop && col >= r.col_start && col < r.col_stop) {
    setStep(data.traces.findIndex((t) => t.row === row && t.col === col), true);
    writeState(state);
    return;
  }
  const half = Math.floor(+state.regionSize / 2);
  Object.assign(state, { channel: String(channel), regionRow: String(Math.max(0, row - half)), regionCol: String(Math.max(0, col - half)) });
  state.step = "0";
  await loadRegion();
  const idx = data.traces.findIndex((t) => t.row === row && t.col === col);
  setStep(idx, true);
  writeState(state);
}

function showWork(check) {
  const f = check.formulas;
  $("work").textContent = [f.out_height, f.out_width, f.params, f.macs, f.flops, "", "PyTorch:", f.torch].join("\n");
}

function drawWeightsEditor() {
  const el = $("weight-editor");
  const oc = +state.channel, w = data.conv.weight;
  const [cOut, cg, kh, kw] = data.conv.weight.shape;
  if (state.weights !== "custom" || cg * kh * kw > 75 || cOut * cg * kh * kw > 2048) {
    el.innerHTML = state.weights === "custom" ? "<p class='muted'>The editor shows kernels up to 75 values per filter.</p>" : "";
    return;
  }
  const flat = decodeFlat(w);
  let html = `<p class="muted">filter for output channel ${oc} (edit a value and press Enter)</p>`;
  for (let c = 0; c < cg; c++) {
    html += `<table class="edit"><caption>in ${c}</caption>`;
    for (let i = 0; i < kh; i++) {
      html += "<tr>" + Array.from({ length: kw }, (_, j) => {
        const idx = ((oc * cg + c) * kh + i) * kw + j;
        return `<td><input data-idx="${idx}" type="number" step="any" value="${+flat[idx].toFixed(4)}" style="width:4.2rem"></td>`;
      }).join("") + "</tr>";
    }
    html += "</table>";
  }
  el.innerHTML = html;
  el.querySelectorAll("input").forEach((inp) => inp.addEventListener("change", () => {
    flat[+inp.dataset.idx] = parseFloat(inp.value) || 0;
    setCustom(flat, [cOut, cg, kh, kw]);
  }));
}

function decodeFlat(payload) {
  const channels = decodeArray({ ...payload, shape: [payload.shape[0] * payload.shape[1], payload.shape[2], payload.shape[3]] });
  return Float32Array.from(channels.flatMap((rows) => rows.flatMap((row) => Array.from(row))));
}

function setCustom(flat, [cOut, cg, kh, kw]) {
  const weight = Array.from({ length: cOut }, (_, o) => Array.from({ length: cg }, (_, c) => Array.from({ length: kh }, (_, i) =>
    Array.from({ length: kw }, (_, j) => flat[((o * cg + c) * kh + i) * kw + j]))));
  state.custom = JSON.stringify({ weight, bias: data.conv.bias });
  state.weights = "custom";
  $("weights-kind").value = "custom";
  changed();
}

function wire() {
  for (const id of [...Object.values(FORM), ...Object.values(CHECKS)]) {
    $(id).addEventListener("change", () => {
      const wasCustom = state.weights === "custom";
      formToState();
      if (id === "weights-kind" && state.weights === "custom" && !wasCustom && data.conv) {
        setCustom(decodeFlat(data.conv.weight), data.conv.weight.shape); // start editing from the current weights
        return;
      }
      if (["region-row", "region-col", "region-size"].includes(id)) { state.step = "0"; loadRegion(); return; }
      changed();
    });
  }
  $("btn-play").addEventListener("click", play);
  $("btn-back").addEventListener("click", () => { stop(); step(-1); });
  $("btn-forward").addEventListener("click", () => { stop(); step(1); });
  $("btn-first").addEventListener("click", () => { stop(); setStep(0, true); writeState(state); });
  $("scrubber").addEventListener("input", (e) => { stop(); setStep(+e.target.value, true); });
  $("scrubber").addEventListener("change", () => writeState(state));
  document.addEventListener("keydown", (e) => {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName) && e.target.type !== "range") return;
    if (e.key === " ") { e.preventDefault(); play(); }
    else if (e.key === "ArrowRight") { e.preventDefault(); stop(); step(1); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); stop(); step(-1); }
  });
  $("download-png").addEventListener("click", () => download("png"));
  $("download-npy").addEventListener("click", () => download("npy"));
}

function wirePlotClicks() {
  for (const id of ["input-plot", "region-plot", "output-plot"]) $(id).on("plotly_afterplot", placeOverlays);
  $("output-plot").on("plotly_click", (ev) => jumpTo(ev.points[0].y, ev.points[0].x));
  $("region-plot").on("plotly_click", (ev) => jumpTo(ev.points[0].y, ev.points[0].x));
}

async function download(kind) {
  const body = { ...request(), encoding: kind, channel: +state.channel };
  const res = await fetch("/api/convolve", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) return message((await res.json()).error.message, false);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = kind === "png" ? `convlens-output-channel-${state.channel}.png` : "convlens-output.npy";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

stateToForm();
wire();
load();
