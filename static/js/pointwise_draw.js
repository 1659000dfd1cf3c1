// Drawing for the 1×1 view: canvases for images and W (cheap to update per frame), HTML bars for vectors,
// Plotly for the matrix product's large matrices. Every number comes from the API's arrays; nothing is multiplied here.
import { CONFIG, boxes, cellBox, extentOf, fmt, paintChannel, place, scaleFor } from "./plots.js";

const CANVAS_CSS_WIDTH = 320;
const MIN_BOX_PX = 10;     // the 1-pixel box stays visible when a photo's pixel is half a CSS px wide
export const W_TEXT_MAX = 16;  // the W heatmap prints its values up to 16×16; above that, on hover
const W_CELL_PX = 40, W_AXIS_PX = 30;  // square cells with room for "-0.12" at 11 px; the row numbers' margin

/** CSS px per input pixel: the canvas's content box (its border excluded, as in a click's offsetX). */
export function scaleOf(canvas) {
  return canvas.clientWidth / canvas.width;
}

/** The input as a picture: RGB when it has 3 channels in [0, 1], else its first channel. */
export function paintInput(canvas, input, meta) {
  const [h, w] = [input[0].length, input[0][0].length];
  const rgb = input.length === 3 && meta.channel_min.every((v) => v >= 0) && meta.channel_max.every((v) => v <= 1);
  if (!rgb) return paintChannel(canvas, input[0], meta.channel_min[0], meta.channel_max[0]);
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const k = 4 * (r * w + c);
    for (let ch = 0; ch < 3; ch++) img.data[k + ch] = Math.round(255 * input[ch][r][c]);
    img.data[k + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** The 1×1's pixel (solid) and the 3×3 neighbourhood a k×k convolution would read (dashed), both centred
 * on the pixel. On a photo drawn smaller than its size a pixel is under one CSS px, so each box is drawn
 * at least MIN_BOX_PX (and the 3×3 box larger than the 1×1 box) to stay visible. */
export function placePixelBoxes(canvas, box1, box3, r, c) {
  const s = scaleOf(canvas), cx = canvas.clientLeft + (c + 0.5) * s, cy = canvas.clientTop + (r + 0.5) * s;
  const one = Math.max(s, MIN_BOX_PX), three = Math.max(3 * s, one + 8);
  const centred = (size) => ({ left: `${cx - size / 2}px`, top: `${cy - size / 2}px`, width: `${size}px`, height: `${size}px` });
  Object.assign(box1.style, centred(one));
  Object.assign(box3.style, centred(three));
}

/** A vector as labelled horizontal bars (blue positive, red negative) with its numbers. */
export function drawBars(el, values, label) {
  let lim = 0;
  for (const v of values) lim = Math.max(lim, Math.abs(v ?? 0));
  lim ||= 1;
  if (el.children.length !== values.length) {
    el.innerHTML = Array.from(values, (_, i) => `<div class="bar-row"><span>${label}${i}</span>
      <span class="bar-track"><span class="bar"></span></span><span class="v"></span></div>`).join("");
  }
  Array.from(el.children).forEach((row, i) => {
    const v = values[i], bar = row.children[1].firstElementChild;
    if (v === null) { bar.style.width = "0"; row.children[2].textContent = "…"; return; } // still on its way
    bar.className = `bar ${v >= 0 ? "pos" : "neg"}`;
    bar.style.width = `${(50 * Math.abs(v)) / lim}%`;
    row.children[2].textContent = fmt(v);
  });
}

/** CSS width the W map needs for cells that hold "-0.12" at 11 px (the page lays it out), or null
 * (the whole width) when its values are shown on hover only. */
export function weightsWidth(cIn) {
  return cIn <= W_TEXT_MAX ? W_AXIS_PX + W_CELL_PX * cIn + 8 : null;
}

/** W as a canvas heatmap (heatmap.js): its values written in the cells up to 16×16, every value on hover
 * as W[o, i]. As a Plotly heatmap it took ~20 ms of every /pointwise change (Plotly.react with printed
 * values), a third of the change's time to pixels; the canvas takes about a millisecond. */
export function drawWeights(map, w2d, meta, cOut, cIn) {
  const { min, max } = extentOf(meta);
  const text = cOut <= W_TEXT_MAX && cIn <= W_TEXT_MAX;
  map.draw({ panels: [{ rows: w2d, ...(text ? { digits: 2 } : {}), name: (o, i) => `W[${o}, ${i}]` }],
    min, max, colorbar: false, panelHeight: text ? 28 + W_CELL_PX * cOut : Math.min(360, 28 + 4 * cOut),
    label: `W: ${cOut} output channels × ${cIn} input channels` });
}

/** Output maps as canvases, each with a marker for the current pixel and a mask the sweep clears. A
 * large output comes as every step-th pixel (its exact values): the canvas holds those, and markers and
 * masks map an output pixel (r, c) to (r ÷ step, c ÷ step). */
export function drawOutputs(el, out, meta, step = 1) {
  el.innerHTML = "";
  return out.slice(0, 32).map((rows, k) => {
    const fig = document.createElement("figure");
    fig.className = "thumb";
    const wrap = document.createElement("div");
    wrap.className = "cw";
    const canvas = document.createElement("canvas");
    paintChannel(canvas, rows, meta.channel_min[k], meta.channel_max[k]);
    canvas.style.width = "150px";
    const mask = document.createElement("canvas");
    mask.className = "mask";
    [mask.width, mask.height] = [canvas.width, canvas.height];
    mask.style.width = "150px";
    const marker = document.createElement("div");
    marker.className = "marker";
    const cap = document.createElement("figcaption");
    cap.textContent = `y channel ${k}`;
    wrap.append(canvas, mask, marker);
    fig.append(wrap, cap);
    el.appendChild(fig);
    return { canvas, mask, marker, step };
  });
}

export function placeMarkers(views, r, c) {
  for (const v of views) {
    const s = 150 / v.canvas.width, at = (i) => Math.floor(i / v.step) * s;
    Object.assign(v.marker.style, { left: `${at(c) - 2}px`, top: `${at(r) - 2}px`, width: `${s + 4}px`, height: `${s + 4}px` });
  }
}

export function coverMasks(views, upto, w) {
  for (const v of views) {
    const ctx = v.mask.getContext("2d");
    ctx.fillStyle = "rgba(240,242,246,0.92)";
    ctx.fillRect(0, 0, v.mask.width, v.mask.height);
    revealMasks([v], -1, upto, w);
  }
}

/** Uncover pixels (from, to] in row-major order: each output pixel appears when its input pixel is visited. */
export function revealMasks(views, from, to, w) {
  for (const v of views) {
    const ctx = v.mask.getContext("2d");
    for (let p = from + 1; p <= to; p++) ctx.clearRect(Math.floor((p % w) / v.step), Math.floor(Math.floor(p / w) / v.step), 1, 1);
  }
}

export function clearMasks(views) {
  for (const v of views) v.mask.getContext("2d").clearRect(0, 0, v.mask.width, v.mask.height);
}

/** A matrix as a heatmap; tall ones (H·W rows) are drawn whole and the current row is boxed. */
/** Rows of a matrix heatmap drawn at most: a 320-px plot shows a few hundred rows anyway, and Plotly
 * draws nothing at all for a heatmap of a photo's 786,432 rows (its image exceeds the canvas limit). */
export const MATRIX_ROWS_DRAWN = 4096;

/** The rows a matrix heatmap draws: every step-th (step = 1 up to MATRIX_ROWS_DRAWN rows), as views. */
export function matrixStep(n) {
  return Math.ceil(n / MATRIX_ROWS_DRAWN);
}

/** A matrix as a heatmap; a tall one (H·W rows) is drawn at every step-th row, each row placed at its
 * own index (hover names it) so the current-row box lands where it belongs. `sent`: the server sent
 * every sent-th row already (row_step of /api/pointwise/matmul). */
export function drawMatrix(gd, rows, meta, sent = 1) {
  const { min, max } = extentOf(meta), step = sent > 1 ? sent : matrixStep(rows.length);
  const shown = step === 1 || sent > 1 ? rows : rows.filter((_, i) => i % step === 0);
  const y = step === 1 ? undefined : shown.map((_, i) => i * step);
  // a small matrix (Wᵀ) gets whole row indices (Plotly's automatic ticks read -0.5, 0, 0.5 … for 3 rows)
  // and its values printed, as W above it; a tall one keeps the automatic ticks (0, 2k, 4k …)
  const small = rows.length <= W_TEXT_MAX && rows[0].length <= W_TEXT_MAX;
  return Plotly.react(gd, [{ type: "heatmap", z: shown, y, ...scaleFor(min, max), showscale: false,
    texttemplate: small ? "%{z:.2f}" : undefined, textfont: { size: 11 },
    hovertemplate: "[%{y}, %{x}] = %{z:.4f}<extra></extra>" }],
  { height: 320, margin: { t: 10, r: 8, b: 30, l: 56 }, yaxis: { autorange: "reversed", dtick: small ? 1 : undefined },
    xaxis: { dtick: rows[0].length <= 16 ? 1 : undefined } }, CONFIG);
}

export function placeRow(gd, row, cols) {
  if (!gd._fullLayout?.xaxis) return;  // not drawn (yet): nothing to box
  const [el] = boxes(gd, "hit", 1);
  const a = cellBox(gd, "xaxis", "yaxis", row, 0), b = cellBox(gd, "xaxis", "yaxis", row, cols - 1);
  place(el, { left: a.left, top: a.top - 2, width: b.left + b.width - a.left, height: Math.max(a.height, 1) + 4 });
}

/** Words of a title broken into lines of at most `chars` characters (a long word keeps its own line). */
function wrapWords(text, chars) {
  const lines = [];
  for (const word of text.split(" ")) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= chars) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

const TITLE_PX = 12, TITLE_CHAR_PX = 7.2, TITLE_LINE_PX = 14;  // a generous width per character at 12 px

/** The NiN stack as neurons: input vector → hidden layers → output, with the pixel's activations. */
export function ninSVG(nin, width = 900) {
  const cols = [nin.input_at_pixel, ...nin.layers.map((l) => l.activation_at_pixel)];
  // drawn at the width it is shown at (never scaled down), so its 11-px labels stay 11 px on screen
  const W = Math.max(360, Math.min(900, Math.round(width))), dx = W / (cols.length + 1);
  // column titles wrap to the column's width, so neighbours never overlap (4 columns at 800 px did)
  const titles = ["input x (C_in)", ...nin.layers.map((l, i) => `1×1 conv ${l.in_channels}→${l.out_channels} + ReLU${i === nin.layers.length - 1 ? " (output)" : ""}`)]
    .map((t) => wrapWords(t, Math.max(6, Math.floor((dx - 8) / TITLE_CHAR_PX))));
  const top = Math.max(...titles.map((t) => t.length)) * TITLE_LINE_PX + 10, H = 320 + top;
  const pos = cols.map((vals, i) => vals.map((_, j) => [dx * (i + 1), top + (H - top) * (j + 1) / (vals.length + 1)]));
  let lines = "", nodes = "";
  nin.layers.forEach((layer, i) => layer.weight.forEach((row, o) => row.forEach((w, c) => {
    const [x1, y1] = pos[i][c], [x2, y2] = pos[i + 1][o];
    lines += `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${w >= 0 ? "#2f6fde" : "#d9534f"}" stroke-opacity="${Math.min(0.8, 0.1 + Math.abs(w) / 2)}"/>`;
  })));
  cols.forEach((vals, i) => vals.forEach((v, j) => {
    const [x, y] = pos[i][j];
    nodes += `<circle cx="${x}" cy="${y}" r="11" fill="${v > 0 ? "#ffe0b8" : "#eef1f6"}" stroke="#555"/>` +
      `<text x="${x + 15}" y="${y + 4}" font-size="11">${fmt(v)}</text>`;
  }));
  const heads = titles.map((t, i) => `<text class="nin-title" x="${dx * (i + 1)}" y="${TITLE_PX + 2}" font-size="${TITLE_PX}" text-anchor="middle">` +
    t.map((line, k) => `<tspan x="${dx * (i + 1)}" dy="${k ? TITLE_LINE_PX : 0}">${line}</tspan>`).join("") + "</text>").join("");
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="the per-pixel MLP">${lines}${nodes}${heads}</svg>`;
}

export { CANVAS_CSS_WIDTH };
