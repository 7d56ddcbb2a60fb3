// The import page: read a mounted disc or upload files (/api/storage/imports), show the
// outside patients and their studies, decide for each (our patient + exam, keep their IDs,
// skip; new UIDs), pictures/PDFs for an exam, then store and watch the progress.
import { api, busy, showError } from "/static/shared/api.js";
import { dicomDate, when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const BASE = "/api/storage/imports";
const errorBox = document.getElementById("error");
let current = null;
let poll = null;

// Run work(), showing its error; a user's action (clear) also clears an earlier error,
// background fills (candidates, exams) do not hide it.
async function attempt(work, clear = true) {
  try { await work(); if (clear) showError(errorBox, null); } catch (e) { showError(errorBox, e); }
}

function studiesCell(patient) {
  return el("td", {}, ...patient.studies.map((s) => el("div", {
    textContent: [dicomDate(s.study_date), s.modalities.join("/"), s.description,
      t("storage.importing.instances", { count: s.instances })].filter(Boolean).join(" · "),
  })));
}

async function examOptions(select, patientId, issuer, chosen) {
  const exams = patientId ? await api(`/api/ris/exams?patient_id=${encodeURIComponent(patientId)}&limit=50`) : [];
  select.replaceChildren(el("option", { value: "", textContent: t("storage.importing.no_exam") }),
    ...exams.filter((e) => e.issuer === issuer).map((e) => el("option", {
      value: e.id, selected: e.id === chosen,
      textContent: `${e.accession_number} ${e.modality} ${e.procedure_name || e.procedure_code} (${dicomDate((e.scheduled_at || "").slice(0, 10).replaceAll("-", ""))})`,
    })));
}

function decisionCell(patient) {
  const decision = el("select", { name: "decision" }, ...["pending", "match", "keep", "skip"].map((d) =>
    el("option", { value: d, selected: patient.decision === d, textContent: t(`storage.importing.decision.${d}`) })));
  const ours = el("select", { name: "patient" });
  const search = el("input", { type: "search", placeholder: t("storage.importing.search_patient") });
  const exam = el("select", { name: "exam" });
  const rekey = el("input", { type: "checkbox", name: "rekey", checked: patient.rekey });
  const save = el("button", { type: "button", textContent: t("storage.importing.save") });
  const fill = (list) => {
    const chosen = `${patient.patient_id}|${patient.issuer}`;
    ours.replaceChildren(...list.map((p) => el("option", {
      value: `${p.patient_id}|${p.issuer}`, selected: `${p.patient_id}|${p.issuer}` === chosen,
      textContent: `${p.display_name} ${p.pinyin_display} ${p.patient_id} ${p.birth_date || ""}`,
    })));
    ours.dispatchEvent(new Event("change"));
  };
  ours.addEventListener("change", () => {
    const [id, issuer] = (ours.value || "|").split("|");
    attempt(() => examOptions(exam, id, issuer, patient.exam_id), false);
  });
  search.addEventListener("change", () => attempt(async () =>
    fill(await api(`/api/ris/patients?text=${encodeURIComponent(search.value)}&limit=20`))));
  const matchBox = el("span", { className: "match" }, search, ours, exam);
  const shown = () => { matchBox.hidden = decision.value !== "match"; };
  decision.addEventListener("change", shown);
  shown();
  save.addEventListener("click", () => busy(save, () => attempt(async () => {
    const [id, issuer] = (ours.value || "|").split("|");
    const body = { decision: decision.value, rekey: rekey.checked, patient_id: id, issuer,
      exam_id: decision.value === "match" && exam.value ? Number(exam.value) : null };
    render(await api(`${BASE}/${current}/patients/${patient.id}`, { method: "PUT", json: body }));
  })));
  attempt(async () => fill(await api(`${BASE}/${current}/patients/${patient.id}/candidates`)), false);
  return el("td", {}, decision, matchBox,
    el("label", {}, rekey, t("storage.importing.rekey")), save,
    patient.decided_by ? el("span", { className: "hint", textContent: ` ${t("storage.importing.decided_by", { user: patient.decided_by })}` }) : null);
}

function documentsList(session) {
  const box = document.getElementById("documents-box");
  box.hidden = !session.documents.length;
  const exam = el("input", { type: "number", min: 1, placeholder: t("storage.importing.exam_id") });
  const attach = el("button", { type: "button", textContent: t("storage.importing.attach") });
  attach.addEventListener("click", () => busy(attach, () => attempt(async () => {
    const ids = session.documents.map((d) => d.id);
    render(await api(`${BASE}/${session.id}/documents`, { method: "PUT", json: { file_ids: ids, exam_id: exam.value ? Number(exam.value) : null } }));
  })));
  document.getElementById("documents").replaceChildren(
    ...session.documents.map((d) => el("li", { textContent: `${d.path} (${t(`storage.importing.kind.${d.kind}`)})${d.exam_id ? " → " + d.exam_id : ""}` })),
    el("li", {}, exam, attach));
}

function render(session) {
  current = session.id;
  document.getElementById("session").hidden = false;
  document.getElementById("session-title").textContent = `${session.label || session.source} · ${when(session.created_at)}`;
  const counts = Object.entries(session.files).map(([k, v]) => `${t(`storage.importing.file.${k}`)} ${v}`).join(" · ");
  document.getElementById("session-status").textContent = `${t(`storage.importing.state.${session.state}`)} · ${counts}${session.error ? " · " + session.error : ""}`;
  document.querySelector("#patients tbody").replaceChildren(...session.patients.map((p) => el("tr", {},
    el("td", {}, el("strong", { textContent: p.name }), el("div", { textContent: [p.name_pinyin, p.foreign_id, dicomDate(p.birth_date), p.sex].filter(Boolean).join(" · ") })),
    studiesCell(p), decisionCell(p))));
  documentsList(session);
  document.getElementById("failed").replaceChildren(...session.failed.map((f) => el("li", { textContent: `${f.path}: ${f.error}` })));
  clearTimeout(poll);
  if (session.state === "running") poll = setTimeout(() => open(session.id), 2000);
  else loadSessions();
}

async function open(id) { await attempt(async () => render(await api(`${BASE}/${id}`))); }

async function loadSessions() {
  const list = await api(BASE);
  document.querySelector("#sessions tbody").replaceChildren(...list.map((s) => {
    const link = el("a", { href: "#", textContent: s.label || s.source });
    link.addEventListener("click", (event) => { event.preventDefault(); open(s.id); });
    return el("tr", {}, el("td", { textContent: when(s.created_at) }), el("td", {}, link),
      el("td", { textContent: t(`storage.importing.state.${s.state}`) }));
  }));
}

document.getElementById("media-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const values = Object.fromEntries(new FormData(event.target));
  busy(document.getElementById("read"), () => attempt(async () => render(await api(BASE, { method: "POST", json: values }))));
});
document.getElementById("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData();
  for (const input of [document.getElementById("files"), document.getElementById("folder")]) {
    for (const file of input.files) form.append("files", file, file.webkitRelativePath || file.name);
  }
  busy(document.getElementById("upload"), () => attempt(async () => render(await api(`${BASE}/upload`, { method: "POST", body: form }))));
});
const store = document.getElementById("store");
store.addEventListener("click", () => busy(store, () => attempt(async () => render(await api(`${BASE}/${current}/store`, { method: "POST" })))));
attempt(loadSessions);
