// The recycle bin page: what was deleted (patient, study, what, who, when, why, erase date
// in the hospital's time), restore one entry, the days things stay, empty now (confirmed).
import { api, busy, showError } from "/static/shared/api.js";
import { dicomDate, when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const errorBox = document.getElementById("error");
const status = document.getElementById("status");
const body = document.querySelector("#entries tbody");

function what(entry) {
  const level = t(`storage.recycle.level.${entry.level}`);
  const count = t("storage.recycle.instances", { count: entry.instances });
  const modalities = entry.modalities.join("/");
  return [level, modalities, count].filter(Boolean).join(" · ");
}

function reason(entry) {
  return entry.rejection_code
    ? t("storage.recycle.rejected", { code: entry.rejection_code, reason: entry.reason })
    : entry.reason;
}

function row(entry) {
  const restore = el("button", { type: "button", textContent: t("storage.recycle.restore") });
  restore.dataset.entry = entry.id;
  restore.addEventListener("click", () => busy(restore, async () => {
    showError(errorBox, null);
    try {
      await api(`/api/storage/recycle-bin/${entry.id}/restore`, { method: "POST" });
      status.textContent = t("storage.recycle.restored");
      await load();
    } catch (error) {
      showError(errorBox, error);
    }
  }));
  const study = [dicomDate(entry.study_date), entry.accession_number, entry.study_description]
    .filter(Boolean).join(" · ");
  const line = el("tr", {},
    el("td", { textContent: `${entry.patient_name} (${entry.patient_id})` }),
    el("td", { textContent: study || entry.study_instance_uid, title: entry.study_instance_uid }),
    el("td", { textContent: what(entry) }),
    el("td", { textContent: entry.username || t("storage.recycle.by_note") }),
    el("td", { textContent: when(entry.deleted_at) }),
    el("td", { textContent: reason(entry) }),
    el("td", { textContent: when(entry.erase_at) }),
    el("td", {}, restore));
  line.dataset.entry = entry.id;
  return line;
}

async function load() {
  const answer = await api("/api/storage/recycle-bin");
  document.getElementById("keep-days").value = answer.keep_days;
  body.replaceChildren(...answer.entries.map(row));
  document.getElementById("no-entries").hidden = answer.entries.length > 0;
}

document.getElementById("settings-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const button = document.getElementById("save-settings");
  busy(button, async () => {
    showError(errorBox, null);
    try {
      const days = Number(document.getElementById("keep-days").value);
      await api("/api/storage/recycle-bin/settings", { method: "PUT", json: { keep_days: days } });
      status.textContent = t("storage.recycle.saved");
      await load();
    } catch (error) {
      showError(errorBox, error);
    }
  });
});

const dialog = document.getElementById("confirm-empty");
document.getElementById("empty").addEventListener("click", () => dialog.showModal());
dialog.addEventListener("close", async () => {
  if (dialog.returnValue !== "yes") return;
  showError(errorBox, null);
  try {
    const answer = await api("/api/storage/recycle-bin/empty", { method: "POST", json: { confirm: true } });
    status.textContent = t("storage.recycle.emptied", { count: answer.erased });
    await load();
  } catch (error) {
    showError(errorBox, error);
  }
});

load().catch((error) => showError(errorBox, error));
