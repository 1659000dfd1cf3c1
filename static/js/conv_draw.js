// Drawing for the sliding-window view: pure functions of the API's numbers and the view state.
import { CONFIG, boxes, fmt, paintChannel, place, scaleFor } from "./plots.js";

const MAX_INPUT_PANELS = 8;
const TEXT_CELLS = 900; // write values into cells only when a panel shows at most this many

/** The input area the region's windows read, in input coordinates (padding lies outside [0, H)). */
export function receptiveBounds(traces) {
  const b = { r0: Infinity, r1: -Infinity, c0: Infinity, c1: -Infinity }; // a loop: no spreading large arrays
  for (const t of traces) {
    for (const r of t.input_rows) { b.r0 = Math.min(b.r0, r); b.r1 = Math.max(b.r1, r); }
    for (const c of t.input_cols) { b.c0 = Math.min(b.c0, c); b.c1 = Math.max(b.c1, c); }
  }
  return b;
}

/** "(input channel 2 feeds output channel 2)" or "(input channels 0–2 feed output channel 1)". */
export function feedCaption(channels, out) {
  if (channels.length === 1) return `(input channel ${channels[0]} feeds output channel ${out})`;
  return `(input channels ${channels[0]}–${channels[channels.length - 1]} feed output channel ${out})`;
}

/** The input pixel (row, col) under a pointer event on a heatmap or image plot, or null outside it. */
export function inputPointAt(gd, ev) {
  const xa = gd._fullLayout?.xaxis, ya = gd._fullLayout?.yaxis;
  if (!xa || !ya) return null;
  const box = gd.getBoundingClientRect();
  const px = ev.clientX - box.left - xa._offset, py = ev.clientY - box.top - ya._offset;
  if (px < 0 || py < 0 || px > xa._length || py > ya._length) return null;
  return [Math.round(ya.p2l(py)), Math.round(xa.p2l(px))];
}

/** The output pixel whose window is centred nearest input pixel (r, c), for a resolved layer as the API
 * returns it: output i reads input rows i·s − pad_top + d·j, j = 0…k−1 (the geometry the trace uses). */
export function outputAt(layer, outShape, [r, c]) {
  const near = (x, k, s, d, pad, n) => Math.max(0, Math.min(n - 1, Math.round((x + pad - (d * (k - 1)) / 2) / s)));
  return [near(r, layer.kernel_size[0], layer.stride[0], layer.dilation[0], layer.padding[0][0], outShape[1]),
    near(c, layer.kernel_size[1], layer.stride[1], layer.dilation[1], layer.padding[1][0], outShape[2])];
}

function crop(channel, b) {
  const h = channel.length, w = channel[0].length;
  const z = [], pad = [];
  let padded = false;
  for (let r = b.r0; r <= b.r1; r++) {
    const row = [], prow = [];
    for (let c = b.c0; c <= b.c1; c++) {
      const inside = r >= 0 && r < h && c >= 0 && c < w;
      row.push(inside ? channel[r][c] : 0); // padding is zeros
      prow.push(!inside);
      padded ||= !inside;
    }
    z.push(row);
    pad.push(prow);
  }
  return { z, pad: padded ? pad : null };
}

/** Input channels of the animated filter's group, cropped to the receptive field, padding shaded, on
 * one canvas (heatmap.js) with one colour scale and bar, so equal values look equal across channels. */
export function drawInputs(map, input, inputMeta, channels, b) {
  const shown = channels.slice(0, MAX_INPUT_PANELS);
  const width = map.widthNow() || 900; // panels at least ~190 px wide: fewer columns in a narrow column
  const cols = Math.min(shown.length, 4, Math.max(1, Math.floor(width / 190)));
  let min = Infinity, max = -Infinity; // a loop, never a spread over channels
  for (const c of shown) { min = Math.min(min, inputMeta.channel_min[c]); max = Math.max(max, inputMeta.channel_max[c]); }
  const cells = (b.c1 - b.c0 + 1) * (b.r1 - b.r0 + 1);
  map.draw({ cols, min, max, panelHeight: Math.min(340, width / cols),
    label: `input channels ${shown.join(", ")}, rows ${b.r0} to ${b.r1}, columns ${b.c0} to ${b.c1} (padding shaded)`,
    panels: shown.map((ch) => {
      const { z, pad } = crop(input[ch], b);
      return { rows: z, pad, x0: b.c0, y0: b.r0, title: `input channel ${ch}`, digits: cells <= TEXT_CELLS ? 2 : undefined,
        name: (r, c) => `x[${ch}, ${r}, ${c}]` };
    }) });
}

