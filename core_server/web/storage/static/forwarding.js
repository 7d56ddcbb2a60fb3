// The forwarding page: destinations (add, test, delete), rules (add, apply to stored studies,
// delete), the queue's counts and ages per destination, and the tasks (dead ones with their
// last error and re-queue). The queue and the tasks are polled: the event socket carries the
// queueing journal, not the storage bus topics.
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const BASE = "/api/storage/forwarding";
const PAGE = 50;
const POLL_MS = 5000;
const errorBox = document.getElementById("error");
const destinationForm = document.getElementById("destination-form");
const ruleForm = document.getElementById("rule-form");
const filter = document.getElementById("task-filter");
let names = {};
let offset = 0;

const failed = (e) => showError(errorBox, e);
const text = (value) => el("td", { textContent: value === null || value === undefined ? "" : String(value) });

function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return t("storage.forwarding.page.age_seconds", { n: Math.round(seconds) });
  if (seconds < 3600) return t("storage.forwarding.page.age_minutes", { n: Math.floor(seconds / 60) });
  if (seconds < 86400) return t("storage.forwarding.page.age_hours", { n: Math.floor(seconds / 3600) });
  return t("storage.forwarding.page.age_days", { n: Math.floor(seconds / 86400) });
}

function button(label, work) {
  const b = el("button", { type: "button", textContent: t(label) });
  b.addEventListener("click", () => busy(b, () => work(b)).catch(failed));
  return b;
}

function address(d) {
  if (d.kind === "stow") return d.url;
  return d.host ? `${d.ae_title}@${d.host}:${d.port}${d.tls ? " (TLS)" : ""}` : `${d.ae_title} (${t("storage.forwarding.page.registered")})`;
}

const yes = (flag) => t(flag ? "storage.forwarding.page.yes" : "storage.forwarding.page.no");

async function loadDestinations() {
  const destinations = await api(`${BASE}/destinations`);
  names = Object.fromEntries(destinations.map((d) => [d.id, d.name]));
  document.getElementById("no-destinations").hidden = destinations.length > 0;
  document.querySelector("#destinations tbody").replaceChildren(...destinations.map((d) => {
    const answer = el("td", { className: "answer" });
    const test = button("storage.forwarding.page.test", async () => {
      answer.textContent = "";
      const result = await api(`${BASE}/destinations/${d.id}/test`, { method: "POST" });
      answer.textContent = result.ok ? t("storage.forwarding.page.answers") : t("storage.forwarding.page.no_answer", { error: result.error });
      answer.dataset.ok = String(result.ok);
    });
    const toggle = button(d.enabled ? "storage.forwarding.page.disable" : "storage.forwarding.page.enable", async () => {
      await api(`${BASE}/destinations/${d.id}`, { method: "PUT", json: { enabled: !d.enabled } });
      await loadAll();
    });
    toggle.classList.add("toggle");
    const drop = button("storage.forwarding.page.delete", async () => {
      await api(`${BASE}/destinations/${d.id}`, { method: "DELETE" });
      await loadAll();
    });
    const row = el("tr", { className: "destination" }, text(d.name), text(t(`storage.forwarding.kind.${d.kind}`)),
      text(address(d)), text(yes(d.commitment)), el("td", { className: "enabled", textContent: yes(d.enabled) }),
      el("td", { className: "actions" }, test, toggle, drop), answer);
    row.dataset.id = d.id;
    return row;
  }));
  for (const select of [ruleForm.elements.destination_id, filter.elements.destination_id]) {
    const chosen = select.value;
    const keep = select === filter.elements.destination_id ? [select.options[0]] : [];
    select.replaceChildren(...keep, ...destinations.map((d) => el("option", { value: String(d.id), textContent: d.name })));
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  }
}

function conditions(r) {
  const parts = ["modality", "source_ae", "sop_class_uid", "study_description", "department"]
    .filter((k) => r[k]).map((k) => `${t(`storage.forwarding.page.${k}`)}: ${r[k]}`);
  return parts.length ? parts.join("; ") : t("storage.forwarding.page.everything");
}

async function loadRules() {
  const rules = await api(`${BASE}/rules`);
  document.querySelector("#rules tbody").replaceChildren(...rules.map((r) => {
    const answer = el("td", { className: "answer" });
    const apply = button("storage.forwarding.page.apply", async () => {
      const result = await api(`${BASE}/rules/${r.id}/apply`, { method: "POST" });
      answer.textContent = t("storage.forwarding.page.applied", { count: result.queued });
      answer.dataset.queued = String(result.queued);
      await loadQueue();
    });
    const toggle = button(r.enabled ? "storage.forwarding.page.disable" : "storage.forwarding.page.enable", async () => {
      await api(`${BASE}/rules/${r.id}`, { method: "PUT", json: { enabled: !r.enabled } });
      await loadRules();
    });
    toggle.classList.add("toggle");
    const drop = button("storage.forwarding.page.delete", async () => {
      await api(`${BASE}/rules/${r.id}`, { method: "DELETE" });
      await loadRules();
    });
    const on = [r.on_new && t("storage.forwarding.page.on_new"), r.on_changed && t("storage.forwarding.page.on_changed")];
    return el("tr", { className: "rule" }, text(r.name + (r.enabled ? "" : ` (${t("storage.forwarding.page.disabled")})`)),
      text(names[r.destination_id] || r.destination_id), text(conditions(r)), text(on.filter(Boolean).join(", ")),
      el("td", { className: "actions" }, apply, toggle, drop), answer);
  }));
}

