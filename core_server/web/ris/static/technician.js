// Technician's worklist: the room's exams of the day, checks (identity, request form, fee),
// start and finish for modalities without MPPS, whether images arrived, retakes. Names as a
// person reads them, times in the hospital's zone; buttons stay disabled while they work.
import { api, busy, showError } from "/static/shared/api.js";
import { hospitalDate, when } from "/static/shared/dates.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { statusText } from "/static/ris/common.js";

const roomSelect = document.getElementById("room");
const dayInput = document.getElementById("day");
const rows = document.querySelector("#exams tbody");
const errorBox = document.getElementById("error");
const statusLine = document.getElementById("status");
const ACTIONS = pageData().actions || {};
const NEXT = { scheduled: ["arrived", "ris.action.check_in"], arrived: ["in_progress", "ris.action.start"], in_progress: ["completed", "ris.action.finish"] };

async function act(path, json, button = null) {
  showError(errorBox, null);
  try {
    await busy(button, () => post(path, json));
    await refresh();
  } catch (error) {
    showError(errorBox, error);
  }
}

// A check-in of an exam booked for another day goes through only once the technician says so.
async function post(path, json) {
  try {
    return await api(path, { method: "POST", json });
  } catch (error) {
    if (error.code !== "ris.exam.check_in_other_day" || !window.confirm(error.message)) throw error;
    return api(path, { method: "POST", json: { ...json, confirm_other_day: true } });
  }
}

function check(exam, field, key) {
  const box = el("input", { type: "checkbox", checked: exam[field + "_confirmed"] });
  box.dataset.check = field;
  box.addEventListener("change", () => act(`/api/ris/exams/${exam.id}/confirm`, { [field]: box.checked }));
  return el("label", { className: "checkbox" }, box, t(key));
}

// The accession number opens the exam's history and its scanned request forms below the row.
function details(exam) {
  const button = el("button", { type: "button", className: "link details", textContent: exam.accession_number });
  button.addEventListener("click", async () => {
    const tr = button.closest("tr");
    const open = tr.nextElementSibling;
    if (open && open.classList.contains("exam-details")) return open.remove();
    try {
      const full = await api(`/api/ris/exams/${exam.id}`);
      const steps = full.history.map((h) => el("li", {},
        `${when(h.at)} ${statusText(h.new_status)} · ${h.username}${h.reason ? " · " + h.reason : ""}`));
      const forms = full.requisitions.map((r) => el("li", {},
        el("a", { href: `/api/ris/requisitions/${r.id}`, target: "_blank", textContent: r.filename })));
      const cell = el("td", { colSpan: 8 },
        el("strong", { textContent: t("ris.technician.history") }), el("ul", {}, ...steps),
        el("strong", { textContent: t("ris.exam.requisition") }),
        forms.length ? el("ul", {}, ...forms) : el("p", { className: "hint", textContent: t("ris.technician.no_requisition") }));
      tr.after(el("tr", { className: "exam-details" }, cell));
    } catch (error) {
      showError(errorBox, error);
    }
  });
  return button;
}

// Image quality (甲/乙/丙/丁) by the technician once images exist, through the reporting API;
// the grade already given is shown when the list is drawn.
const GRADABLE = ["completed", "reported", "verified"];
const GRADES = ["excellent", "good", "fair", "poor"];

function imageQuality(exam) {
  const select = el("select", { className: "image-quality", title: t("reporting_ui.quality.image") },
    el("option", { value: "", textContent: t("reporting_ui.quality.image") }),
    ...GRADES.map((g) => el("option", { value: g, textContent: t("reporting.quality." + g) })));
  select.dataset.exam = exam.id;
  api(`/api/reporting/exams/${exam.id}/image-quality`)
    .then((grade) => { select.value = grade.quality; })
    .catch((error) => showError(errorBox, error));
  select.addEventListener("change", async () => {
    if (!select.value) return;
    showError(errorBox, null);
    try {
      await api(`/api/reporting/exams/${exam.id}/image-quality`, { method: "PUT", json: { quality: select.value } });
      statusLine.textContent = t("reporting_ui.quality.image") + " ✓";
    } catch (error) {
      showError(errorBox, error);
    }
  });
  return select;
}

