// The reporting worklist beside the editor: filters kept in the address bar (with the open
// exam), rows with patient, exam, report status, flags and priors; a click opens the report.
// The page's entry module: it loads the editor's.
import { api, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { editor, openExam } from "/static/reporting/editor.js";
import { $, PAGE, personName } from "/static/reporting/page.js";

const FILTERS = ["q", "report_status", "modality", "body_part", "date_from", "date_to", "id_suffix", "age"];
const CHECKS = ["mine", "critical"];
const worklist = $("worklist");
const worklistStatus = $("worklist-status");

function filterParams() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = $(name).value.trim();
    if (value) params.set(name, value);
  }
  for (const name of CHECKS) if ($(name).checked) params.set(name, "true");
  return params;
}

function remember() {
  const params = filterParams();
  if (editor.examId) params.set("exam", editor.examId);
  history.replaceState(null, "", "?" + params);
}

function badge(className, key, values) {
  return el("span", { className: "badge " + className, textContent: t(key, values) });
}

function item(row) {
  const li = el("li", { className: "rp-item", tabIndex: 0 });
  li.dataset.examId = row.exam_id;
  li.dataset.accession = row.accession_number;
  if (row.exam_id === editor.examId) li.classList.add("active");
  const first = el("div", { className: "rp-line" }, el("strong", { className: "rp-name", textContent: row.patient_display_name }),
    el("span", { className: "sub", textContent: [t("reporting_ui.sex." + (row.sex || "O")), row.age !== null ? t("reporting_ui.age", { years: row.age }) : ""].filter(Boolean).join(" ") }));
  if (row.emergency) first.append(badge("rp-emergency", "reporting_ui.flag.emergency"));
  if (row.critical) first.append(badge("rp-critical", "reporting_ui.flag.critical"));
  if (row.infectious) first.append(badge("rp-infectious", "reporting_ui.flag.infectious"));
  if (row.positive === true) first.append(badge("rp-positive", "reporting_ui.flags.positive"));
  const second = el("div", { className: "rp-line sub" },
    `${row.modality} · ${row.procedure_name} · ${when(row.exam_at)}`);
  const third = el("div", { className: "rp-line" },
    el("span", { className: "badge rp-status-" + (row.report_status || "unreported"), textContent: t("reporting_ui.status." + (row.report_status || "unreported")) }),
    el("span", { className: "sub", textContent: row.patient_id }));
  if (row.author) third.append(el("span", { className: "sub", textContent: personName(row.author) }));
  if (row.priors > 0) third.append(badge("rp-has-priors", "reporting_ui.worklist.priors", { n: row.priors }));
  if (row.waiting_for_retake) third.append(badge("rp-retake", "reporting_ui.worklist.waiting_for_retake", { accession: row.waiting_for_retake }));
  if (row.locked_by && row.locked_by !== PAGE.username) {
    third.append(badge("rp-locked", "reporting_ui.worklist.locked", { name: personName(row.locked_by) }));
  }
  li.append(first, second, third);
  const open = () => {
    for (const other of worklist.querySelectorAll(".rp-item.active")) other.classList.remove("active");
    li.classList.add("active");
    openExam(row.exam_id, row).then(remember).catch((e) => showError($("error"), e));
  };
  li.addEventListener("click", open);
  // Keyboard: Enter opens, the arrows move through the list.
  li.addEventListener("keydown", (event) => {
    if (event.key === "Enter") open();
    const next = event.key === "ArrowDown" ? li.nextElementSibling : event.key === "ArrowUp" ? li.previousElementSibling : null;
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });
  return li;
}

let rowsByExam = new Map();
const PAGE_SIZE = 100; // rows per page; "more" appends the next
const more = $("worklist-more");
let total = 0;

async function fetchRows(offset, limit) {
  const params = filterParams();
  params.set("offset", offset);
  params.set("limit", limit);
  return api("/api/reporting/worklist?" + params, {
    onHeaders: (headers) => { total = Number(headers.get("X-Total-Count") || 0); },
  });
}

function showCount() {
  const shown = rowsByExam.size;
  worklistStatus.textContent = !shown ? t("web.common.none")
    : shown < total ? t("reporting_ui.worklist.count_of", { n: shown, total })
    : t("reporting_ui.worklist.count", { n: shown });
  more.hidden = shown >= total;
}

// The first page again, as long as what is shown (a refresh keeps the rows "more" added).
async function refreshWorklist() {
  worklistStatus.textContent = t("web.common.loading");
  try {
    const rows = await fetchRows(0, Math.min(1000, Math.max(PAGE_SIZE, rowsByExam.size)));
    rowsByExam = new Map(rows.map((r) => [r.exam_id, r]));
    worklist.replaceChildren(...rows.map(item));
    showCount();
    if (editor.examId && rowsByExam.has(editor.examId)) editor.row = rowsByExam.get(editor.examId);
  } catch (error) {
    worklistStatus.textContent = error.message;
  }
}

more.addEventListener("click", async () => {
  try {
    const rows = (await fetchRows(rowsByExam.size, PAGE_SIZE)).filter((r) => !rowsByExam.has(r.exam_id));
    for (const row of rows) rowsByExam.set(row.exam_id, row);
    worklist.append(...rows.map(item));
    showCount();
  } catch (error) {
    worklistStatus.textContent = error.message;
  }
});

editor.onChange = () => refreshWorklist();

function newSearch() {
  rowsByExam = new Map(); // a new search starts from its first page
  remember();
  refreshWorklist();
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  newSearch();
});
for (const name of ["report_status", "modality", "body_part", "date_from", "date_to", ...CHECKS]) {
  $(name).addEventListener("change", newSearch);
}

// New exams arrive all day: the list refreshes every minute while the page is in front.
setInterval(() => {
  if (document.visibilityState === "visible") refreshWorklist();
}, 60 * 1000);

(async () => {
  const params = new URLSearchParams(location.search);
  for (const name of FILTERS) if (params.has(name)) $(name).value = params.get(name);
  for (const name of CHECKS) $(name).checked = params.get(name) === "true";
  await refreshWorklist();
  const exam = Number(params.get("exam"));
  if (exam) await openExam(exam, rowsByExam.get(exam));
})().catch((e) => showError($("error"), e));