/** The window's taps (dilated taps are separate cells) on every input panel; padding taps dashed. */
export function placeWindow(map, t, nPanels) {
  const k = t.input_rows.length * t.input_cols.length, panels = Math.min(nPanels, MAX_INPUT_PANELS);
  const pool = boxes(map.el, "tap", k * panels);
  let n = 0;
  for (let p = 0; p < panels; p++) {
    t.input_rows.forEach((r, i) => t.input_cols.forEach((c, j) => {
      const el = pool[n++];
      place(el, map.cellBox(p, r, c));
      el.classList.toggle("pad", t.is_padding[i][j]);
    }));
  }
}

/** A region's positions in the player's order (row by row): how many, the step of (row, col), and back. */
export const regionCount = (r) => (r.row_stop - r.row_start) * (r.col_stop - r.col_start);
export const stepOf = (r, row, col) => (row - r.row_start) * (r.col_stop - r.col_start) + (col - r.col_start);
const positionAt = (r, s) => ({ channel: r.channel, row: r.row_start + Math.floor(s / (r.col_stop - r.col_start)),
  col: r.col_start + (s % (r.col_stop - r.col_start)) });

/** The positions whose traces the plots need now: the region's first ones up to the step shown (their
 * values are revealed) and its last one. Output row i reads input rows i·stride − pad + dilation·j, which
 * grow with i, so the first and last windows bound the region's receptive field. The whole region's
 * trace (~350 KB of JSON for 12×12) follows for the player, off the path to pixels. */
export function drawnPositions(region, step) {
  const n = regionCount(region), upto = Math.min(step, n - 1);
  return [...Array.from({ length: upto + 1 }, (_, s) => positionAt(region, s)), ...(upto < n - 1 ? [positionAt(region, n - 1)] : [])];
}

/** The output region, revealed up to step `upto` (cells not yet computed stay blank). */
export function regionZ(traces, region, upto) {
  const rows = region.row_stop - region.row_start, cols = region.col_stop - region.col_start;
  const z = Array.from({ length: rows }, () => Array(cols).fill(null));
  for (let s = 0; s <= upto && s < traces.length; s++) {
    const t = traces[s];
    if (t) z[t.row - region.row_start][t.col - region.col_start] = t.value;
  }
  return z;
}

export function drawRegion(map, traces, region, upto, outMeta, channel) {
  map.draw({ min: Math.min(0, outMeta.channel_min[channel]), max: outMeta.channel_max[channel], panelHeight: 380,
    label: `output channel ${channel}, rows ${region.row_start} to ${region.row_stop - 1}, columns ${region.col_start} to ${region.col_stop - 1}, filled in up to the position shown`,
    panels: [{ rows: regionZ(traces, region, upto), x0: region.col_start, y0: region.row_start, digits: 2,
      name: (r, c) => `y[${channel}, ${r}, ${c}]` }] });
}

export function placeHit(map, row, col) {
  const [el] = boxes(map.el, "hit", 1);
  place(el, map.cellBox(0, row, col));
}

/** Every how many pixels a whole map is drawn: plots are ~450 px wide, so a 1024×768 map is shown at
 * every 3rd pixel (values shown and hovered are still the exact ones at those pixels). */
export function displayStride(h, w, max = 400) {
  return Math.max(1, Math.ceil(Math.max(h, w) / max));
}

/** Rows of one channel taken every `step` pixels (views when step is 1). */
function strided(rows, step) {
  if (step === 1) return rows;
  const out = [];
  for (let r = 0; r < rows.length; r += step) {
    const row = rows[r], sub = new Float32Array(Math.ceil(row.length / step));
    for (let c = 0, i = 0; c < row.length; c += step, i++) sub[i] = row[c];
    out.push(sub);
  }
  return out;
}

/** The whole input (in colour when it has 3 channels), with the crop's rectangle. */
const overviewTraces = new WeakMap(); // decoded input → its trace: built once per input, not per region

function overviewTrace(input, meta) {
  if (!overviewTraces.has(input)) {
    const h = input[0].length, w = input[0][0].length, s = displayStride(h, w), at = { x0: 0, dx: s, y0: 0, dy: s };
    let trace;
    if (input.length === 3 && meta.channel_min.every((v) => v >= 0) && meta.channel_max.every((v) => v <= 1)) {
      const z = [];
      for (let r = 0; r < h; r += s) {
        const row = [];
        for (let c = 0; c < w; c += s) row.push([0, 1, 2].map((k) => Math.round(input[k][r][c] * 255)));
        z.push(row);
      }
      trace = { type: "image", z, ...at, hovertemplate: "(%{y}, %{x}) rgb %{z}<extra></extra>" };
    } else {
      trace = { type: "heatmap", z: strided(input[0], s), ...at, ...scaleFor(meta.channel_min[0], meta.channel_max[0]), showscale: false };
    }
    overviewTraces.set(input, trace);
  }
  return overviewTraces.get(input);
}

