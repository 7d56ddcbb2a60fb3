// The report editor: one exam's report at a time. Opening an exam (a resident's click starts
// its report; anyone else starts one only on purpose), the header, the text and its fields,
// and the buttons the server allows (report.allowed_actions). Writing, the lock, the side
// panels and the steps live in their own modules.
import { api, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { $, PAGE, personName } from "/static/reporting/page.js";
import { can, editor } from "/static/reporting/state.js";
import { setEditable, settleLock } from "/static/reporting/lock.js";
import { loadTemplates, showAlerts, showDiff, showHistory, showPriors, showThumbs } from "/static/reporting/side.js";
import { STEPS } from "/static/reporting/steps.js";
import { autosave, renderFields, setSaveState } from "/static/reporting/writing.js";

export { editor };

export async function closeReport() {
  if (!editor.report) return;
  await autosave();
  if (editor.editable) {
    await api(`/api/reporting/reports/${editor.report.id}/lock`, { method: "DELETE" }).catch(() => {});
  }
  editor.report = null;
  setEditable(false);
}

let startNow = false;
$("start-report").addEventListener("click", () => {
  startNow = true;
  openExam(editor.examId, editor.row).catch((e) => showError($("error"), e));
});

// The exam's report: started by opening it (a resident writes what they open), by the start
// button, or only read (an attending looking through the list does not become its author).
async function fetchReport(examId, row) {
  if (PAGE.start_on_open || (PAGE.may_start && startNow)) {
    return api(`/api/reporting/exams/${examId}/report`, { method: "POST" });
  }
  if (row && !row.report_id) return null;
  return api(`/api/reporting/exams/${examId}/report`).catch((error) => {
    if (error.status === 404) return null;
    throw error;
  });
}

export async function openExam(examId, row) {
  if (editor.report && editor.examId !== examId) await closeReport();
  showError($("error"), null);
  editor.examId = examId;
  editor.row = row || null;
  editor.exam = await api(`/api/ris/exams/${examId}`);
  const report = await fetchReport(examId, row);
  startNow = false;
  $("editor-empty").hidden = !!report;
  $("editor-body").hidden = !report;
  if (!report) {
    editor.report = null;
    const exam = editor.exam;
    $("editor-empty-text").textContent = t("reporting_ui.editor.no_report", { name: exam.patient_display_name, procedure: exam.procedure_name });
    $("start-report").hidden = !PAGE.may_start;
    return;
  }
  editor.report = report;
  editor.dirty = false;
  editor.templateChanged = false;
  await settleLock();
  await showReport();
  editor.onChange();
}

editor.reopen = () => openExam(editor.examId, editor.row);

function showHeader(r, exam, row) {
  $("patient-name").textContent = exam.patient_display_name || r.patient_display_name;
  const meta = [r.patient_id];
  if (row) meta.push(t("reporting_ui.sex." + (row.sex || "O")), row.age !== null ? t("reporting_ui.age", { years: row.age }) : "");
  $("patient-meta").textContent = meta.filter(Boolean).join(" · ");
  $("exam-meta").textContent = [r.accession_number, exam.procedure_name, r.modality, t("reporting_ui.editor.exam_at", { at: when(exam.scheduled_at || exam.created_at) })].filter(Boolean).join(" · ");
  $("report-status").textContent = t("reporting_ui.status." + r.status);
  $("report-status").className = "badge rp-status-" + r.status;
  const badges = [];
  if (r.emergency) badges.push(el("span", { className: "badge rp-emergency", textContent: t("reporting_ui.flag.emergency") }));
  if (r.critical) badges.push(el("span", { className: "badge rp-critical", textContent: t("reporting_ui.flag.critical") }));
  if (r.infectious) badges.push(el("span", { className: "badge rp-infectious", textContent: t("reporting_ui.flag.infectious") }));
  if (r.amendments) badges.push(el("span", { className: "badge", textContent: t("reporting_ui.flag.amended", { n: r.amendments }) }));
  $("flag-badges").replaceChildren(...badges);
  const studies = exam.studies || [];
  $("open-images").hidden = !studies.length;
  $("open-images").href = "/viewer?StudyInstanceUIDs=" + studies.map(encodeURIComponent).join(",");
  $("open-pdf").hidden = !r.signed_version;
  $("open-pdf").href = `/api/reporting/reports/${r.id}/pdf`;
  $("print-report").hidden = !can("print");
  $("print-status").textContent = "";
}

function showMarks(r) {
  $("flag-positive").checked = r.positive === true;
  $("flag-negative").checked = r.positive === false;
  $("flag-infectious").checked = r.infectious;
  $("flag-teaching").checked = r.teaching;
  $("teaching-note").value = r.teaching_note;
  $("teaching-note").hidden = !r.teaching;
  for (const id of ["flag-positive", "flag-negative", "flag-infectious"]) $(id).disabled = !can("result_flags");
  for (const id of ["flag-teaching", "teaching-note"]) $(id).disabled = !can("flags");
  $("image-quality").value = r.image_quality;
  $("image-quality").disabled = !can("grade_images");
  $("report-quality").value = r.report_quality;
  $("report-quality-label").hidden = !can("grade_report");
  $("pathology-result").value = r.pathology_result;
  $("clinical-outcome").value = r.clinical_outcome;
  $("agreement").value = r.pathology_agreement;
  $("follow-up-state").textContent = r.agreement_by ? t("reporting_ui.follow_up.by", { name: personName(r.agreement_by) }) : "";
  for (const input of $("follow-up").elements) input.disabled = !can("follow_up");
}

// The buttons of the steps and actions the server allows this user now, and no others.
function showActions() {
  for (const step of STEPS) $(step).hidden = !can(step);
  $("save").hidden = !editor.editable;
  $("raise-critical").hidden = !can("critical");
  $("save-template").hidden = !can("save_template");
  $("save-template").disabled = !can("save_template");
  $("lock-break").hidden = $("lock-banner").hidden || !can("break_lock");
}

async function lastReason() {
  const history = await api(`/api/reporting/reports/${editor.report.id}/history`);
  const last = history.filter((h) => ["reject", "amend"].includes(h.action)).pop();
  const box = $("reject-reason");
  box.hidden = !(last && editor.report.status === "draft");
  if (last) box.textContent = t("reporting_ui.reason." + last.action, { name: personName(last.username), reason: last.reason, at: when(last.at) });
}

export async function showReport() {
  const r = editor.report;
  showHeader(r, editor.exam, editor.row);
  $("findings").innerHTML = r.findings; // sanitised by the server (no attributes, no scripts)
  $("impression").innerHTML = r.impression;
  editor.template = null;
  if (r.template_id) {
    editor.template = await api(`/api/reporting/templates/${r.template_id}`).catch(() => null);
  }
  renderFields(r.fields || {});
  setEditable(editor.editable);
  setSaveState(r.draft_saved_at && editor.editable ? "reporting_ui.save.saved" : "", { at: when(r.draft_saved_at) });
  showMarks(r);
  showActions();
  await Promise.all([showPriors(), loadTemplates(), showHistory(), showDiff(), showThumbs(), showAlerts(), lastReason()]);
}
