// The study list: searches /api/studies with the form's filters, keeps them in the address
// (so reload and back work), pages through the answers; a click on a row opens the study in
// the viewer in a new tab (the list stays where it was).
import { api, busy } from "/static/shared/api.js";
import { dicomDate, hospitalDate } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { openUrl, showNearline } from "/static/storage/tiers_retrieving.js";

const PAGE = 50;
const form = document.getElementById("study-search");
const rows = document.querySelector("#studies tbody");
const statusLine = document.getElementById("status");
const FIELDS = ["q", "modality", "date_from", "date_to"];
const REPORT_STATES = ["draft", "submitted", "reviewed", "signed"];
let offset = 0;

function dicomTime(value) {
  return value && value.length >= 4 ? `${value.slice(0, 2)}:${value.slice(2, 4)}` : "";
}

function age(birth, on) {
  if (!birth || birth.length !== 8) return "";
  const at = on && on.length === 8 ? on : hospitalDate().replaceAll("-", "");
  let years = Number(at.slice(0, 4)) - Number(birth.slice(0, 4));
  if (at.slice(4) < birth.slice(4)) years -= 1;
  return years >= 0 ? t("web.studies.age", { years }) : "";
}

function sex(code) {
  return { M: t("web.studies.sex_m"), F: t("web.studies.sex_f"), O: t("web.studies.sex_o") }[code] || "";
}

// The viewer, or the "retrieving" page for a study whose online copy is gone (nearline).
function viewerUrl(study) {
  return openUrl(study.study_instance_uid);
}

function openStudy(study) {
  window.open(viewerUrl(study), "_blank", "noopener");
}

function reportCell(status) {
  const state = REPORT_STATES.includes(status) ? status : "none";
  return el("td", { className: `report-status ${state}`, textContent: t("web.studies.report." + state) });
}

function row(study) {
  const viewer = viewerUrl(study);
  const tr = el("tr", { className: "study", tabIndex: 0 });
  tr.dataset.studyInstanceUid = study.study_instance_uid;
  const name = el("td", {}, el("a", { href: viewer, target: "_blank", rel: "noopener", className: "patient-name", textContent: study.patient_name_display }));
  if (study.patient_name_latin && study.patient_name_latin !== study.patient_name_display) {
    name.append(el("div", { className: "sub", textContent: study.patient_name_latin }));
  }
  const sexAge = [sex(study.patient_sex), age(study.patient_birth_date, study.study_date)].filter(Boolean).join(" · ");
  tr.append(
    name,
    el("td", { textContent: study.patient_id }),
    el("td", { textContent: sexAge }),
    el("td", {}, dicomDate(study.study_date), el("div", { className: "sub", textContent: dicomTime(study.study_time) })),
    el("td", { textContent: study.accession_number }),
    el("td", {}, ...study.modalities.map((m) => el("span", { className: "badge", textContent: m }))),
    el("td", { textContent: study.study_description }),
    el("td", { className: "num", textContent: `${study.series} / ${study.instances}` }),
    reportCell(study.report_status),
    el("td", { className: "actions" }, el("a", { href: viewer, target: "_blank", rel: "noopener", className: "open-viewer button", textContent: t("web.studies.open") })),
  );
  // The whole row opens the study; its links do so themselves, and selecting text does not.
  tr.addEventListener("click", (event) => {
    if (event.target.closest("a, button") || String(window.getSelection())) return;
    openStudy(study);
  });
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target === tr) openStudy(study);
  });
  return tr;
}

function filters() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

async function search() {
  const params = filters();
  if (offset) params.set("offset", offset);
  history.replaceState(null, "", params.toString() ? "?" + params : location.pathname);
  params.set("limit", PAGE);
  statusLine.textContent = t("web.common.loading");
  // The pager waits for this answer: a second click would skip a page.
  document.getElementById("previous").disabled = document.getElementById("next").disabled = true;
  try {
    const answer = await api("/api/studies?" + params);
    rows.replaceChildren(...answer.studies.map(row));
    showNearline(rows);
    const first = answer.total ? offset + 1 : 0;
    const last = offset + answer.studies.length;
    document.getElementById("page-info").textContent = answer.total
      ? t("web.common.page", { first, last, total: answer.total })
      : "";
    statusLine.textContent = answer.total ? "" : t("web.common.none");
    document.getElementById("previous").disabled = offset === 0;
    document.getElementById("next").disabled = last >= answer.total;
  } catch (error) {
    statusLine.textContent = t("web.common.load_failed", { reason: error.message });
  }
}

const searchButton = document.getElementById("search");
form.addEventListener("submit", (event) => {
  event.preventDefault();
  offset = 0;
  busy(searchButton, search);
});
form.addEventListener("reset", () => {
  setTimeout(() => {
    offset = 0;
    busy(searchButton, search);
  });
});
for (const [id, step] of [["previous", -PAGE], ["next", PAGE]]) {
  document.getElementById(id).addEventListener("click", () => {
    offset = Math.max(0, offset + step);
    search();
  });
}
// Quick dates are the hospital's days, whatever zone the workstation's clock is set to.
for (const button of form.querySelectorAll("[data-days]")) {
  button.addEventListener("click", () => {
    const today = new Date();
    const from = new Date(today.getTime() - Number(button.dataset.days) * 86400000);
    form.elements.date_from.value = hospitalDate(from);
    form.elements.date_to.value = hospitalDate(today);
    offset = 0;
    busy(button, search);
  });
}

// Start from the address's filters (a bookmarked or reloaded search), else the newest studies.
const start = new URLSearchParams(location.search);
for (const name of FIELDS) form.elements[name].value = start.get(name) || "";
offset = Number(start.get("offset")) || 0;
search();
