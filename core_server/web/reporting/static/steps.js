// What the doctor does with the open report: the workflow steps (submit, review, sign after a
// confirmation, reject and amend with a reason), an explicit save, a critical value, keeping
// the text as a template, printing, flags, quality grades and the pathology follow-up. Each
// button is shown when the server allows its action (report.allowed_actions) and stays
// disabled while its request runs.
import { api, busy, showError } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { $ } from "/static/reporting/page.js";
import { editor } from "/static/reporting/state.js";
import { loadTemplates, showDiff, showHistory } from "/static/reporting/side.js";
import { autosave, content, setSaveState } from "/static/reporting/writing.js";

export const STEPS = ["submit", "review", "sign", "reject", "amend"];
const DONE = Object.fromEntries(STEPS.map((s) => [s, `reporting_ui.done.${s}`]));

// The reason dialog (a rejection, an amendment, a critical value, a template's name).
export function askText(title, okKey) {
  const dialog = $("reason-dialog");
  $("reason-title").textContent = title;
  $("reason-text").value = "";
  $("reason-ok").textContent = t(okKey || "reporting_ui.dialog.ok");
  dialog.showModal();
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.close();
      $("reason-form").onsubmit = null;
      $("reason-cancel").onclick = null;
      resolve(value);
    };
    $("reason-form").onsubmit = (event) => {
      event.preventDefault();
      const value = $("reason-text").value.trim();
      if (value) done(value);
    };
    $("reason-cancel").onclick = () => done(null);
  });
}

// A yes/no question before a step that cannot be taken back (signing sends the result out).
export function confirmStep(text) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  dialog.showModal();
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.close();
      $("confirm-ok").onclick = null;
      $("confirm-cancel").onclick = null;
      resolve(value);
    };
    $("confirm-ok").onclick = () => done(true);
    $("confirm-cancel").onclick = () => done(false);
  });
}

async function step(action) {
  showError($("error"), null);
  const id = editor.report.id;
  let json;
  if (action === "reject" || action === "amend") {
    const reason = await askText(t("reporting_ui.dialog." + action));
    if (!reason) return;
    json = { reason };
  } else {
    if (action === "sign" && !(await confirmStep(t("reporting_ui.dialog.sign")))) return;
    await autosave();
    json = editor.editable ? content() : undefined;
  }
  try {
    editor.report = await api(`/api/reporting/reports/${id}/${action}`, { method: "POST", json });
    editor.dirty = false;
  } catch (error) {
    showError($("error"), error);
    return;
  }
  await editor.reopen();
  setSaveState(DONE[action]);
}

for (const action of STEPS) {
  $(action).addEventListener("click", () => busy($(action), () => step(action)).catch((e) => showError($("error"), e)));
}

$("save").addEventListener("click", () => busy($("save"), async () => {
  showError($("error"), null);
  try {
    await editor.saving;
    editor.report = await api(`/api/reporting/reports/${editor.report.id}/versions`, { method: "POST", json: content() });
    editor.dirty = false;
    setSaveState("reporting_ui.save.version", { n: editor.report.version });
    await Promise.all([showHistory(), showDiff()]);
  } catch (error) {
    showError($("error"), error);
  }
}));

$("raise-critical").addEventListener("click", () => busy($("raise-critical"), async () => {
  const description = await askText(t("reporting_ui.dialog.critical"), "reporting_ui.action.critical");
  if (!description) return;
  try {
    await autosave(); // the text is read again from the server below
    await api(`/api/reporting/reports/${editor.report.id}/critical`, { method: "POST", json: { description } });
    await editor.reopen();
  } catch (error) {
    showError($("error"), error);
  }
}));

$("save-template").addEventListener("click", () => busy($("save-template"), async () => {
  const name = await askText(t("reporting_ui.dialog.template_name"));
  if (!name) return;
  try {
    await autosave();
    await api(`/api/reporting/reports/${editor.report.id}/template`, { method: "POST", json: { name } });
    await loadTemplates();
    setSaveState("reporting_ui.save.template", { name });
  } catch (error) {
    showError($("error"), error);
  }
}));

// -- printing ----------------------------------------------------------------------------------

// Print the newest signed version: the server logs the print (Accept: application/json) and
// names its PDF, opened in a window of its own for the browser to print. A report printed
// before is a reprint: 403 without an administrator's grant, 400 until a reason is given.
async function printReport() {
  const status = $("print-status");
  status.classList.remove("error");
  status.replaceChildren();
  showError($("error"), null);
  const id = editor.report.id;
  let reason = "";
  for (;;) {
    // Opened now, inside the click (or the reason dialog's OK), so no pop-up blocker stops it.
    const target = window.open("", "_blank");
    status.textContent = t("reporting_print.working");
    try {
      const record = await api(`/api/reporting/reports/${id}/print`, { method: "POST", json: { copies: 1, reason } });
      if (target) target.location.href = record.pdf;
      status.replaceChildren(t(record.reprint ? "reporting_print.reprint_done" : "reporting_print.done"));
      if (!target) {
        status.append(" ", el("a", { href: record.pdf, target: "_blank", rel: "noopener", textContent: t("reporting_print.open_pdf") }));
      }
      return;
    } catch (error) {
      if (target) target.close();
      status.textContent = "";
      if (error.status === 400 && !reason) {
        reason = await askText(t("reporting_print.reason"), "reporting_print.reprint");
        if (!reason) return;
        continue;
      }
      status.textContent = error.status === 403 ? t("reporting_print.needs_permission") : error.message;
      status.classList.add("error");
      return;
    }
  }
}

$("print-report").addEventListener("click", () => busy($("print-report"), printReport));

// -- flags and grades ------------------------------------------------------------------------------

async function putFlags(json) {
  showError($("error"), null);
  try {
    editor.report = await api(`/api/reporting/reports/${editor.report.id}/flags`, { method: "PUT", json });
    editor.onChange();
  } catch (error) {
    showError($("error"), error);
  }
}

$("flag-positive").addEventListener("change", () => putFlags({ positive: true }));
$("flag-negative").addEventListener("change", () => putFlags({ positive: false }));
$("flag-infectious").addEventListener("change", () => putFlags({ infectious: $("flag-infectious").checked }));
$("flag-teaching").addEventListener("change", () => {
  $("teaching-note").hidden = !$("flag-teaching").checked;
  putFlags({ teaching: $("flag-teaching").checked });
});
$("teaching-note").addEventListener("change", () => putFlags({ teaching_note: $("teaching-note").value }));

async function grade(path, quality) {
  if (!quality) return;
  try {
    await api(path, { method: "PUT", json: { quality } });
  } catch (error) {
    showError($("error"), error);
  }
}

$("image-quality").addEventListener("change", () => grade(`/api/reporting/exams/${editor.examId}/image-quality`, $("image-quality").value));
$("report-quality").addEventListener("change", () => grade(`/api/reporting/reports/${editor.report.id}/report-quality`, $("report-quality").value));

// Pathology and clinical follow-up, compared with the report (符合 / 部分符合 / 不符合).
$("follow-up").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("follow-up-save"), async () => {
    showError($("error"), null);
    try {
      editor.report = await api(`/api/reporting/reports/${editor.report.id}/follow-up`, {
        method: "PUT",
        json: { pathology_result: $("pathology-result").value, clinical_outcome: $("clinical-outcome").value, agreement: $("agreement").value },
      });
      $("follow-up-state").textContent = t("reporting_ui.follow_up.saved");
    } catch (error) {
      showError($("error"), error);
    }
  });
});
