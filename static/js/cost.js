// Cost lab. Designs are JSON in the text areas; /api/cost counts them, /api/measure times them,
// /api/layer/check drives the groups slider, /api/architectures/* fills the paper tables.
import { postJSON } from "./api.js";
import { formatBytes, formatCount } from "./format.js";
import { CONFIG, plotlyReady } from "./plots.js";
import { readState, writeState } from "./urlstate.js";

plotlyReady();
const $ = (id) => document.getElementById(id);
const state = { preset: "seed", ...Object.fromEntries(new URLSearchParams(location.search)) };
let presets = [], counted = null, measured = [], abort = null, debounce = null;

function save() {
  const q = new URLSearchParams();
  for (const k of ["preset", "c", "h", "w", "arch", "alpha", "resolution", "groups", "gc"]) if (state[k]) q.set(k, state[k]);
  if (state.edited) { q.set("d0", $("design-0").value); q.set("d1", $("design-1").value); }
  history.replaceState(null, "", `${location.pathname}?${q}`);
}

function designs() {
  return [0, 1].map((i) => ({ name: $(`name-${i}`).textContent, layers: JSON.parse($(`design-${i}`).value) }));
}

function inputShape() { return [+$("in-c").value, +$("in-h").value, +$("in-w").value]; }

function applyPreset(name, keepDesigns = false) {
  const p = presets.find((x) => x.name === name) || presets[0];
  state.preset = p.name;
  $("preset").value = p.name;
  $("preset-description").textContent = p.description;
  if (!keepDesigns) {
    [$("in-c").value, $("in-h").value, $("in-w").value] = p.input_shape;
    p.designs.forEach((d, i) => { $(`design-${i}`).value = JSON.stringify(d.layers, null, 1); });
  }
  p.designs.forEach((d, i) => { $(`name-${i}`).textContent = d.name; });
}

async function count() {
  measured = [];
  $("measured").innerHTML = "";
  let body;
  try { body = { input_shape: inputShape(), designs: designs() }; } catch (err) {
    return showError(`the design is not valid JSON: ${err.message}`);
  }
  try {
    counted = await postJSON("/api/cost", body);
  } catch (err) { return showError(err.message); }
  $("cost-message").textContent = "";
  $("cost-message").className = "message";
  [0, 1].forEach((i) => {
    $(`table-${i}`).innerHTML = costTable(counted.designs[i]);
    $(`code-${i}`).textContent = torchCode(counted.designs[i]);
  });
  summary();
  chart();
  save();
  document.body.dataset.counted = String(+(document.body.dataset.counted || 0) + 1);
}

function showError(text) {
  $("cost-message").textContent = text;
  $("cost-message").className = "message error";
}

function costTable(d) {
  const rows = d.rows.map((r) => `<tr title="${r.formula}"><td>${"&nbsp;&nbsp;".repeat(r.depth)}${r.branch != null ? `[${r.branch}] ` : ""}${r.name}</td>
    <td>${r.out_shape.join("×")}</td><td>${formatCount(r.params)}</td><td>${formatCount(r.macs)}</td><td>${formatCount(r.flops)}</td><td>${formatBytes(r.activation_bytes)}</td>
    <td>${r.arithmetic_intensity.toFixed(1)}</td></tr>`).join("");
  return `<table class="cost"><thead><tr><th>layer (hover: formula)</th><th>output</th><th>params</th><th>MACs</th><th>FLOPs</th><th>activations</th><th>MACs/byte</th></tr></thead>
    <tbody>${rows}<tr class="total"><td>total</td><td>${d.out_shape.join("×")}</td><td>${formatCount(d.params)}</td><td>${formatCount(d.macs)}</td>
    <td>${formatCount(d.flops)}</td><td>${formatBytes(d.activation_bytes)}</td><td></td></tr></tbody></table>`;
}

function summary() {
  const [a, b] = counted.designs;
  $("summary").innerHTML = `<span class="big" id="params-ratio">${counted.params_ratio[1].toFixed(2)}×</span> fewer parameters
    (${a.params.toLocaleString()} → ${b.params.toLocaleString()}) ·
    <span class="big" id="macs-ratio">${counted.macs_ratio[1].toFixed(2)}×</span> fewer MACs
    (${a.macs.toLocaleString()} → ${b.macs.toLocaleString()}) for “${b.name}” against “${a.name}”.`;
}

function torchCode(d) {
  return `nn.Sequential(  # ${d.name}\n${d.rows.map((r) => `${"    ".repeat(r.depth + 1)}${r.branch != null ? `# branch ${r.branch}: ` : ""}${r.torch},`).join("\n")}\n)`;
}

