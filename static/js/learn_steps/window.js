// /learn steps 1–3: the sliding window on one channel, on several channels, and shrunk to 1×1.
// Each step asks /api/convolve for the maps (once per layer: kept while only the pixel changes) and
// /api/trace for the pixel's sum written out; the page multiplies nothing.
import { decodeArray, postFrame, postJSON } from "../api.js";
import { convUrl, pointwiseUrl } from "../links.js";
import { computationHTML } from "../conv_draw.js";
import { fmt } from "../plots.js";
import { kernelGrid, num, paint, paintOne, pixelAt, placeBox, shapeText } from "../learn_draw.js";

const $ = (id) => document.getElementById(id);

/** /api/convolve for a request, kept while the request is the same (a new pixel needs only a trace). */
function cached() {
  let key = null, value = null;
  return async (req, extra) => {
    const k = JSON.stringify(req);
    if (k !== key) {
      const conv = await postFrame("/api/convolve", { ...req, ...extra });
      value = { conv, input: conv.input_array && decodeArray(conv.input_array), output: decodeArray(conv.output),
        weight: decodeArray(conv.weight) };
      key = k;
    }
    return value;
  };
}

const traceAt = async (req, row, col, channel = 0) =>
  (await postJSON("/api/trace", { ...req, positions: [{ channel, row, col }] })).traces[0];

/** Clamp a pixel typed or linked by hand to the map (the fields' max follows the map too). */
function clampPixel(r, c, shape, rowField, colField) {
  const [, h, w] = shape;
  $(rowField).max = h - 1;
  $(colField).max = w - 1;
  return [Math.max(0, Math.min(h - 1, r)), Math.max(0, Math.min(w - 1, c))];
}

/** Clicking (or hovering, with `hover`) a canvas sets the step's pixel state and reloads the step. One
 * load at a time: a pointer crossing fifty pixels asks for the pixel it rests on, not for all fifty. */
function onPick(canvas, env, rowKey, colKey, hover = false) {
  if (canvas.dataset.wired) return;
  canvas.dataset.wired = "1";
  let pending = null, busy = false;
  const drain = async () => {
    busy = true;
    while (pending) {
      const [r, c] = pending;
      pending = null;
      env.set({ [rowKey]: r, [colKey]: c });
      await env.reload();
    }
    busy = false;
  };
  const pick = (e) => {
    const p = pixelAt(canvas, e);
    if (!p) return;
    if (+canvas.dataset.r === p[0] && +canvas.dataset.c === p[1]) return; // same pixel: nothing new to ask
    pending = p;
    if (!busy) drain();
  };
  canvas.addEventListener("click", pick);
  if (hover) canvas.addEventListener("mousemove", pick);
}

// ---- step 1: a 3×3 window over a greyscale image ----
const conv1 = cached();
export const convolution = {
  id: "convolution",
  keys: { convRow: { id: "c1-row", value: "" }, convCol: { id: "c1-col", value: "" }, convPreset: { id: "c1-kernel", value: "sobel_x" } },
  request: (s) => ({ input: { kind: "sample", name: "edges" }, layer: { padding: 1 }, weights: { kind: "preset", name: s.convPreset } }),
  /** The full view on this pixel, from the state alone: an untouched pixel is the API's busiest one,
   * which /conv picks by itself for a 1-pixel region of the same layer. */
  link: (s, touched) => convUrl(convolution.request(s), {
    ...(touched("convRow") || touched("convCol") ? { regionRow: s.convRow, regionCol: s.convCol } : {}), regionSize: 1, step: 0 }),
  async load(s, env) {
    const req = convolution.request(s);
    // an untouched step opens where the window sees an edge: the API picks the busiest output pixel
    const d = await conv1(req, { include_input: true, region_size: 1 });
    if (env.stale()) return;
    if (s.convRow === "" && d.conv.region) env.set({ convRow: d.conv.region.row_start, convCol: d.conv.region.col_start }, { touch: false });
    const [r, c] = clampPixel(+s.convRow, +s.convCol, d.conv.output_shape, "c1-row", "c1-col");
    const t = await traceAt(req, r, c);
    if (env.stale()) return;
    const inC = $("c1-input"), outC = $("c1-output");
    paint(inC, d.input, d.conv.input_array);
    paintOne(outC, d.output[0], d.conv.output);
    Object.assign(outC.dataset, { r, c });
    placeBox($("c1-window"), inC, t.input_rows[0], t.input_cols[0], t.input_rows.at(-1), t.input_cols.at(-1));
    placeBox($("c1-pixel"), outC, r, c);
    $("c1-input-cap").textContent = `input ${shapeText(d.conv.input_array.shape)}: the 3×3 window`;
    $("c1-output-cap").textContent = `output ${shapeText(d.conv.output_shape)}: pixel (${r}, ${c})`;
    $("c1-work").innerHTML = computationHTML(t);
    $("c1-link").href = convolution.link(s, env.touched);
    onPick(outC, env, "convRow", "convCol");
  },
};

