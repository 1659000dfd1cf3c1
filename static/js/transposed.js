// The transposed-convolution page: keys, defaults, requests and rendering; the shell (shell.js) does
// the rest (state, URL, loads, player). Every number comes from the API, one request per control change
// (/api/transposed/view): the check (shape, cost, formulas), the run (the maps and the zero-inserted
// input) and both readings of each output value of the animated square, placed by the server, with the
// engine's value there. A moved square is traced alone (/api/transposed/trace with the same spot).
import { decodeArray, postFrame, postJSON } from "./api.js";
import { createShell } from "./shell.js";
import { KEYS } from "./keys.js";
import { InputPicker, specToString, stringToSpec } from "./inputs.js";
import { formatInt } from "./format.js";
import * as draw from "./transposed_draw.js";

const $ = (id) => document.getElementById(id);
const REGION = 6; // the animated square: REGION × REGION output positions

const DEFAULTS = { input: "sample:edges", weights: "bilinear", weightSeed: "0", outChannels: "2", kernelH: "3",
  kernelW: "3", stride: "2", padding: "1", outputPadding: "0", dilation: "1", groups: "1", channel: "0",
  inChannel: "0", regionRow: "", regionCol: "", step: "0", speed: "3" };
const CONTROLS = { weights: "weights-kind", weightSeed: "weights-seed", outChannels: "out-channels", kernelH: "kernel-h",
  kernelW: "kernel-w", stride: "stride", padding: "padding", outputPadding: "output-padding", dilation: "dilation",
  groups: "groups", speed: "speed", channel: "channel", inChannel: { id: "in-channel", apply: () => redraw() } };

const data = { check: null, tconv: null, input: null, output: null, gather: null, traces: [], region: null };

/** The API request for a state. Upsampling kernels fix the kernel, channels and groups, and (until the
 * user sets it) the padding that makes the output exactly stride × the input. */
function request(s) {
  const layer = { stride: +s.stride, output_padding: +s.outputPadding, dilation: +s.dilation };
  if (s.weights === "random" || shell.touched("padding")) layer.padding = +s.padding;
  let weights;
  if (s.weights === "random") {
    weights = { kind: "random", seed: +s.weightSeed };
    Object.assign(layer, { out_channels: +s.outChannels, kernel_size: [+s.kernelH, +s.kernelW], groups: +s.groups });
  } else {
    weights = { kind: "upsample", name: s.weights };
  }
  return { input: stringToSpec(s.input), layer, weights };
}

function onControl(name, value) {
  if (name === "weights") return { step: "0" };
  if (name === "channel") return { step: "0" };
  return null;
}

/** The square to trace: its corner once one was chosen (a click, or the URL), else none and the server
 * picks the square with the most output detail. The server moves it inside the output and cuts it there. */
function spot(s) {
  const corner = shell.touched("regionRow") ? { row: +s.regionRow || 0, col: +s.regionCol || 0 } : {};
  return { channel: +s.channel || 0, size: REGION, ...corner };
}

/** One request per change: the check and, for a valid layer, the run and the square's traces. */
function view(body, ctx) {
  return postFrame("/api/transposed/view", { ...body, include_input: true, trace: spot(shell.state) }, { signal: ctx.signal });
}

const shell = createShell({
  page: "transposed", keys: KEYS.transposed, defaults: DEFAULTS, controls: CONTROLS, request, onControl, view, render,
  onInvalid: () => draw.clear(),
  player: { count: () => data.traces.length, show, pace: (speed) => ({ delta: 1, ms: 1000 / speed }) },
});
// a new input gets a new square from the server (where that input's output has detail)
const picker = new InputPicker((spec) => shell.set({ input: specToString(spec), step: "0", regionRow: null,
  regionCol: null }, { load: true }));

