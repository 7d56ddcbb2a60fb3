// The storage areas page: each area with what it holds (copies, verified, bytes; the online
// area's disk), add or edit one (S3 fields for S3, the set label for offline media; a secret
// is never shown: left empty it is kept), an offline area's sets (there to read or "insert
// set") and sealing the current set.
import { api, busy, showError } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const errorBox = document.getElementById("error");
const form = document.getElementById("area-form");
const setsBox = document.getElementById("sets-box");
const sealForm = document.getElementById("seal-form");
const FIELDS = ["location", "endpoint_url", "region", "access_key", "prefix", "label"];
let areas = [];
let shownSets = "";

function size(bytes) {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function usage(area) {
  if (area.kind === "online") {
    const percent = area.disk_total ? Math.round((100 * area.disk_used) / area.disk_total) : 0;
    return t("storage.tiers.areas.disk", { used: size(area.disk_used), total: size(area.disk_total), percent });
  }
  return size(area.bytes);
}

function copiesCell(area) {
  if (area.kind === "online") {
    return t("storage.tiers.areas.online_objects", { objects: area.objects, gone: area.not_online });
  }
  return t("storage.tiers.areas.verified_of", { verified: area.verified, copies: area.copies });
}

function stateCell(area) {
  if (area.kind === "online") return t("storage.tiers.areas.built_in");
  const state = area.enabled ? "enabled" : "disabled";
  const text = [t("storage.tiers.areas." + state)];
  if (area.kind === "s3") text.push(t(area.has_secret ? "storage.tiers.areas.secret_set" : "storage.tiers.areas.no_secret"));
  if (area.kind === "offline") text.push(t("storage.tiers.areas.current_set", { label: area.label || "SET-0001" }));
  return text.join(" · ");
}

function row(area) {
  const tr = el("tr", {});
  tr.dataset.area = area.name;
  const actions = el("td", { className: "actions" });
  if (area.kind !== "online") {
    const edit = el("button", { type: "button", className: "secondary edit", textContent: t("storage.tiers.areas.edit") });
    edit.addEventListener("click", () => startEdit(area));
    actions.append(edit);
  }
  if (area.kind === "offline") {
    const sets = el("button", { type: "button", className: "secondary show-sets", textContent: t("storage.tiers.areas.sets") });
    sets.addEventListener("click", () => showSets(area.name));
    actions.append(sets);
  }
  tr.append(
    el("td", { textContent: area.name }),
    el("td", { textContent: t("storage.tiers.areas.kind." + area.kind) }),
    el("td", { className: "location", textContent: area.kind === "s3" ? `${area.endpoint_url} ${area.location}` : area.location }),
    el("td", { className: "num", textContent: String(area.rank) }),
    el("td", { textContent: usage(area) }),
    el("td", { className: "num copies", textContent: copiesCell(area) }),
    el("td", { className: "state", textContent: stateCell(area) }),
    actions,
  );
  return tr;
}

function showSets(name) {
  const area = areas.find((a) => a.name === name);
  if (!area) return;
  shownSets = name;
  setsBox.hidden = false;
  setsBox.dataset.area = name;
  document.getElementById("sets-title").textContent = t("storage.tiers.areas.sets_of", { name });
  document.querySelector("#sets tbody").replaceChildren(...area.sets.map((set) => {
    const state = set.current ? "filling" : set.present ? "present" : "insert_set";
    const stateKey = set.current
      ? "storage.tiers.areas.set_filling"
      : set.present
        ? "storage.tiers.areas.set_present"
        : "storage.tiers.areas.set_insert_set";
    const tr = el("tr", {});
    tr.dataset.label = set.label;
    tr.dataset.state = state;
    tr.append(
      el("td", { textContent: set.label }),
      el("td", { className: "num", textContent: String(set.copies) }),
      el("td", { textContent: size(set.bytes) }),
      el("td", { className: "state", textContent: t(stateKey, { label: set.label }) + (set.sealed ? " · " + t("storage.tiers.areas.sealed") : "") }),
    );
    return tr;
  }));
}

function showKind() {
  for (const box of form.querySelectorAll("fieldset[data-kind]")) box.hidden = box.dataset.kind !== form.elements.kind.value;
}

function resetForm() {
  form.reset();
  form.dataset.mode = "new";
  form.elements.name.readOnly = false;
  form.elements.secret_key.placeholder = "";
  document.getElementById("form-title").textContent = t("storage.tiers.areas.new");
  document.getElementById("cancel-edit").hidden = true;
  showKind();
}

function startEdit(area) {
  form.dataset.mode = "edit";
  form.elements.name.value = area.name;
  form.elements.name.readOnly = true;
  form.elements.kind.value = area.kind;
  form.elements.rank.value = area.rank;
  for (const name of FIELDS) form.elements[name].value = area[name] || "";
  form.elements.secret_key.value = "";
  form.elements.secret_key.placeholder = area.has_secret ? t("storage.tiers.areas.secret_kept") : "";
  form.elements.enabled.checked = area.enabled;
  document.getElementById("form-title").textContent = t("storage.tiers.areas.editing", { name: area.name });
  document.getElementById("cancel-edit").hidden = false;
  showKind();
  form.scrollIntoView();
}

function body() {
  const values = { kind: form.elements.kind.value, rank: Number(form.elements.rank.value || 10), enabled: form.elements.enabled.checked };
  for (const name of FIELDS) values[name] = form.elements[name].value.trim();
  const secret = form.elements.secret_key.value;
  if (secret) values.secret_key = secret; // empty: the stored secret is kept
  return values;
}

async function load() {
  areas = await api("/api/storage/areas/usage");
  document.querySelector("#areas tbody").replaceChildren(...areas.map(row));
  if (shownSets) showSets(shownSets);
}

form.elements.kind.addEventListener("change", showKind);
document.getElementById("cancel-edit").addEventListener("click", resetForm);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const button = form.querySelector("[type=submit]");
  busy(button, async () => {
    try {
      if (form.dataset.mode === "edit") {
        await api("/api/storage/areas/" + encodeURIComponent(form.elements.name.value), { method: "PUT", json: body() });
      } else {
        await api("/api/storage/areas", { method: "POST", json: { name: form.elements.name.value.trim(), ...body() } });
      }
      resetForm();
      await load();
      document.getElementById("status").textContent = t("storage.tiers.areas.saved");
    } catch (error) {
      showError(errorBox, error);
    }
  });
});
sealForm.addEventListener("submit", (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  busy(sealForm.querySelector("button"), async () => {
    try {
      const answer = await api(`/api/storage/areas/${encodeURIComponent(shownSets)}/seal`, {
        method: "POST", json: { next_label: sealForm.elements.next_label.value.trim() },
      });
      sealForm.reset();
      await load();
      document.getElementById("status").textContent = t("storage.tiers.areas.sealed_now", { label: answer.sealed, objects: answer.objects, next: answer.next });
    } catch (error) {
      showError(errorBox, error);
    }
  });
});

resetForm();
load().catch((error) => showError(errorBox, error));
