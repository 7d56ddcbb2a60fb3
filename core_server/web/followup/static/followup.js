// The follow-up page: the due / overdue / done lists (with a bar of their sizes), marking an
// exam by accession number, one case's record (clinical diagnosis, treatment on the case;
// pathology result, outcome and agreement on the report), and unmatched pathology results.
import { api, busy, showError } from "/static/shared/api.js";
import { chart } from "/static/shared/charts.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const status = $("status");
const tabs = [...document.querySelectorAll(".fu-tabs button")];
let state = "due";
let chosen = null; // the exam id of the case shown below the list

function agreementText(value) {
  return value ? t("reporting.agreement." + value) : t("followup.not_judged");
}

function drawCounts(counts) {
  for (const tab of tabs) {
    tab.querySelector(".n").textContent = `(${counts[tab.dataset.state]})`;
    tab.setAttribute("aria-selected", String(tab.dataset.state === state));
  }
  const box = $("chart");
  box.replaceChildren();
  chart(box, {
    kind: "bar",
    labels: tabs.map((tab) => t("followup.tab." + tab.dataset.state)),
    series: [{ name: t("followup.nav.followup"), values: tabs.map((tab) => counts[tab.dataset.state]) }],
  });
}

function caseRow(item) {
  const row = el("tr", { className: item.state },
    el("td", { textContent: item.accession_number }),
    el("td", { textContent: item.patient_name }),
    el("td", { textContent: `${item.modality} ${item.procedure_name}` }),
    el("td", { textContent: item.due_date || "" }),
    el("td", { textContent: item.note }),
    el("td", { textContent: item.author }),
    el("td", { textContent: agreementText(item.agreement) }));
  row.dataset.exam = item.exam_id;
  row.classList.toggle("chosen", item.exam_id === chosen);
  row.addEventListener("click", () => openCase(item.exam_id));
  return row;
}

async function loadList() {
  const mine = $("mine").checked ? "&mine=true" : "";
  const { counts, cases } = await api(`/api/followup?state=${state}${mine}`);
  drawCounts(counts);
  const body = $("cases").tBodies[0];
  body.replaceChildren(...cases.map(caseRow));
  if (!cases.length) body.append(el("tr", {}, el("td", { colSpan: 7, textContent: t("followup.empty") })));
}

function showCase(item) {
  chosen = item.exam_id;
  $("detail").hidden = false;
  $("detail-title").textContent = t("followup.detail.title", { accession: item.accession_number });
  $("detail-impression").textContent = item.impression;
  $("detail-no-report").hidden = item.report_id !== null;
  for (const label of document.querySelectorAll("#record .on-report")) label.hidden = item.report_id === null;
  $("clinical-diagnosis").value = item.clinical_diagnosis;
  $("treatment").value = item.treatment;
  $("pathology-result").value = item.pathology_result;
  $("clinical-outcome").value = item.clinical_outcome;
  $("agreement").value = item.agreement;
  $("finish").textContent = t(item.state === "done" ? "followup.detail.reopen" : "followup.detail.finish");
  $("finish").dataset.done = String(item.state !== "done");
  $("received").replaceChildren(...item.results.map((r) =>
    el("li", { textContent: `${when(r.received_at)} ${r.sender}: ${r.text}` })));
  for (const row of $("cases").tBodies[0].rows) row.classList.toggle("chosen", Number(row.dataset.exam) === chosen);
}

async function openCase(examId) {
  try {
    showCase(await api(`/api/followup/exams/${examId}`));
  } catch (error) {
    showError(status, error);
  }
}

async function loadUnmatched() {
  const results = await api("/api/followup/pathology/unmatched");
  const body = $("unmatched").tBodies[0];
  body.replaceChildren(...results.map((r) => {
    const input = el("input", { maxLength: 64, placeholder: t("followup.mark.accession") });
    const button = el("button", { type: "button", textContent: t("followup.unmatched.assign") });
    button.addEventListener("click", () => busy(button, async () => {
      try {
        await api(`/api/followup/pathology/${r.id}/exam`, { method: "PUT", json: { accession_number: input.value.trim() } });
        status.textContent = t("followup.detail.saved");
        await Promise.all([loadUnmatched(), loadList()]);
      } catch (error) {
        showError(status, error);
      }
    }));
    return el("tr", {},
      el("td", { textContent: when(r.received_at) }), el("td", { textContent: r.sender }),
      el("td", { textContent: r.accession_number || r.placer_number }),
      el("td", { textContent: `${r.patient_name} ${r.patient_id}` }),
      el("td", { className: "text", textContent: r.text }), el("td", {}, input, button));
  }));
  if (!results.length) body.append(el("tr", {}, el("td", { colSpan: 6, textContent: t("followup.unmatched.none") })));
}

$("mark").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("mark-submit"), async () => {
    const accession = $("mark-accession").value.trim();
    try {
      const item = await api(`/api/followup/accessions/${encodeURIComponent(accession)}`, {
        method: "POST",
        json: { due_date: $("mark-due").value || null, note: $("mark-note").value },
      });
      status.textContent = t("followup.mark.done", { accession });
      state = item.state;
      await loadList();
      showCase(item);
    } catch (error) {
      showError(status, error);
    }
  });
});

$("record").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("save"), async () => {
    const json = { clinical_diagnosis: $("clinical-diagnosis").value, treatment: $("treatment").value };
    if ($("detail-no-report").hidden) {  // the exam has a report: its fields too
      Object.assign(json, {
        pathology_result: $("pathology-result").value,
        clinical_outcome: $("clinical-outcome").value,
        agreement: $("agreement").value,
      });
    }
    try {
      showCase(await api(`/api/followup/exams/${chosen}/record`, { method: "PUT", json }));
      status.textContent = t("followup.detail.saved");
      await loadList();
    } catch (error) {
      showError(status, error);
    }
  });
});

$("finish").addEventListener("click", () => busy($("finish"), async () => {
  try {
    const item = await api(`/api/followup/exams/${chosen}/done`, { method: "PUT", json: { done: $("finish").dataset.done === "true" } });
    showCase(item);
    await loadList();
  } catch (error) {
    showError(status, error);
  }
}));

for (const tab of tabs) {
  tab.addEventListener("click", async () => {
    state = tab.dataset.state;
    await loadList().catch((error) => showError(status, error));
  });
}
$("mine").addEventListener("change", () => loadList().catch((error) => showError(status, error)));

try {
  await Promise.all([loadList(), loadUnmatched()]);
} catch (error) {
  status.textContent = t("web.common.load_failed", { reason: error.message });
}
