// The page shell: everything a convlens page does besides its own request and drawing.
//
//   import { createShell } from "./shell.js";
//   import { KEYS } from "./keys.js";
//   const shell = createShell({
//     page: "conv",                       // namespace: KEYS[page] is the URL key table (keys.js)
//     keys: KEYS.conv,                    // state name → URL key (frozen constants)
//     defaults: { stride: "1", … },       // every state value is a string, as in the URL
//     controls: { stride: "stride", … },  // state name → form element id, bound both ways
//                                         //   (checkbox ↔ "1"/"0"; number fields load on input,
//                                         //   the rest on change: no debounce anywhere);
//                                         //   { id, apply: () => {} } runs apply instead of a full load
//                                         //   (a control that only changes what is drawn)
//     request: (state) => body,           // the API request for this state ({input, layer, weights})
//     check: (body, ctx) => check,        // optional; default: POST /api/layer/check ({valid, error, …})
//     run: (body, ctx) => answer,         // optional; default: POST /api/convolve as a binary frame
//                                         //   with include_input (+ page.extra(state)); ctx.signal aborts
//                                         //   it, ctx.check is the layer check's answer
//     view: (body, ctx) => answer,        // optional, instead of check and run: one request that answers
//                                         //   both ({check, ...}; check.valid false: nothing else), as
//                                         //   POST /api/convolve/view does (one round trip, not two)
//     render: async (answer, ctx) => {},  // draw; answer = {check, conv} (or run's answer + check)
//     onInvalid: (check, ctx) => {},      // optional: the layer check said invalid
//     onControl: (name, value, shell) => patch | null,  // optional: a control changed; the patch returned
//                                         //   is applied too (e.g. a 1×1 kernel sets padding 0)
//     player: { count: () => n, show: (t, { playing }) => {}, pace: (speed) => ({ delta, ms }) },
//     downloads: { "download-npy": () => ({ url, body, filename }) },
//   });
//   shell.start();
//
// What the shell owns:
// - state: one object of strings; keys the user touched (or that came in the URL) are written to
//   the URL with history.replaceState (a load's once it is drawn), so reload and shared links restore the view. shell.set(patch)
//   changes state from code (touch: true by default; pass { touch: false } for values the server chose).
// - loads: every change sends its requests at once; a newer load aborts the older one's requests and
//   its answers are dropped (ctx.isStale()). Check-then-run: POST /api/layer/check first (cheap, nothing
//   allocated), run only a valid layer; an invalid one is explained in #layer-message and the player
//   is disabled. shell.guard(name) gives the same protection to a page's own follow-up requests;
//   shell.partial(name) also times them and counts them in the ready hook.
// - the player (templates/_player.html): #btn-first #btn-back #btn-play #btn-forward #speed #scrubber
//   #position-label; space plays/pauses, ← → step, Home / End go to the first / last position (not while
//   typing in a field).
// - downloads: buttons whose click POSTs a body and saves the answer as a file.
// - the ready hook for tests and benchmarks: document.body.dataset.ready counts finished loads;
//   window.__convlens = { page, ready, loads, step(d), frameTimes, last } where `last` holds the latest
//   load's timings (ms from the control change: api = answers in, output = first output drawn,
//   painted = everything drawn and one frame painted).
import { postFrame, postJSON, postBlob } from "./api.js";

const $ = (id) => document.getElementById(id);
const TYPING = new Set(["INPUT", "SELECT", "TEXTAREA"]);
const URL_LATEST_MS = 1000;

/** Read the page's keys from the query string. Unknown keys are ignored. */
function readUrl(keys) {
  const q = new URLSearchParams(location.search), state = {};
  for (const [name, key] of Object.entries(keys)) if (q.has(key)) state[name] = q.get(key);
  return state;
}

/** Show the layer's status under the controls; an invalid layer also disables the player. */
export function showMessage(text, ok) {
  const el = $("layer-message");
  if (el) {
    el.textContent = text;
    el.className = `message ${ok ? "ok" : "error"}`;
  }
  $("player")?.querySelectorAll("button, input").forEach((b) => { b.disabled = !ok; });
}

