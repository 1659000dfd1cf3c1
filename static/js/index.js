// Home page: one live convolution, so a first visit shows the engine working.
import { postFrame, decodeArray } from "./api.js";
import { plotlyReady, signedScale } from "./plots.js";

async function demo() {
  const res = await postFrame("/api/convolve", {
    input: { kind: "sample", name: "edges" },
    layer: { padding: 1 },
    weights: { kind: "preset", name: "sobel_x" },
  });
  const [out] = decodeArray(res.output);
  await plotlyReady();
  const lim = Math.max(Math.abs(res.output.channel_min[0]), Math.abs(res.output.channel_max[0]));
  Plotly.newPlot("demo", [{ z: out, type: "heatmap", ...signedScale(lim) }],
    { margin: { t: 10, r: 10, b: 30, l: 40 }, xaxis: { constrain: "domain" }, yaxis: { autorange: "reversed", scaleanchor: "x", constrain: "domain" }, height: 360 },
    { displaylogo: false, responsive: true });
  document.getElementById("demo-caption").textContent =
    `input [${res.input.shape.join("×")}] → output [${res.output_shape.join("×")}], ` +
    `${res.cost.macs.toLocaleString()} MACs, engine ${res.engine_ms.toFixed(2)} ms`;
  document.body.dataset.demoReady = "1";
}

demo().catch((err) => {
  document.getElementById("demo-caption").textContent = `demo failed: ${err.message}`;
});
