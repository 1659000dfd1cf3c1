// Page state <-> URL query string, so a reload or a shared link restores the same view.
// Keys are constants (STYLE.md §6): a typo is a ReferenceError, not a silently lost setting.

export const KEYS = Object.freeze({
  input: "in", outChannels: "co", kernelH: "kh", kernelW: "kw", stride: "s", padding: "p", dilation: "d",
  groups: "g", bias: "b", flip: "f", relu: "r", weights: "w", weightSeed: "ws", presetMode: "pm",
  custom: "cw", channel: "oc", regionRow: "rr", regionCol: "rc", regionSize: "rs", step: "t", ninWidths: "nw",
  speed: "sp", fcChannels: "fc", fcBlock: "fk", fcOutputs: "fo", fcSize: "fs",  // the 1×1 page (point)
});

/** Read the query string into a plain object keyed by the names in KEYS. */
export function readState() {
  const q = new URLSearchParams(location.search);
  const state = {};
  for (const [name, key] of Object.entries(KEYS)) if (q.has(key)) state[name] = q.get(key);
  return state;
}

/** Replace the URL's query with the state (no new history entry per slider move). */
export function writeState(state) {
  const q = new URLSearchParams();
  for (const [name, key] of Object.entries(KEYS)) {
    if (state[name] !== undefined && state[name] !== null && state[name] !== "") q.set(key, String(state[name]));
  }
  history.replaceState(null, "", `${location.pathname}?${q}`);
}
