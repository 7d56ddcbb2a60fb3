// The queue setup page: display settings and logo, rooms, queues, screens and devices over
// /api/queueing; room states follow /api/ws.
"use strict";

const GROUPS = JSON.parse(document.getElementById("priority-groups").textContent);
const statusLine = document.getElementById("status");
const data = { rooms: [], queues: [], screens: [], devices: [] };

function say(text) { statusLine.textContent = text; }
function failed(error) { say(t("queueing.failed", { reason: error.message })); }
const stateBadge = (state) => el("span", { className: "state " + state, textContent: t("queueing.state." + state) });
const list = (values) => (values || []).join(", ");
const splitCodes = (text) => text.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);

// Fields of each kind of record: [name, type, options]; types: text, number, select, check, codes, groups.
const SPECS = {
  rooms: [["code", "text"], ["name", "text"], ["department", "text"], ["modality", "text"],
    ["queues", "codes"], ["min_call_interval_seconds", "number"], ["position", "number"]],
  queues: [["code", "text"], ["name", "text"], ["department", "text"], ["modality", "text"],
    ["prefix", "text"], ["order_by", "select", ["arrival", "appointment"]], ["priority_groups", "groups"],
    ["late_grace_minutes", "number"], ["late_rule", "select", ["back", "insert"]], ["late_insert_every", "number"],
    ["missed_suspend_minutes", "number"], ["missed_rule", "select", ["back", "insert"]],
    ["missed_insert_every", "number"], ["missed_max", "number"], ["voice_template", "text"],
    ["voice_repeat", "number"], ["position", "number"]],
  screens: [["code", "text"], ["name", "text"], ["orientation", "select", ["landscape", "portrait"]],
    ["rows", "number"], ["page_seconds", "number"], ["mask_names", "check"], ["queues", "codes"]],
  devices: [["name", "text"], ["kind", "select", ["screen", "caller", "printer"]], ["room", "text"],
    ["screen", "text"], ["queues", "codes"]],
};
const DEFAULTS = {
  rooms: { min_call_interval_seconds: 5, position: 0, queues: [] },
  queues: { order_by: "arrival", priority_groups: GROUPS, late_grace_minutes: 15, late_rule: "back",
    late_insert_every: 3, missed_suspend_minutes: 5, missed_rule: "insert", missed_insert_every: 2,
    missed_max: 3, voice_template: "请{号码}号{姓名}到{诊室}检查", voice_repeat: 2, position: 0 },
  screens: { orientation: "landscape", rows: 8, page_seconds: 8, mask_names: true, queues: [] },
  devices: { kind: "caller", queues: [] },
};
const OPTION_TEXT = { order_by: "queueing.order_by.", late_rule: "queueing.rule.", missed_rule: "queueing.rule.",
  orientation: "queueing.orientation.", kind: "queueing.kind." };
const KEY_FIELD = { rooms: "code", queues: "code", screens: "code", devices: "name" };

function field([name, type, options], value) {
  const label = el("label", { textContent: t("queueing.field." + name) });
  let input;
  if (type === "select") {
    input = el("select", { name }, ...options.map((o) => el("option", { value: o, textContent: t(OPTION_TEXT[name] + o) })));
    input.value = value ?? options[0];
  } else if (type === "check") {
    label.className = "checkbox";
    input = el("input", { type: "checkbox", name, checked: Boolean(value) });
    label.prepend(input);
    return label;
  } else if (type === "groups") {
    const box = el("div", { className: "groups" });
    for (const group of GROUPS) {
      box.append(el("label", { className: "checkbox" },
        el("input", { type: "checkbox", name: "group", value: group, checked: (value || []).includes(group) }),
        " " + t("queueing.group." + group)));
    }
    label.append(box);
    return label;
  } else {
    input = el("input", { name, type: type === "number" ? "number" : "text",
      value: type === "codes" ? list(value) : (value ?? "") });
  }
  label.append(input);
  if (type === "codes") label.append(el("span", { className: "hint", textContent: t("queueing.field.queues_hint") }));
  if (name === "voice_template") label.append(el("span", { className: "hint", textContent: t("queueing.field.voice_template_hint") }));
  return label;
}

function readForm(form, spec) {
  const values = {};
  for (const [name, type] of spec) {
    if (type === "groups") {
      values[name] = Array.from(form.querySelectorAll("input[name=group]:checked"), (i) => i.value);
      continue;
    }
    const input = form.elements[name];
    if (type === "check") values[name] = input.checked;
    else if (type === "number") values[name] = Number(input.value);
    else if (type === "codes") values[name] = splitCodes(input.value);
    else values[name] = input.value.trim() || (["room", "screen"].includes(name) ? null : "");
  }
  return values;
}

const dialog = document.getElementById("edit-dialog");
const form = document.getElementById("edit-form");
let editing = null;