async function loadQueue() {
  const answer = await api(`${BASE}/queue`);
  document.querySelector("#queue tbody").replaceChildren(...answer.destinations.map((d) => {
    const cells = answer.states.map((s) => {
      const size = d.statuses[s];
      const cell = el("td", { className: "num" }, size ? String(size.count) : "0");
      cell.dataset.state = s;
      if (size && size.oldest_age_seconds !== null) cell.append(el("div", { className: "sub", textContent: age(size.oldest_age_seconds) }));
      return cell;
    });
    const row = el("tr", {}, text(d.name || `#${d.destination_id}`), ...cells);
    row.dataset.id = d.destination_id;
    return row;
  }));
}

async function loadTasks() {
  const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if (filter.elements.status.value) query.set("status", filter.elements.status.value);
  if (filter.elements.destination_id.value) query.set("destination_id", filter.elements.destination_id.value);
  const answer = await api(`${BASE}/tasks?${query}`);
  document.querySelector("#tasks tbody").replaceChildren(...answer.tasks.map((task) => {
    const again = task.status === "dead" || task.status === "pending"
      ? button("storage.forwarding.page.requeue", async () => {
        await api(`${BASE}/tasks/${task.id}/requeue`, { method: "POST" });
        await Promise.all([loadTasks(), loadQueue()]);
      })
      : null;
    const row = el("tr", { className: "task" }, text(task.id), text(task.destination || task.destination_id),
      el("td", { className: "state", textContent: t(`storage.forwarding.state.${task.status}`) }), text(task.attempts),
      el("td", { className: "sub", textContent: task.sop_instance_uid, title: task.study_instance_uid }),
      text(when(task.created_at)), el("td", { className: "last-error", textContent: task.last_error || "" }),
      el("td", { className: "actions" }, again));
    row.dataset.id = task.id;
    row.dataset.status = task.status;
    return row;
  }));
  const last = Math.min(answer.total, offset + answer.tasks.length);
  document.getElementById("page-info").textContent = t("storage.forwarding.page.shown", { first: answer.total ? offset + 1 : 0, last, total: answer.total });
  document.getElementById("newer").disabled = offset === 0;
  document.getElementById("older").disabled = offset + PAGE >= answer.total;
}

function formBody(form, numbers = [], checks = []) {
  const data = new FormData(form);
  const body = {};
  for (const [key, value] of data.entries()) {
    if (checks.includes(key)) continue;
    if (form.elements[key].closest("[hidden]")) continue; // the other kind's fields
    body[key] = numbers.includes(key) ? Number(value || 0) : String(value).trim();
  }
  for (const key of checks) {
    if (!form.elements[key].closest("[hidden]")) body[key] = form.elements[key].checked;
  }
  return body;
}

function showKind() {
  const kind = destinationForm.elements.kind.value;
  for (const part of destinationForm.querySelectorAll("[data-kind]")) part.hidden = part.dataset.kind !== kind;
}

async function loadAll() {
  await loadDestinations();
  await Promise.all([loadRules(), loadQueue(), loadTasks()]);
}

destinationForm.elements.kind.addEventListener("change", showKind);
destinationForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(destinationForm.querySelector("[type=submit]"), async () => {
    errorBox.hidden = true;
    await api(`${BASE}/destinations`, { method: "POST", json: formBody(destinationForm, ["port"], ["tls", "commitment", "enabled"]) });
    destinationForm.reset();
    showKind();
    await loadAll();
  }).catch(failed);
});
ruleForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(ruleForm.querySelector("[type=submit]"), async () => {
    errorBox.hidden = true;
    await api(`${BASE}/rules`, { method: "POST", json: formBody(ruleForm, ["destination_id"], ["on_new", "on_changed"]) });
    ruleForm.reset();
    await loadRules();
  }).catch(failed);
});
filter.addEventListener("change", () => { offset = 0; loadTasks().catch(failed); });
document.getElementById("newer").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); loadTasks().catch(failed); });
document.getElementById("older").addEventListener("click", () => { offset += PAGE; loadTasks().catch(failed); });

loadAll().catch(failed);
setInterval(() => Promise.all([loadQueue(), loadTasks()]).catch(() => {}), POLL_MS);
