// A number typed by hand that its field does not allow (below min, above max, not a whole number, not
// a number) is explained at once, naming the control and what is allowed: "test image must be a whole
// number from 0 to 358". The page shell skips such a value (it waits while someone is mid-typing), so
// without this the page kept showing the previous numbers under an "ok" status and said nothing.
// Loaded by base.html for every page. The message goes where the page shows its status
// (#layer-message, through the shell's showMessage, which also disables the player); a page without one
// gets the message right after the field. While a field stays invalid, a late answer of the page's
// previous request cannot write "ok" over the message.
import { formatInt } from "./format.js";
import { showMessage } from "./shell.js";

const $ = (id) => document.getElementById(id);
const invalid = new Map(); // field → its message, in the order the fields went wrong

/** The control's name as the page shows it: data-name, else its label's own text, else aria-label. */
function nameOf(el) {
  if (el.dataset.name) return el.dataset.name;
  const label = el.labels?.[0];
  if (label) {
    const copy = label.cloneNode(true); // the label's words without the controls inside it
    copy.querySelectorAll("input, select, textarea, button, .field-error").forEach((c) => c.remove());
    const own = copy.textContent.replace(/\s+/g, " ").trim();
    if (own) return own;
  }
  return el.getAttribute("aria-label") || el.id;
}

/** What the field allows, from its own min, max and step attributes (the ones the browser checks). */
export function allowedText(el) {
  const step = el.getAttribute("step");
  const whole = !step || (step !== "any" && Number.isInteger(+step) && (el.min === "" || Number.isInteger(+el.min)));
  const kind = whole ? "a whole number" : "a number";
  const n = (v) => (Number.isInteger(+v) ? formatInt(+v) : v); // 4,096 as the server's messages write it
  if (el.min !== "" && el.max !== "") return `${kind} from ${n(el.min)} to ${n(el.max)}`;
  if (el.min !== "") return `${kind} of at least ${n(el.min)}`;
  if (el.max !== "") return `${kind} of at most ${n(el.max)}`;
  return kind;
}

export function fieldMessage(el, named = true) {
  const typed = el.validity.badInput || el.value === "" ? "" : ` (you typed ${el.value})`;
  return `${named ? `${nameOf(el)} ` : ""}must be ${el.dataset.allowed || allowedText(el)}${typed}.`;
}

/** A text field that parses its own value (the cost lab's layer editor: "3,1", "same") says whether it
 * took it with aria-invalid, set by its own listener before this one runs, and what it takes in data-allowed. */
const parsesItself = (el) => el.type === "text" && el.dataset.allowed !== undefined;
const validNow = (el) => (parsesItself(el) ? el.getAttribute("aria-invalid") !== "true" : el.checkValidity());

function inline(el) {
  let note = $(`${el.id}-error`);
  if (!note) {
    note = document.createElement("span");
    note.id = `${el.id}-error`;
    note.className = "field-error";
    note.setAttribute("role", "alert");
    (el.labels?.[0] || el).after(note);
  }
  return note;
}

let before = null; // the page's status before the first field went wrong, put back when all are fixed

function show() {
  const [el, text] = [...invalid.entries()].at(-1) || [];
  if (!el) return;
  const status = $("layer-message");
  if (!status) { // right after the field's own label: the name would be said twice
    inline(el).textContent = fieldMessage(el, false);
    return;
  }
  if (!before) before = { text: status.textContent, ok: !status.classList.contains("error") };
  showMessage(text, false);
}

/** The last field is fixed: a part of the page that redraws without a load (e.g. /pointwise's FC block)
 * writes no status, so the one the page showed before comes back (a load then writes its own). */
function restore(shown) {
  const status = $("layer-message");
  if (status && before && status.textContent === shown) showMessage(before.text, before.ok);
  before = null;
}

function check(el, committed) {
  if (!(el instanceof HTMLInputElement) || !(el.type === "number" || parsesItself(el)) || el.disabled) return;
  if (el.hasAttribute("data-checks-itself")) return; // e.g. /learn's quiz: the API judges every answer
  // Emptied: wait while typing; once committed, an error if the field always holds a value (a quiz
  // answer may stay empty). A field that parses itself decides for itself ("blank = window" is a value).
  const empty = el.value === "" && !el.validity.badInput;
  const ok = parsesItself(el) ? validNow(el) || (empty && !committed)
    : empty ? !committed || el.defaultValue === "" : el.checkValidity();
  if (ok) { // the page takes over
    const shown = invalid.get(el);
    if (invalid.delete(el)) {
      if (!parsesItself(el)) el.removeAttribute("aria-invalid"); // a self-parsing field keeps its own
      $(`${el.id}-error`)?.remove();
      if (invalid.size) show();
      else restore(shown);
    }
    return;
  }
  invalid.delete(el); // re-insert: the field changed last is the one the message names
  invalid.set(el, fieldMessage(el));
  if (!parsesItself(el)) el.setAttribute("aria-invalid", "true");
  show();
}

document.addEventListener("input", (e) => check(e.target, false));
document.addEventListener("change", (e) => check(e.target, true));

// The page's own status writes (a load that was already on its way) must not hide a field's error.
const status = $("layer-message");
if (status) {
  new MutationObserver(() => {
    for (const el of invalid.keys()) if (!el.isConnected || validNow(el)) {
      invalid.delete(el);
      if (!parsesItself(el)) el.removeAttribute("aria-invalid");
    }
    const text = [...invalid.values()].at(-1);
    if (!text) before = null;
    else if (status.textContent !== text) show();
  }).observe(status, { childList: true, characterData: true, subtree: true });
}
