// Drawing for the transposed-convolution page: pure functions of the API's numbers and the view state.
// Maps are canvases (one pixel per value, scaled by CSS); boxes are absolutely positioned divs placed in
// percent of a crop, so moving them never repaints a map. Nothing here computes a value that is shown.
import { fmt, paintChannel } from "./plots.js";

const MAX_CROP = 40;
const MAX_CHANNELS_SHOWN = 4;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

/** A whole channel into a canvas, with the API's min/max of that channel. */
export function whole(canvas, rows, meta, channel) {
  paintChannel(canvas, rows, meta.channel_min[channel], meta.channel_max[channel]);
}

/** Output (row, col) under a click on a whole-map canvas. */
export function cellAt(canvas, e) {
  const r = canvas.getBoundingClientRect();
  return { row: Math.floor(((e.clientY - r.top) / r.height) * canvas.height),
           col: Math.floor(((e.clientX - r.left) / r.width) * canvas.width) };
}

/** The top-left of an n-wide crop that shows [lo, hi] (as centred as the map allows). */
function start(lo, hi, n, size) {
  const mid = Math.floor((lo + hi) / 2);
  return Math.max(0, Math.min(mid - Math.floor(n / 2), size - n));
}

/** A crop of a map, n×n cells from (top, left), with boxes [{row, col, h, w, cls}] in map coordinates. */
function crop(el, rows, extent, top, left, n, boxes) {
  if (!el.firstChild) el.innerHTML = '<canvas></canvas><div class="overlay"></div>';
  const [canvas, overlay] = el.children;
  const nh = Math.min(n, rows.length), nw = Math.min(n, rows[0].length);
  paintChannel(canvas, rows.slice(top, top + nh).map((r) => r.subarray(left, left + nw)), extent.min, extent.max);
  el.style.aspectRatio = `${nw} / ${nh}`;
  overlay.innerHTML = "";
  for (const b of boxes) {
    const t = Math.max(b.row, top), l = Math.max(b.col, left);
    const bot = Math.min(b.row + b.h, top + nh), right = Math.min(b.col + b.w, left + nw);
    if (bot <= t || right <= l) continue; // entirely outside the crop (e.g. a stamp's cropped border)
    const d = document.createElement("div");
    d.className = b.cls;
    Object.assign(d.style, { top: `${((t - top) / nh) * 100}%`, left: `${((l - left) / nw) * 100}%`,
      height: `${((bot - t) / nh) * 100}%`, width: `${((right - l) / nw) * 100}%` });
    overlay.appendChild(d);
  }
}

function extentOf(rows) {
  let min = Infinity, max = -Infinity;
  for (const r of rows) for (const v of r) { if (v < min) min = v; if (v > max) max = v; }
  return { min, max };
}

/** Scatter: the input pixels whose stamps cover the output position, and those stamps on the output. */
export function scatter(inEl, outEl, inRows, outRows, tr, channel, lay) {
  const st = tr.stamps, [spanH, spanW] = lay.stamp_span;
  const mine = st.rows.map((_, i) => i).filter((i) => st.channels[i] === channel);
  const pix = mine.map((i) => ({ row: st.rows[i], col: st.cols[i], h: 1, w: 1, cls: "tap" }));
  // with no stamp here (only the bias reaches it), centre the input crop on the stamps' neighbourhood anyway
  const rs = pix.length ? pix.map((p) => p.row) : [0], cs = pix.length ? pix.map((p) => p.col) : [0];
  const [r0, r1, c0, c1] = [Math.min(...rs), Math.max(...rs), Math.min(...cs), Math.max(...cs)];
  const nIn = Math.min(MAX_CROP, Math.max(8, Math.max(r1 - r0, c1 - c0) + 5));
  const top = start(r0, r1, nIn, inRows.length), left = start(c0, c1, nIn, inRows[0].length);
  crop(inEl, inRows, extentOf(inRows), top, left, nIn, pix);
  const stamps = mine.map((i) => ({ row: st.origin_rows[i], col: st.origin_cols[i], h: spanH, w: spanW, cls: "stamp" }));
  const nOut = Math.min(MAX_CROP, Math.max(12, 2 * Math.max(spanH, spanW) + 2));
  const ot = start(tr.row, tr.row, nOut, outRows.length), ol = start(tr.col, tr.col, nOut, outRows[0].length);
  crop(outEl, outRows, extentOf(outRows), ot, ol, nOut, [...stamps, { row: tr.row, col: tr.col, h: 1, w: 1, cls: "hit" }]);
}

/** Gather: the stride-1 window over the zero-inserted, padded input. */
export function gather(el, rows, tr) {
  const g = tr.gather, boxes = [];
  g.z_rows.forEach((zr, i) => g.z_cols.forEach((zc, j) => {
    boxes.push({ row: zr, col: zc, h: 1, w: 1, cls: g.source_rows[i] >= 0 && g.source_cols[j] >= 0 ? "tap" : "tap pad" });
  }));
  const span = Math.max(g.z_rows.at(-1) - g.z_rows[0], g.z_cols.at(-1) - g.z_cols[0]) + 1;
  const n = Math.min(MAX_CROP, Math.max(12, span + 6));
  const top = start(g.z_rows[0], g.z_rows.at(-1), n, rows.length), left = start(g.z_cols[0], g.z_cols.at(-1), n, rows[0].length);
  crop(el, rows, extentOf(rows), top, left, n, boxes);
}