export function createShell(page) {
  const { keys, defaults, controls = {}, player = null, downloads = {} } = page;
  const fromUrl = readUrl(keys);
  const state = { ...defaults, ...fromUrl };
  const touched = new Set(Object.keys(fromUrl));
  const guards = new Map();
  let generation = 0, controller = null, timer = null, changeAt = null;
  const hook = (window.__convlens = { page: page.page, ready: false, loads: 0, frameTimes: [], last: null,
    step: (d) => step(d, false), marks: {} });

  // A load writes the address bar once its drawing is on screen, not when its control changes:
  // history.replaceState makes Chromium's browser process update the history entry and ask for the
  // icon again (7–10 ms of its main thread on two cores), which held back the change's own requests
  // and answers. Outside a load (player steps, region fields) the URL is written at once, and a load
  // that never finishes (a page's own error) still gets its URL after URL_LATEST_MS.
  let loading = false, urlPending = false, urlTimer = null;
  function writeUrl() {
    if (!loading) return replaceUrl();
    urlPending = true;
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => { loading = false; flushUrl(); }, URL_LATEST_MS);
  }

  function flushUrl() {
    clearTimeout(urlTimer);
    if (urlPending) replaceUrl();
    urlPending = false;
  }

  function replaceUrl() {
    const q = new URLSearchParams();
    for (const [name, key] of Object.entries(keys)) {
      const v = state[name];
      if (touched.has(name) && v !== undefined && v !== null && v !== "") q.set(key, String(v));
    }
    const query = q.toString();
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`); // the hash: /learn#step
  }

  const idOf = (c) => (typeof c === "string" ? c : c.id);

  function toForm() {
    for (const [name, c] of Object.entries(controls)) {
      const id = idOf(c);
      const el = $(id);
      if (!el || state[name] === undefined) continue;
      if (el.type === "checkbox") el.checked = state[name] === "1";
      else el.value = state[name];
    }
  }

  /** Change state from code. { touch } records the keys for the URL; { load } starts a new load.
   * A null value puts the key back to its default and out of the URL. */
  function set(patch, { touch = true, load: doLoad = false, form = true } = {}) {
    if (doLoad) loading = true; // the URL waits for the load's drawing
    for (const [name, v] of Object.entries(patch)) {
      if (!(name in keys) && !(name in defaults)) throw new Error(`shell: unknown state key "${name}"`);
      if (v === undefined || v === null) { // back to the default, and out of the URL
        if (name in defaults) state[name] = defaults[name];
        else delete state[name];
        touched.delete(name);
        continue;
      }
      state[name] = String(v);
      if (touch) touched.add(name);
    }
    if (form) toForm();
    writeUrl();
    if (doLoad) return load();
  }

  /** A stale-answer guard for a page's own requests: token = guard(); later token.stale(). A token
   * is stale once a newer token of the same name exists or a newer main load started. */
  function guard(name) {
    return () => {
      const n = (guards.get(name) || 0) + 1, gen = generation;
      guards.set(name, n);
      return { stale: () => guards.get(name) !== n || gen !== generation };
    };
  }

  const ms = () => (changeAt === null ? null : performance.now() - changeAt);

  function ctxFor(my, signal) {
    return {
      isStale: () => my !== generation, signal,
      mark: (what) => {
        if (what === "output") hook.firstOutputMs ??= performance.now(); // ms since navigation (benchmarks)
        if (hook.last && my === generation && hook.last[what] === undefined) hook.last[what] = ms();
      },
    };
  }

  async function defaultRun(body, ctx) {
    const conv = await postFrame("/api/convolve", { ...body, include_input: true, ...(page.extra?.(state) || {}) }, { signal: ctx.signal });
    return { conv };
  }

  /** The layer check, then for a valid layer the run: { check, ...run's answer }, or { check } alone. */
  async function checkThenRun(body, ctx) {
    const check = await (page.check ? page.check(body, ctx) : postJSON("/api/layer/check", body, { signal: ctx.signal }));
    if (!check.valid || ctx.isStale()) return { check };
    const answer = await (page.run || defaultRun)(body, { ...ctx, check });
    return answer && { check, ...answer };
  }

  /** Check the layer, run it, draw it. A newer load aborts this one's requests and drops its answers. */
  async function load() {
    const my = ++generation;
    controller?.abort();
    controller = new AbortController();
    const ctx = ctxFor(my, controller.signal);
    loading = true;
    stop();
    writeUrl();
    changeAt ??= performance.now();
    hook.last = { started: 0 };
    try {
      const body = page.request(state);
      const answer = await (page.view ? page.view(body, ctx) : checkThenRun(body, ctx));
      if (ctx.isStale() || !answer) return;
      const { check } = answer;
      if (!check.valid) {
        showMessage(check.error.message, false);
        page.onInvalid?.(check, ctx);
        finish(my);
        return;
      }
      ctx.mark("api");
      showMessage("", true);
      await page.render({ ...answer, body }, ctx);
      if (ctx.isStale()) return;
      finish(my);
    } catch (err) {
      if (err.name === "AbortError" || ctx.isStale()) return;
      showMessage(err.message, false);
      finish(my);
    }
  }

  /** A follow-up load of the page's own (e.g. a new region: a trace, no new convolution): a guard
   * token that also marks timings and counts the load in the ready hook when finished. */
  function partial(name) {
    const token = guard(name)();
    changeAt ??= performance.now();
    hook.last = { started: 0 };
    const last = hook.last;
    return {
      stale: token.stale,
      mark: (what) => { if (!token.stale() && last[what] === undefined) last[what] = ms(); },
      finish: () => finish(generation, token.stale),
    };
  }

  /** Count the load once its pixels are on screen (the frame after the drawing is painted). */
  function finish(my, stale = () => false) {
    const last = hook.last;
    requestAnimationFrame(() => setTimeout(() => {
      if (my !== generation || stale()) return;
      if (last) last.painted = ms();
      loading = false;
      flushUrl();
      hook.firstPlotMs ??= performance.now();
      changeAt = null;
      hook.ready = true;
      hook.loads += 1;
      document.body.dataset.ready = String(hook.loads);
    }, 0));
  }

  function wireControls() {
    for (const [name, c] of Object.entries(controls)) {
      const el = $(idOf(c));
      if (!el) continue;
      const onEvent = () => {
        if (el.type === "number" && (el.value === "" || !el.checkValidity())) return; // mid-typing: wait
        changeAt = performance.now();
        const value = el.type === "checkbox" ? (el.checked ? "1" : "0") : el.value;
        const patch = { [name]: value, ...(page.onControl?.(name, value, api) || {}) };
        if (!c.apply) loading = true; // the URL waits for the load's drawing
        set(patch, { form: false });
        toForm();
        if (c.apply) c.apply(name, value);
        else load();
      };
      el.addEventListener(el.type === "number" ? "input" : "change", onEvent);
    }
  }

  // ---- the player ----
  const count = () => (player ? player.count() : 0);

  function show(t, playing = false) {
    const t0 = performance.now();
    state.step = String(t);
    player.show(t, { playing });
    const scrub = $("scrubber");
    if (scrub) scrub.value = t;
    hook.frameTimes.push(performance.now() - t0);
  }

  /** Move by delta positions (wrapping). While playing, the page may draw less per frame. */
  function step(delta, paused = !timer) {
    const n = count();
    if (!n) return;
    show(((+state.step || 0) + delta + n) % n, !paused);
    if (paused) { touched.add("step"); writeUrl(); }
  }

  function go(t) {
    stop();
    if (!count()) return;
    show(Math.max(0, Math.min(t, count() - 1)));
    touched.add("step");
    writeUrl();
  }

  function play() {
    if (timer) return stop();
    $("btn-play").textContent = "⏸";
    $("btn-play").setAttribute("aria-label", "pause");
    const tick = () => {
      const speed = +($("speed")?.value || 6);
      const { delta, ms: wait } = player.pace ? player.pace(speed) : { delta: 1, ms: 1000 / speed };
      if (+state.step >= count() - 1) return stop();
      show(Math.min(+state.step + delta, count() - 1), true);
      timer = setTimeout(tick, wait);
    };
    timer = setTimeout(tick, 0);
  }

  function stop() {
    if (timer) {
      clearTimeout(timer);
      timer = null;
      if (count()) show(+state.step);
      touched.add("step");
      writeUrl();
    }
    const b = $("btn-play");
    if (b) { b.textContent = "▶"; b.setAttribute("aria-label", "play"); }
  }

  function wirePlayer() {
    if (!player) return;
    $("btn-play").addEventListener("click", play);
    $("btn-back").addEventListener("click", () => { stop(); step(-1); });
    $("btn-forward").addEventListener("click", () => { stop(); step(1); });
    $("btn-first").addEventListener("click", () => go(0));
    $("scrubber").addEventListener("input", (e) => { stop(); show(+e.target.value); });
    $("scrubber").addEventListener("change", () => { touched.add("step"); writeUrl(); });
    $("speed")?.addEventListener("change", (e) => { if ("speed" in keys) set({ speed: e.target.value }, { form: false }); });
    document.addEventListener("keydown", (e) => {
      if (TYPING.has(e.target.tagName) && e.target.type !== "range") return;
      if (e.target.tagName === "BUTTON" && e.key === " ") return; // the button's own click handles it
      if (e.key === " ") { e.preventDefault(); play(); }
      else if (e.key === "ArrowRight") { e.preventDefault(); stop(); step(1); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); stop(); step(-1); }
      else if (e.key === "Home") { e.preventDefault(); go(0); }
      else if (e.key === "End") { e.preventDefault(); go(count() - 1); }
    });
  }

  function wireDownloads() {
    for (const [id, what] of Object.entries(downloads)) {
      $(id)?.addEventListener("click", async () => {
        const { url, body, filename } = what(state);
        try {
          const a = document.createElement("a");
          a.href = URL.createObjectURL(await postBlob(url, body));
          a.download = filename;
          a.click();
          setTimeout(() => URL.revokeObjectURL(a.href), 1000);
        } catch (err) {
          showMessage(err.message, false);
        }
      });
    }
  }

  const api = {
    state, set, load, guard, partial, message: showMessage, touched: (name) => touched.has(name),
    player: { play, stop, step, go, show, playing: () => timer !== null },
    /** The player's range for a new answer: clamp the step, set the scrubber, show the frame. */
    resetPlayer(n) {
      const scrub = $("scrubber");
      if (scrub) scrub.max = Math.max(0, n - 1);
      if (n) show(Math.min(+state.step || 0, n - 1));
    },
    start() {
      addEventListener("pagehide", flushUrl); // closed mid-load: the URL still gets the last change
      toForm();
      wireControls();
      wirePlayer();
      wireDownloads();
      return load();
    },
  };
  return api;
}
