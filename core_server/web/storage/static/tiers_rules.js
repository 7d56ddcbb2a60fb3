// The storage rules page: the rules (dry run, delete), a new rule's form with its dry run
// before saving, the tasks' counts, dead ones with their last error and re-queue, run now.
import { api, busy, showError } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const errorBox = document.getElementById("error");
const form = document.getElementById("rule-form");
const result = document.getElementById("dry-result");

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function body() {
  const data = new FormData(form);
  return {
    name: data.get("name"),
    action: data.get("action"),
    area: data.get("area"),
    min_verified: Number(data.get("min_verified") || 1),
    fill_percent: data.get("action") === "keep_online_until" ? 85 : 0,
    days: data.get("action") === "delete_copy_after" ? Number(data.get("min_age_days") || 1) : 0,
    conditions: {
      modalities: String(data.get("modalities") || "").split(/[\s,]+/).filter(Boolean),
      min_age_days: Number(data.get("min_age_days") || 0),
    },
  };
}

function showDry(answer) {
  result.textContent = t("storage.rules.page.would_touch", {
    studies: answer.studies, instances: answer.instances, size: mib(answer.bytes),
  });
  result.dataset.instances = answer.instances;
}

async function loadRules() {
  const rules = await api("/api/storage/rules");
  document.querySelector("#rules tbody").replaceChildren(...rules.map((r) => {
    const dry = el("button", { type: "button", textContent: t("storage.rules.page.dry_run") });
    dry.addEventListener("click", () => busy(dry, async () =>
      showDry(await api(`/api/storage/rules/${r.id}/dry-run`, { method: "POST" }))).catch((e) => showError(errorBox, e)));
    const drop = el("button", { type: "button", textContent: t("storage.rules.page.delete") });
    drop.addEventListener("click", () => busy(drop, async () => {
      await api(`/api/storage/rules/${r.id}`, { method: "DELETE" });
      await loadRules();
    }).catch((e) => showError(errorBox, e)));
    return el("tr", {},
      el("td", { textContent: r.name }), el("td", { textContent: t(`storage.rules.action.${r.action}`) }),
      el("td", { textContent: r.area }), el("td", { textContent: String(r.priority) }),
      el("td", {}, dry, drop));
  }));
}

async function loadTasks() {
  const answer = await api("/api/storage/rules/tasks?state=dead");
  const c = answer.counts;
  document.getElementById("counts").textContent = t("storage.rules.page.counts", {
    pending: c.pending, running: c.running, done: c.done, dead: c.dead, size: mib(answer.pending_bytes),
  });
  document.querySelector("#dead tbody").replaceChildren(...answer.tasks.map((task) => {
    const again = el("button", { type: "button", textContent: t("storage.rules.page.requeue") });
    again.addEventListener("click", () => busy(again, async () => {
      await api(`/api/storage/rules/tasks/${task.id}/requeue`, { method: "POST" });
      await loadTasks();
    }).catch((e) => showError(errorBox, e)));
    return el("tr", {}, el("td", { textContent: `${task.kind} ${task.area} ${task.sop_instance_uid}` }),
      el("td", { textContent: task.last_error }), el("td", {}, again));
  }));
}

document.getElementById("dry-run").addEventListener("click", (event) =>
  busy(event.target, async () => showDry(await api("/api/storage/rules/dry-run", { method: "POST", json: body() })))
    .catch((e) => showError(errorBox, e)));
form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form.querySelector("[type=submit]"), async () => {
    await api("/api/storage/rules", { method: "POST", json: body() });
    form.reset();
    await loadRules();
  }).catch((e) => showError(errorBox, e));
});
document.getElementById("run-now").addEventListener("click", (event) =>
  busy(event.target, async () => { await api("/api/storage/rules/run-now", { method: "POST" }); await loadTasks(); })
    .catch((e) => showError(errorBox, e)));
document.getElementById("requeue-dead").addEventListener("click", (event) =>
  busy(event.target, async () => { await api("/api/storage/rules/tasks/requeue-dead", { method: "POST" }); await loadTasks(); })
    .catch((e) => showError(errorBox, e)));

loadRules().catch((e) => showError(errorBox, e));
loadTasks().catch((e) => showError(errorBox, e));
setInterval(() => loadTasks().catch(() => {}), 10000);
