// A heatmap drawn on one <canvas>: panels of cells with their axes, values written in the cells where
// they fit, one colour bar, a hover tooltip and clicks. /conv redraws its input panels, output region and
// output on every control change; as Plotly heatmaps that cost 20-40 ms each (Plotly.react), on a canvas
// about a millisecond, which is what brings a change under 60 ms to pixels (issue 11 §3). Colours are
// plots.js's one scale (scaleFor, colourer); every value shown is the API's, only formatted.
//
//   const map = new Heatmap(el, { onClick: (row, col, panel) => {}, onDraw: () => {} });
//   map.draw({ panels: [{ rows, x0, y0, step, pad, title, name }], min, max, panelHeight, cols, label });
//   map.cellBox(panel, row, col)  // el-relative pixel box of a cell (for overlays, as plots.cellBox)
//   map.geom.geoms[panel].ticks   // the tick labels last drawn, { x: [...], y: [...] }
import { colourer, scaleFor } from "./plots.js";

const FONT = "11px 'Open Sans', verdana, arial, sans-serif"; // Plotly's, as on the whole-input view; never under 11 px
const INK = "#1d2330", AXIS = "#5b6475", PAD_FILL = "rgba(255,190,0,0.35)";
const M = { r: 8, t: 6, b: 22, title: 16, gap: 12 };
const MAX_TEXT_CELLS = 900;

/** Nice tick values in [lo, hi] at least `minGap` data units apart (steps 1, 2, 5 × 10^k). */
export function niceTicks(lo, hi, minGap) {
  let step = 10 ** Math.floor(Math.log10(Math.max(minGap, 1e-12)));
  for (const f of [1, 2, 5, 10]) if (f * step >= minGap) { step *= f; break; }
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { values: out, step };
}

/** A tick label as Plotly writes one: the true minus sign, no trailing zeros. */
function tickText(v, step) {
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(digits).replace("-", "−");
}

export class Heatmap {
  constructor(el, { onClick = null, onDraw = null } = {}) {
    this.el = el;
    this.onDraw = onDraw;
    this.canvas = document.createElement("canvas");
    this.canvas.setAttribute("role", "img");
    this.canvas.className = "heatmap";
    this.tip = document.createElement("div");
    this.tip.className = "heat-tip";
    this.tip.hidden = true;
    el.prepend(this.canvas);
    el.append(this.tip);
    el._heatmap = this; // tests find a cell's pixel through it
    this.spec = null;
    this.width = null; // the element's width, kept by the ResizeObserver: reading it would force a layout
    this.canvas.addEventListener("mousemove", (ev) => this.hover(ev));
    this.canvas.addEventListener("mouseleave", () => { this.tip.hidden = true; });
    if (onClick) {
      this.canvas.style.cursor = "crosshair";
      this.canvas.addEventListener("click", (ev) => {
        const at = this.cellAt(ev.clientX, ev.clientY);
        if (at) onClick(at.row, at.col, at.panel);
      });
    }
    // Redraw at a new width (as Plotly's responsive option did); a height change alone is our own drawing.
    new ResizeObserver(([entry]) => {
      const width = Math.round(entry.contentRect.width); // as clientWidth rounds
      if (width === this.width) return;
      this.width = width;
      if (this.spec) { this.draw(this.spec); this.onDraw?.(); }
    }).observe(el);
  }

  /** Give the element a CSS width ("" for the layout's): the next draw reads it at once (the
   * ResizeObserver would redraw a frame later, after a draw at the old width). */
  setWidth(css) {
    if (this.el.style.width === css) return;
    this.el.style.width = css;
    this.width = null;
  }

  /** The element's width in CSS px (read once; then kept current by the ResizeObserver). */
  widthNow() {
    this.width ??= this.el.clientWidth;
    return this.width;
  }