export function drawOverview(gd, input, meta, b) {
  const [h, w] = [input[0].length, input[0][0].length];
  const trace = overviewTrace(input, meta);
  const x = [Math.min(-0.5, b.c0 - 1), Math.max(w - 0.5, b.c1 + 1)], y = [Math.max(h - 0.5, b.r1 + 1), Math.min(-0.5, b.r0 - 1)];
  gd._bounds = b;
  // Plotly redraws only for another input or when the box reaches into padding (the axes grow); moving
  // the box is an overlay's style change (a Plotly.react of the same image took ~8 ms per change)
  if (gd.data?.[0] !== trace || String(gd.layout?.xaxis.range) !== String(x) || String(gd.layout?.yaxis.range) !== String(y)) {
    const frame = { type: "rect", x0: -0.5, x1: w - 0.5, y0: -0.5, y1: h - 0.5, line: { color: "#888", width: 1, dash: "dot" } };
    Plotly.react(gd, [trace], { margin: { t: 10, r: 8, b: 24, l: 32 }, height: 300, shapes: [frame], dragmode: false,
      xaxis: { constrain: "domain", range: x }, yaxis: { autorange: false, range: y, scaleanchor: "x", constrain: "domain" } }, CONFIG);
    if (!gd._outlineWired) { gd._outlineWired = true; gd.on("plotly_afterplot", () => placeBox(gd)); }
  }
  placeBox(gd);
}

/** The receptive field's box on the whole-input view, in the view's axes (input pixels, ±0.5 at edges). */
function placeBox(gd) {
  const b = gd._bounds, xa = gd._fullLayout?.xaxis, ya = gd._fullLayout?.yaxis;
  if (!b || !xa || !ya) return;
  const [x0, x1, y0, y1] = [xa.l2p(b.c0 - 0.5), xa.l2p(b.c1 + 0.5), ya.l2p(b.r0 - 0.5), ya.l2p(b.r1 + 0.5)];
  const [el] = boxes(gd, "outline", 1);
  place(el, { left: xa._offset + Math.min(x0, x1), top: ya._offset + Math.min(y0, y1), width: Math.abs(x1 - x0), height: Math.abs(y1 - y0) });
}

/** One output channel in full (a canvas repaint only when the channel's rows change), with the region
 * outlined by an overlay box. `out` is the API's preview of a large output: every step-th row and column
 * (the values there exact). */
export function drawOutput(map, out, meta, channel, region, step = 1) {
  const rows = out[channel];
  if (map.spec?.panels[0].rows !== rows) { // (a resize redraws by itself)
    map.draw({ min: meta.channel_min[channel], max: meta.channel_max[channel], panelHeight: 300,
      label: `output channel ${channel}, ${rows.length} by ${rows[0].length} pixels${step > 1 ? ` (every ${step}th)` : ""}, the region outlined`,
      panels: [{ rows, step, name: (r, c) => `y[${channel}, ${r}, ${c}]` }] });
  }
  placeOutline(map, region);
}

/** The region's outline on the output view (an overlay: moving the region repaints nothing). */
export function placeOutline(map, region) {
  const [el] = boxes(map.el, "outline", 1), a = map.cellBox(0, region.row_start, region.col_start);
  const z = map.cellBox(0, region.row_stop - 1, region.col_stop - 1);
  place(el, { left: a.left, top: a.top, width: z.left + z.width - a.left, height: z.top + z.height - a.top });
}

/** Every output channel as a thumbnail (canvas); the animated one is outlined. onPick(k) selects one.
 * The figures are kept while the channel count stays: a change repaints their canvases, nothing more. */
