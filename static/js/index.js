// The home page: one live convolution, so a first visit shows the engine working, and the sample cards
// as links into /conv on that sample (built by links.js). The shell (shell.js) runs the load: the
// layer check, the convolution and the ready hook; this script keeps its request and its drawing.
import { decodeArray } from "./api.js";
import { createShell } from "./shell.js";
import { convUrl } from "./links.js";
import { formatInt } from "./format.js";
import { CONFIG, plotlyReady, signedScale } from "./plots.js";

const DEMO = { input: { kind: "sample", name: "edges" }, layer: { padding: 1 }, weights: { kind: "preset", name: "sobel_x" } };

async function render({ check, conv }, ctx) {
  const [out] = decodeArray(conv.output);
  const lim = Math.max(Math.abs(conv.output.channel_min[0]), Math.abs(conv.output.channel_max[0]));
  document.getElementById("demo-caption").textContent =
    `input [${conv.input.shape.join("×")}] → output [${conv.output_shape.join("×")}], ` +
    `${formatInt(check.cost.macs)} MACs, engine ${conv.engine_ms.toFixed(2)} ms`;
  // what a class asks first: the colours, and the lines down the borders (the zeros of the padding
  // around the grey background make an edge of their own)
  const [left, right] = check.layer.padding[1]; // along W: (before, after)
  document.getElementById("demo-reading").textContent = "Blue: brighter to the right (Sobel-x is right minus left); " +
    "red: brighter to the left; white: no change." + (left || right ? ` The lines down the left and right borders come ` +
    `from padding ${left === right ? left : `${left} left, ${right} right`}: the zeros around the picture are an ` +
    "edge against its grey background." : "");
  await plotlyReady();
  if (ctx.isStale()) return;
  await Plotly.react("demo", [{ z: out, type: "heatmap", ...signedScale(lim), hovertemplate: "(%{y}, %{x}) = %{z:.3f}<extra></extra>" }],
    { margin: { t: 10, r: 10, b: 30, l: 40 }, xaxis: { constrain: "domain" }, yaxis: { autorange: "reversed", scaleanchor: "x", constrain: "domain" }, height: 360 }, CONFIG);
  document.body.dataset.demoReady = "1";
}

const shell = createShell({
  page: "home", keys: {}, defaults: {}, request: () => DEMO, render,
  onInvalid: (check) => { document.getElementById("demo-caption").textContent = `demo failed: ${check.error.message}`; },
});

for (const card of document.querySelectorAll("#samples a.sample")) {
  card.href = convUrl({ input: { kind: "sample", name: card.dataset.name } });
}
shell.start();
