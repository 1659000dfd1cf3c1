// /learn steps 6–9: pooling vs a 1×1 (/api/pointwise/reduce), Network in Network (/api/pointwise/nin),
// a fully connected layer as a convolution (/api/pointwise/fc, and /api/receptive for the field that a
// following 1×1 does not grow), and the quiz, checked against /api/layer/check and /api/cost.
import { decodeArray, getJSON, postJSON } from "../api.js";
import { costUrl, pageUrl } from "../links.js";
import { stringToSpec } from "../inputs.js";
import { formatInt } from "../format.js";
import { ninSVG } from "../pointwise_draw.js";
import { esc, num, paint, paintOne, pixelAt, placeBox, shapeText } from "../learn_draw.js";

const $ = (id) => document.getElementById(id);
let samples = null;  // GET /api/samples: each sample's shape
const sampleShape = async (name) => (samples ??= await getJSON("/api/samples")).find((s) => s.name === name).shape;

/** A sample's picture in a canvas at one canvas pixel per input pixel (the preview PNG is the tensor's size). */
function drawSample(canvas, name) {
  return new Promise((resolve, reject) => {
    if (canvas.dataset.sample === name) return resolve();
    const img = new Image();
    img.onload = () => {
      [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
      canvas.getContext("2d").drawImage(img, 0, 0);
      canvas.dataset.sample = name;
      resolve();
    };
    img.onerror = () => reject(new Error(`could not load the picture of ${name}`));
    img.src = `/api/samples/${name}/preview.png`;
  });
}

// ---- step 6: the same input, pooled (H, W shrink) and through a 1×1 (C shrinks) ----
const REDUCTION = 4;  // the 1×1 maps C → max(1, C // 4)
export const pooling = {
  id: "pooling",
  keys: { poolK: { id: "c6-pool", value: "2" }, poolInput: { id: "c6-input", value: "sample:colour" } },
  link: (s) => `${pageUrl("pointwise", { input: s.poolInput })}#pooling`, // that section of the page
  async load(s, env) {
    const input = stringToSpec(s.poolInput);
    const [res, shape] = await Promise.all([
      postJSON("/api/pointwise/reduce", { input, reduction: REDUCTION, pool: +s.poolK, include_output: true }),
      sampleShape(input.name)]);
    if (env.stale()) return;
    const fig = $("c6-figure");
    const card = (id, title, shapeHTML, note) => `<figure class="reduce-card"><canvas id="${id}" class="pic"></canvas>
      <figcaption><b>${esc(title)}</b><br>${shapeHTML}${note ? `<br><span class="small muted">${note}</span>` : ""}</figcaption></figure>`;
    const [conv, pool] = res;
    fig.innerHTML = card("c6-in-pic", "input", `C×H×W = <span id="c6-in-shape">${shapeText(shape)}</span>`) +
      card("c6-conv-pic", conv.name, `<span id="c6-conv-shape">${shapeText(conv.output_shape)}</span>: C changes, H and W stay`,
        `${formatInt(conv.params)} weights, ${formatInt(conv.work)} MACs; channel 0 shown`) +
      card("c6-pool-pic", pool.name, `<span id="c6-pool-shape">${shapeText(pool.output_shape)}</span>: H and W shrink, C stays`,
        `${formatInt(pool.params)} weights, ${formatInt(pool.work)} comparisons`);
    await drawSample($("c6-in-pic"), input.name);
    paintOne($("c6-conv-pic"), decodeArray(conv.output)[0], conv.output);
    paint($("c6-pool-pic"), decodeArray(pool.output), pool.output);
    $("c6-link").href = pooling.link(s);
  },
};

// ---- step 7: two 1×1 + ReLU layers drawn as neurons, with one pixel's activations ----
export const nin = {
  id: "nin",
  keys: { ninRow: { id: "c7-row", value: "28" }, ninCol: { id: "c7-col", value: "21" }, ninWidths: { id: "c7-widths", value: "8,4" } },
  async load(s, env) {
    const input = { kind: "sample", name: "colour" }, [, h, w] = await sampleShape("colour");
    const r = Math.max(0, Math.min(h - 1, +s.ninRow)), c = Math.max(0, Math.min(w - 1, +s.ninCol));
    const res = await postJSON("/api/pointwise/nin", { input, widths: s.ninWidths.split(",").map(Number), row: r, col: c, include_output: false });
    if (env.stale()) return;
    const canvas = $("c7-input");
    await drawSample(canvas, "colour");
    Object.assign(canvas.dataset, { r, c });
    placeBox($("c7-pixel"), canvas, r, c);
    $("c7-mlp").innerHTML = ninSVG(res, $("c7-mlp").clientWidth);
    $("c7-check").innerHTML = `pixel (${r}, ${c}): input ${shapeText([res.input_at_pixel.length])} → ` +
      res.layers.map((l) => `1×1 conv ${l.in_channels}→${l.out_channels} + ReLU`).join(" → ") +
      `; checked by the engine over the whole ${shapeText(res.output_shape)} output: max |conv stack − MLP at every pixel| = ` +
      num("c7-diff", res.max_abs_conv_stack_vs_mlp, res.max_abs_conv_stack_vs_mlp.toExponential(2));
    $("c7-link").href = `${pageUrl("pointwise", { input: "sample:colour", ninWidths: s.ninWidths, step: r * w + c })}#nin`;
    if (!canvas.dataset.wired) {
      canvas.dataset.wired = "1";
      canvas.addEventListener("click", (e) => {
        const p = pixelAt(canvas, e);
        if (p) { env.set({ ninRow: p[0], ninCol: p[1] }); env.reload(); }
      });
    }
  },
};

// ---- step 8: FC on a k×k×C block = a k×k conv; slid, a score map; a 1×1 after it keeps the field ----
const FC = { channels: 4, outputs: 10 };
export const fc = {
  id: "fc",
  keys: { fcBlock: { id: "c8-block", value: "8" }, fcSize: { id: "c8-size", value: "14" } },
  link: (s) => `${pageUrl("pointwise", { fcChannels: FC.channels, fcBlock: +s.fcBlock, fcOutputs: FC.outputs, fcSize: +s.fcSize })}#fc`,
  async load(s, env) {
    const k = +s.fcBlock, size = +s.fcSize;
    $("c8-size").min = k;  // the larger input holds at least one block: a smaller side is never sent
    const design = { layers: [{ op: "conv", out: FC.outputs, k, name: `${k}×${k} conv (the FC layer)` }, { op: "relu" },
      { op: "conv", out: FC.outputs, k: 1, name: "1×1 conv" }] };
    const [res, field] = await Promise.all([
      postJSON("/api/pointwise/fc", { ...FC, block: k, size }),
      postJSON("/api/receptive", { input: { kind: "random", shape: [FC.channels, size, size] }, design })]);
    if (env.stale()) return;
    $("c8-text").innerHTML = [
      `FC layer: ${esc(res.inputs_formula)} inputs → ${FC.outputs} outputs; ${esc(res.params_formula)}.`,
      `The same weights as a ${k}×${k} convolution with ${FC.outputs} filters: weight <span id="c8-weight">${shapeText(res.conv_weight_shape)}</span>.`,
      `On one ${k}×${k}×${FC.channels} block: max |FC − conv| = ${num("c8-block-diff", res.max_abs_block, res.max_abs_block.toExponential(2))}.`,
      `Slid over a ${size}×${size} input, the convolution gives a map of scores <span id="c8-map-shape">${shapeText(res.score_map_shape)}</span>` +
      ` (FCN) instead of one vector; max |map − FC on each crop| = ${num("c8-map-diff", res.max_abs_map, res.max_abs_map.toExponential(2))}.`,
    ].join("<br>");
    paintOne($("c8-map"), decodeArray(res.score_map)[0], res.score_map);
    $("c8-map-cap").textContent = `score map, output 0: ${res.score_map_shape[1]}×${res.score_map_shape[2]} positions`;
    const rows = field.rows.map((row, i) => `<tr><td>${esc(row.name)}</td><td>${shapeText(row.out_shape)}</td>
      <td id="c8-field-${i}" data-value="${row.h.size_max}">${row.h.size_max}×${row.w.size_max}</td><td>${row.grows ? "grows" : "does not grow"}</td></tr>`);
    $("c8-field").innerHTML = `<table class="fields"><caption>Receptive field of one output, from /api/receptive</caption>
      <thead><tr><th scope="col">layer</th><th scope="col">output</th><th scope="col">field (input pixels)</th><th scope="col">field</th></tr></thead>
      <tbody>${rows.join("")}</tbody></table>`;
    $("c8-link").href = fc.link(s);
  },
};

// ---- step 9: questions checked by the API's own counts ----
const Q_LAYER = { input: { kind: "random", shape: [192, 28, 28] }, layer: { out_channels: 64, kernel_size: 1, bias: false } };
const Q_POOL = { input_shape: [64, 28, 28], designs: [{ name: "2×2 max pool", layers: [{ op: "pool", k: 2 }] }] };
const QUESTIONS = {
  params: async () => { const c = await postJSON("/api/layer/check", Q_LAYER); return [c.cost.params, c.formulas.params]; },
  macs: async () => { const c = await postJSON("/api/layer/check", Q_LAYER); return [c.cost.macs, c.formulas.macs]; },
  channels: async () => {
    const d = (await postJSON("/api/cost", Q_POOL)).designs[0];
    return [d.out_shape[0], `the output is ${shapeText(d.out_shape)}: pooling keeps every channel`];
  },
};

async function answer(q) {
  const field = $(`q-${q}`), verdict = $(`v-${q}`);
  if (field.value === "") { verdict.textContent = "type a number first"; return; }
  verdict.textContent = "checking…";
  try {
    const [value, why] = await QUESTIONS[q]();
    const right = Number(field.value) === value;
    verdict.className = `verdict ${right ? "right" : "wrong"}`;
    verdict.dataset.value = value;
    verdict.dataset.right = right ? "1" : "0";
    verdict.textContent = `${right ? "Correct" : `Not quite (you wrote ${formatInt(Number(field.value))})`}: the API counts ${formatInt(value)}. ${why}`;
  } catch (err) {
    verdict.className = "verdict wrong";
    verdict.textContent = err.message;
  }
}

export const check = {
  id: "check",
  async load() {
    for (const q of Object.keys(QUESTIONS)) {
      const button = document.querySelector(`button[data-check="${q}"]`);
      if (button.dataset.wired) continue;
      button.dataset.wired = "1";
      button.addEventListener("click", () => answer(q));
      $(`q-${q}`).addEventListener("keydown", (e) => { if (e.key === "Enter") answer(q); });
    }
    $("c9-link").href = check.link();
  },
  link: () => costUrl({ preset: "seed", input_shape: Q_LAYER.input.shape, designs: [
    { name: "1×1 192→64", layers: [{ op: "conv", out: 64, k: 1 }] },
    { name: "1×1 192→64, then 2×2 max pool", layers: [{ op: "conv", out: 64, k: 1 }, { op: "pool", k: 2 }] }] }),
};
