// The exams behind a figure's row: the figure's filters and the row's keys, from the address.
import { api } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { currentParams } from "./filters.js";

const params = currentParams();
const body = document.querySelector("#exams tbody");
const status = document.getElementById("status");
const more = document.getElementById("more");
let shown = 0;

document.getElementById("chosen").textContent = [...params]
  .map(([key, value]) => `${t("statistics.dimension." + key, {}) || key}: ${value}`).join(" · ");

function row(exam) {
  const viewer = el("a", { href: "/viewer?StudyInstanceUIDs=" + encodeURIComponent(exam.study_instance_uid),
    target: "_blank", rel: "noopener", textContent: exam.accession_number });
  return el("tr", { className: "exam" },
    el("td", { textContent: when(exam.exam_time) }),
    el("td", {}, viewer),
    el("td", { textContent: exam.patient_name }),
    el("td", { textContent: exam.procedure }),
    el("td", { textContent: exam.modality }),
    el("td", { textContent: exam.department }),
    el("td", { textContent: exam.referring_department }),
    el("td", { textContent: exam.patient_class ? t("statistics.patient_class." + exam.patient_class) : "" }),
    el("td", { textContent: t("statistics.status." + exam.status) }));
}

async function load() {
  status.textContent = t("web.common.loading");
  try {
    const answer = await api(`/api/statistics/exams?${params}&offset=${shown}`);
    body.append(...answer.exams.map(row));
    shown += answer.exams.length;
    status.textContent = t("statistics.exams.count", { shown, total: answer.total });
    more.hidden = shown >= answer.total;
  } catch (error) {
    status.textContent = t("web.common.load_failed", { reason: error.message });
  }
}

more.addEventListener("click", load);
load();
