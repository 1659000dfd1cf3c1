// The cost lab: its keys, defaults, request and rendering; the shell (shell.js) keeps the state and the
// URL and sends each change at once, dropping stale answers. Every number comes from the API: /api/cost
// counts the designs (rows, formulas, the PyTorch module, the /conv request of each layer),
// /api/measure/compare times them in A/B pairs, /api/layer/check drives the groups slider and
// /api/architectures/* fills the paper tables.
import { getJSON, postJSON } from "./api.js";
import { createShell } from "./shell.js";
import { KEYS } from "./keys.js";
import { decodeDesigns, encodeDesigns, layerUrl } from "./links.js";
import { formatBytes, formatCount, formatInt } from "./format.js";
import { CONFIG, plotlyReady } from "./plots.js";
import { LayerEditor } from "./layer_editor.js";

const $ = (id) => document.getElementById(id);
const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const DEFAULTS = { preset: "seed", c: "", h: "", w: "", designs: "", repeats: "9", log: "0", gc: "16", gk: "3", groups: "0",
  arch: "googlenet", alpha: "1.0", resolution: "224" };
const CONTROLS = { preset: "preset", c: "in-c", h: "in-h", w: "in-w", repeats: { id: "repeats", apply: () => {} },
  log: { id: "log-scale", apply: () => chart() }, gc: { id: "g-c", apply: () => groupsView() },
  gk: { id: "g-k", apply: () => groupsView() }, groups: { id: "g-slider", apply: () => groupsView() },
  arch: { id: "arch", apply: () => archView() }, alpha: { id: "alpha", apply: () => archView() },
  resolution: { id: "resolution", apply: () => archView() } };

let presets = [], counted = null, measured = null, measuring = null;
const editors = [];

// designs in the URL: base64url JSON, encoded by links.js (the learn page links here with the same encoding)

const presetOf = (name) => presets.find((p) => p.name === name) || presets[0];

/** The designs shown: the edited ones from the URL, or the preset's. */
function currentDesigns(s) {
  if (s.designs) {
    try { return decodeDesigns(s.designs); } catch { /* a damaged link: fall back to the preset */ }
  }
  return presetOf(s.preset).designs.map((d) => ({ name: d.name, layers: d.layers }));
}

function inputShape(s) {
  const p = presetOf(s.preset).input_shape;
  return [+(s.c || p[0]), +(s.h || p[1]), +(s.w || p[2])];
}

function request(s) {
  return { input_shape: inputShape(s), designs: currentDesigns(s) };
}

/** A new preset brings its own input shape and designs. */
function onControl(name, value) {
  if (name !== "preset") return null;
  const [c, h, w] = presetOf(value).input_shape;
  showDesigns({ ...shell.state, preset: value, designs: "" });
  return { c, h, w, designs: null };
}

function showDesigns(s) {
  const p = presetOf(s.preset);
  $("preset-description").textContent = p.description;
  currentDesigns(s).forEach((d, i) => {
    $(`name-${i}`).value = d.name;
    editors[i].set(d.layers);
  });
}

function edited() {
  const designs = editors.map((ed, i) => ({ name: $(`name-${i}`).value || `design ${"AB"[i]}`, layers: ed.layers }));
  shell.set({ designs: encodeDesigns(designs) }, { load: true });
}

// ---- counted ----
async function render({ cost }) {
  counted = cost;
  measured = null;
  $("measured").replaceChildren();
  $("verdict").textContent = "";
  [0, 1].forEach((i) => {
    $(`table-${i}`).innerHTML = costTable(cost.designs[i], cost.input_shape);
    $(`code-${i}`).textContent = cost.designs[i].torch_code;
  });
  summary();
  await chart();
}

