// The modality registry over /api/modalities: list, add, change, remove. Buttons stay
// disabled while their request runs.
import { api, busy } from "/static/shared/api.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

// flag -> a new modality's default (allow_overwrite and ascii_only start off)
const DEFAULTS = pageData().flags;
const FLAGS = Object.keys(DEFAULTS);
const tbody = document.querySelector("#modalities tbody");
const statusLine = document.getElementById("status");
const dialog = document.getElementById("modality-dialog");
const form = document.getElementById("modality-form");
let editing = null;

function row(modality) {
  const edit = el("button", { type: "button", className: "secondary edit", textContent: t("web.common.edit") });
  edit.addEventListener("click", () => open(modality));
  const remove = el("button", { type: "button", className: "secondary danger remove", textContent: t("web.common.delete") });
  remove.addEventListener("click", () => busy(remove, () => removeModality(modality)));
  const rights = FLAGS.filter((flag) => flag in modality).map((flag) =>
    el("span", { className: modality[flag] ? "badge" : "badge off",
      textContent: t("web.modalities." + flag) + (modality[flag] ? " ✓" : " ✗") }));
  const tr = el("tr", { className: "modality" },
    el("td", { textContent: modality.ae_title }),
    el("td", { textContent: `${modality.host}:${modality.port}` }),
    el("td", { textContent: modality.description }),
    el("td", {}, ...rights),
    el("td", { className: "actions" }, edit, remove),
  );
  tr.dataset.aeTitle = modality.ae_title;
  return tr;
}

async function load() {
  statusLine.textContent = t("web.common.loading");
  try {
    const list = await api("/api/modalities");
    tbody.replaceChildren(...list.map(row));
    statusLine.textContent = list.length ? "" : t("web.common.none");
  } catch (error) {
    statusLine.textContent = t("web.common.load_failed", { reason: error.message });
  }
}

function open(modality) {
  editing = modality;
  form.reset();
  document.getElementById("modality-error").hidden = true;
  document.getElementById("modality-dialog-title").textContent = modality ? t("web.modalities.edit") : t("web.modalities.add");
  const f = form.elements;
  f.ae_title.value = modality ? modality.ae_title : "";
  f.host.value = modality ? modality.host : "";
  f.port.value = modality ? modality.port : 104;
  f.description.value = modality ? modality.description : "";
  for (const flag of FLAGS) f[flag].checked = modality ? Boolean(modality[flag]) : DEFAULTS[flag];
  dialog.showModal();
}

async function removeModality(modality) {
  if (!confirm(t("web.modalities.confirm_delete", { ae_title: modality.ae_title }))) return;
  try {
    await api("/api/modalities/" + encodeURIComponent(modality.ae_title), { method: "DELETE" });
    await load();
  } catch (error) {
    statusLine.textContent = t("web.common.save_failed", { reason: error.message });
  }
}

async function save() {
  const f = form.elements;
  const body = { ae_title: f.ae_title.value.trim(), host: f.host.value.trim(), port: Number(f.port.value), description: f.description.value };
  for (const flag of FLAGS) body[flag] = f[flag].checked;
  try {
    if (editing) {
      await api("/api/modalities/" + encodeURIComponent(editing.ae_title), { method: "PATCH", json: body });
    } else {
      await api("/api/modalities", { method: "POST", json: body });
    }
    dialog.close();
    await load();
    statusLine.textContent = t("web.common.saved");
  } catch (error) {
    const node = document.getElementById("modality-error");
    node.textContent = t("web.common.save_failed", { reason: error.message });
    node.hidden = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(document.getElementById("modality-save"), save);
});

document.getElementById("add-modality").addEventListener("click", () => open(null));
document.getElementById("modality-cancel").addEventListener("click", () => dialog.close());
load();
