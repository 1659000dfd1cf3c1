// Drawing helpers of /learn: pictures as canvases (cheap, no Plotly on the first steps), boxes over them,
// the weight tensor as a grid of kernels, and small HTML cards. Every number drawn comes from an API answer.
import { fmt, paintChannel } from "./plots.js";
import { paintInput } from "./pointwise_draw.js";
import { formatInt } from "./format.js";

export const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
export const shapeText = (shape) => `[${shape.join("×")}]`;

/** A tensor's picture: RGB for 3 channels in [0, 1] (pointwise_draw.paintInput), else its first channel. */
export function paint(canvas, channels, meta) {
  paintInput(canvas, channels, meta);
}

/** One channel's picture, grey for non-negative values, red–white–blue for signed ones. */
export function paintOne(canvas, rows, meta, k = 0) {
  paintChannel(canvas, rows, meta.channel_min[k], meta.channel_max[k]);
}

/** The (row, col) of the canvas pixel under a mouse event, or null outside it. */
export function pixelAt(canvas, e) {
  const box = canvas.getBoundingClientRect();
  const s = box.width / canvas.width;
  const r = Math.floor((e.clientY - box.top) / s), c = Math.floor((e.clientX - box.left) / s);
  return r >= 0 && c >= 0 && r < canvas.height && c < canvas.width ? [r, c] : null;
}

/** Place a box over canvas pixels rows r0..r1, cols c0..c1 (inclusive); the box and the canvas share a
 * positioned parent. Rows outside the canvas (padding) are drawn where they would be. */
export function placeBox(el, canvas, r0, c0, r1 = r0, c1 = c0) {
  const s = canvas.clientWidth / canvas.width;
  Object.assign(el.style, { display: "block", left: `${canvas.offsetLeft + c0 * s - 1}px`, top: `${canvas.offsetTop + r0 * s - 1}px`,
    width: `${(c1 - c0 + 1) * s + 2}px`, height: `${(r1 - r0 + 1) * s + 2}px` });
}

/** A value's cell colour on the diverging scale (blue positive, red negative), as plots.js uses. */
function tint(v, lim) {
  const t = Math.min(1, Math.abs(v) / (lim || 1));
  return v >= 0 ? `rgba(5, 48, 97, ${0.35 * t})` : `rgba(103, 0, 31, ${0.35 * t})`;
}

function kernelTable(rows, lim, caption) {
  const body = rows.map((r) => `<tr>${Array.from(r, (v) => `<td style="background:${tint(v, lim)}">${fmt(v)}</td>`).join("")}</tr>`).join("");
  return `<table class="kernel"><caption>${caption}</caption>${body}</table>`;
}

/** The weight tensor (C_out, C_in, k, k) as C_out rows by C_in columns of k×k kernels. `slices` is
 * api.decodeArray's answer for a 4-D array: C_out·C_in slices, filter by filter. */
export function kernelGrid(el, slices, shape) {
  const [cOut, cIn] = shape;
  let lim = 0;
  for (const s of slices) for (const r of s) for (const v of r) lim = Math.max(lim, Math.abs(v));
  const head = `<tr><th></th>${Array.from({ length: cIn }, (_, j) => `<th scope="col">input channel ${j}</th>`).join("")}</tr>`;
  const rows = Array.from({ length: cOut }, (_, o) => `<tr><th scope="row">filter ${o}</th>${Array.from({ length: cIn },
    (_, j) => `<td>${kernelTable(slices[o * cIn + j], lim, `W[${o}, ${j}]`)}</td>`).join("")}</tr>`).join("");
  el.innerHTML = `<table class="grid">${head}${rows}</table>`;
}

/** One design of /api/cost as a card: its rows' formulas (the API's own text) and its totals. */
export function costCard(d, which) {
  const rows = d.rows.filter((r) => r.params > 0).map((r) => `<li><b>${esc(r.name)}</b><br><span class="mono small">${esc(r.formula)}</span></li>`).join("");
  return `<div class="cost-card"><h3>${esc(d.name)}</h3><ul>${rows}</ul>
    <p>weights <b class="num" id="c5-params-${which}" data-value="${d.params}">${formatInt(d.params)}</b> ·
    MACs <b class="num" id="c5-macs-${which}" data-value="${d.macs}">${formatInt(d.macs)}</b></p></div>`;
}

/** A value as a number element the tests read back: data-value holds the API's number unrounded. */
export function num(id, value, text = fmt(value)) {
  return `<b class="num" id="${id}" data-value="${value}">${text}</b>`;
}
