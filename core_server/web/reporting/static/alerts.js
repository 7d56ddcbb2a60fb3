// Critical value alerts: the open ones first; a clinician acknowledges receipt (with what was
// done), and the chain (raised, sent to the HIS, escalated, acknowledged) is shown per alert.
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { PAGE, personName } from "/static/reporting/page.js";

const rows = document.querySelector("#alerts tbody");
const errorBox = document.getElementById("error");
const statusLine = document.getElementById("alerts-status");
const statusSelect = document.getElementById("alert-status");

// An escalation records its minutes and level; the page says them in its language.
function detail(event) {
  if (event.kind !== "escalated" || !event.detail.startsWith("{")) return event.detail;
  try {
    return t("reporting_ui.chain.escalated_detail", JSON.parse(event.detail));
  } catch {
    return event.detail;
  }
}

function chain(alert) {
  return el("ol", { className: "rp-chain" },
    ...alert.chain.map((e) => {
      const text = detail(e);
      return el("li", {}, `${when(e.at)} ${t("reporting_ui.chain." + e.kind)}`,
        e.username ? ` · ${personName(e.username)}` : "", text ? ` · ${text}` : "");
    }));
}

async function acknowledge(alert, button) {
  const note = prompt(t("reporting_ui.alerts.note"), "");
  if (note === null) return;
  await busy(button, async () => {
    try {
      await api(`/api/reporting/critical-alerts/${alert.id}/acknowledge`, { method: "POST", json: { note } });
      await refresh();
    } catch (error) {
      showError(errorBox, error);
    }
  });
}

function state(alert) {
  if (alert.status === "open") {
    const escalated = alert.escalation_level ? " · " + t("reporting_ui.alerts.escalated", { level: alert.escalation_level }) : "";
    return el("span", { className: "badge rp-critical", textContent: t("reporting_ui.alerts.open") + escalated });
  }
  return el("span", {}, el("span", { className: "badge", textContent: t("reporting_ui.alerts.acknowledged") }),
    el("div", { className: "sub", textContent: `${personName(alert.acknowledged_by)} ${when(alert.acknowledged_at)}` }),
    alert.acknowledgement ? el("div", { textContent: alert.acknowledgement }) : null);
}

function row(alert) {
  const actions = el("td", { className: "actions" });
  if (alert.status === "open" && PAGE.role === "clinician") {
    const button = el("button", { type: "button", className: "primary", textContent: t("reporting_ui.alerts.acknowledge") });
    button.dataset.action = "acknowledge";
    button.addEventListener("click", () => acknowledge(alert, button));
    actions.append(button);
  }
  const tr = el("tr", { className: "rp-alert" },
    el("td", { textContent: when(alert.raised_at) }),
    el("td", {}, el("strong", { textContent: alert.patient_display_name }),
      el("div", { className: "sub", textContent: `${alert.patient_id} · ${alert.accession_number} · ${alert.department}` })),
    el("td", { className: "rp-alert-text", textContent: alert.description }),
    el("td", { textContent: personName(alert.raised_by) }),
    el("td", {}, state(alert)),
    el("td", {}, chain(alert)),
    actions);
  tr.dataset.alert = alert.id;
  tr.dataset.accession = alert.accession_number;
  return tr;
}

async function refresh() {
  showError(errorBox, null);
  const params = new URLSearchParams({ status: statusSelect.value });
  history.replaceState(null, "", "?" + params);
  statusLine.textContent = t("web.common.loading");
  const alerts = await api("/api/reporting/critical-alerts?" + params);
  rows.replaceChildren(...alerts.map(row));
  statusLine.textContent = alerts.length ? "" : t("web.common.none");
}

document.getElementById("alert-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  refresh().catch((e) => showError(errorBox, e));
});
statusSelect.addEventListener("change", () => refresh().catch((e) => showError(errorBox, e)));
// Open alerts are urgent: refresh every 30 seconds while the page is in front.
setInterval(() => {
  if (document.visibilityState === "visible") refresh().catch((e) => showError(errorBox, e));
}, 30 * 1000);

const initial = new URLSearchParams(location.search).get("status");
if (initial !== null) statusSelect.value = initial;
refresh().catch((e) => showError(errorBox, e));
