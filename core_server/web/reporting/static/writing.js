// Writing the report: rich text (contenteditable + execCommand), the toolbar and symbols, the
// "__" blanks templates leave (F2), structured fields, autosave every few seconds and when the
// page is hidden or closed (fetch keepalive).
import { api } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { $, PAGE } from "/static/reporting/page.js";
import { editor } from "/static/reporting/state.js";

// Set by the lock module: a refused save because another doctor holds the lock.
export const hooks = { lockedBy: (_holder, _until) => {} };

export function content() {
  const body = { findings: $("findings").innerHTML, impression: $("impression").innerHTML };
  if (editor.template && editor.template.fields.length) body.fields = fieldValues();
  if (editor.template && editor.templateChanged) body.template_id = editor.template.id;
  return body;
}

export function setSaveState(key, values) {
  $("save-state").textContent = key ? t(key, values) : "";
}

export function markDirty() {
  if (!editor.editable) return;
  editor.dirty = true;
  setSaveState("reporting_ui.save.unsaved");
}

// The working copy to the server (no version kept); the lock is renewed with it.
export async function autosave() {
  if (!editor.dirty || !editor.editable || !editor.report) return;
  if (editor.saving) return editor.saving;
  editor.dirty = false;
  const id = editor.report.id;
  editor.saving = api(`/api/reporting/reports/${id}/draft`, { method: "PUT", json: content() })
    .then((saved) => {
      setSaveState("reporting_ui.save.saved", { at: when(saved.draft_saved_at) });
    })
    .catch((error) => {
      editor.dirty = true;
      if (error.status === 409 && error.values.holder) return hooks.lockedBy(error.values.holder, error.values.expires_at);
      setSaveState("reporting_ui.save.failed", { reason: error.message });
    })
    .finally(() => {
      editor.saving = null;
    });
  return editor.saving;
}

let leaving = false;

// The page is being hidden or closed: send what is unsaved in a request that outlives it.
function flushOnLeave() {
  if (!editor.report || !editor.editable) return;
  const id = editor.report.id;
  const init = { method: "PUT", credentials: "same-origin", keepalive: true, headers: { "Content-Type": "application/json" } };
  if (editor.dirty) {
    editor.dirty = false;
    fetch(`/api/reporting/reports/${id}/draft`, { ...init, body: JSON.stringify(content()) }).catch(() => {
      editor.dirty = true;
    });
  } else if (document.visibilityState !== "visible" && leaving) {
    // Nothing to save and the page is going: give the lock back at once. (With unsaved text the
    // save above takes the lock again; it then expires after the configured minutes.)
    fetch(`/api/reporting/reports/${id}/lock`, { ...init, method: "DELETE" }).catch(() => {});
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flushOnLeave();
});
window.addEventListener("pagehide", () => {
  leaving = true;
  flushOnLeave();
});
setInterval(() => autosave(), (PAGE.autosave_seconds || 3) * 1000);
// Keep the lock while the doctor reads without typing (autosave renews it while typing).
setInterval(() => {
  if (editor.editable && !editor.dirty && document.visibilityState === "visible") {
    api(`/api/reporting/reports/${editor.report.id}/lock`, { method: "POST" }).catch((error) => {
      if (error.status === 409 && error.values.holder) hooks.lockedBy(error.values.holder, error.values.expires_at);
    });
  }
}, 60 * 1000);

for (const box of [$("findings"), $("impression")]) {
  box.addEventListener("input", markDirty);
  // Pasted text arrives as plain text: no foreign styles, fonts or links in a report.
  box.addEventListener("paste", (event) => {
    event.preventDefault();
    document.execCommand("insertText", false, event.clipboardData.getData("text/plain"));
  });
}

// Every "__" blank (a run of two or more underscores) in the two text boxes, in order.
function blanks(boxes) {
  const found = [];
  for (const box of boxes) {
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let at = node.data.indexOf("__"); at >= 0; at = node.data.indexOf("__", at + 2)) {
        let end = at + 2;
        while (node.data[end] === "_") end += 1;
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, end);
        found.push(range);
        at = end - 2;
      }
    }
  }
  return found;
}

