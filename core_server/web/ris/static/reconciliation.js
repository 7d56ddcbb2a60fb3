// Unmatched studies: link each to its exam by accession number (the stored images are
// rewritten with the exam's patient and accession number).
import { api, busy, showError } from "/static/shared/api.js";
import { dicomDate } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const rows = document.querySelector("#unmatched tbody");
const errorBox = document.getElementById("error");
const statusLine = document.getElementById("status");

function row(study) {
  const input = el("input", { type: "text", maxLength: 16, placeholder: t("ris.exam.accession") });
  // Link as one more study of the exam, or merge into the exam's study (one exam, one study).
  const how = el("select", {},
    el("option", { value: "link", textContent: t("ris.reconciliation.as_own_study") }),
    el("option", { value: "merge", textContent: t("ris.reconciliation.merge_into_study") }));
  const button = el("button", { type: "button", className: "primary", textContent: t("ris.action.link") });
  button.addEventListener("click", () => busy(button, async () => {
    showError(errorBox, null);
    try {
      const exam = await api("/api/ris/exams/by-accession/" + encodeURIComponent(input.value.trim()));
      await api("/api/ris/reconciliation/" + how.value, {
        method: "POST",
        json: { study_instance_uid: study.study_instance_uid, exam_id: exam.id },
      });
      statusLine.textContent = t("ris.reconciliation.linked", { accession: exam.accession_number });
      await refresh();
    } catch (error) {
      showError(errorBox, error);
    }
  }));
  return el("tr", { className: "study" },
    el("td", {}, study.patient_display_name, el("div", { className: "sub", textContent: study.patient_id })),
    el("td", { textContent: study.accession_number }),
    el("td", { className: "date", textContent: dicomDate(study.study_date) }),
    el("td", { textContent: `${study.station_ae} ${study.modality}` }),
    el("td", { className: "num", textContent: String(study.instances) }),
    el("td", { className: "actions" }, input, how, button));
}

async function refresh() {
  const studies = await api("/api/ris/reconciliation");
  rows.replaceChildren(...studies.map(row));
  if (!studies.length) statusLine.textContent ||= t("ris.reconciliation.none");
}

refresh().catch((e) => showError(errorBox, e));
