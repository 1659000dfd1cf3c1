// Drawing for the sliding-window view: pure functions of the API's numbers and the view state.
import { CONFIG, axes, boxes, cellBox, fmt, paintChannel, place, scaleFor } from "./plots.js";

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
  for (let r = b.r0; r <= b.r1; r++) {
    const row = [], prow = [];
    for (let c = b.c0; c <= b.c1; c++) {
      const inside = r >= 0 && r < h && c >= 0 && c < w;
      row.push(inside ? channel[r][c] : 0); // padding is zeros
      prow.push(inside ? null : 1);
    }
    z.push(row);
    pad.push(prow);
  }
  return { z, pad };
}

/** Input channels of the animated filter's group, cropped to the receptive field, padding shaded. */
export function drawInputs(gd, input, inputMeta, channels, b) {
  const shown = channels.slice(0, MAX_INPUT_PANELS);
  const width = gd.clientWidth || 900; // panels at least ~190 px wide: fewer columns in a narrow column
  const cols = Math.min(shown.length, 4, Math.max(1, Math.floor(width / 190))), rows = Math.ceil(shown.length / cols);
  const panel = Math.min(340, width / cols);
  const x = Array.from({ length: b.c1 - b.c0 + 1 }, (_, i) => b.c0 + i);
  const y = Array.from({ length: b.r1 - b.r0 + 1 }, (_, i) => b.r0 + i);
  const withText = x.length * y.length <= TEXT_CELLS && panel / x.length >= 26; // only where digits fit
  const traces = [], layout = { grid: { rows, columns: cols, pattern: "independent" }, showlegend: false,
    margin: { t: 24, r: 8, b: 24, l: 32 }, height: rows * panel + 30, annotations: [] };
  // One colour scale (and bar) for all panels, so equal values look equal across channels.
  const { colorscale, zmin, zmax, reversescale } = scaleFor(Math.min(...shown.map((c) => inputMeta.channel_min[c])),
    Math.max(...shown.map((c) => inputMeta.channel_max[c])));
  layout.coloraxis = { colorscale, cmin: zmin, cmax: zmax, reversescale, colorbar: { thickness: 12, len: 0.9 } };
  shown.forEach((ch, i) => {
    const a = axes(i), { z, pad } = crop(input[ch], b);
    traces.push({ type: "heatmap", x, y, z, xaxis: a.x, yaxis: a.y, coloraxis: "coloraxis",
      texttemplate: withText ? "%{z:.2f}" : undefined, textfont: { size: 11 },
      hovertemplate: `x[${ch}, %{y}, %{x}] = %{z:.4f}<extra></extra>` });
    if (pad.some((row) => row.some((v) => v !== null))) { // shade padding only where the crop has some
      traces.push({ type: "heatmap", x, y, z: pad, xaxis: a.x, yaxis: a.y, showscale: false, hoverinfo: "skip",
        colorscale: [[0, "rgba(255,190,0,0.35)"], [1, "rgba(255,190,0,0.35)"]] });
    }
    const roomy = panel / Math.max(x.length, y.length) >= 22; // a tick per cell only where labels do not overlap
    layout[a.xName] = { constrain: "domain", showgrid: false, dtick: roomy ? 1 : undefined, nticks: roomy ? undefined : 4, tickfont: { size: 11 } };
    layout[a.yName] = { autorange: "reversed", scaleanchor: a.x, constrain: "domain", showgrid: false,
      dtick: roomy ? 1 : undefined, nticks: roomy ? undefined : 4, tickfont: { size: 11 } };
    layout.annotations.push({ text: `input channel ${ch}`, xref: `${a.x} domain`, yref: `${a.y} domain`,
      x: 0, y: 1.01, yanchor: "bottom", showarrow: false, xanchor: "left", font: { size: 11 } });
  });
  return Plotly.react(gd, traces, layout, { ...CONFIG, staticPlot: false });
}

/** The window's taps (dilated taps are separate cells) on every input panel; padding taps dashed. */
export function placeWindow(gd, t, nPanels) {
  const k = t.input_rows.length * t.input_cols.length;
  const pool = boxes(gd, "tap", k * Math.min(nPanels, MAX_INPUT_PANELS));
  let n = 0;
  for (let p = 0; p < Math.min(nPanels, MAX_INPUT_PANELS); p++) {
    const a = axes(p);
    t.input_rows.forEach((r, i) => t.input_cols.forEach((c, j) => {
      const el = pool[n++];
      place(el, cellBox(gd, a.xName, a.yName, r, c));
      el.classList.toggle("pad", t.is_padding[i][j]);
    }));
  }
}

/** The output region, revealed up to step `upto` (cells not yet computed stay blank). */
export function regionZ(traces, region, upto) {
  const rows = region.row_stop - region.row_start, cols = region.col_stop - region.col_start;
  const z = Array.from({ length: rows }, () => Array(cols).fill(null));
  for (let s = 0; s <= upto && s < traces.length; s++) {
    const t = traces[s];
    z[t.row - region.row_start][t.col - region.col_start] = t.value;
  }
  return z;
}

