// /learn steps 4–5: the 1×1 layer as one matrix product (/api/pointwise/matmul), and why Inception uses
// it: the bottleneck counted by /api/cost (the cost lab's "seed" comparison) and timed by
// /api/measure/compare on this server.
import { decodeArray, getJSON, postFrame, postJSON } from "../api.js";
import { costUrl, pointwiseUrl } from "../links.js";
import { formatCount } from "../format.js";
import { plotlyReady } from "../plots.js";
import { drawMatrix } from "../pointwise_draw.js";
import { costCard, esc, num, paintOne, shapeText } from "../learn_draw.js";

const $ = (id) => document.getElementById(id);
const matrixRows = (enc) => decodeArray({ ...enc, shape: [1, ...enc.shape] })[0];

// ---- step 4: Y = X·Wᵀ, checked against the convolution by the engine ----
// Each matrix gets a colour bar, as every map of /conv has (heatmap.js: 12 px wide, grey frame, 11 px ticks):
// X, Wᵀ and Y have scales of their own, and a reader compares values across them.
const BAR = { thickness: 12, outlinecolor: "#888", outlinewidth: 1, tickfont: { size: 11, color: "#5b6475" }, xpad: 4 };

async function drawWithBar(gd, enc) {
  await drawMatrix(gd, matrixRows(enc), enc);
  return Plotly.restyle(gd, { showscale: true, colorbar: BAR });
}
export const matrix = {
  id: "matrix",
  keys: { matOut: { id: "c4-out", value: "4" } },
  request: (s) => ({ input: { kind: "sample", name: "random8" }, layer: { kernel_size: 1, out_channels: +s.matOut, bias: false },
    weights: { kind: "random", seed: 0 } }),
  link: (s) => `${pointwiseUrl(matrix.request(s))}#matrix`, // the page's matrix-product section
  async load(s, env) {
    const req = matrix.request(s);
    const [m, conv] = await Promise.all([postFrame("/api/pointwise/matmul", req), postFrame("/api/convolve", req), plotlyReady()]);
    if (env.stale()) return;
    const [hw, cin] = m.x_shape, cout = m.y_shape[1], [, h, w] = m.output_shape;
    $("c4-shapes").innerHTML = `input ${shapeText([cin, h, w])} → X <span id="c4-x-shape">${shapeText(m.x_shape)}</span> · ` +
      `Wᵀ <span id="c4-w-shape">${shapeText(m.w_shape)}</span> = Y <span id="c4-y-shape">${shapeText(m.y_shape)}</span> → ` +
      `output <span id="c4-out-shape">${shapeText(m.output_shape)}</span>: ${hw} pixels, each a row of ${cin} channels in and ${cout} out`;
    for (const [id, enc] of [["c4-x", m.x_matrix], ["c4-w", m.w_matrix], ["c4-y", m.y_matrix]]) await drawWithBar($(id), enc);
    if (env.stale()) return;
    const y = matrixRows(m.y_matrix), out = decodeArray(conv.output)[0];
    paintOne($("c4-conv"), out, conv.output);
    // Y's column 0 as a picture: row p of Y belongs to pixel (p ÷ W, p mod W); nothing is computed, only placed
    paintOne($("c4-ycol"), Array.from({ length: h }, (_, i) => Float32Array.from({ length: w }, (_, j) => y[i * w + j][0])), conv.output);
    $("c4-check").innerHTML = `Checked by the engine: the largest difference between the 1×1 convolution and X·Wᵀ is ` +
      `${num("c4-diff", m.max_abs_conv_vs_matmul, m.max_abs_conv_vs_matmul.toExponential(2))} (float32 rounding at most).`;
    $("c4-link").href = matrix.link(s);
  },
};

// ---- step 5: the bottleneck, counted then measured ----
let seed = null;  // the cost lab's "seed" comparison: 256→256 with a 4×4 kernel, with and without a 1×1 first
const PRESET = "seed";

/** The comparison's designs with the bottleneck's width set (64 in the preset). */
function designsFor(width) {
  const [a, b] = seed.designs;
  if (width === b.layers[0].out) return seed.designs;
  const layers = b.layers.map((l, i) => (i === 0 ? { ...l, out: width } : l));
  return [a, { name: `1×1 to ${width}, then 4×4`, layers }];
}

function measuredHTML(m, counted) {
  const [a, b] = m.designs, sp = m.speedup;
  if (!sp) return `<p>No A/B round finished within this server's time budget just now: ${esc(m.verdict)} Press "Measure again".</p>`;
  const layer = (l) => `${esc(l.name)}: ${formatCount(l.macs)} MACs, ${l.arithmetic_intensity.toFixed(0)} MACs per byte, ` +
    `${l.gmacs_per_s === null ? "not timed" : `${l.gmacs_per_s.toPrecision(3)} G MACs/s`}`;
  const convs = (d) => d.layers.filter((l) => l.macs > 0).map((l) => `<li>${layer(l)}</li>`).join("");
  return `<p>${esc(a.name)}: median ${num("c5-ms-0", a.median_ms, `${a.median_ms.toFixed(2)} ms`)} · ${esc(b.name)}: median ` +
    `${num("c5-ms-1", b.median_ms, `${b.median_ms.toFixed(2)} ms`)} · measured speed-up ` +
    `${num("c5-speedup", sp.median, `${sp.median.toFixed(2)}×`)} (quartiles ${sp.q1.toFixed(2)}–${sp.q3.toFixed(2)} over ${m.pairs} ` +
    `pairs run A then B, B then A, …) against ${counted.macs_ratio[1].toFixed(2)}× fewer MACs counted.</p>
    <p class="small">${m.trusted ? "" : "<b>Not to be trusted:</b> "}${esc(m.verdict)}</p>
    <ul class="small">${convs(a)}${convs(b)}</ul>`;
}

export const inception = {
  id: "inception",
  keys: { width: { id: "c5-width", value: "64" } },
  async load(s, env) {
    if (!seed) seed = (await getJSON("/api/comparisons")).find((c) => c.name === PRESET);
    const designs = designsFor(+s.width), body = { input_shape: seed.input_shape, designs };
    const counted = await postJSON("/api/cost", body);
    if (env.stale()) return;
    const [a, b] = counted.designs;
    $("c5-count").innerHTML = costCard(a, 0) + costCard(b, 1);
    $("c5-ratio").innerHTML = `On a ${shapeText(counted.input_shape)} input both give ${shapeText(a.out_shape)}; the 1×1 first needs ` +
      `${num("c5-params-ratio", counted.params_ratio[1], `${counted.params_ratio[1].toFixed(2)}×`)} fewer weights and ` +
      `${num("c5-macs-ratio", counted.macs_ratio[1], `${counted.macs_ratio[1].toFixed(2)}×`)} fewer MACs.`;
    $("c5-link").href = costUrl({ preset: PRESET, input_shape: seed.input_shape, designs: designs === seed.designs ? undefined : designs });
    if (!$("c5-again").dataset.wired) {
      $("c5-again").dataset.wired = "1";
      $("c5-again").addEventListener("click", () => env.reload());
    }
    $("c5-measure").setAttribute("aria-busy", "true");
    const m = await postJSON("/api/measure/compare", { ...body, repeats: 5, warmup: 1 });
    if (env.stale()) return;
    $("c5-measure").removeAttribute("aria-busy");
    $("c5-measure").innerHTML = measuredHTML(m, counted);
  },
};
