// The film printing page: printers with their live state (N-GET, N-EVENT-REPORT) and the print
// jobs, kept live by the WebSocket's "film.print_job" and "film.printer" events; re-queue,
// cancel, and ask a printer for its status now (administrators).
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";

const $ = (id) => document.getElementById(id);
const status = $("status");
const printers = new Map();
const jobs = new Map();

function button(key, run) {
  const b = el("button", { type: "button", textContent: t(key), className: "small" });
  b.dataset.action = key;
  b.addEventListener("click", () => busy(b, async () => {
    try { await run(); status.textContent = ""; } catch (error) { showError(status, error); }
  }));
  return b;
}

function stateText(p) {
  if (!p.status) return t("film.printer.unknown");
  const shown = [t("film.printer.status." + p.status), p.status_info && p.status_info !== p.status ? p.status_info : ""];
  if (p.status_at) shown.push(when(p.status_at, { short: true }));
  return shown.filter(Boolean).join(" · ");
}

function printerRow(p) {
  const events = (p.events || []).slice(-3).map((e) => `${when(e.at, { short: true })} ${e.event} ${e.info || ""}`);
  const row = el("tr", {},
    el("td", { textContent: p.name + (p.active ? "" : " (" + t("film.printer.inactive") + ")") }),
    el("td", { textContent: `${p.ae_title}@${p.host}:${p.port}` }),
    el("td", { textContent: (p.modalities.join(", ") || t("film.printer.all")) + (p.auto_forward ? " · " + t("film.printer.auto_forward") : "") }),
    el("td", { className: "state " + p.status, textContent: stateText(p) }),
    el("td", { textContent: events.join("; ") }),
    el("td", {}, button("film.printer.check", async () => drawPrinter(await api(`/api/film/printers/${p.id}/check`, { method: "POST", json: {} })))),
  );
  // Administrators have the printer form (printer_form.js): it edits this printer.
  if ($("printer-form")) row.lastChild.append(button("film.printer.edit", async () => document.dispatchEvent(new CustomEvent("film:edit-printer", { detail: p }))));
  row.dataset.printer = String(p.id);
  return row;
}

function jobRow(job) {
  const actions = el("td", { className: "actions" });
  if (job.status === "pending" || job.status === "dead") actions.append(button("film.job.cancel", async () => drawJob(await api(`/api/film/jobs/${job.id}/cancel`, { method: "POST", json: {} }))));
  if (job.status === "dead" || job.status === "cancelled") actions.append(button("film.job.requeue", async () => drawJob(await api(`/api/film/jobs/${job.id}/requeue`, { method: "POST", json: {} }))));
  const row = el("tr", { className: "job " + job.status },
    el("td", { textContent: String(job.id) }),
    el("td", { textContent: job.printer }),
    el("td", { className: "state", textContent: t("film.job.status." + job.status) }),
    el("td", { textContent: String(job.copies) }),
    el("td", { textContent: String(job.attempts) }),
    el("td", { textContent: job.reason || "" }),
    el("td", { textContent: job.requested_by }),
    el("td", { textContent: when(job.printed_at || job.updated_at, { short: true }) }),
    actions,
  );
  row.dataset.job = String(job.id);
  row.dataset.state = job.status;
  return row;
}

function drawPrinter(p) {
  if (p) printers.set(p.id, p);
  $("printers").tBodies[0].replaceChildren(...[...printers.values()].map(printerRow));
}

function drawJob(job) {
  if (job) jobs.set(job.id, job);
  const list = [...jobs.values()].sort((a, b) => b.id - a.id);
  $("jobs").tBodies[0].replaceChildren(...list.map(jobRow));
  $("empty").hidden = list.length > 0;
}

async function load() {
  try {
    for (const p of await api("/api/film/printers")) printers.set(p.id, p);
    for (const j of await api("/api/film/jobs")) jobs.set(j.id, j);
    drawPrinter();
    drawJob();
  } catch (error) {
    showError(status, error);
  }
}

document.addEventListener("film:printer-saved", (event) => drawPrinter(event.detail));
liveEvents(
  (event) => {
    if (event.type === "film.print_job" && event.payload.job) drawJob(event.payload.job);
    if (event.type === "film.printer" && event.payload.printer) drawPrinter(event.payload.printer);
  },
  load,
  (connected) => {
    $("live").className = connected ? "on" : "off";
    $("live").textContent = t(connected ? "film.live.on" : "film.live.off");
  },
);
load();
