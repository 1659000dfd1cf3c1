// Small UI helpers shared by the views.

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
