// The audit trail, read-only, over /api/audit. Times show in the hospital's zone; the date
// filters are the hospital's days (the API reads a date without an offset so).
import { api, busy } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const LABELS = pageData().labels || {};
const PAGE = 100;
const form = document.getElementById("audit-search");
const tbody = document.querySelector("#audit tbody");
const statusLine = document.getElementById("status");
let offset = 0;

function actionName(action) {
  return LABELS[action] || action;
}

function row(event) {
  const detail = Object.keys(event.detail).length ? JSON.stringify(event.detail) : "";
  return el("tr", { className: "audit-event" },
    el("td", { textContent: when(event.at) }),
    el("td", { textContent: event.username || "" }),
    el("td", { textContent: actionName(event.action) }),
    el("td", { textContent: event.target }),
    el("td", { textContent: event.address }),
    el("td", {}, el("pre", { className: "detail", textContent: detail })),
  );
}

// "2026-03-10" -> the next day's date (the "until" bound is exclusive).
function nextDay(value) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

async function load() {
  const f = form.elements;
  const params = new URLSearchParams({ limit: PAGE, offset });
  for (const name of ["username", "action", "target"]) {
    if (f[name].value.trim()) params.set(name, f[name].value.trim());
  }
  if (f.since.value) params.set("since", f.since.value);
  if (f.until.value) params.set("until", nextDay(f.until.value));
  statusLine.textContent = t("web.common.loading");
  try {
    const answer = await api("/api/audit?" + params);
    tbody.replaceChildren(...answer.events.map(row));
    const last = offset + answer.events.length;
    document.getElementById("page-info").textContent = answer.total
      ? t("web.common.page", { first: offset + 1, last, total: answer.total })
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
  busy(document.getElementById("audit-go"), load);
});
document.getElementById("previous").addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE);
  load();
});
document.getElementById("next").addEventListener("click", () => {
  offset += PAGE;
  load();
});
load();