async function measureBoth() {
  abort = new AbortController();
  $("measure").disabled = true;
  $("cancel").disabled = false;
  measured = [];
  const list = designs(), shape = inputShape();
  $("progress").max = list.length;
  $("progress").value = 0;
  try {
    for (const [i, design] of list.entries()) {
      $("measure-status").textContent = `running “${design.name}” (${i + 1}/${list.length})…`;
      const res = await fetch("/api/measure", { method: "POST", signal: abort.signal, headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ input_shape: shape, design, repeats: +$("repeats").value }) });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error?.message || res.status);
      measured.push(body);
      $("progress").value = i + 1;
    }
    $("measure-status").textContent = "done";
    showMeasured();
  } catch (err) {
    $("measure-status").textContent = err.name === "AbortError" ? "cancelled" : `refused: ${err.message}`;
  } finally {
    $("measure").disabled = false;
    $("cancel").disabled = true;
    chart();
  }
}

function showMeasured() {
  const [a, b] = measured;
  const speedup = a.median_ms / b.median_ms;
  const layerRows = (m) => m.layers.map((l) => `<tr><td>${l.name}</td><td>${l.median_ms.toFixed(2)}</td><td>${(l.gmacs_per_s).toFixed(1)}</td>
    <td>${l.arithmetic_intensity.toFixed(1)}</td></tr>`).join("");
  $("measured").innerHTML = `<p><span class="big" id="speedup">${speedup.toFixed(2)}×</span> measured speed-up
    (${a.median_ms.toFixed(2)} ms → ${b.median_ms.toFixed(2)} ms, medians of ${a.runs} and ${b.runs} runs${a.truncated || b.truncated ? ", cut short by the time budget" : ""})
    beside <b>${counted.macs_ratio[1].toFixed(2)}×</b> fewer MACs and <b>${counted.params_ratio[1].toFixed(2)}×</b> fewer parameters.</p>
    <p class="small muted">Where the measured speed-up falls short of the MAC ratio, look at MACs/byte: layers with low arithmetic
    intensity wait on memory, not on arithmetic.</p>
    <div class="grid2">${measured.map((m) => `<table class="cost"><thead><tr><th>${m.name}</th><th>ms</th><th>GMAC/s</th><th>MACs/byte</th></tr></thead>
      <tbody>${layerRows(m)}</tbody></table>`).join("")}</div>`;
}

async function chart() {
  if (!counted) return;
  await plotlyReady();
  const names = counted.designs.map((d) => d.name);
  const norm = (vals) => vals.map((v) => v / Math.max(...vals));
  const traces = [
    { type: "bar", name: "params", x: names, y: norm(counted.designs.map((d) => d.params)), text: counted.designs.map((d) => formatCount(d.params)) },
    { type: "bar", name: "MACs", x: names, y: norm(counted.designs.map((d) => d.macs)), text: counted.designs.map((d) => formatCount(d.macs)) },
  ];
  if (measured.length === 2) traces.push({ type: "bar", name: "measured time", x: names, y: norm(measured.map((m) => m.median_ms)),
    text: measured.map((m) => `${m.median_ms.toFixed(1)} ms`) });
  Plotly.react($("chart"), traces, { barmode: "group", height: 320, margin: { t: 20, r: 10, b: 40, l: 50 },
    yaxis: { title: "relative to the larger design", type: $("log-scale").checked ? "log" : "linear" } }, CONFIG);
}

function divisors(n) { return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0); }

async function groupsView() {
  const c = Math.max(1, Math.min(256, +$("g-c").value || 16)), k = +$("g-k").value || 3;
  const opts = divisors(c);
  $("g-slider").max = opts.length - 1;
  const g = opts[Math.min(+$("g-slider").value, opts.length - 1)];
  $("g-value").textContent = `groups = ${g}${g === 1 ? " (standard)" : g === c ? " (depthwise)" : " (grouped)"}`;
  const res = await postJSON("/api/layer/check", { input: { kind: "random", shape: [c, 28, 28] },
    layer: { out_channels: c, kernel_size: k, padding: Math.floor(k / 2), groups: g, bias: false } });
  if (!res.valid) { $("g-text").textContent = res.error.message; return; }
  $("g-text").textContent = [res.formulas.params, res.formulas.macs, "", res.formulas.torch].join("\n");
  $("g-text").dataset.params = res.cost.params;
  await plotlyReady();
  const z = res.connectivity.map((ins) => Array.from({ length: c }, (_, i) => (ins.includes(i) ? 1 : 0)));
  Plotly.react($("g-plot"), [{ type: "heatmap", z, colorscale: [[0, "#f4f6fa"], [1, "#2f6fde"]], showscale: false, xgap: 1, ygap: 1,
    hovertemplate: "output %{y} ← input %{x}<extra></extra>" }], { height: 300, margin: { t: 24, r: 8, b: 36, l: 48 },
    title: { text: "input channels (x) feeding each output channel (y)", font: { size: 12 } },
    yaxis: { autorange: "reversed", title: "output" }, xaxis: { title: "input" } }, CONFIG);
  Object.assign(state, { groups: String($("g-slider").value), gc: String(c) });
  save();
}