function openEditor(section, record) {
  editing = { section, record };
  const spec = SPECS[section].filter(([name]) => !(record && name === KEY_FIELD[section]));
  const values = record || DEFAULTS[section];
  document.getElementById("edit-title").textContent = t((record ? "queueing.edit" : "queueing.add." + section.slice(0, -1)));
  document.getElementById("edit-fields").replaceChildren(...spec.map((s) => field(s, values[s[0]])));
  document.getElementById("edit-error").hidden = true;
  dialog.showModal();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const { section, record } = editing;
  const spec = SPECS[section].filter(([name]) => !(record && name === KEY_FIELD[section]));
  const body = readForm(form, spec);
  try {
    if (record) {
      await queueApi(`/api/queueing/${section}/${encodeURIComponent(record[KEY_FIELD[section]])}`, { method: "PATCH", json: body });
    } else {
      const created = await queueApi(`/api/queueing/${section}`, { method: "POST", json: body });
      if (section === "devices") showKey(created.key);
    }
    dialog.close();
    say(t("queueing.saved"));
    await load(section);
  } catch (error) {
    const node = document.getElementById("edit-error");
    node.textContent = error.message;
    node.hidden = false;
  }
});
document.getElementById("edit-cancel").addEventListener("click", () => dialog.close());

function showKey(key) {
  document.getElementById("device-key").textContent = key;
  document.getElementById("key-dialog").showModal();
}
document.getElementById("key-close").addEventListener("click", () => document.getElementById("key-dialog").close());

function cells(section, record) {
  switch (section) {
    case "rooms":
      return [record.code, record.name, list(record.queues), record.min_call_interval_seconds, stateBadge(record.state)];
    case "queues":
      return [record.code, record.name, record.modality, record.prefix, t("queueing.order_by." + record.order_by),
        t("queueing.rule." + record.missed_rule), record.voice_template];
    case "screens":
      return [record.code, record.name, t("queueing.orientation." + record.orientation), list(record.queues),
        record.mask_names ? "✓" : "✗"];
    default:
      return [record.name, t("queueing.kind." + record.kind), record.room || record.screen || list(record.queues),
        record.last_seen_at ? new Date(record.last_seen_at).toLocaleString() : ""];
  }
}

function row(section, record) {
  const actions = el("td", { className: "actions" });
  if (section !== "devices") {
    const edit = el("button", { type: "button", className: "secondary", textContent: t("queueing.edit") });
    edit.addEventListener("click", () => openEditor(section, record));
    actions.append(edit);
  } else {
    const renew = el("button", { type: "button", className: "secondary", textContent: t("queueing.device.new_key") });
    renew.addEventListener("click", async () => {
      if (!confirm(t("queueing.device.confirm_new_key"))) return;
      try {
        showKey((await queueApi(`/api/queueing/devices/${encodeURIComponent(record.name)}/key`, { method: "POST" })).key);
      } catch (error) { failed(error); }
    });
    actions.append(renew);
  }
  const remove = el("button", { type: "button", className: "secondary danger", textContent: t("queueing.delete") });
  const name = record[KEY_FIELD[section]];
  remove.addEventListener("click", async () => {
    if (!confirm(t("queueing.confirm_delete", { name }))) return;
    try {
      await queueApi(`/api/queueing/${section}/${encodeURIComponent(name)}`, { method: "DELETE" });
      await load(section);
    } catch (error) { failed(error); }
  });
  actions.append(remove);
  const tr = el("tr", {}, ...cells(section, record).map((value) => el("td", {}, value)), actions);
  tr.dataset.key = name;
  return tr;
}

async function load(section) {
  try {
    data[section] = await queueApi(`/api/queueing/${section}`);
    const tbody = document.querySelector(`#${section} tbody`);
    tbody.replaceChildren(...data[section].map((record) => row(section, record)));
    if (!data[section].length) tbody.append(el("tr", {}, el("td", { colSpan: 8, className: "sub", textContent: t("queueing.none") })));
  } catch (error) { failed(error); }
}

for (const button of document.querySelectorAll("button.add")) {
  button.addEventListener("click", () => openEditor(button.dataset.section, null));
}

const settingsForm = document.getElementById("settings-form");
async function loadSettings() {
  const settings = await queueApi("/api/queueing/settings");
  for (const [name, value] of Object.entries(settings)) {
    const input = settingsForm.elements[name];
    if (!input) continue;
    if (input.type === "checkbox") input.checked = value; else input.value = value;
  }
  const preview = document.getElementById("logo-preview");
  preview.hidden = !settings.has_logo;
  if (settings.has_logo) preview.src = "/api/queueing/logo?" + Date.now();
}
settingsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = settingsForm.elements;
  const body = { hospital_name: f.hospital_name.value.trim(), timezone: f.timezone.value.trim(),
    voice_enabled: f.voice_enabled.checked, voice_name: f.voice_name.value, voice_rate: Number(f.voice_rate.value) };
  for (const font of ["font_title", "font_header", "font_list", "font_call", "font_clock"]) body[font] = Number(f[font].value);
  try {
    await queueApi("/api/queueing/settings", { method: "PUT", json: body });
    say(t("queueing.saved"));
  } catch (error) { failed(error); }
});
document.getElementById("logo-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  try {
    await queueApi("/api/queueing/logo", { method: "PUT", body: file, headers: { "Content-Type": file.type } });
    await loadSettings();
    say(t("queueing.saved"));
  } catch (error) { failed(error); }
});

async function loadAll() {
  say(t("queueing.loading"));
  try {
    await loadSettings();
    await Promise.all(["rooms", "queues", "screens", "devices"].map(load));
    say("");
  } catch (error) { failed(error); }
}

loadAll();
liveEvents((event) => {
  if (event.type === "room.updated") load("rooms");
  else if (event.type === "config.updated" && event.payload.what in { room: 1, queue: 1, screen: 1, device: 1 }) {
    load(event.payload.what + "s");
  }
}, loadAll);