// ---- step 2: a colour image, C_out filters of 3 slices each ----
const conv2 = cached();
export const channels = {
  id: "channels",
  keys: { chanOut: { id: "c2-out", value: "2" } },
  request: (s) => ({ input: { kind: "sample", name: "colour" }, layer: { out_channels: +s.chanOut, kernel_size: 3, padding: 1, bias: false },
    weights: { kind: "random", seed: 0 } }),
  link: (s) => convUrl(channels.request(s), { regionSize: 1, step: 0 }), // the API's busiest pixel, as here
  async load(s, env) {
    const req = channels.request(s);
    const d = await conv2(req, { include_input: true, region_size: 1 });
    if (env.stale()) return;
    const { row_start: r, col_start: c } = d.conv.region;
    const t = await traceAt(req, r, c);
    if (env.stale()) return;
    const [, cIn, kh, kw] = d.conv.weight.shape;
    d.input.forEach((rows, k) => {  // each input channel as its own grey picture, the window on it
      const cv = $(`c2-in-${k}`);
      paintOne(cv, rows, d.conv.input_array, k);
      placeBox($(`c2-win-${k}`), cv, t.input_rows[0], t.input_cols[0], t.input_rows.at(-1), t.input_cols.at(-1));
    });
    paintOne($("c2-out-map"), d.output[0], d.conv.output);
    placeBox($("c2-pixel"), $("c2-out-map"), r, c);
    $("c2-out-cap").textContent = `output channel 0 ${shapeText(d.conv.output_shape.slice(1))}: pixel (${r}, ${c}) is the three sums added`;
    kernelGrid($("c2-grid"), d.weight, d.conv.weight.shape);
    $("c2-shapes").innerHTML = `input ${shapeText(d.conv.input.shape)} → one filter is C<sub>in</sub>×k×k = ` +
      `<span id="c2-filter">${shapeText([cIn, kh, kw])}</span>; the layer is C<sub>out</sub>×C<sub>in</sub>×k×k = ` +
      `<span id="c2-weight">${shapeText(d.conv.weight.shape)}</span> → output <span id="c2-output">${shapeText(d.conv.output_shape)}</span>` +
      ` · ${num("c2-params", d.conv.cost.params, String(d.conv.cost.params))} weights`;
    $("c2-work").innerHTML = computationHTML(t);
    $("c2-link").href = channels.link(s);
  },
};

// ---- step 3: a 1×1 kernel, the greyscale weights on the colour sample ----
const conv3 = cached();
export const pointwise = {
  id: "pointwise",
  keys: { pixelRow: { id: "c3-row", value: "28" }, pixelCol: { id: "c3-col", value: "63" } },
  request: () => ({ input: { kind: "sample", name: "colour" }, layer: { kernel_size: 1 }, weights: { kind: "preset", name: "greyscale" } }),
  async load(s, env) {
    const req = pointwise.request();
    const d = await conv3(req, { include_input: true });
    if (env.stale()) return;
    const [r, c] = clampPixel(+s.pixelRow, +s.pixelCol, d.conv.output_shape, "c3-row", "c3-col");
    const inC = $("c3-input"), outC = $("c3-output");
    if (!inC.dataset.painted) {
      paint(inC, d.input, d.conv.input_array);
      paintOne(outC, d.output[0], d.conv.output);
      inC.dataset.painted = "1";
    }
    for (const cv of [inC, outC]) Object.assign(cv.dataset, { r, c });
    placeBox($("c3-pixel-in"), inC, r, c);
    placeBox($("c3-pixel-out"), outC, r, c);
    const t = await traceAt(req, r, c);
    if (env.stale()) return;
    const names = ["R", "G", "B"], x = t.windows.map((w) => w[0][0]), w = t.weights.map((k) => k[0][0]);
    $("c3-readout").innerHTML = `pixel (${r}, ${c}): (R, G, B) = (${x.map(fmt).join(", ")}) → ` +
      x.map((v, i) => `${fmt(w[i])}·${names[i]}`).join(" + ") + ` = ${x.map((v, i) => `${fmt(w[i])}×${fmt(v)}`).join(" + ")} = ` +
      num("c3-value", t.value) + ` <span class="muted">(the output map holds ${num("c3-map", d.output[0][r][c])} there)</span>`;
    $("c3-link").href = pointwiseUrl(req, { step: r * d.conv.output_shape[2] + c });
    onPick(inC, env, "pixelRow", "pixelCol", true);
    onPick(outC, env, "pixelRow", "pixelCol", true);
  },
};
