// The custom-weight editor: one output channel's filter as tables of number fields. Editing a value
// hands the whole weight tensor back as the API's custom-weight JSON ({weight, bias}).
import { decodeArray } from "./api.js";

const MAX_PER_FILTER = 75, MAX_TOTAL = 2048;

/** The weight payload ((C_out, C_in/g, kH, kW), as the API returns it) as one flat Float32Array. */
export function flatWeights(payload) {
  const [o, c, kh, kw] = payload.shape;
  const channels = decodeArray({ ...payload, shape: [o * c, kh, kw] });
  const flat = new Float32Array(o * c * kh * kw);
  let n = 0;
  for (const rows of channels) for (const row of rows) for (const v of row) flat[n++] = v;
  return flat;
}

/** {weight, bias} as /api/convolve's custom weights take them, from a flat array and its shape. */
export function customJSON(flat, [cOut, cg, kh, kw], bias) {
  const weight = Array.from({ length: cOut }, (_, o) => Array.from({ length: cg }, (_, c) => Array.from({ length: kh }, (_, i) =>
    Array.from({ length: kw }, (_, j) => flat[((o * cg + c) * kh + i) * kw + j]))));
  return JSON.stringify({ weight, bias: bias ?? null });
}

/** Refresh an editor that already shows fields of this key (shape, channel) in place: rebuilding it when
 * an edited layer came back dropped the keyboard focus (Tab to the next value, then the page's answer
 * arrived and the focus fell to the page, so the next value typed went nowhere). The field being edited
 * keeps what is typed in it. True when the editor was refreshed; build() is then not needed. */
export function refreshInPlace(el, key, flat) {
  if (el.dataset.editorKey !== key || !el.querySelector("input[data-idx]")) return false;
  el.editorFlat = flat;
  el.querySelectorAll("input[data-idx]").forEach((inp) => {
    if (inp !== document.activeElement) inp.value = +flat[+inp.dataset.idx].toFixed(4);
  });
  return true;
}

/** Fill el with an editor's html; its fields (input[data-idx] into flat) call onEdit(flat) after a change. */
export function buildEditor(el, key, html, flat, onEdit) {
  el.innerHTML = html;
  el.dataset.editorKey = key;
  el.editorFlat = flat;
  el.querySelectorAll("input[data-idx]").forEach((inp) => inp.addEventListener("change", () => {
    const v = parseFloat(inp.value);
    // an emptied (or unreadable) field is not a 0: the weight keeps its value and field_check.js says
    // "W[0, 0] must be a number"; a load here would have written "ok" over that, with a silent 0 sent
    if (!Number.isFinite(v)) return;
    el.editorFlat[+inp.dataset.idx] = v;
    onEdit(el.editorFlat);
  }));
}

/** Empty the editor (not custom weights, or too large to edit) with an optional note. */
export function clearEditor(el, html = "") {
  el.innerHTML = html;
  delete el.dataset.editorKey;
}

/** Draw the editor for output channel oc into el; onEdit(customJSON) after a value changes. */
export function drawKernelEditor(el, payload, bias, oc, onEdit) {
  const [cOut, cg, kh, kw] = payload.shape;
  if (cg * kh * kw > MAX_PER_FILTER || cOut * cg * kh * kw > MAX_TOTAL) {
    clearEditor(el, `<p class='muted'>The editor shows kernels up to ${MAX_PER_FILTER} values per filter.</p>`);
    return;
  }
  const flat = flatWeights(payload), key = `${payload.shape.join("x")}:${oc}`;
  if (refreshInPlace(el, key, flat)) return;
  let html = `<p class="muted">filter for output channel ${oc} (edit a value and press Enter)</p>`;
  for (let c = 0; c < cg; c++) {
    html += `<table class="edit"><caption>in ${c}</caption>`;
    for (let i = 0; i < kh; i++) {
      html += "<tr>" + Array.from({ length: kw }, (_, j) => {
        const idx = ((oc * cg + c) * kh + i) * kw + j;
        return `<td><input data-idx="${idx}" type="number" step="any" value="${+flat[idx].toFixed(4)}" aria-label="weight ${oc}, in ${c}, row ${i}, col ${j}"></td>`;
      }).join("") + "</tr>";
    }
    html += "</table>";
  }
  buildEditor(el, key, html, flat, (edited) => onEdit(customJSON(edited, [cOut, cg, kh, kw], bias)));
}