async function render({ check, tconv, trace }, ctx) {
  Object.assign(data, { check, tconv, input: decodeArray(tconv.input_array), output: decodeArray(tconv.output),
    gather: decodeArray(tconv.gather_array) });
  const [cOut] = check.output_shape;
  // the channel fields offer only this layer's channels: field_check names the range for a value outside
  // it (an input channel past the last one threw in redraw; an output channel went silently back to 0)
  [$("channel").max, $("in-channel").max] = [cOut - 1, check.layer.in_channels - 1];
  shell.set({ channel: Math.min(+shell.state.channel || 0, cOut - 1),
    inChannel: Math.min(+shell.state.inChannel || 0, check.layer.in_channels - 1) }, { touch: false });
  if (!shell.touched("padding")) shell.set({ padding: check.layer.padding[0] }, { touch: false });
  $("random-layer").hidden = shell.state.weights !== "random";
  $("layer-note").textContent = shell.state.weights === "random" ? "" :
    `kernel ${check.layer.kernel_size.join("×")}, one kernel per channel (groups = C_in = ${check.layer.groups}): set by the upsampling`;
  shell.message(`output [${check.output_shape.join("×")}] from input [${check.input.shape.join("×")}] · ` +
    `${formatInt(check.cost.params)} parameters · ${formatInt(check.cost.macs)} MACs`, true);
  draw.whole($("output-canvas"), data.output[+shell.state.channel], tconv.output, +shell.state.channel);
  draw.whole($("input-canvas"), data.input[+shell.state.inChannel], tconv.input_array, +shell.state.inChannel);
  draw.work($("work"), check);
  draw.restores($("restores"), check.formulas.restores);
  $("relationships").textContent = check.formulas.relationships.join("\n");
  ctx.mark("output");
  showSquare(trace);
}

/** The traced square ({region, traces}): the player steps through it. */
function showSquare({ region, traces }) {
  Object.assign(data, { region, traces });
  shell.resetPlayer(traces.length);
}

/** A click moved the square: trace the new one (the layer on screen; no new run). */
async function moveSquare() {
  const token = shell.partial("region");
  const answer = await postJSON("/api/transposed/trace", { ...request(shell.state), spot: spot(shell.state) });
  if (token.stale()) return;
  showSquare(answer);
  token.finish();
}

function redraw() {
  if (!data.check || !data.input[+shell.state.inChannel]) return;
  draw.whole($("input-canvas"), data.input[+shell.state.inChannel], data.tconv.input_array, +shell.state.inChannel);
  show(+shell.state.step || 0);
}

/** Step t of the player: one output position in both readings. */
function show(t) {
  const tr = data.traces[t];
  if (!tr) return;
  const inCh = Math.max(0, tr.input_channels.indexOf(+shell.state.inChannel));
  const channel = tr.input_channels[inCh];
  $("position-label").textContent = `${t + 1}/${data.traces.length} · output (${tr.row}, ${tr.col})`;
  $("oc-label").textContent = String(tr.channel);
  $("scatter-caption").textContent = `channel ${channel}`;
  const lay = data.check.layer;
  $("gather-caption").textContent = `Channel ${channel}; the kernel rotated 180°, window rows ` +
    `${tr.gather.z_rows[0]}…${tr.gather.z_rows.at(-1)}, cols ${tr.gather.z_cols[0]}…${tr.gather.z_cols.at(-1)}.`;
  draw.scatter($("scatter-input"), $("scatter-output"), data.input[channel], data.output[tr.channel], tr, channel, lay);
  draw.gather($("gather-input"), data.gather[channel], tr);
  draw.computation($("computation"), tr, inCh);
  draw.regionBox($("output-overlay"), data.output[tr.channel], data.region, tr);
}

$("output-canvas").addEventListener("click", (e) => {
  if (!data.check) return;
  const { row, col } = draw.cellAt($("output-canvas"), e);
  shell.set({ regionRow: Math.max(0, row - (REGION >> 1)), regionCol: Math.max(0, col - (REGION >> 1)), step: "0" });
  moveSquare();
});

picker.set(stringToSpec(shell.state.input));
shell.start();