function row(exam) {
  const actions = el("td", { className: "actions" });
  const next = NEXT[exam.status];
  if (next) {
    const button = el("button", { type: "button", className: "primary", textContent: t(next[1]) });
    button.dataset.action = next[0];
    button.addEventListener("click", () => act(`/api/ris/exams/${exam.id}/status`, { status: next[0] }, button));
    actions.append(button);
  }
  if (["in_progress", "completed"].includes(exam.status)) {
    const retake = el("button", { type: "button", className: "secondary", textContent: t("ris.action.retake") });
    retake.addEventListener("click", () => {
      const kind = prompt(t("ris.technician.retake_kind"), "additional");
      if (kind) act(`/api/ris/exams/${exam.id}/retake`, { kind }, retake);
    });
    actions.append(retake);
  }
  if (GRADABLE.includes(exam.status)) actions.append(imageQuality(exam));
  // A disc of a performed exam, and the film composer, for users who may (the page says).
  if (GRADABLE.includes(exam.status) && ACTIONS.burn_disc) {
    actions.append(el("a", { href: `/discs?exam=${exam.id}`, className: "button secondary burn-disc", textContent: t("discs.queue.title") }));
  }
  if (exam.images && exam.studies.length && ACTIONS.compose_film) {
    actions.append(el("a", { href: `/film/compose?study=${encodeURIComponent(exam.studies[0])}&exam=${exam.id}`, className: "button secondary film-compose", textContent: t("film.compose.link") }));
  }
  const name = el("td", {}, exam.patient_display_name, el("div", { className: "sub", textContent: exam.patient_pinyin_display }));
  if (exam.emergency) name.prepend(el("span", { className: "badge emergency", textContent: t("ris.exam.emergency") }));
  const tr = el("tr", { className: "exam" },
    el("td", { textContent: when(exam.scheduled_at, { short: true }) }),
    name,
    el("td", {}, details(exam)),
    el("td", { textContent: exam.procedure_name }),
    el("td", {}, el("span", { className: "badge status-" + exam.status, textContent: statusText(exam.status) })),
    el("td", {}, check(exam, "identity", "ris.exam.identity"), check(exam, "requisition", "ris.exam.requisition"), check(exam, "fee", "ris.exam.fee")),
    el("td", { className: "num images" }, exam.images
      ? el("a", { href: "/viewer?StudyInstanceUIDs=" + exam.studies.map(encodeURIComponent).join(","), textContent: String(exam.images) })
      : t("ris.technician.images_none")),
    actions);
  tr.dataset.accession = exam.accession_number;
  return tr;
}

async function refresh() {
  const params = new URLSearchParams({ room: roomSelect.value, day: dayInput.value });
  history.replaceState(null, "", "?" + params);
  statusLine.textContent = t("web.common.loading");
  const exams = await api("/api/ris/exams?" + params);
  rows.replaceChildren(...exams.map(row));
  statusLine.textContent = exams.length ? "" : t("web.common.none");
}

document.getElementById("choose").addEventListener("submit", (event) => {
  event.preventDefault();
  refresh().catch((e) => showError(errorBox, e));
});

(async () => {
  const rooms = await api("/api/ris/rooms");
  roomSelect.replaceChildren(...rooms.map((r) => el("option", { value: r.code, textContent: `${r.name} (${r.modality})` })));
  const params = new URLSearchParams(location.search);
  if (params.get("room")) roomSelect.value = params.get("room");
  dayInput.value = params.get("day") || hospitalDate();
  roomSelect.addEventListener("change", () => refresh().catch((e) => showError(errorBox, e)));
  await refresh();
  setInterval(() => refresh().catch(() => {}), 30000);  // images and MPPS arrive meanwhile
})().catch((e) => showError(errorBox, e));
