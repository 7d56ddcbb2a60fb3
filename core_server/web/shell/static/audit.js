// The audit trail, read-only, over /api/audit.
"use strict";

const PAGE = 100;
const form = document.getElementById("audit-search");
const tbody = document.querySelector("#audit tbody");
const statusLine = document.getElementById("status");
let offset = 0;

function actionName(action) {
  const key = "audit." + action;
  return key in TEXTS ? t(key) : action;
}

function row(event) {
  const detail = Object.keys(event.detail).length ? JSON.stringify(event.detail) : "";
  return el("tr", { className: "audit-event" },
    el("td", { textContent: new Date(event.at).toLocaleString(document.documentElement.lang) }),
    el("td", { textContent: event.username || "" }),
    el("td", { textContent: actionName(event.action) }),
    el("td", { textContent: event.target }),
    el("td", { textContent: event.address }),
    el("td", {}, el("pre", { className: "detail", textContent: detail })),
  );
}

// A date picked in the browser means that local day; the API takes ISO times with offsets.
function localDay(value, plusDays = 0) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

async function load() {
  const f = form.elements;
  const params = new URLSearchParams({ limit: PAGE, offset });
  for (const name of ["username", "action", "target"]) {
    if (f[name].value.trim()) params.set(name, f[name].value.trim());
  }
  if (f.since.value) params.set("since", localDay(f.since.value));
  if (f.until.value) params.set("until", localDay(f.until.value, 1));
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
  load();
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