  /** Lay out panels of square cells: `cols` per row, each at most panelHeight tall, colour bar on the right. */
  layout(spec) {
    const W = this.widthNow() || 400, cols = spec.cols || 1, ctx = this.canvas.getContext("2d");
    ctx.font = FONT;
    const textW = (v) => ctx.measureText(v).width;
    // margins as wide as their labels: the cells get the rest (wider cells fit their values)
    const { zmin, zmax } = scaleFor(spec.min, spec.max), ticks = niceTicks(zmin, zmax, (zmax - zmin) / 6);
    const bar = spec.colorbar === false ? 0 : 30 + Math.max(...ticks.values.map((v) => textW(tickText(v, ticks.step))));
    let yLabels = 0;
    for (const p of spec.panels) {
      const y0 = p.y0 || 0, y1 = y0 + (p.rows.length - 1) * (p.step || 1);
      yLabels = Math.max(yLabels, textW(String(y0)), textW(String(y1)));
    }
    const l = Math.ceil(yLabels) + 10, title = spec.panels.some((p) => p.title) ? M.title : 0, slotW = (W - bar - M.r) / cols;
    const geoms = [], ah = (spec.panelHeight || 300) - title - M.t - M.b;
    // one cell size for every panel (the narrowest slot's), so panels and their ticks look alike
    let cell = Infinity;
    spec.panels.forEach((p, i) => {
      const aw = slotW - l - ((i % cols) < cols - 1 ? M.gap : 0);
      cell = Math.min(cell, aw / p.rows[0].length, ah / p.rows.length);
    });
    cell = Math.max(1, cell);
    let top = 0, rowH = 0;
    spec.panels.forEach((p, i) => {
      const col = i % cols;
      if (col === 0 && i > 0) { top += rowH; rowH = 0; }
      const h = p.rows.length, w = p.rows[0].length, aw = slotW - l - (col < cols - 1 ? M.gap : 0);
      const left = col * slotW + l + (aw - cell * w) / 2, ptop = top + M.t + title;
      geoms.push({ left, top: ptop, cell, w, h, titleTop: top + M.t });
      rowH = Math.max(rowH, M.t + title + cell * h + M.b);
    });
    return { W, H: Math.ceil(top + rowH), bar, geoms, ticks };
  }

