// The QC page: performed exams of the chosen days with their image grade; a click opens the
// grading form (grade, reasons from the list, note); an exam graded 差 may be sent back.
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const filters = $("filters");
const form = $("grade-form");
let reasons = [];
let current = null; // the exam row being graded

function gradeText(grade) {
  return t("quality_ui.grade." + (grade || "none"));
}

function reasonName(code) {
  const found = reasons.find((r) => r.code === code);
  return found ? found.name_zh : code;
}

async function loadList() {
  $("error").hidden = true;
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(filters)) if (value) params.set(key, value);
  try {
    const rows = await api("/api/quality/exams?" + params);
    $("status").textContent = t("quality_ui.count", { n: rows.length });
    $("exams").tBodies[0].replaceChildren(...rows.map(row));
  } catch (error) {
    showError($("error"), error);
  }
}

function row(exam) {
  const retake = exam.waiting_for_retake
    ? el("span", { className: "qc-waiting", textContent: t("quality_ui.retake.waiting", { accession: exam.waiting_for_retake }) })
    : "";
  const tr = el("tr", {},
    el("td", { textContent: exam.accession_number }),
    el("td", { textContent: exam.patient_name }),
    el("td", { textContent: exam.procedure_name }),
    el("td", { textContent: when(exam.exam_at) }),
    el("td", { className: exam.grade === "poor" ? "qc-grade-poor" : "", textContent: [gradeText(exam.grade), ...exam.reasons.map(reasonName)].join(" · ") }),
    el("td", {}, retake));
  tr.dataset.examId = exam.exam_id;
  tr.addEventListener("click", () => open(exam, tr));
  return tr;
}

async function open(exam, tr) {
  for (const other of document.querySelectorAll("#exams tr.active")) other.classList.remove("active");
  tr.classList.add("active");
  current = exam;
  $("pick").hidden = true;
  form.hidden = false;
  $("grading-title").textContent = `${exam.accession_number} ${exam.patient_name} ${exam.procedure_name}`;
  // Not savable until the exam's grades are shown: they would reset what was picked meanwhile.
  $("save").disabled = true;
  try {
    show(await api(`/api/quality/exams/${exam.exam_id}`));
    $("save").disabled = false;
  } catch (error) {
    showError($("error"), error);
  }
}

function show(detail) {
  for (const radio of form.querySelectorAll("input[name=grade]")) radio.checked = radio.value === detail.grade;
  const picked = new Set(detail.grades.length ? detail.grades[0].reasons : []);
  for (const box of form.querySelectorAll("input[name=reason]")) box.checked = picked.has(box.value);
  $("note").value = "";
  const waiting = detail.retakes.find((r) => r.waiting);
  $("send-back").disabled = detail.grade !== "poor" || Boolean(waiting);
  $("history").replaceChildren(
    ...detail.retakes.map((r) => el("li", { textContent: `${when(r.sent_at)} ${r.sent_by} · ${t(r.waiting ? "quality_ui.retake.waiting" : "quality_ui.retake.done", { accession: r.retake_accession })}` })),
    ...detail.grades.map((g) => el("li", { textContent: `${when(g.graded_at)} ${g.graded_by} · ${[gradeText(g.grade), ...g.reasons.map(reasonName)].join(" · ")}${g.note ? " · " + g.note : ""}` })));
}

async function save(event) {
  event.preventDefault();
  const grade = form.querySelector("input[name=grade]:checked");
  if (!current || !grade) return;
  const picked = [...form.querySelectorAll("input[name=reason]:checked")].map((box) => box.value);
  await busy($("save"), async () => {
    try {
      await api(`/api/quality/exams/${current.exam_id}/image-grade`, { method: "PUT", json: { grade: grade.value, reasons: picked, note: $("note").value } });
      show(await api(`/api/quality/exams/${current.exam_id}`));
      await refreshRow();
      $("status").textContent = t("quality_ui.saved"); // after the list, which writes its count there
    } catch (error) {
      showError($("error"), error);
    }
  });
}

async function sendBack() {
  if (!current) return;
  let detail = null;
  await busy($("send-back"), async () => {
    try {
      const sent = await api(`/api/quality/exams/${current.exam_id}/retake`, { method: "POST", json: { kind: $("retake-kind").value } });
      detail = await api(`/api/quality/exams/${current.exam_id}`);
      await refreshRow();
      $("status").textContent = t("quality_ui.retake.sent", { accession: sent.retake_accession });
    } catch (error) {
      showError($("error"), error);
    }
  });
  if (detail) show(detail); // after busy() gave the button back: a waiting exam is not sent twice
}

async function refreshRow() {
  const id = current.exam_id;
  await loadList();
  const tr = document.querySelector(`#exams tr[data-exam-id="${id}"]`);
  if (tr) tr.classList.add("active");
}

filters.addEventListener("submit", (event) => { event.preventDefault(); loadList(); });
form.addEventListener("submit", save);
$("send-back").addEventListener("click", sendBack);
try {
  reasons = await api("/api/quality/reasons?active=true");
  $("reasons").append(...reasons.map((r) => el("label", {}, el("input", { type: "checkbox", name: "reason", value: r.code }), " " + r.name_zh)));
} catch (error) {
  showError($("error"), error);
}
await loadList();
