// Links into the pages, built in one place: a page's state → its URL, and an API request
// ({input, layer, weights}, the same body /api/convolve takes) → the page that shows that layer.
// Home cards, cost-lab rows and network layers link through here, so a page's URL keys change in
// one file (keys.js) and every link follows.
import { KEYS } from "./keys.js";
import { getJSON } from "./api.js";
import { specToString } from "./inputs.js";

/** "/conv?in=…&co=…" from a page state (names as in KEYS[page]; empty values are left out). */
export function pageUrl(page, state) {
  const keys = KEYS[page];
  if (!keys) throw new Error(`links.js: no page "${page}"`);
  const q = new URLSearchParams();
  for (const [name, key] of Object.entries(keys)) {
    const v = state[name];
    if (v !== undefined && v !== null && v !== "") q.set(key, String(v));
  }
  const query = q.toString();
  return `/${page}${query ? `?${query}` : ""}`;
}

const pairText = (v) => (Array.isArray(v) ? (v[0] === v[1] ? String(v[0]) : v.join(",")) : String(v));
const flag = (v) => (v === undefined || v === null ? undefined : v ? "1" : "0");

/** The weights part of a page state from an API weight spec. */
function weightState(weights = { kind: "random", seed: 0 }) {
  if (weights.kind === "preset") return { weights: `preset:${weights.name}`, presetMode: weights.mode };
  if (weights.kind === "layer") return { weights: `layer:${weights.model}:${weights.layer}` }; // issue 13
  if (weights.kind === "custom") return { weights: "custom", custom: JSON.stringify({ weight: weights.weight, bias: weights.bias ?? null }) };
  return { weights: "random", weightSeed: String(weights.seed ?? 0) };
}

/** /conv showing this layer on this input; `extra`: more of /conv's state (e.g. the region, KEYS.conv names). */
export function convUrl({ input, layer = {}, weights }, extra = {}) {
  const k = layer.kernel_size === undefined ? undefined : Array.isArray(layer.kernel_size) ? layer.kernel_size : [layer.kernel_size, layer.kernel_size];
  return pageUrl("conv", {
    input: input && specToString(input), outChannels: layer.out_channels, kernelH: k?.[0], kernelW: k?.[1],
    stride: layer.stride === undefined ? undefined : pairText(layer.stride),
    padding: layer.padding === undefined ? undefined : pairText(layer.padding),
    dilation: layer.dilation === undefined ? undefined : pairText(layer.dilation), groups: layer.groups,
    bias: flag(layer.bias), flip: flag(layer.flip), relu: layer.activation === undefined ? undefined : flag(layer.activation === "relu"),
    ...weightState(weights), ...extra,
  });
}

/** /pointwise showing this 1×1 layer on this input; `extra`: more of its state (KEYS.pointwise names). */
export function pointwiseUrl({ input, layer = {}, weights }, extra = {}) {
  const w = weightState(weights);
  delete w.presetMode;
  return pageUrl("pointwise", {
    input: input && specToString(input), outChannels: layer.out_channels, bias: flag(layer.bias),
    relu: layer.activation === undefined ? undefined : flag(layer.activation === "relu"), ...w, ...extra,
  });
}

/** True when the layer is a plain 1×1 convolution, the one /pointwise explains (groups 1, stride 1,
 * no padding, no dilation). `layer` is a resolved layer as the API returns it (ResolvedLayer). */
export function isPointwise(layer) {
  const ones = (v) => [].concat(v).every((x) => x === 1);
  const zeros = (v) => [].concat(v).flat().every((x) => x === 0);
  return ones(layer.kernel_size) && ones(layer.stride) && ones(layer.dilation) && zeros(layer.padding) && layer.groups === 1;
}

/** The page that shows this layer best: /pointwise for a plain 1×1, /conv for everything else. */
export function layerUrl(req) {
  return isPointwise({ stride: 1, dilation: 1, padding: 0, groups: 1, ...req.layer, kernel_size: req.layer?.kernel_size ?? 3 })
    ? pointwiseUrl(req) : convUrl(req);
}

/** A page opened on a model's layer (weights "layer:<model>:<name>", issue 13) gets that choice in its
 * "weights from" select, so the select names what the page runs instead of showing nothing, and a link
 * back to that model on /network under its title; the server's label ("layer L of M (BN folded)",
 * GET /api/models/{id}/conv) and the model's name replace the provisional ones. */
export function addLayerOption(select, weights, network = "") {
  if (!select || !weights?.startsWith("layer:") || [...select.options].some((o) => o.value === weights)) return null;
  const [model, name] = weights.slice(6).split(/:(.*)/s);
  const opt = new Option(`layer ${name} of ${model}`, weights);
  select.add(opt);
  select.value = weights;
  const back = addNetworkLink(model, name, network);
  return getJSON(`/api/models/${encodeURIComponent(model)}/conv?name=${encodeURIComponent(name)}`)
    .then((info) => {
      opt.textContent = info.label;
      opt.dataset.bnFolded = info.bn_folded ? "1" : "0";
      if (back) back.textContent = `← back to the network view of ${info.model_name}`;
      return info;
    })
    .catch(() => null); // an unknown layer: the page's own check explains it
}

/** "← back to the network view of M" under the page's title, opening /network on that model with the
 * input it showed (`network`: /network's query when it opened this page, KEYS.network keys only). */
function addNetworkLink(model, layer, network) {
  const h1 = document.querySelector("main h1") ?? document.querySelector("h1");
  if (!h1 || document.getElementById("network-back")) return null;
  const p = document.createElement("p"), a = document.createElement("a");
  p.id = "network-back";
  p.className = "back-link";
  const q = new URLSearchParams(network), state = {};
  for (const [name, key] of Object.entries(KEYS.network)) if (q.has(key)) state[name] = q.get(key);
  a.href = pageUrl("network", { ...state, model });
  a.textContent = `← back to the network view of ${model}`;
  a.title = `the model this layer (${layer}) belongs to`;
  p.append(a);
  h1.after(p);
  return a;
}

// ---- cost-lab designs in the URL (key "d"): base64url of compact JSON, fields at their defaults left out ----
const CONV_DEFAULTS = { stride: 1, padding: 0, groups: 1, bias: false };

function compact(layer) {
  const out = {};
  for (const [k, v] of Object.entries(layer)) {
    if (v === null || v === "" || (k === "bias" && v === false)) continue;
    if (layer.op === "conv" && CONV_DEFAULTS[k] === v) continue;
    if (layer.op === "pool" && ((k === "padding" && v === 0) || (k === "kind" && v === "max"))) continue;
    out[k] = k === "branches" ? v.map((b) => b.map(compact)) : v;
  }
  return out;
}

export function encodeDesigns(designs) {
  const bytes = new TextEncoder().encode(JSON.stringify(designs.map((d) => ({ n: d.name, l: d.layers.map(compact) }))));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeDesigns(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const json = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  return JSON.parse(json).map((d) => ({ name: String(d.n ?? "design"), layers: d.l }));
}

/** /cost comparing these designs (a preset's name, its input shape [C, H, W] and the designs, edited or not). */
export function costUrl({ preset, input_shape: shape, designs }) {
  const [c, h, w] = shape || [];
  return pageUrl("cost", { preset, c, h, w, designs: designs && encodeDesigns(designs) });
}