/** A box on the whole output around the animated region and the current position. */
export function regionBox(overlay, rows, region, tr) {
  const h = rows.length, w = rows[0].length;
  const { row_start: r0, col_start: c0, row_stop: r1, col_stop: c1 } = region;
  overlay.innerHTML = `<div class="region" style="top:${(r0 / h) * 100}%;left:${(c0 / w) * 100}%;` +
    `height:${((r1 - r0) / h) * 100}%;width:${((c1 - c0) / w) * 100}%"></div>` +
    `<div class="hit" style="top:${(tr.row / h) * 100}%;left:${(tr.col / w) * 100}%;height:${100 / h}%;width:${100 / w}%"></div>`;
}

function table(m, cls = () => "") {
  return `<table>${m.map((row, i) => `<tr>${row.map((v, j) => `<td class="${cls(i, j)}">${fmt(v)}</td>`).join("")}</tr>`).join("")}</table>`;
}

/** Both readings written out, with the three values that must agree. */
export function computation(el, tr, inCh) {
  const st = tr.stamps, g = tr.gather, o = `y[${tr.channel}, ${tr.row}, ${tr.col}]`;
  // one stamp per line, in three terms that each stay whole: a narrow column breaks the line before "=",
  // never inside a term (the product "0.188" wrapped alone onto the next line)
  const term = (text) => `<span class="term">${esc(text)}</span>`;
  const lines = st.rows.map((_, i) => `<div class="stamp eq">` +
    term(`x[${st.channels[i]}, ${st.rows[i]}, ${st.cols[i]}] · w[${st.channels[i]}, ${tr.weight_out_index}, ${st.tap_rows[i]}, ${st.tap_cols[i]}]`) +
    term(`= ${fmt(st.values[i])} · ${fmt(st.weights[i])}`) + term(`= ${fmt(st.products[i])}`) + "</div>");
  const pad = () => (i, j) => (g.source_rows[i] < 0 || g.source_cols[j] < 0 ? "pad" : "");
  const shown = tr.input_channels.slice(0, MAX_CHANNELS_SHOWN);
  // each operator stays with the table after it (convlens.css .chan .eq): "window ⊙ kernel", then "= products"
  const chans = shown.map((c, ci) => `<div class="chan"><div class="small muted">input channel ${c}</div>` +
    `<div class="eq"><span class="term">${table(g.windows[ci], pad(ci))}</span>` +
    `<span class="term"><span class="op">⊙</span>${table(g.rotated_weights[ci])}</span>` +
    `<span class="term"><span class="op">=</span>${table(g.products[ci], pad(ci))}</span></div>` +
    `<div class="small">Σ of channel ${c}'s products = ${fmt(g.partial_sums[ci])}</div></div>`).join("");
  const more = tr.input_channels.length > shown.length ? `<p class="small muted">… and ${tr.input_channels.length - shown.length} more channels (in the sums)</p>` : "";
  const agree = Math.abs(tr.value - tr.engine_value) <= 1e-4 * (1 + Math.abs(tr.engine_value));
  el.innerHTML = `<div class="both"><div><h3>Scatter: ${st.rows.length} stamp${st.rows.length === 1 ? "" : "s"} cover ${esc(o)}</h3>` +
    `<div class="stamps mono small">${lines.join("") || "(no input pixel reaches this position: only the bias)"}</div>` +
    `<div class="total">Σ of the stamps = ${fmt(tr.scatter_sum)}</div></div>` +
    `<div><h3>Gather: window ⊙ kernel rotated 180°</h3>${chans}${more}<div class="total">Σ over the input channels = ${fmt(tr.gather_sum)}</div></div></div>` +
    `<p class="total" id="total-line" data-value="${tr.value}" data-engine="${tr.engine_value}">${esc(o)} = ` +
    `${fmt(tr.gather_sum)} + bias ${fmt(tr.bias)} = <b>${fmt(tr.value)}</b>; the engine: <b>${fmt(tr.engine_value)}</b> ` +
    `${agree ? "✓ scatter = gather = engine" : "✗ they differ"}</p>`;
  el.dataset.inChannel = String(inCh);
}

export function work(el, check) {
  const f = check.formulas;
  el.textContent = [f.out_height, f.out_width, "", ...f.gather, "", f.params, f.macs, f.zero_inserted_macs, f.flops,
    "", f.torch].join("\n");
}

export function restores(el, list) {
  el.innerHTML = list.map((r) => `<p>${esc(r.text)}</p><p class="small muted">${r.axis}: input lengths ` +
    `${r.conv_inputs.map((n, i) => `${n} (output_padding ${r.output_padding_for_each[i]})`).join(", ") || "none"}` +
    `; this layer gives ${r.restored}${r.restores_conv_input ? "" : ", which no such convolution maps back"}.</p>`).join("");
}

export function clear() {
  for (const id of ["scatter-input", "scatter-output", "gather-input", "computation"]) {
    const el = document.getElementById(id);
    if (el) el.innerHTML = "";
  }
}
