// Plotting helpers shared by the views: colour scales, heatmap traces, and cheap HTML overlays.
// Overlays are absolutely positioned boxes over a Plotly graph: moving one costs a style change,
// where moving a Plotly shape costs a relayout (~16 ms) and changing heatmap data ~50-70 ms.

// Every chart's config. Plotly 4 shows "Share chart..." by default: it uploads the chart to Plotly Cloud,
// and nothing here leaves the app's origin.
export const CONFIG = { displaylogo: false, responsive: true, showSendToCloud: false,
  modeBarButtonsToRemove: ["lasso2d", "select2d", "sendChartToCloud"] };

/** The one diverging scale of every page: red for negative, white at 0, BLUE FOR POSITIVE. Plotly
 * heatmaps, the canvases (paintChannel) and the home demo all use these stops, so a colour means the
 * same sign everywhere. (Plotly's named "RdBu" runs the other way round, blue low, so no page names it.) */
export const NEGATIVE_RGB = [103, 0, 31], ZERO_RGB = [255, 255, 255], POSITIVE_RGB = [5, 48, 97];
const rgb = (c) => `rgb(${c.join(",")})`;
export const DIVERGING = [[0, rgb(NEGATIVE_RGB)], [0.5, rgb(ZERO_RGB)], [1, rgb(POSITIVE_RGB)]];

/** Diverging heatmap settings centred on 0, for values within ±lim. */
export function signedScale(lim) {
  const l = lim || 1;
  return { colorscale: DIVERGING, zmin: -l, zmax: l };
}

/** Grey for non-negative data, the diverging scale centred on 0 for signed data. */
export function scaleFor(min, max) {
  if (min >= 0) return { colorscale: [[0, "#000"], [1, "#fff"]], zmin: 0, zmax: max > 1 ? max : 1 };
  return signedScale(Math.max(Math.abs(min), Math.abs(max)));
}

/** Smallest channel_min and largest channel_max of an encoded array's metadata. A loop, never a spread:
 * a matrix with H·W rows has H·W "channels", and Math.min(...307200 values) overflows the call stack. */
export function extentOf(meta) {
  let min = Infinity, max = -Infinity;
  for (const v of meta.channel_min) if (v < min) min = v;
  for (const v of meta.channel_max) if (v > max) max = v;
  return { min, max };
}

/** The overlay layer over a graph div (created once), where boxes in data coordinates are drawn. */
export function overlayOf(gd) {
  if (!gd._overlay) {
    const layer = document.createElement("div");
    layer.className = "overlay";
    gd.appendChild(layer);
    gd._overlay = layer;
  }
  if (!gd.contains(gd._overlay)) gd.appendChild(gd._overlay);
  return gd._overlay;
}

/** Pixel box of heatmap cell (row, col) on the subplot with axes xName/yName ("xaxis", "yaxis2", …). */
export function cellBox(gd, xName, yName, row, col) {
  const xa = gd._fullLayout[xName], ya = gd._fullLayout[yName];
  const x0 = xa.l2p(col - 0.5), x1 = xa.l2p(col + 0.5), y0 = ya.l2p(row - 0.5), y1 = ya.l2p(row + 0.5);
  return { left: xa._offset + Math.min(x0, x1), top: ya._offset + Math.min(y0, y1),
           width: Math.abs(x1 - x0), height: Math.abs(y1 - y0) };
}

/** Keep a pool of n boxes with the given class in the overlay; returns them. */
export function boxes(gd, cls, n) {
  const layer = overlayOf(gd);
  let pool = Array.from(layer.getElementsByClassName(cls));
  while (pool.length < n) {
    const el = document.createElement("div");
    el.className = cls;
    layer.appendChild(el);
    pool.push(el);
  }
  pool.forEach((el, i) => { el.style.display = i < n ? "block" : "none"; });
  return pool.slice(0, n);
}

export function place(el, box) {
  el.style.left = `${box.left}px`;
  el.style.top = `${box.top}px`;
  el.style.width = `${box.width}px`;
  el.style.height = `${box.height}px`;
}

/** Axis names of subplot i (0-based) in Plotly's naming: xaxis, xaxis2, … and their trace refs. */
export function axes(i) {
  const n = i === 0 ? "" : String(i + 1);
  return { x: `x${n}`, y: `y${n}`, xName: `xaxis${n}`, yName: `yaxis${n}` };
}

/** Format a number for a table cell: short, but never hiding the sign or the magnitude. */
export function fmt(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.001) return v.toExponential(2);
  return v.toFixed(a >= 100 ? 1 : 3).replace(/\.?0+$/, "") || "0";
}

let plotlyPromise = null;
/** Load plotly.js once, after the page has started its API requests (it takes ~1 s to parse here). */
export function plotlyReady() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  plotlyPromise ??= new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/static/vendor/plotly-cartesian.min.js";
    s.onload = () => resolve(window.Plotly);
    s.onerror = () => reject(new Error("could not load plotly.js from /static/vendor"));
    document.head.appendChild(s);
  });
  return plotlyPromise;
}

/** The page's colour of a value, for data within [min, max] with scaleFor's semantics: grey from 0 to
 * max(1, max) for non-negative data, the DIVERGING stops centred on 0 for signed data (interpolated
 * linearly, as Plotly does). colourer(min, max)(v, out, k) writes R, G, B, 255 at out[k…k+3]. */
export function colourer(min, max) {
  const lim = Math.max(Math.abs(min), Math.abs(max)) || 1, hi = max > 1 ? max : 1;
  if (!(min < 0)) {
    return (v, out, k) => {
      out[k] = out[k + 1] = out[k + 2] = Math.round(255 * Math.min(1, Math.max(0, v / hi)));
      out[k + 3] = 255;
    };
  }
  // one closure per case, the stops hoisted: it runs once per pixel (a 1024×768 map is 786,432 calls)
  const [zr, zg, zb] = ZERO_RGB, [pr, pg, pb] = POSITIVE_RGB, [nr, ng, nb] = NEGATIVE_RGB;
  return (v, out, k) => {
    const t = Math.max(-1, Math.min(1, v / lim)), u = Math.abs(t), w = 1 - u;
    if (t >= 0) { out[k] = Math.round(zr * w + pr * u); out[k + 1] = Math.round(zg * w + pg * u); out[k + 2] = Math.round(zb * w + pb * u); }
    else { out[k] = Math.round(zr * w + nr * u); out[k + 1] = Math.round(zg * w + ng * u); out[k + 2] = Math.round(zb * w + nb * u); }
    out[k + 3] = 255;
  };
}

/** Paint one channel into a canvas (one pixel per value) with colourer's colours. Thumbnails of many
 * large channels this way cost milliseconds, where as many Plotly heatmaps cost seconds. */
export function paintChannel(canvas, rows, min, max) {
  const h = rows.length, w = rows[0].length;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h), colour = colourer(min, max);
  for (let r = 0; r < h; r++) {
    const row = rows[r];
    for (let c = 0; c < w; c++) colour(row[c], img.data, 4 * (r * w + c));
  }
  ctx.putImageData(img, 0, 0);
}