export function drawRegion(gd, traces, region, upto, outMeta, channel) {
  const x = Array.from({ length: region.col_stop - region.col_start }, (_, i) => region.col_start + i);
  const y = Array.from({ length: region.row_stop - region.row_start }, (_, i) => region.row_start + i);
  const scale = scaleFor(Math.min(0, outMeta.channel_min[channel]), outMeta.channel_max[channel]);
  return Plotly.react(gd, [{ type: "heatmap", x, y, z: regionZ(traces, region, upto), ...scale,
    texttemplate: "%{z:.2f}", textfont: { size: 11 }, hovertemplate: `y[${channel}, %{y}, %{x}] = %{z:.4f}<extra></extra>` }],
  { margin: { t: 10, r: 8, b: 24, l: 32 }, height: 380, xaxis: { constrain: "domain" },
    yaxis: { autorange: "reversed", scaleanchor: "x", constrain: "domain" } }, CONFIG);
}

export function placeHit(gd, row, col) {
  const [el] = boxes(gd, "hit", 1);
  place(el, cellBox(gd, "xaxis", "yaxis", row, col));
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
  const rect = { type: "rect", x0: b.c0 - 0.5, x1: b.c1 + 0.5, y0: b.r0 - 0.5, y1: b.r1 + 0.5, line: { color: "#ff7a00", width: 2 } };
  const frame = { type: "rect", x0: -0.5, x1: w - 0.5, y0: -0.5, y1: h - 0.5, line: { color: "#888", width: 1, dash: "dot" } };
  return Plotly.react(gd, [trace], { margin: { t: 10, r: 8, b: 24, l: 32 }, height: 300, shapes: [frame, rect], dragmode: false,
    xaxis: { constrain: "domain", range: [Math.min(-0.5, b.c0 - 1), Math.max(w - 0.5, b.c1 + 1)] },
    yaxis: { autorange: false, range: [Math.max(h - 0.5, b.r1 + 1), Math.min(-0.5, b.r0 - 1)], scaleanchor: "x", constrain: "domain" } }, CONFIG);
}

/** One output channel in full, with the region outlined. `out` is the API's preview of a large output:
 * every step-th row and column (the values there exact). */
const outputTraces = new WeakMap(); // one channel's rows → its trace: a region move redraws the box only

export function drawOutput(gd, out, meta, channel, region, step = 1) {
  const rect = { type: "rect", x0: region.col_start - 0.5, x1: region.col_stop - 0.5, y0: region.row_start - 0.5,
    y1: region.row_stop - 0.5, line: { color: "#ff7a00", width: 2 } };
  const rows = out[channel];
  if (!outputTraces.has(rows)) {
    outputTraces.set(rows, { type: "heatmap", z: rows, x0: 0, dx: step, y0: 0, dy: step,
      ...scaleFor(meta.channel_min[channel], meta.channel_max[channel]),
      hovertemplate: `y[${channel}, %{y}, %{x}] = %{z:.4f}<extra></extra>` });
  }
  return Plotly.react(gd, [outputTraces.get(rows)],
  { margin: { t: 10, r: 8, b: 24, l: 32 }, height: 300, shapes: [rect], xaxis: { constrain: "domain" },
    yaxis: { autorange: "reversed", scaleanchor: "x", constrain: "domain" } }, CONFIG);
}

/** Every output channel as a thumbnail (canvas); the animated one is outlined. onPick(k) selects one. */
export function drawChannels(el, out, meta, selected, onPick) {
  el.innerHTML = "";
  out.forEach((rows, k) => {
    const fig = document.createElement("figure");
    fig.className = `thumb${k === selected ? " selected" : ""}`;
    fig.dataset.channel = k;
    const canvas = document.createElement("canvas");
    // a thumbnail is ~110 px wide: paint every few pixels of a large channel, not all of them
    paintChannel(canvas, strided(rows, displayStride(rows.length, rows[0].length, 240)), meta.channel_min[k], meta.channel_max[k]);
    const cap = document.createElement("figcaption");
    cap.textContent = `ch ${k}`;
    fig.append(canvas, cap);
    fig.addEventListener("click", () => onPick(k));
    el.appendChild(fig);
  });
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
    const terms = t.products[i].flat().map((p, k) => `${fmt(t.windows[i].flat()[k])}×${fmt(t.weights[i].flat()[k])}`);
    const written = terms.length <= 27 ? terms.join(" + ") : `${terms.slice(0, 27).join(" + ")} + …`;
    return `<div class="chan"><div><b>input channel ${ch}</b></div>
      ${table(t.windows[i], t.is_padding, "window")}<span class="op">⊙</span>${table(t.weights[i], null, "weights")}
      <span class="op">=</span>${table(t.products[i], t.is_padding, "products")}
      <div class="small mono">Σ = ${written} = <b>${fmt(t.partial_sums[i])}</b></div></div>`;
  });
  const more = t.input_channels.length > maxChannels
    ? `<p class="small muted">… and ${t.input_channels.length - maxChannels} more input channels.</p>` : "";
  const sums = t.partial_sums.map(fmt).join(" + ");
  const act = t.value !== t.pre_activation ? ` → ReLU → <b>${fmt(t.value)}</b>` : "";
  return `${parts.join("")}${more}<div class="total">y[${t.channel}, ${t.row}, ${t.col}] = ${sums} + bias ${fmt(t.bias)}
    = <b id="total-value" data-value="${t.value}">${fmt(t.pre_activation)}</b>${act}</div>`;
}