export function drawChannels(el, out, meta, selected, onPick) {
  if (el.children.length !== out.length) {
    el.innerHTML = "";
    out.forEach((_, k) => {
      const fig = document.createElement("figure");
      fig.className = "thumb";
      fig.dataset.channel = k;
      const cap = document.createElement("figcaption");
      cap.textContent = `ch ${k}`;
      fig.append(document.createElement("canvas"), cap);
      fig.addEventListener("click", () => el._onPick(k));
      el.appendChild(fig);
    });
  }
  el._onPick = onPick;
  out.forEach((rows, k) => {
    // a thumbnail is ~110 px wide: paint every few pixels of a large channel, not all of them
    paintChannel(el.children[k].firstChild, strided(rows, displayStride(rows.length, rows[0].length, 240)), meta.channel_min[k], meta.channel_max[k]);
  });
  selectChannel(el, selected);
}

/** Outline the animated channel's thumbnail. */
export function selectChannel(el, selected) {
  for (const fig of el.children) fig.classList.toggle("selected", +fig.dataset.channel === selected);
}

/** Which input channels feed which output channels (from the API's connectivity lists), with a caption
 * that always describes the layer on screen. */
export function drawConnectivity(gd, caption, connectivity, layer) {
  const cIn = layer.in_channels, g = layer.groups;
  if (g === 1) {
    Plotly.purge(gd);
    caption.textContent = `groups = 1: every output channel reads all ${cIn} input channels.`;
    return;
  }
  caption.textContent = `groups = ${g}: each output channel reads only the ${connectivity[0].length} input ` +
    `channel${connectivity[0].length === 1 ? "" : "s"} of its group.`;
  if (connectivity.length > 64 || cIn > 64) {
    Plotly.purge(gd);
    caption.textContent += ` The ${connectivity.length} × ${cIn} map is too large to draw.`;
    return;
  }
  const z = connectivity.map((ins) => Array.from({ length: cIn }, (_, c) => (ins.includes(c) ? 1 : 0)));
  Plotly.react(gd, [{ type: "heatmap", z, colorscale: [[0, "#f4f6fa"], [1, "#2f6fde"]], showscale: false, xgap: 1, ygap: 1,
    hovertemplate: "output %{y} ← input %{x}: %{z}<extra></extra>" }],
  { height: Math.max(140, 16 * connectivity.length + 60), margin: { t: 24, r: 8, b: 36, l: 48 },
    title: { text: "which input channels (x) feed each output channel (y)", font: { size: 12 } },
    xaxis: { title: "input channel", dtick: 1, tickfont: { size: 11 } }, yaxis: { title: "output", autorange: "reversed", dtick: 1, tickfont: { size: 11 } } }, CONFIG);
}

function table(rows, padMask, caption) {
  const body = rows.map((r, i) => `<tr>${r.map((v, j) => `<td class="${padMask && padMask[i][j] ? "pad" : ""}">${fmt(v)}</td>`).join("")}</tr>`).join("");
  return `<table><caption>${caption}</caption>${body}</table>`;
}

/** The numbers behind one output value: per channel window ⊙ weights = products → partial sum. */
export function computationHTML(t, maxChannels = 8) {
  const parts = t.input_channels.slice(0, maxChannels).map((ch, i) => {
    const factor = (v) => (v < 0 ? `(${fmt(v)})` : fmt(v));  // 0×(−0.036), not 0×-0.036
    const terms = t.products[i].flat().map((p, k) => `${factor(t.windows[i].flat()[k])}×${factor(t.weights[i].flat()[k])}`);
    const written = terms.length <= 27 ? terms.join(" + ") : `${terms.slice(0, 27).join(" + ")} + …`;
    // each operator stays with the table after it: a narrow column breaks the line before "⊙" or "=", as
    // an equation is broken, never between an operator and its operand
    return `<div class="chan"><div><b>input channel ${ch}</b></div>
      <div class="eq"><span class="term">${table(t.windows[i], t.is_padding, "window")}</span>
      <span class="term"><span class="op">⊙</span>${table(t.weights[i], null, "weights")}</span>
      <span class="term"><span class="op">=</span>${table(t.products[i], t.is_padding, "products")}</span></div>
      <div class="small mono">Σ = ${written} = <b>${fmt(t.partial_sums[i])}</b></div></div>`;
  });
  const more = t.input_channels.length > maxChannels
    ? `<p class="small muted">… and ${t.input_channels.length - maxChannels} more input channels.</p>` : "";
  const sums = t.partial_sums.map(fmt).join(" + ");
  const act = t.value !== t.pre_activation ? ` → ReLU → <b>${fmt(t.value)}</b>` : "";
  return `${parts.join("")}${more}<div class="total">y[${t.channel}, ${t.row}, ${t.col}] = ${sums} + bias ${fmt(t.bias)}
    = <b id="total-value" data-value="${t.value}">${fmt(t.pre_activation)}</b>${act}</div>`;
}