function costTable(d, shape) {
  const rows = d.rows.map((r) => {
    const link = r.convolve ? ` <a class="open" href="${esc(layerUrl(r.convolve))}">open</a>` : "";
    return `<tr title="${esc(r.formula)}"><td class="layer" style="padding-left:${0.4 + r.depth}rem">${r.branch != null ? `[${r.branch + 1}] ` : ""}${esc(r.name)}${link}</td>
    <td>${r.out_shape.join("×")}</td><td>${formatCount(r.params)}</td><td>${formatCount(r.macs)}</td><td>${formatBytes(r.activation_bytes)}</td>
    <td>${r.arithmetic_intensity.toFixed(1)}</td></tr>`;
  }).join("");
  return `<div class="scroll-x"><table class="cost"><caption>${esc(d.name)} on ${shape.join("×")}</caption>
    <thead><tr><th scope="col">layer (hover: formula)</th><th scope="col">output</th><th scope="col">params</th><th scope="col">MACs</th>
    <th scope="col">activations</th><th scope="col">MACs/byte</th></tr></thead>
    <tbody>${rows}<tr class="total"><td>total (FLOPs ${formatCount(d.flops)})</td><td>${d.out_shape.join("×")}</td><td>${formatCount(d.params)}</td>
    <td>${formatCount(d.macs)}</td><td>${formatBytes(d.activation_bytes)}</td><td></td></tr></tbody></table></div>`;
}

function summary() {
  const [a, b] = counted.designs;
  $("summary").innerHTML = `<span class="big" id="params-ratio">${counted.params_ratio[1].toFixed(2)}×</span> fewer parameters
    (${formatInt(a.params)} → ${formatInt(b.params)}) ·
    <span class="big" id="macs-ratio">${counted.macs_ratio[1].toFixed(2)}×</span> fewer MACs
    (${formatInt(a.macs)} → ${formatInt(b.macs)}) for “${esc(b.name)}” against “${esc(a.name)}”.`;
}

// ---- measured ----
async function measureBoth() {
  const token = shell.guard("measure")();
  measuring = new AbortController();
  $("measure").disabled = true;
  $("cancel").disabled = false;
  const n = +$("repeats").value;
  $("measure-status").textContent = `running ${n} A/B pairs (A B, then B A, …) on the server…`;
  try {
    const res = await postJSON("/api/measure/compare", { ...request(shell.state), repeats: n }, { signal: measuring.signal });
    if (token.stale()) return;
    measured = res;
    $("measure-status").textContent = "done";
    showMeasured();
  } catch (err) {
    $("measure-status").textContent = err.name === "AbortError" ? "cancelled" : `refused: ${err.message}`;
  } finally {
    $("measure").disabled = false;
    $("cancel").disabled = true;
    await chart();
  }
}

const ms = (v) => (v === null ? "—" : `${v.toFixed(2)} ms`);

function showMeasured() {
  const m = measured, [a, b] = m.designs, sp = m.speedup;
  const verdict = $("verdict");
  verdict.textContent = m.verdict;
  verdict.className = `message ${m.trusted ? "ok" : "error"}`;
  const layerRows = (d) => d.layers.map((l) => `<tr><td>${esc(l.name)}</td><td>${l.median_ms === null ? "—" : l.median_ms.toFixed(2)}</td>
    <td>${l.gmacs_per_s === null ? "—" : l.gmacs_per_s.toFixed(1)}</td><td>${l.arithmetic_intensity.toFixed(1)}</td></tr>`).join("");
  const head = sp ? `<p><span class="big" id="speedup">${sp.median.toFixed(2)}×</span> measured speed-up, the median of
    ${m.pairs} A/B pairs; the middle half of the pairs lies between <b id="speedup-q1">${sp.q1.toFixed(2)}×</b> and
    <b id="speedup-q3">${sp.q3.toFixed(2)}×</b> (IQR ${sp.iqr_pct.toFixed(0)} % of the median). A: ${ms(a.median_ms)}
    [${ms(a.q1_ms)} – ${ms(a.q3_ms)}], B: ${ms(b.median_ms)} [${ms(b.q1_ms)} – ${ms(b.q3_ms)}]. Counted: <b>${counted.macs_ratio[1].toFixed(2)}×</b>
    fewer MACs, <b>${counted.params_ratio[1].toFixed(2)}×</b> fewer parameters.</p>` : "<p>No complete A/B pair.</p>";
  $("measured").innerHTML = `${head}
    <p class="small muted">Where the measured speed-up falls short of the MAC ratio, look at MACs/byte: layers with low
    arithmetic intensity wait on memory, not on arithmetic.</p>
    <div class="grid2">${m.designs.map((d) => `<div class="scroll-x"><table class="cost"><caption>${esc(d.name)}: median per layer</caption>
      <thead><tr><th scope="col">layer</th><th scope="col">ms</th><th scope="col">GMAC/s</th><th scope="col">MACs/byte</th></tr></thead>
      <tbody>${layerRows(d)}</tbody></table></div>`).join("")}</div>`;
}