async function archView() {
  const name = $("arch").value;
  document.querySelectorAll(".mobilenet-only").forEach((el) => { el.hidden = name !== "mobilenet"; });
  const q = name === "mobilenet" ? `?alpha=${$("alpha").value}&resolution=${$("resolution").value}` : "";
  const a = await (await fetch(`/api/architectures/${name}${q}`)).json();
  const printedTotals = Object.entries(a.printed_totals).map(([k, p]) => `paper: ${p.text} (${p.source})`).join(" · ");
  $("arch-summary").innerHTML = `<b>${a.title}</b>: <span id="arch-params">${a.params.toLocaleString()}</span> parameters,
    <span id="arch-macs">${a.macs.toLocaleString()}</span> MACs (${formatCount(a.macs)}). ${printedTotals}`;
  const paper = a.paper_by_kind || {};
  $("arch-kinds").innerHTML = `<table class="cost"><thead><tr><th>layer type</th><th>MACs %</th><th>params %</th>${a.paper_by_kind ? "<th>paper MACs %</th><th>paper params %</th>" : ""}</tr></thead><tbody>
    ${a.by_kind.filter((k) => k.params || k.macs).map((k) => `<tr><td>${k.kind}</td><td>${k.macs_pct.toFixed(2)}</td><td>${k.params_pct.toFixed(2)}</td>
    ${a.paper_by_kind ? `<td>${paper[k.kind]?.[0] ?? ""}</td><td>${paper[k.kind]?.[1] ?? ""}</td>` : ""}</tr>`).join("")}</tbody></table>`;
  $("arch-table").innerHTML = `<table class="cost"><thead><tr><th>row</th><th>output</th><th>params</th><th>paper</th><th>MACs</th><th>paper</th><th></th></tr></thead><tbody>
    ${a.rows.map((r) => `<tr><td>${r.name}</td><td>${r.out_shape.join("×")}</td><td>${r.params.toLocaleString()}</td><td>${r.printed_params ?? ""}</td>
    <td>${formatCount(r.macs)}</td><td>${r.printed_macs ?? ""}</td><td class="note">${r.note ? `misprint? ${r.note}` : ""}</td></tr>`).join("")}</tbody></table>`;
  $("arch-notes").innerHTML = a.notes.map((n) => `<p>${n}</p>`).join("");
  Object.assign(state, { arch: name, alpha: $("alpha").value, resolution: $("resolution").value });
  save();
}

async function init() {
  presets = await (await fetch("/api/comparisons")).json();
  $("preset").innerHTML = presets.map((p) => `<option value="${p.name}">${p.title}</option>`).join("");
  applyPreset(state.preset);
  if (state.c) [$("in-c").value, $("in-h").value, $("in-w").value] = [state.c, state.h, state.w];
  if (state.d0) { $("design-0").value = state.d0; $("design-1").value = state.d1; state.edited = true; }
  const archs = await (await fetch("/api/architectures")).json();
  $("arch").innerHTML = archs.map((a) => `<option value="${a.name}">${a.title}</option>`).join("");
  if (state.arch) $("arch").value = state.arch;
  if (state.alpha) $("alpha").value = state.alpha;
  if (state.resolution) $("resolution").value = state.resolution;
  if (state.gc) $("g-c").value = state.gc;
  $("preset").addEventListener("change", () => { state.edited = false; applyPreset($("preset").value); count(); });
  for (const id of ["in-c", "in-h", "in-w"]) $(id).addEventListener("change", () => {
    Object.assign(state, { c: $("in-c").value, h: $("in-h").value, w: $("in-w").value });
    count();
  });
  for (const i of [0, 1]) $(`design-${i}`).addEventListener("input", () => {
    state.edited = true;
    clearTimeout(debounce);
    debounce = setTimeout(count, 400);
  });
  $("measure").addEventListener("click", measureBoth);
  $("cancel").addEventListener("click", () => abort?.abort());
  $("log-scale").addEventListener("change", chart);
  for (const id of ["g-c", "g-k", "g-slider"]) $(id).addEventListener("input", groupsView);
  for (const id of ["arch", "alpha", "resolution"]) $(id).addEventListener("change", archView);
  await count();
  const opts = divisors(+$("g-c").value);
  $("g-slider").max = opts.length - 1;
  $("g-slider").value = state.groups ?? 0;
  await Promise.all([groupsView(), archView()]);
  document.body.dataset.ready = "1";
}

init();
