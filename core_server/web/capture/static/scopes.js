// The endoscope page: scopes with their state (a warning when the last disinfection is
// missing, failed, unfinished or too old), record a cycle, the day's log and its PDF/Excel.
import { api, busy, showError } from "/static/shared/api.js";
import { hospitalDate, when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const status = $("status");

function scopeRow(s) {
  const last = s.last_disinfection;
  const state = el("td", { className: s.warning ? "cap-warn" : "cap-ok", textContent: s.warning ? t(s.warning) : t("capture.scopes.fit") });
  const row = el("tr", {}, el("td", { textContent: s.scope.code }), el("td", { textContent: s.scope.model }),
    el("td", { textContent: s.scope.kind }), el("td", { textContent: last ? when(last.ended_at || last.started_at) : "" }), state);
  row.dataset.scope = s.scope.code;
  return row;
}

async function showScopes() {
  const answer = await api("/api/capture/scopes");
  $("scopes").tBodies[0].replaceChildren(...answer.scopes.map(scopeRow));
}

function logRow(d) {
  return el("tr", {}, ...[d.scope, d.washer, d.cycle, when(d.started_at), d.ended_at ? when(d.ended_at) : "", d.operator,
    t("capture.result." + d.result)].map((v) => el("td", { textContent: v })));
}

async function showLog() {
  const day = $("log-day").value || hospitalDate();
  const answer = await api(`/api/capture/disinfections?day=${day}`);
  $("log").tBodies[0].replaceChildren(...answer.disinfections.map(logRow));
  $("log-pdf").href = `/api/capture/disinfections.pdf?day=${day}`;
  $("log-xlsx").href = `/api/capture/disinfections.xlsx?day=${day}`;
}

$("add-scope").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("scope-add"), async () => {
    try {
      await api("/api/capture/scopes", { method: "POST", json: { code: $("scope-code").value, serial: $("scope-serial").value, model: $("scope-model").value, kind: $("scope-kind").value } });
      $("add-scope").reset();
      status.textContent = "";
      await showScopes();
    } catch (error) {
      showError(status, error);
    }
  });
});

$("cycle").addEventListener("submit", (event) => {
  event.preventDefault();
  const scope = $("cycle-scope").value.trim();
  const body = { washer: $("cycle-washer").value, cycle: $("cycle-number").value, started_at: $("cycle-start").value,
    ended_at: $("cycle-end").value || null, result: $("cycle-result").value };
  busy($("cycle-save"), async () => {
    try {
      await api(`/api/capture/scopes/${encodeURIComponent(scope)}/disinfections`, { method: "POST", json: body });
      $("cycle").reset();
      status.textContent = t("capture.cycle.saved");
      await Promise.all([showScopes(), showLog()]);
    } catch (error) {
      showError(status, error);
    }
  });
});

$("log-day").value = hospitalDate();
$("log-day").addEventListener("change", showLog);
Promise.all([showScopes(), showLog()]).catch((error) => showError(status, error));
