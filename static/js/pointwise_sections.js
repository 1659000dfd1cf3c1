// The 1×1 page's sections beyond the layer itself: pooling vs a 1×1 (pooling shrinks H and W, a 1×1
// shrinks C), NiN (a stack of 1×1 convolutions with ReLU is a small MLP at every pixel) and FC ≡ conv
// (a fully connected layer is a convolution). Each asks its own /api/pointwise endpoint and draws into
// its section; pointwise.js decides when, and passes a stale-answer token ({ stale() }).
import { decodeArray, postJSON } from "./api.js";
import { formatInt } from "./format.js";
import { CONFIG, plotlyReady, signedScale } from "./plots.js";
import { ninSVG } from "./pointwise_draw.js";

const $ = (id) => document.getElementById(id);

/** Pooling and a 1×1 on this input: what each keeps and what it costs. True once drawn. */
export async function showReduce(input, [cin, h, w], token) {
  let res;
  try { res = await postJSON("/api/pointwise/reduce", { input, include_output: false }); } catch (err) {
    if (!token.stale()) $("reduce").textContent = err.message;
    return false;
  }
  if (token.stale()) return false;
  $("reduce").innerHTML = res.map((r) => `<div class="work small reduce-card"><b>${r.name}</b><br>` +
    `[${cin}×${h}×${w}] → <b class="reduce-shape">[${r.output_shape.join("×")}]</b><br>` +
    `parameters: <b>${formatInt(r.params)}</b> · ${r.name.includes("pool") ? "comparisons" : "MACs"}: ${formatInt(r.work)}</div>`).join("");
  return true;
}

/** NiN's 1×1 stack at pixel (r, c), drawn as the MLP it is, with the engine's check. True once drawn. */
export async function showNin(input, widths, r, c, token) {
  let res;
  try {
    res = await postJSON("/api/pointwise/nin", { input, widths, row: r, col: c, include_output: false });
  } catch (err) {
    if (!token.stale()) $("nin-check").textContent = err.message;
    return false;
  }
  if (token.stale()) return false;
  $("nin-diagram").innerHTML = ninSVG(res, $("nin-diagram").clientWidth);
  $("nin-check").textContent = `pixel (${r}, ${c}) · output [${res.output_shape.join("×")}] · engine: max |1×1 conv stack − per-pixel MLP| = ${res.max_abs_conv_stack_vs_mlp.toExponential(2)}`;
  return true;
}

/** What is wrong with the FC sizes, in place of the old answer: its numbers and map are not these sizes'. */
export function showFcError(message) {
  $("fc-text").textContent = message;
  $("fc-text").className = "work small message error";
  if (window.Plotly) Plotly.purge($("fc-plot"));
}

/** FC ≡ conv for these sizes. An invalid size clears the old score map instead of leaving it up. */
export async function showFc(body, token) {
  let res;
  try { res = await postJSON("/api/pointwise/fc", body); } catch (err) {
    if (!token.stale()) showFcError(err.message);
    return;
  }
  if (token.stale()) return;
  const { block: k, outputs: o, size } = body;
  $("fc-text").className = "work small";
  $("fc-text").innerHTML = [
    `FC layer: ${res.inputs_formula} inputs → ${o} outputs; ${res.params_formula}.`,
    `The same weights as a ${k}×${k} convolution with ${o} filters: weight [${res.conv_weight_shape.join(", ")}].`,
    `On one ${k}×${k}×${body.channels} block: max |FC − conv| = <b id="fc-block">${res.max_abs_block.toExponential(2)}</b>`,
    `Slid over a ${size}×${size} input, the conv gives a map of scores [${res.score_map_shape.join("×")}] instead of one vector;`,
    `max |conv map − FC on each crop| = <b>${res.max_abs_map.toExponential(2)}</b>.`].join("<br>");
  const map = decodeArray(res.score_map)[0];
  const lim = Math.max(Math.abs(res.score_map.channel_min[0]), Math.abs(res.score_map.channel_max[0]));
  await plotlyReady();
  if (token.stale()) return;
  Plotly.react($("fc-plot"), [{ type: "heatmap", z: map, ...signedScale(lim), hovertemplate: "score 0 at (%{y}, %{x}) = %{z:.3f}<extra></extra>" }],
    { height: 260, margin: { t: 24, r: 8, b: 24, l: 32 }, title: { text: "score map, output 0", font: { size: 12 } },
      yaxis: { autorange: "reversed", scaleanchor: "x" } }, CONFIG);
}
