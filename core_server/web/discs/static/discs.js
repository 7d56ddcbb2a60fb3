// The disc-job page: every job with its state and steps, kept live by the WebSocket's
// "discs.job" events (a kiosk's progress shows at once); retry and cancel; queue an exam (by
// accession number, or ?exam=<id> from the registration page) for a chosen kiosk.
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";

const $ = (id) => document.getElementById(id);
const status = $("status");
const jobs = new Map(); // id -> job, newest first when drawn
const FINISHED = ["done", "failed", "cancelled"];

function stepText(step) {
  const parts = [when(step.at, { short: true }), t("discs.state." + step.state)];
  if (step.reason) parts.push(t("discs.reason." + step.reason));
  if (step.message) parts.push(step.message);
  return parts.join(" · ");
}

function actionButton(key, path, job) {
  const button = el("button", { type: "button", textContent: t(key), className: "small" });
  button.dataset.action = key;
  button.addEventListener("click", () =>
    busy(button, async () => {
      try {
        draw(await api(`/api/discs/${job.id}/${path}`, { method: "POST", json: {} }));
        status.textContent = "";
      } catch (error) {
        showError(status, error);
      }
    }),
  );
  return button;
}

function jobRow(job) {
  const steps = el("ol", { className: "dj-steps" }, ...job.steps.map((s) => el("li", { textContent: stepText(s) })));
  const actions = el("td", { className: "actions" });
  if (!FINISHED.includes(job.state)) actions.append(actionButton("discs.action.cancel", "cancel", job));
  if (job.state === "failed" || job.state === "cancelled") actions.append(actionButton("discs.action.retry", "retry", job));
  const row = el("tr", { className: "job " + job.state },
    el("td", { textContent: String(job.id) }),
    el("td", { textContent: job.accession_numbers.join(", ") }),
    el("td", { className: "state", textContent: t("discs.state." + job.state) }),
    el("td", { textContent: job.device || t("discs.queue.any_kiosk") }),
    el("td", { textContent: String(job.copies) }),
    el("td", { className: "discs", textContent: job.discs_total ? `${job.discs_done}/${job.discs_total}` : String(job.discs_done) }),
    el("td", { textContent: job.requested_by }),
    el("td", { textContent: when(job.updated_at, { short: true }) }),
    el("td", {}, steps),
    actions,
  );
  row.dataset.job = String(job.id);
  row.dataset.state = job.state;
  return row;
}

function draw(job) {
  if (job) jobs.set(job.id, job);
  const list = [...jobs.values()].sort((a, b) => b.id - a.id);
  document.querySelector("#jobs tbody").replaceChildren(...list.map(jobRow));
  $("empty").hidden = list.length > 0;
}

async function load() {
  try {
    const list = await api("/api/discs");
    jobs.clear();
    for (const job of list) jobs.set(job.id, job);
    draw();
  } catch (error) {
    showError(status, error);
  }
}

async function loadKiosks() {
  const select = $("queue-kiosk");
  for (const kiosk of await api("/api/discs/kiosks")) {
    select.append(el("option", { value: kiosk.name, textContent: kiosk.name }));
  }
}

async function queue(event) {
  event.preventDefault();
  await busy($("queue-submit"), async () => {
    try {
      const accession = $("queue-accession").value.trim();
      const exam = await api(`/api/ris/exams/by-accession/${encodeURIComponent(accession)}`);
      const body = { exam_ids: [exam.id], copies: Number($("queue-copies").value), device: $("queue-kiosk").value || null };
      const job = await api("/api/discs", { method: "POST", json: body });
      draw(job);
      status.textContent = t("discs.queue.done", { id: job.id, accession });
    } catch (error) {
      showError(status, error);
    }
  });
}

async function prefill() {
  const exam = new URLSearchParams(location.search).get("exam");
  if (!exam || !/^\d+$/.test(exam)) return;
  try {
    $("queue-accession").value = (await api(`/api/ris/exams/${exam}`)).accession_number;
  } catch (error) {
    showError(status, error);
  }
}

$("queue").addEventListener("submit", queue);
liveEvents(
  (event) => {
    if (event.type === "discs.job" && event.payload.job) draw(event.payload.job);
  },
  load,
  (connected) => {
    $("live").className = connected ? "on" : "off";
    $("live").textContent = t(connected ? "discs.live.on" : "discs.live.off");
  },
);
load();
loadKiosks().catch((error) => showError(status, error));
prefill();