async function chart() {
  if (!counted) return;
  await plotlyReady();
  const names = counted.designs.map((d) => d.name);
  const norm = (vals) => { const top = Math.max(...vals) || 1; return vals.map((v) => v / top); };
  const traces = [
    { type: "bar", name: "params", x: names, y: norm(counted.designs.map((d) => d.params)), text: counted.designs.map((d) => formatCount(d.params)) },
    { type: "bar", name: "MACs", x: names, y: norm(counted.designs.map((d) => d.macs)), text: counted.designs.map((d) => formatCount(d.macs)) },
  ];
  const timed = measured?.designs;
  if (timed && timed.every((d) => d.median_ms !== null)) {
    // the median time on the same scale as the counts (the larger design's = 1), so counted and measured
    // savings read side by side; the quartile bars may reach above 1
    const top = Math.max(...timed.map((d) => d.median_ms)) || 1;
    traces.push({ type: "bar", name: "measured time (bars: quartiles)", x: names, y: timed.map((d) => d.median_ms / top),
      text: timed.map((d) => `${d.median_ms.toFixed(1)} ms`),
      error_y: { type: "data", symmetric: false, array: timed.map((d) => (d.q3_ms - d.median_ms) / top),
        arrayminus: timed.map((d) => (d.median_ms - d.q1_ms) / top) } });
  }
  // Plotly 4 takes an axis title as {text}: a plain string is dropped and the axis went unnamed
  Plotly.react($("chart"), traces, { barmode: "group", height: 320, margin: { t: 20, r: 10, b: 40, l: 50 }, font: { size: 12 },
    yaxis: { title: { text: "relative to the larger design (= 1)" }, type: $("log-scale").checked ? "log" : "linear" } }, CONFIG);
}

// ---- standard → grouped → depthwise ----
const groupsToken = () => shell.guard("groups")();

async function groupsView() {
  const token = groupsToken();
  const c = Math.max(1, Math.min(256, +$("g-c").value || 16)), k = +$("g-k").value || 3;
  const body = { input: { kind: "random", shape: [c, 28, 28] }, layer: { out_channels: c, kernel_size: k, padding: Math.floor(k / 2), bias: false } };
  const base = await postJSON("/api/layer/check", body);  // the API lists the groups this layer allows
  if (token.stale()) return;
  const opts = base.allowed_groups || [1];
  const at = Math.min(+shell.state.groups || 0, opts.length - 1);  // the state, not the slider: a link's
  $("g-slider").max = opts.length - 1;                                // value was clamped to the old max
  $("g-slider").value = at;
  const g = opts[at];
  $("g-value").textContent = `groups = ${g}${g === 1 ? " (standard)" : g === c ? " (depthwise)" : " (grouped)"}`;
  const res = await postJSON("/api/layer/check", { ...body, layer: { ...body.layer, groups: g } });
  if (token.stale()) return;
  if (!res.valid) { $("g-text").textContent = res.error.message; return; }
  $("g-text").textContent = [res.formulas.params, res.formulas.macs, "", res.formulas.torch].join("\n");
  $("g-text").dataset.params = res.cost.params;
  await plotlyReady();
  const z = res.connectivity.map((ins) => Array.from({ length: c }, (_, i) => (ins.includes(i) ? 1 : 0)));
  Plotly.react($("g-plot"), [{ type: "heatmap", z, zmin: 0, zmax: 1, colorscale: [[0, "#f4f6fa"], [1, "#2f6fde"]], showscale: false, xgap: 1, ygap: 1,
    hovertemplate: "output %{y} ← input %{x}<extra></extra>" }], { height: 300, margin: { t: 24, r: 8, b: 44, l: 56 },
    font: { size: 12 }, title: { text: "input channels (x) feeding each output channel (y)", font: { size: 12 } },
    yaxis: { autorange: "reversed", title: { text: "output channel" } }, xaxis: { title: { text: "input channel" } } }, CONFIG);
}

