// /learn (issue 12): nine short steps answering "what is a 1×1 convolution?". The shell (shell.js) keeps
// the state and the URL (every step's "try this" value is a key of KEYS.learn, so a link restores it;
// the hash names the step: /learn#inception). Each step (learn_steps/*.js) is { id, keys, load(state, env) }:
// its figure is asked of the API the first time the step scrolls near the screen (IntersectionObserver),
// and again when one of its controls changes. Steps are counted in section[data-loads] as they finish,
// and in the shell's ready hook (document.body.dataset.ready) like any page's loads.
import { createShell } from "./shell.js";
import { KEYS } from "./keys.js";
import { convolution, channels, pointwise } from "./learn_steps/window.js";
import { matrix, inception } from "./learn_steps/matrix.js";
import { pooling, nin, fc, check } from "./learn_steps/more.js";

const $ = (id) => document.getElementById(id);
const TYPING = new Set(["INPUT", "SELECT", "TEXTAREA"]);
const STEPS = [convolution, channels, pointwise, matrix, inception, pooling, nin, fc, check];
const LAZY_MARGIN = "300px 0px";  // start a step's requests a little before it scrolls into view

// state names → the form element that shows them; each control reloads its own step only
const DEFAULTS = {}, CONTROLS = {}, STEP_OF = {};
for (const step of STEPS) {
  for (const [name, { id, value }] of Object.entries(step.keys || {})) {
    DEFAULTS[name] = value;
    CONTROLS[name] = { id, apply: () => loadStep(step) };
    STEP_OF[name] = step;
  }
}

const section = (step) => $(step.id);
const hook = (window.__learn = { steps: STEPS.map((s) => s.id), drawnMs: {} });  // each step's first drawing
const started = new Set();

/** A step's "Open in the full view" link, right before the step has loaded (steps load lazily): built
 * from the step's own state (step.link) where that is enough, else hidden until its load sets it. */
function showLink(step, loaded = false) {
  const a = section(step).querySelector(".full a");
  if (!a) return;
  if (step.link) a.href = step.link(shell.state, shell.touched);
  a.parentElement.hidden = !step.link && !loaded;
}

/** Ask the API for one step's figure and draw it; a newer load of the same step drops this one's answers. */
async function loadStep(step) {
  started.add(step);
  const p = shell.partial(step.id), el = section(step), msg = el.querySelector(".step-message");
  showLink(step); // a changed control changes the link at once
  try {
    await step.load(shell.state, { stale: p.stale, set: (patch, opts) => shell.set(patch, opts), reload: () => loadStep(step),
      touched: shell.touched, el });
    if (p.stale()) return;
    showLink(step, true);
    msg.textContent = "";
    msg.className = "step-message";
    el.dataset.loads = String(+(el.dataset.loads || 0) + 1);
    hook.drawnMs[step.id] ??= performance.now();  // ms after navigation start: benchmarks/browser.py reads it
    p.finish();
  } catch (err) {
    if (err.name === "AbortError" || p.stale()) return;
    msg.textContent = err.message;
    msg.className = "step-message message error";
    el.dataset.failed = String(+(el.dataset.failed || 0) + 1);
    p.finish();
  }
}

/** Figures load as their step comes near the screen: the first step is drawn before the others are asked. */
function watchSteps() {
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const step = STEPS[+e.target.dataset.step];
      seen.unobserve(e.target);
      if (!started.has(step)) loadStep(step);
    }
  }, { rootMargin: LAZY_MARGIN });
  for (const step of STEPS) seen.observe(section(step));
}

/** The step whose top is nearest above the upper third of the screen: where the reader is. */
function currentIndex() {
  const line = window.innerHeight / 3;
  let best = 0;
  STEPS.forEach((s, i) => { if (section(s).getBoundingClientRect().top <= line) best = i; });
  return best;
}

function go(delta) {
  const i = Math.max(0, Math.min(STEPS.length - 1, currentIndex() + delta));
  location.hash = `#${STEPS[i].id}`;  // scrolls there, and the address names the step
  $(`h-${STEPS[i].id}`).focus({ preventScroll: true });
}

function wireKeys() {
  document.addEventListener("keydown", (e) => {
    if (TYPING.has(e.target.tagName) || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "n" || e.key === "ArrowRight") { e.preventDefault(); go(1); }
    else if (e.key === "p" || e.key === "ArrowLeft") { e.preventDefault(); go(-1); }
  });
  for (const a of document.querySelectorAll(".step-nav a[data-go]")) {
    a.addEventListener("click", () => setTimeout(() => $(`h-${a.hash.slice(1)}`)?.focus({ preventScroll: true }), 0));
  }
}

const shell = createShell({
  page: "learn", keys: KEYS.learn, defaults: DEFAULTS, controls: CONTROLS,
  request: () => ({}),
  check: async () => ({ valid: true }),  // nothing to check for the page as a whole: each step asks its own
  run: async () => ({}),
  render: async () => {
    for (const step of STEPS) if (!started.has(step)) showLink(step);
    wireKeys();
    watchSteps();
    const target = location.hash && document.querySelector(`section.step${CSS.escape(location.hash)}`);
    if (target) target.scrollIntoView();  // a link to /learn#step opens on that step
  },
});
shell.start();
