// Exams overdue now. The list polls every 30 s rather than following the exam events: an
// exam becomes overdue by time passing alone, with no event to announce it.
import { api } from "/static/shared/api.js";
import { chart } from "/static/shared/charts.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const REFRESH_MS = 30000;
const body = document.querySelector("#overdue tbody");
const status = document.getElementById("status");
const box = document.getElementById("chart");
const num = (text) => el("td", { className: "num", textContent: text });

function row(exam) {
  return el("tr", { className: exam.priority === "emergency" ? "emergency" : "" },
    el("td", { textContent: exam.accession_number }),
    el("td", { textContent: exam.patient_name }),
    el("td", { textContent: exam.procedure }),
    el("td", { textContent: exam.department }),
    el("td", { textContent: t("statistics.turnaround.priority." + exam.priority) }),
    el("td", { textContent: t("statistics.turnaround.step." + exam.step) }),
    el("td", { textContent: when(exam.since) }),
    num(exam.waited_minutes),
    num(exam.target_minutes),
    el("td", { className: "num over", textContent: exam.over_minutes }));
}

function draw(exams) {
  const per = new Map();
  for (const exam of exams) per.set(exam.department, (per.get(exam.department) || 0) + 1);
  box.replaceChildren();
  box.hidden = per.size === 0;
  if (per.size) {
    chart(box, { kind: "bar", labels: [...per.keys()],
      series: [{ name: t("statistics.nav.overdue"), values: [...per.values()] }] });
  }
}

async function load() {
  try {
    const answer = await api("/api/statistics/overdue" + location.search);
    body.replaceChildren(...answer.exams.map(row));
    draw(answer.exams);
    status.textContent = answer.total
      ? t("statistics.overdue.count", { total: answer.total, at: when(answer.at) })
      : t("statistics.overdue.none");
  } catch (error) {
    status.textContent = t("web.common.load_failed", { reason: error.message });
  }
}

load();
setInterval(load, REFRESH_MS);