// ---- the papers' architectures ----
async function archView() {
  const token = shell.guard("arch")();
  const name = $("arch").value;
  document.querySelectorAll(".mobilenet-only").forEach((e) => { e.hidden = name !== "mobilenet"; });
  const q = name === "mobilenet" ? `?alpha=${$("alpha").value}&resolution=${$("resolution").value}` : "";
  const a = await getJSON(`/api/architectures/${name}${q}`);
  if (token.stale()) return;
  const printedTotals = Object.values(a.printed_totals).map((p) => `paper: ${esc(p.text)} (${esc(p.source)})`).join(" · ");
  $("arch-summary").innerHTML = `<b>${esc(a.title)}</b>: <span id="arch-params">${formatInt(a.params)}</span> parameters,
    <span id="arch-macs">${formatInt(a.macs)}</span> MACs (${formatCount(a.macs)}). ${printedTotals}`;
  const paper = a.paper_by_kind || {};
  $("arch-kinds").innerHTML = `<div class="scroll-x"><table class="cost"><caption>by layer type</caption><thead><tr><th scope="col">layer type</th><th scope="col">MACs %</th><th scope="col">params %</th>${a.paper_by_kind ? '<th scope="col">paper MACs %</th><th scope="col">paper params %</th>' : ""}</tr></thead><tbody>
    ${a.by_kind.filter((k) => k.params || k.macs).map((k) => `<tr><td>${esc(k.kind)}</td><td>${k.macs_pct.toFixed(2)}</td><td>${k.params_pct.toFixed(2)}</td>
    ${a.paper_by_kind ? `<td>${paper[k.kind]?.[0] ?? ""}</td><td>${paper[k.kind]?.[1] ?? ""}</td>` : ""}</tr>`).join("")}</tbody></table></div>`;
  $("arch-table").innerHTML = `<div class="scroll-x"><table class="cost"><caption>per row of the paper's table</caption><thead><tr><th scope="col">row</th><th scope="col">output</th><th scope="col">params</th><th scope="col">paper</th><th scope="col">MACs</th><th scope="col">paper</th><th scope="col">note</th></tr></thead><tbody>
    ${a.rows.map((r) => `<tr><td>${esc(r.name)}</td><td>${r.out_shape.join("×")}</td><td>${formatInt(r.params)}</td><td>${esc(r.printed_params ?? "")}</td>
    <td>${formatCount(r.macs)}</td><td>${esc(r.printed_macs ?? "")}</td><td class="note">${r.note ? `misprint? ${esc(r.note)}` : ""}</td></tr>`).join("")}</tbody></table></div>`;
  $("arch-notes").innerHTML = a.notes.map((n) => `<p>${esc(n)}</p>`).join("");
}

const shell = createShell({ page: "cost", keys: KEYS.cost, defaults: DEFAULTS, controls: CONTROLS,
  check: () => ({ valid: true }),  // no single layer to check: /api/cost explains a bad design itself
  request, onControl, run: async (body, ctx) => ({ cost: await postJSON("/api/cost", body, { signal: ctx.signal }) }), render });

async function init() {
  presets = await getJSON("/api/comparisons");
  $("preset").replaceChildren(...presets.map((p) => Object.assign(document.createElement("option"), { value: p.name, textContent: p.title })));
  const archs = await getJSON("/api/architectures");
  $("arch").replaceChildren(...archs.map((a) => Object.assign(document.createElement("option"), { value: a.name, textContent: a.title })));
  const [c, h, w] = inputShape(shell.state);
  shell.set({ c, h, w }, { touch: shell.touched("c") });  // the preset's shape fills the fields
  [0, 1].forEach((i) => {
    editors[i] = new LayerEditor($(`editor-${i}`), { label: `design ${"AB"[i]}`, onChange: edited });
    $(`name-${i}`).addEventListener("input", edited);
  });
  showDesigns(shell.state);
  $("measure").addEventListener("click", measureBoth);
  $("cancel").addEventListener("click", () => measuring?.abort());
  await shell.start();
  await Promise.all([groupsView(), archView()]);
}

init();