// The next blank after the caret (wrapping to the start), selected so that typing replaces it.
export function nextBlank() {
  const boxes = [$("findings"), $("impression")];
  const selection = window.getSelection();
  const here = selection.rangeCount ? selection.getRangeAt(0) : null;
  const all = blanks(boxes);
  if (!all.length) return false;
  // The first blank starting at or after the end of the selection (a selected blank: the next).
  const after = here ? all.find((r) => r.compareBoundaryPoints(Range.START_TO_END, here) >= 0) : null;
  const target = after || all[0];
  boxes.find((b) => b.contains(target.startContainer)).focus();
  selection.removeAllRanges();
  selection.addRange(target);
  return true;
}

document.addEventListener("keydown", (event) => {
  if (!editor.report || !editor.editable) return;
  if (event.key === "F2") {
    event.preventDefault();
    nextBlank();
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault();
    $("save").click();
  }
});

let lastBox = $("findings");
for (const box of [$("findings"), $("impression")]) box.addEventListener("focus", () => (lastBox = box));

for (const button of document.querySelectorAll("#toolbar button")) {
  // mousedown would take the focus (and the selection) away from the text.
  button.addEventListener("mousedown", (event) => event.preventDefault());
  button.addEventListener("click", () => {
    if (!editor.editable) return;
    if (!document.activeElement || !document.activeElement.isContentEditable) lastBox.focus();
    if (button.dataset.blank) return void nextBlank();
    if (button.dataset.command) document.execCommand(button.dataset.command, false, null);
    else document.execCommand("insertText", false, button.dataset.symbol);
    markDirty();
  });
}

// -- structured fields ----------------------------------------------------------------------------

function fieldInput(f, value) {
  let input;
  if (f.type === "choice") {
    input = el("select", {}, el("option", { value: "" }), ...f.choices.map((c) => el("option", { value: c, textContent: c })));
  } else {
    input = el("input", { type: f.type === "number" ? "number" : f.type === "date" ? "date" : "text" });
    if (f.type === "number") input.step = "any";
    if (f.minimum !== null) input.min = f.minimum;
    if (f.maximum !== null) input.max = f.maximum;
  }
  input.id = "field-" + f.id;
  input.dataset.field = f.id;
  input.dataset.type = f.type;
  input.required = f.required;
  if (value !== undefined && value !== null) input.value = String(value);
  input.addEventListener("input", markDirty);
  input.addEventListener("change", markDirty);
  return input;
}

// The template's fields: a form while the report may be edited, the answers as text otherwise.
export function renderFields(values) {
  const form = $("fields");
  const fields = editor.template ? editor.template.fields : [];
  form.hidden = !fields.length;
  form.classList.toggle("rp-readonly", !editor.editable);
  form.replaceChildren(
    ...fields.map((f) => {
      const value = values[f.id];
      const label = el("label", { textContent: f.label + (f.required && editor.editable ? " *" : "") });
      if (!editor.editable) {
        const shown = value === undefined || value === null || value === "" ? "—" : `${value}${f.unit || ""}`;
        return el("div", { className: "field" }, label, el("span", { className: "rp-value", textContent: shown }));
      }
      const input = fieldInput(f, value);
      label.htmlFor = input.id;
      return el("div", { className: "field" }, label, input, f.unit ? el("span", { className: "sub", textContent: f.unit }) : null);
    }),
  );
  // A read-only view keeps the answers for content() (a reviewer's step sends none).
  form.dataset.values = JSON.stringify(values || {});
}

export function fieldValues() {
  const inputs = $("fields").querySelectorAll("[data-field]");
  if (!inputs.length) return JSON.parse($("fields").dataset.values || "{}");
  const values = {};
  for (const input of inputs) {
    if (input.value === "") values[input.dataset.field] = null;
    else values[input.dataset.field] = input.dataset.type === "number" ? Number(input.value) : input.value;
  }
  return values;
}