  draw(spec) {
    this.spec = spec;
    const { W, H, bar, geoms, ticks } = (this.geom = this.layout(spec));
    const dpr = window.devicePixelRatio || 1, c = this.canvas;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) { // (a resize relays out the page)
      c.width = Math.round(W * dpr);
      c.height = Math.round(H * dpr);
      c.style.width = `${W}px`;
      c.style.height = `${H}px`;
    }
    c.setAttribute("aria-label", spec.label || "heatmap");
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = FONT;
    const { zmin, zmax } = scaleFor(spec.min, spec.max), colour = colourer(spec.min, spec.max);
    spec.panels.forEach((p, i) => this.drawPanel(ctx, p, geoms[i], colour));
    const right = Math.max(...geoms.map((g) => g.left + g.cell * g.w)); // the bar beside the plots, not at the far edge
    if (bar) this.drawBar(ctx, Math.min(W - bar + 10, right + 16), geoms[0].top, Math.min(H - geoms[0].top - M.b, 320), zmin, zmax, colour, ticks);
  }

  drawPanel(ctx, p, g, colour) {
    const { w, h, cell, left, top } = g, step = p.step || 1;
    const img = new ImageData(w, h);
    for (let r = 0; r < h; r++) {
      const row = p.rows[r];
      for (let col = 0; col < w; col++) if (row[col] !== null) colour(row[col], img.data, 4 * (r * w + col)); // null: blank
    }
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.scratch(w, h, img), left, top, cell * w, cell * h);
    if (p.pad) { // padding is zeros, shaded
      ctx.fillStyle = PAD_FILL;
      for (let r = 0; r < h; r++) for (let col = 0; col < w; col++) if (p.pad[r][col]) ctx.fillRect(left + col * cell, top + r * cell, cell, cell);
    }
    ctx.strokeStyle = "#c8cdd6"; // a frame: white cells stay visible against the white page
    ctx.lineWidth = 1;
    ctx.strokeRect(left - 0.5, top - 0.5, cell * w + 1, cell * h + 1);
    g.digits = null; // the decimals written in the cells (null: no text), for setCell
    if (p.digits !== undefined && w * h <= MAX_TEXT_CELLS) this.writeValues(ctx, p, g);
    if (p.title) {
      ctx.fillStyle = INK;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText(p.title, left, g.titleTop);
    }
    this.axes(ctx, g, p.x0 || 0, p.y0 || 0, step);
  }

  /** Each value in its cell, with p.digits decimals, or one fewer (at least one) when the widest value
   * would not fit; no text when even that does not fit (hover still shows every value). */
  writeValues(ctx, p, g) {
    let texts = null;
    for (let d = p.digits; d >= Math.min(1, p.digits) && d >= p.digits - 1; d--) {
      const t = p.rows.map((row) => Array.from(row, (v) => (v === null ? "" : v.toFixed(d))));
      let widest = 0;
      // digits are equally wide in the font: the widest texts are among the longest (measure a few of those)
      let longest = [];
      for (const row of t) for (const x of row) {
        if (!longest.length || x.length > longest[0].length) longest = [x];
        else if (x.length === longest[0].length && longest.length < 8) longest.push(x);
      }
      for (const x of longest) widest = Math.max(widest, x.length ? ctx.measureText(x).width : 0);
      if (widest + 2 <= g.cell && g.cell >= 14) { texts = t; g.digits = d; break; }
    }
    if (!texts) return;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const rgba = new Uint8ClampedArray(4), colour = colourer(this.spec.min, this.spec.max);
    texts.forEach((row, r) => row.forEach((t, col) => {
      if (!t) return;
      colour(p.rows[r][col], rgba, 0);
      const light = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] > 140;
      ctx.fillStyle = light ? INK : "#fff";
      ctx.fillText(t, g.left + (col + 0.5) * g.cell, g.top + (r + 0.5) * g.cell);
    }));
  }

  /** Tick labels at cell centres on the left and below, spaced so that labels never overlap. */
  axes(ctx, g, x0, y0, step) {
    const per = g.cell / step; // pixels per data unit
    ctx.fillStyle = AXIS;
    ctx.strokeStyle = AXIS;
    const xLast = x0 + (g.w - 1) * step, yLast = y0 + (g.h - 1) * step;
    const labelW = ctx.measureText(String(Math.max(Math.abs(xLast), Math.abs(x0)))).width;
    const xt = niceTicks(x0, xLast, Math.max(step, (labelW + 10) / per)), yt = niceTicks(y0, yLast, Math.max(step, 18 / per));
    ctx.beginPath();
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const bottom = g.top + g.h * g.cell;
    g.ticks = { x: xt.values.map((v) => tickText(v, xt.step)), y: yt.values.map((v) => tickText(v, yt.step)) }; // what was written (tests read it)
    for (const v of xt.values) {
      const x = g.left + ((v - x0) / step + 0.5) * g.cell;
      ctx.moveTo(x, bottom); ctx.lineTo(x, bottom + 4);
      ctx.fillText(tickText(v, xt.step), x, bottom + 6);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of yt.values) {
      const y = g.top + ((v - y0) / step + 0.5) * g.cell;
      ctx.moveTo(g.left - 4, y); ctx.lineTo(g.left, y);
      ctx.fillText(tickText(v, yt.step), g.left - 6, y);
    }
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  /** The colour bar: the scale from zmin (bottom) to zmax (top), with nice ticks. */
  drawBar(ctx, x, top, height, zmin, zmax, colour, ticks) {
    const n = Math.max(2, Math.round(height)), img = ctx.createImageData(1, n);
    for (let i = 0; i < n; i++) colour(zmax - ((zmax - zmin) * i) / (n - 1), img.data, 4 * i);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.scratch(1, n, img), x, top, 12, height);
    ctx.strokeStyle = "#888";
    ctx.strokeRect(x + 0.5, top + 0.5, 11, height - 1);
    ctx.fillStyle = AXIS;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const v of ticks.values) ctx.fillText(tickText(v, ticks.step), x + 16, top + ((zmax - v) / (zmax - zmin)) * height);
  }

  /** Reveal one blank cell (the player's next value) without redrawing the map: its colour, and its
   * text as the last draw wrote the others. False when that text would not fit: then redraw instead. */
  setCell(panel, row, col, v) {
    const g = this.geom?.geoms[panel], p = this.spec?.panels[panel], step = p?.step || 1;
    if (!g || g.digits === undefined) return false;
    const r = (row - (p.y0 || 0)) / step, c = (col - (p.x0 || 0)) / step;
    if (!(r >= 0 && r < g.h && c >= 0 && c < g.w && Number.isInteger(r) && Number.isInteger(c))) return false;
    const ctx = this.canvas.getContext("2d"), text = g.digits === null ? "" : v.toFixed(g.digits);
    ctx.font = FONT;
    if (text && ctx.measureText(text).width + 2 > g.cell) return false;
    p.rows[r][c] = v;
    const rgba = new Uint8ClampedArray(4);
    colourer(this.spec.min, this.spec.max)(v, rgba, 0);
    // the cell's edges rounded as the nearest-neighbour drawImage of a full draw puts them
    const x0 = Math.round(g.left + c * g.cell), x1 = Math.round(g.left + (c + 1) * g.cell);
    const y0 = Math.round(g.top + r * g.cell), y1 = Math.round(g.top + (r + 1) * g.cell);
    ctx.fillStyle = `rgb(${rgba[0]},${rgba[1]},${rgba[2]})`;
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    if (text) {
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillStyle = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] > 140 ? INK : "#fff";
      ctx.fillText(text, g.left + (c + 0.5) * g.cell, g.top + (r + 0.5) * g.cell);
    }
    return true;
  }

  /** One small off-screen canvas, reused, holding an image to draw scaled (creating one per panel and
   * per draw cost more than the drawing). */
  scratch(w, h, img) {
    this.off ??= document.createElement("canvas");
    if (this.off.width !== w || this.off.height !== h) { this.off.width = w; this.off.height = h; }
    this.offCtx ??= this.off.getContext("2d");
    this.offCtx.putImageData(img, 0, 0);
    return this.off;
  }

  /** The cell under a point of the page (client coordinates), in data coordinates, or null. */
  cellAt(clientX, clientY) {
    if (!this.geom) return null;
    const box = this.canvas.getBoundingClientRect(), x = clientX - box.left, y = clientY - box.top;
    for (let i = 0; i < this.geom.geoms.length; i++) {
      const g = this.geom.geoms[i], p = this.spec.panels[i], step = p.step || 1;
      const c = Math.floor((x - g.left) / g.cell), r = Math.floor((y - g.top) / g.cell);
      if (c >= 0 && c < g.w && r >= 0 && r < g.h) {
        return { panel: i, row: (p.y0 || 0) + r * step, col: (p.x0 || 0) + c * step, value: p.rows[r][c] };
      }
    }
    return null;
  }

  hover(ev) {
    const at = this.cellAt(ev.clientX, ev.clientY);
    const p = at && this.spec.panels[at.panel];
    if (!at || at.value === null || !p.name) { this.tip.hidden = true; return; }
    this.tip.textContent = `${p.name(at.row, at.col)} = ${at.value.toFixed(4)}`;
    this.tip.hidden = false;
    const box = this.el.getBoundingClientRect();
    const x = ev.clientX - box.left + 14, y = ev.clientY - box.top + 14;
    this.tip.style.left = `${Math.min(x, this.el.clientWidth - this.tip.offsetWidth - 2)}px`;
    this.tip.style.top = `${y}px`;
  }

  /** Pixel box of data cell (row, col) of a panel, relative to the element (overlays sit there). */
  cellBox(panel, row, col) {
    const g = this.geom.geoms[panel], p = this.spec.panels[panel], step = p.step || 1, per = g.cell / step;
    // the canvas is the element's first child, at the top-left of its padding box (where overlays are
    // placed from): reading offsetLeft instead would force a layout per box
    return { left: g.left + ((col - (p.x0 || 0)) / step + 0.5) * g.cell - per / 2,
      top: g.top + ((row - (p.y0 || 0)) / step + 0.5) * g.cell - per / 2, width: per, height: per };
  }

  /** Client coordinates of a cell's centre (for tests: a click where a user would click). */
  centre(row, col, panel = 0) {
    const b = this.cellBox(panel, row, col), box = this.el.getBoundingClientRect();
    return { x: box.left + this.el.clientLeft + b.left + b.width / 2, y: box.top + this.el.clientTop + b.top + b.height / 2 };
  }
}
