// Small UI helpers shared by the views.
import { postFrame, postJSON } from "./api.js";

/** Show the layer's status under the controls; an invalid layer also disables the player. */
export function layerMessage(text, ok) {
  const el = document.getElementById("layer-message");
  el.textContent = text;
  el.className = `message ${ok ? "ok" : "error"}`;
  document.getElementById("player").querySelectorAll("button, input").forEach((b) => { b.disabled = !ok; });
}

/** fn, called once the calls have paused for ms (form fields fire many change events). */
export function debounced(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

/** Check the layer (cheap: nothing is allocated), then run it with its input included. An invalid layer
 * is explained under the controls without a failed request. Returns null when the answer is stale
 * (isStale() turned true meanwhile) or the layer is invalid. */
export async function checkThenRun(req, isStale) {
  const check = await postJSON("/api/layer/check", req);
  if (isStale()) return null;
  if (!check.valid) {
    layerMessage(check.error.message, false);
    return null;
  }
  const conv = await postFrame("/api/convolve", { ...req, include_input: true });
  return isStale() ? null : { check, conv };
}
