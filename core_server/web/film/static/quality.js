// Film QC: the film sheets of the chosen days as pictures with their grade; a click shows the
// sheet large with the grading form (grade, reasons, note) and the grades given before.
import { api, busy, showError } from "/static/shared/api.js";
import { hospitalDate, when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const filters = $("filters");
const form = $("grade-form");
let current = null; // the sheet being graded

const gradeText = (grade) => t("film.quality_ui.grade." + (grade || "none"));
const describe = (g) => [gradeText(g.grade), ...g.reasons.map((r) => t("film.reason." + r))].join(" · ");
const picture = (id, width) => `/api/film/quality/sheets/${id}/picture.jpg?w=${width}`;

async function loadList() {
  $("error").hidden = true;
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(filters)) if (value) params.set(key, value);
  try {
    const sheets = await api("/api/film/quality/sheets?" + params);
    $("status").textContent = t("film.quality_ui.count", { n: sheets.length });
    $("sheets").replaceChildren(...sheets.map(item));
  } catch (error) {
    showError($("error"), error);
  }
}

function item(sheet) {
  const li = el("li", {},
    el("img", { src: picture(sheet.id, 720), alt: sheet.accession_number, loading: "lazy" }),
    el("div", { textContent: `${sheet.patient_name} ${sheet.accession_number} ${sheet.modality}` }),
    el("div", { textContent: `${when(sheet.created_at)} · ${t(sheet.printed ? "film.quality_ui.printed" : "film.quality_ui.cloud_only")}` }),
    el("div", { className: "fq-grade" + (sheet.grade === "poor" ? " fq-grade-poor" : ""), textContent: describe(sheet) }));
  li.dataset.sheetId = sheet.id;
  li.addEventListener("click", () => open(sheet, li));
  return li;
}

async function open(sheet, li) {
  for (const other of document.querySelectorAll("#sheets li.active")) other.classList.remove("active");
  li.classList.add("active");
  current = sheet;
  $("pick").hidden = true;
  form.hidden = false;
  $("grading-title").textContent = `${sheet.accession_number} ${sheet.patient_name} ${sheet.procedure} · ${sheet.display_format} ${sheet.film_size}`;
  $("big").src = picture(sheet.id, 1440);
  $("big-link").href = picture(sheet.id, 1440);
  // Not savable until the sheet's grades are shown: they would reset what was picked meanwhile.
  $("save").disabled = true;
  try {
    show(await api(`/api/film/quality/sheets/${sheet.id}/grades`));
    $("save").disabled = false;
  } catch (error) {
    showError($("error"), error);
  }
}

function show(given) {
  const newest = given[0];
  for (const radio of form.querySelectorAll("input[name=grade]")) radio.checked = Boolean(newest) && radio.value === newest.grade;
  const picked = new Set(newest ? newest.reasons : []);
  for (const box of form.querySelectorAll("input[name=reason]")) box.checked = picked.has(box.value);
  $("note").value = "";
  $("history").replaceChildren(...given.map((g) => el("li", { textContent: `${when(g.graded_at)} ${g.graded_by} · ${describe(g)}${g.note ? " · " + g.note : ""}` })));
}

async function save(event) {
  event.preventDefault();
  const grade = form.querySelector("input[name=grade]:checked");
  if (!current || !grade) return;
  const reasons = [...form.querySelectorAll("input[name=reason]:checked")].map((box) => box.value);
  await busy($("save"), async () => {
    try {
      const id = current.id;
      await api(`/api/film/quality/sheets/${id}/grades`, { method: "POST", json: { grade: grade.value, reasons, note: $("note").value } });
      show(await api(`/api/film/quality/sheets/${id}/grades`));
      await loadList();
      const li = document.querySelector(`#sheets li[data-sheet-id="${id}"]`);
      if (li) li.classList.add("active");
      $("status").textContent = t("film.quality_ui.saved"); // after the list, which writes its count there
    } catch (error) {
      showError($("error"), error);
    }
  });
}

$("start").value = $("start").value || hospitalDate();
$("end").value = $("end").value || hospitalDate();
filters.addEventListener("submit", (event) => { event.preventDefault(); loadList(); });
form.addEventListener("submit", save);
await loadList();
