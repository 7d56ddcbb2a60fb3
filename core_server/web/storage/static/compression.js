// The compression rules page: the rules in deciding order (enable, remove), a form to add
// one, the jobs' counts and a dry run, all from /api/storage/compression.
import { api, busy, showError } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const BASE = "/api/storage/compression";
const errorBox = document.getElementById("error");
const names = {};

function matches(rule) {
  const parts = [];
  if (rule.modalities.length) parts.push(rule.modalities.join(","));
  if (rule.source_ae_title) parts.push(`AE ${rule.source_ae_title}`);
  if (rule.sop_class_uid) parts.push(rule.sop_class_uid);
  if (rule.trigger === "on_schedule") parts.push(t("storage.compression.older_than", { days: rule.min_age_days }));
  return parts.join(" · ") || t("storage.compression.everything");
}

function row(rule) {
  const enabled = el("input", { type: "checkbox", checked: rule.enabled });
  enabled.addEventListener("change", () => save(rule, { enabled: enabled.checked }));
  const remove = el("button", { type: "button", textContent: t("storage.compression.remove") });
  remove.addEventListener("click", () => busy(remove, async () => {
    try { await api(`${BASE}/rules/${rule.id}`, { method: "DELETE" }); await load(); } catch (e) { showError(errorBox, e); }
  }));
  const syntax = names[rule.transfer_syntax_uid] || rule.transfer_syntax_uid;
  const tr = el("tr", {});
  tr.dataset.rule = rule.id; // dataset has only a getter: el() cannot assign it
  tr.append(
    el("td", { textContent: rule.position }),
    el("td", { textContent: rule.name }),
    el("td", { textContent: t(`storage.compression.trigger.${rule.trigger}`) }),
    el("td", { textContent: matches(rule) }),
    el("td", { textContent: rule.lossy ? `${syntax} (${rule.ratio}:1)` : syntax }),
    el("td", {}, enabled),
    el("td", {}, remove));
  return tr;
}

async function save(rule, change) {
  const values = { ...rule, ...change };
  try { await api(`${BASE}/rules/${rule.id}`, { method: "PUT", json: values }); await load(); } catch (e) { showError(errorBox, e); }
}

async function load() {
  const [rules, jobs] = await Promise.all([api(`${BASE}/rules`), api(`${BASE}/jobs`)]);
  document.querySelector("#rules tbody").replaceChildren(...rules.map(row));
  document.getElementById("no-rules").hidden = rules.length > 0;
  const counts = Object.entries(jobs).map(([k, v]) => `${t(`storage.compression.status.${k}`)}: ${v}`);
  document.getElementById("jobs").textContent = counts.join(" · ") || t("storage.compression.no_jobs");
}

async function start() {
  const syntaxes = await api(`${BASE}/syntaxes`);
  const select = document.getElementById("syntaxes");
  for (const s of syntaxes) {
    names[s.uid] = s.name;
    select.append(el("option", { value: s.uid, textContent: s.lossy ? `${s.name} (${t("storage.compression.lossy")})` : s.name }));
  }
  const form = document.getElementById("rule-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    busy(document.getElementById("add"), async () => {
      try {
        await api(`${BASE}/rules`, { method: "POST", json: values });
        showError(errorBox, null);
        form.reset();
        await load();
      } catch (e) { showError(errorBox, e); }
    });
  });
  const dry = document.getElementById("dry-run");
  dry.addEventListener("click", () => busy(dry, async () => {
    try {
      const found = await api(`${BASE}/dry-run`, { method: "POST" });
      document.getElementById("dry-run-result").textContent = t("storage.compression.would", found);
    } catch (e) { showError(errorBox, e); }
  }));
  await load();
}

start().catch((e) => showError(errorBox, e));
