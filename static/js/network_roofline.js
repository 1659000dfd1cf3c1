// /network's roofline chart: each layer's measured MACs/s against its arithmetic intensity, under the
// roofs (GEMM peak, copy bandwidth) this server measured; every number is the API's (POST /run).
import { formatBytes, formatCount } from "./format.js";
import { CONFIG, plotlyReady } from "./plots.js";

const $ = (id) => document.getElementById(id);

/** The chart of each layer's measured speed against its MACs per byte, under this server's roofline. */
export async function renderRoofline(run, detail) {
  const roof = run.roofline, el = $("roofline-chart");
  if (!roof) return;
  const g = (v) => v / 1e9;
  const timed = run.layers.filter((l) => l.macs_per_s);
  const memory = timed.filter((l) => l.bound === "memory").length;
  $("roofline-note").textContent = `This server, measured once when it started running models: float32 GEMM peak `
    + `${g(roof.peak_macs_per_s).toFixed(1)} GMAC/s (${roof.gemm_n}×${roof.gemm_n} matrices, best on ${roof.gemm_threads} `
    + `BLAS thread${roof.gemm_threads === 1 ? "" : "s"}; the engine uses ${roof.threads}), memory bandwidth ${g(roof.bandwidth_bytes_per_s).toFixed(1)} GB/s `
    + `(${formatBytes(roof.copy_bytes)} copied); they meet at ${roof.ridge_macs_per_byte.toFixed(2)} MACs per byte. `
    + `${memory} of ${timed.length} layers with MACs lie left of it: bound by memory traffic, not arithmetic. `
    + `A point far below the roof is overhead (Python, small arrays, a loaded machine), not either bound.`;
  const trace = (pw) => {
    const ls = timed.filter((l) => Boolean(detail.layers[l.index]?.is_1x1) === pw);
    return { type: "scatter", mode: "markers", name: pw ? "1×1 convolution" : "other layer",
      x: ls.map((l) => l.macs_per_byte), y: ls.map((l) => g(l.macs_per_s)),
      text: ls.map((l) => `${l.name} (${l.op})<br>${formatCount(l.macs)} MACs in ${l.time_ms.toFixed(3)} ms<br>${l.bound}-bound`),
      hoverinfo: "text", marker: pw ? { symbol: "diamond", size: 11, color: "#c05a00" } : { symbol: "circle", size: 9, color: "#2f6fde" } };
  };
  const line = { type: "scatter", mode: "lines", name: "roofline (attainable)", x: roof.curve.map((p) => p[0]),
    y: roof.curve.map((p) => g(p[1])), line: { color: "#333", width: 2 }, hoverinfo: "skip" };
  await plotlyReady();
  Plotly.react(el, [line, trace(false), trace(true)], { height: 340, margin: { t: 10, r: 10, b: 50, l: 60 }, font: { size: 12 },
    legend: { orientation: "h", y: -0.25 },
    // dtick 1: labels at powers of ten only (Plotly draws the 2…9 in between smaller than 11 px)
    xaxis: { type: "log", dtick: 1, title: { text: "MACs per byte (arithmetic intensity)" } },
    yaxis: { type: "log", dtick: 1, title: { text: "GMAC/s (measured)" } } }, CONFIG);
}
