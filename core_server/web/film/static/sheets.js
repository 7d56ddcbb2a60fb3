// Films without exam: each sheet a modality printed that matched no exam, with its picture,
// the calling AE and the time; an accession number finds the exam, a press links the sheet.
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const picture = (id, width) => `/api/film/sheets/${id}/picture.jpg?w=${width}`;

async function load() {
  showError($("error"), null);
  try {
    const sheets = await api("/api/film/sheets/unmatched");
    $("status").textContent = sheets.length ? t("film.sheets_ui.count", { n: sheets.length }) : t("film.sheets_ui.none");
    $("sheets").replaceChildren(...sheets.map(item));
  } catch (error) {
    showError($("error"), error);
  }
}

function item(sheet) {
  const li = $("sheet-item").content.firstElementChild.cloneNode(true);
  li.dataset.sheetId = sheet.id;
  const q = (selector) => li.querySelector(selector);
  q(".fs-picture").href = picture(sheet.id, 1440);
  q("img").src = picture(sheet.id, 720);
  q("img").alt = `${sheet.display_format} ${sheet.film_size}`;
  const source = sheet.calling_ae ? t("film.sheets_ui.from_ae", { ae: sheet.calling_ae }) : sheet.source;
  q(".fs-what").textContent = `${source} · ${sheet.display_format} · ${sheet.film_size}`;
  q(".fs-when").textContent = when(sheet.created_at);
  let exam;
  q(".fs-find").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(q(".fs-error"), null);
    q(".fs-exam").hidden = true;
    const accession = q("input[name=accession]").value.trim();
    await busy(q(".fs-find-button"), async () => {
      try {
        [exam] = await api("/api/film/sheets/exams?accession=" + encodeURIComponent(accession));
        if (!exam) {
          showError(q(".fs-error"), new Error(t("film.sheets_ui.no_exam", { accession })));
          return;
        }
        q(".fs-exam-text").textContent = [exam.accession_number, exam.patient_name, exam.modality, exam.procedure].filter(Boolean).join(" · ");
        q(".fs-exam").hidden = false;
      } catch (error) {
        showError(q(".fs-error"), error);
      }
    });
  });
  q(".fs-link").addEventListener("click", async () => {
    if (!exam) return;
    await busy(q(".fs-link"), async () => {
      try {
        await api(`/api/film/sheets/${sheet.id}/exam`, { method: "POST", json: { exam_id: exam.id } });
        li.remove();
        $("status").textContent = t("film.sheets_ui.linked", { accession: exam.accession_number });
      } catch (error) {
        showError(q(".fs-error"), error);
      }
    });
  });
  return li;
}

load();
