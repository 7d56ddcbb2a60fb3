// The study list: searches /api/studies with the form's filters, keeps them in the address
// (so reload and back work), pages through the answers and opens a study in the viewer.
"use strict";

const PAGE = 50;
const form = document.getElementById("study-search");
const rows = document.querySelector("#studies tbody");
const statusLine = document.getElementById("status");
const FIELDS = ["q", "modality", "date_from", "date_to"];
let offset = 0;

function dicomDate(value) {
  return value && value.length === 8 ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}` : value || "";
}

function dicomTime(value) {
  return value && value.length >= 4 ? `${value.slice(0, 2)}:${value.slice(2, 4)}` : "";
}

function age(birth, on) {
  if (!birth || birth.length !== 8) return "";
  const at = on && on.length === 8 ? on : new Date().toISOString().slice(0, 10).replaceAll("-", "");
  let years = Number(at.slice(0, 4)) - Number(birth.slice(0, 4));
  if (at.slice(4) < birth.slice(4)) years -= 1;
  return years >= 0 ? t("web.studies.age", { years }) : "";
}

function sex(code) {
  return { M: t("web.studies.sex_m"), F: t("web.studies.sex_f"), O: t("web.studies.sex_o") }[code] || "";
}

function row(study) {
  const viewer = "/viewer?StudyInstanceUIDs=" + encodeURIComponent(study.study_instance_uid);
  const tr = el("tr", { className: "study" });
  tr.dataset.studyInstanceUid = study.study_instance_uid;
  const name = el("td", {}, el("a", { href: viewer, className: "patient-name", textContent: study.patient_name_display || study.patient_name }));
  if (study.patient_name_display && study.patient_name.includes("=")) {
    name.append(el("div", { className: "sub", textContent: study.patient_name.split("=")[0].replaceAll("^", " ") }));
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
    el("td", { className: "actions" }, el("a", { href: viewer, className: "open-viewer button", textContent: t("web.studies.open") })),
  );
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
  try {
    const answer = await api("/api/studies?" + params);
    rows.replaceChildren(...answer.studies.map(row));
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

form.addEventListener("submit", (event) => {
  event.preventDefault();
  offset = 0;
  search();
});
form.addEventListener("reset", () => {
  setTimeout(() => {
    offset = 0;
    search();
  });
});
document.getElementById("previous").addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE);
  search();
});
document.getElementById("next").addEventListener("click", () => {
  offset += PAGE;
  search();
});
for (const button of form.querySelectorAll("[data-days]")) {
  button.addEventListener("click", () => {
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
    const today = new Date();
    const from = new Date(today.getTime() - Number(button.dataset.days) * 86400000);
    form.elements.date_from.value = local(from);
    form.elements.date_to.value = local(today);
    offset = 0;
    search();
  });
}

// Start from the address's filters (a bookmarked or reloaded search), else the newest studies.
const start = new URLSearchParams(location.search);
for (const name of FIELDS) form.elements[name].value = start.get(name) || "";
offset = Number(start.get("offset")) || 0;
search();
