// Who may write now: the editing lock (one editor at a time; another doctor's lock is shown as
// 张医生正在编辑 with the time it runs out), taking another doctor's draft over on purpose, an
// administrator breaking a lock, and the read-only view of a report the user may not edit
// (a submitted or signed one for its author: no toolbar, no 插入, no 保存版本, fields as text).
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { t } from "/static/shared/i18n.js";
import { $, PAGE, personName } from "/static/reporting/page.js";
import { can, editor } from "/static/reporting/state.js";
import { fieldValues, hooks, renderFields } from "/static/reporting/writing.js";

export function setEditable(on) {
  const changed = editor.editable !== on;
  editor.editable = on;
  for (const box of [$("findings"), $("impression")]) box.contentEditable = on ? "true" : "false";
  $("editor-body").classList.toggle("rp-readonly", !on);
  $("toolbar").hidden = !on;
  for (const button of document.querySelectorAll("#toolbar button")) button.disabled = !on;
  for (const button of $("templates").querySelectorAll("button")) {
    button.disabled = !on;
    button.hidden = !on;
  }
  $("save").disabled = !on;
  $("save").hidden = !on;
  if (changed && editor.template) renderFields(fieldValues());
}

export function lockedBy(holder, expiresAt) {
  setEditable(false);
  $("lock-retry").hidden = false;
  $("take-over").hidden = true;
  $("lock-text").textContent = t("reporting_ui.lock.held", { name: personName(holder), until: when(expiresAt).slice(11) });
  $("lock-banner").hidden = false;
  $("lock-break").hidden = PAGE.role !== "admin";
}
hooks.lockedBy = lockedBy;

// Take (or renew) the lock; false when another doctor holds it (the banner says who).
export async function takeLock() {
  $("lock-banner").hidden = true;
  try {
    editor.report = await api(`/api/reporting/reports/${editor.report.id}/lock`, { method: "POST" });
    return true;
  } catch (error) {
    if (error.status === 409 && error.values.holder) {
      lockedBy(error.values.holder, error.values.expires_at);
      return false;
    }
    throw error;
  }
}

// Whether this user writes the open report now (the server said so; someone else's draft
// only once they chose to take it over).
export function mayEdit() {
  return can("edit") || (can("take_over") && editor.takeOver);
}

// After opening: the lock when the report is ours to write, else why it is read-only.
export async function settleLock() {
  const report = editor.report;
  setEditable(false);
  $("take-over").hidden = true;
  const heldByOther = report.lock_holder && report.lock_holder !== PAGE.username && new Date(report.lock_expires_at) > new Date();
  if (heldByOther) {
    lockedBy(report.lock_holder, report.lock_expires_at); // an administrator may break it
  } else if (mayEdit()) {
    setEditable(await takeLock());
  } else if (can("take_over")) {
    $("lock-text").textContent = t("reporting_ui.lock.draft_of", { name: personName(report.author) });
    $("lock-banner").hidden = false;
    $("lock-retry").hidden = true;
    $("lock-break").hidden = true;
    $("take-over").hidden = false;
  } else {
    $("lock-banner").hidden = true;
  }
  editor.takeOver = false;
}

$("take-over").addEventListener("click", () => {
  editor.takeOver = true;
  editor.reopen().catch((e) => showError($("error"), e));
});
$("lock-retry").addEventListener("click", () => editor.reopen().catch((e) => showError($("error"), e)));
$("lock-break").addEventListener("click", () => busy($("lock-break"), async () => {
  try {
    await api(`/api/reporting/reports/${editor.report.id}/lock/break`, { method: "POST" });
    await editor.reopen();
  } catch (error) {
    showError($("error"), error);
  }
}));
