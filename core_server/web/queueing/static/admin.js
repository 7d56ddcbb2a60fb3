// The queue setup page: display settings and logo, the RIS's rooms to adopt, rooms, queues,
// screens and devices over /api/queueing; room states follow /api/ws. Codes are picked from
// what exists (queues, rooms, screens), never typed.
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";
import { startEnrolment } from "/static/queueing/enrolment.js";

const GROUPS = JSON.parse(document.getElementById("priority-groups").textContent);
const statusLine = document.getElementById("status");
const liveLine = document.getElementById("live");
const data = { rooms: [], queues: [], screens: [], devices: [] };

function say(text) { statusLine.textContent = text; }
function failed(error) { say(t("queueing.failed", { reason: error.message })); }
const stateBadge = (state) => el("span", { className: "state " + state, textContent: t("queueing.state." + state) });
const list = (values) => (values || []).join(", ");
const nameOf = (section, code) => (data[section].find((r) => r.code === code) || {}).name || code;
const names = (section, codes) => (codes || []).map((code) => nameOf(section, code)).join("、");

// Fields of each kind of record: [name, type, options]; types: text, number, select, check,
// groups, and pickers: queues (check the queues), room / screen (choose one).
const SPECS = {
  rooms: [["code", "text"], ["name", "text"], ["department", "text"], ["modality", "text"],
    ["queues", "queues"], ["min_call_interval_seconds", "number"], ["position", "number"]],
  queues: [["code", "text"], ["name", "text"], ["department", "text"], ["modality", "text"],
    ["prefix", "text"], ["order_by", "select", ["arrival", "appointment"]], ["priority_groups", "groups"],
    ["late_grace_minutes", "number"], ["late_rule", "select", ["back", "insert"]], ["late_insert_every", "number"],
    ["missed_suspend_minutes", "number"], ["missed_rule", "select", ["back", "insert"]],
    ["missed_insert_every", "number"], ["missed_max", "number"], ["voice_template", "text"],
    ["voice_repeat", "number"], ["position", "number"]],
  screens: [["code", "text"], ["name", "text"], ["orientation", "select", ["landscape", "portrait"]],
    ["rows", "number"], ["page_seconds", "number"], ["mask_names", "check"], ["queues", "queues"]],
  devices: [["name", "text"], ["kind", "select", ["screen", "caller", "printer", "kiosk", "capture"]], ["room", "room"],
    ["screen", "screen"], ["queues", "queues"]],
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

function checkboxes(name, options, chosen) {
  const box = el("div", { className: "pick" });
  for (const [value, text] of options) {
    box.append(el("label", { className: "checkbox" },
      el("input", { type: "checkbox", name, value, checked: (chosen || []).includes(value) }), " " + text));
  }
  return box;
}

function field([name, type, options], value) {
  const label = el("label", { textContent: t("queueing.field." + name) });
  if (type === "select") {
    const input = el("select", { name }, ...options.map((o) => el("option", { value: o, textContent: t(OPTION_TEXT[name] + o) })));
    input.value = value ?? options[0];
    label.append(input);
  } else if (type === "room" || type === "screen") {
    const input = el("select", { name }, el("option", { value: "", textContent: t("queueing.field.choose_none") }),
      ...data[type + "s"].map((r) => el("option", { value: r.code, textContent: `${r.name} (${r.code})` })));
    input.value = value || "";
    label.append(input);
  } else if (type === "check") {
    label.className = "checkbox";
    label.prepend(el("input", { type: "checkbox", name, checked: Boolean(value) }));
  } else if (type === "groups") {
    label.append(checkboxes("group", GROUPS.map((g) => [g, t("queueing.group." + g)]), value));
  } else if (type === "queues") {
    label.append(data.queues.length
      ? checkboxes(name, data.queues.map((q) => [q.code, `${q.name} (${q.code})`]), value)
      : el("span", { className: "hint", textContent: t("queueing.field.no_queues_yet") }));
  } else {
    label.append(el("input", { name, type: type === "number" ? "number" : "text", value: value ?? "" }));
  }
  if (name === "voice_template") label.append(el("span", { className: "hint", textContent: t("queueing.field.voice_template_hint") }));
  return label;
}

function readForm(form, spec) {
  const values = {};
  const checked = (name) => Array.from(form.querySelectorAll(`input[name=${name}]:checked`), (i) => i.value);
  for (const [name, type] of spec) {
    const input = form.elements[name];
    if (type === "groups") values[name] = checked("group");
    else if (type === "queues") values[name] = checked(name);
    else if (type === "check") values[name] = input.checked;
    else if (type === "number") values[name] = Number(input.value);
    else if (type === "room" || type === "screen") values[name] = input.value || null;
    else values[name] = input.value.trim();
  }
  return values;
}

const dialog = document.getElementById("edit-dialog");
const form = document.getElementById("edit-form");
const saveButton = document.getElementById("edit-save");
let editing = null;

function openEditor(section, record) {
  editing = { section, record };
  const spec = SPECS[section].filter(([name]) => !(record && name === KEY_FIELD[section]));
  const values = record || DEFAULTS[section];
  document.getElementById("edit-title").textContent = t((record ? "queueing.edit" : "queueing.add." + section.slice(0, -1)));
  document.getElementById("edit-fields").replaceChildren(...spec.map((s) => field(s, values[s[0]])));
  showError(document.getElementById("edit-error"), null);
  dialog.showModal();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(saveButton, async () => {
    const { section, record } = editing;
    const spec = SPECS[section].filter(([name]) => !(record && name === KEY_FIELD[section]));
    const body = readForm(form, spec);
    try {
      if (record) {
        await api(`/api/queueing/${section}/${encodeURIComponent(record[KEY_FIELD[section]])}`, { method: "PATCH", json: body });
      } else {
        const created = await api(`/api/queueing/${section}`, { method: "POST", json: body });
        if (section === "devices") showKey(created.key);
      }
      dialog.close();
      say(t("queueing.saved"));
      await load(section);
    } catch (error) {
      showError(document.getElementById("edit-error"), error);
    }
  });
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
      return [record.code, record.name, names("queues", record.queues), record.min_call_interval_seconds, stateBadge(record.state)];
    case "queues":
      return [record.code, record.name, record.modality, record.prefix, t("queueing.order_by." + record.order_by),
        t("queueing.rule." + record.missed_rule), record.voice_template];
    case "screens":
      return [record.code, record.name, t("queueing.orientation." + record.orientation), names("queues", record.queues),
        record.mask_names ? "✓" : "✗"];
    default: {
      // What the device is bound to, named by its kind (a screen's code is not a room).
      const bound = record.room ? `${t("queueing.field.room")}: ${nameOf("rooms", record.room)}`
        : record.screen ? `${t("queueing.field.screen")}: ${nameOf("screens", record.screen)}`
          : record.queues.length ? `${t("queueing.field.queues")}: ${names("queues", record.queues)}` : "";
      return [record.name, t("queueing.kind." + record.kind), bound, when(record.last_seen_at)];
    }
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
    renew.addEventListener("click", () => busy(renew, async () => {
      if (!confirm(t("queueing.device.confirm_new_key"))) return;
      try {
        showKey((await api(`/api/queueing/devices/${encodeURIComponent(record.name)}/key`, { method: "POST" })).key);
      } catch (error) { failed(error); }
    }));
    actions.append(renew);
  }
  const remove = el("button", { type: "button", className: "secondary danger", textContent: t("queueing.delete") });
  const name = record[KEY_FIELD[section]];
  remove.addEventListener("click", () => busy(remove, async () => {
    if (!confirm(t("queueing.confirm_delete", { name }))) return;
    try {
      await api(`/api/queueing/${section}/${encodeURIComponent(name)}`, { method: "DELETE" });
      await load(section);
    } catch (error) { failed(error); }
  }));
  actions.append(remove);
  const tr = el("tr", {}, ...cells(section, record).map((value) => el("td", {}, value)), actions);
  tr.dataset.key = name;
  return tr;
}

async function load(section) {
  try {
    data[section] = await api(`/api/queueing/${section}`);
    const tbody = document.querySelector(`#${section} tbody`);
    tbody.replaceChildren(...data[section].map((record) => row(section, record)));
    if (!data[section].length) tbody.append(el("tr", {}, el("td", { colSpan: 8, className: "sub", textContent: t("queueing.none") })));
  } catch (error) { failed(error); }
}

for (const button of document.querySelectorAll("button.add")) {
  button.addEventListener("click", () => openEditor(button.dataset.section, null));
}

// The RIS's rooms: which are adopted, and one click for the rest.
const adoptButton = document.getElementById("adopt-ris");
async function loadRisRooms() {
  const rooms = await api("/api/queueing/ris-rooms");
  const open = rooms.filter((r) => !r.adopted);
  document.getElementById("ris-rooms").replaceChildren(...rooms.map((r) => el("span",
    { className: "ris-room " + (r.adopted ? "adopted" : "open"), textContent: `${r.name} (${r.code}) · ${t(r.adopted ? "queueing.ris.adopted" : "queueing.ris.not_adopted")}　` })));
  adoptButton.hidden = !open.length;
  if (rooms.length && !open.length) document.getElementById("ris-rooms").append(el("span", { className: "sub", textContent: t("queueing.ris.all_adopted") }));
}
adoptButton.addEventListener("click", () => busy(adoptButton, async () => {
  try {
    const made = await api("/api/queueing/ris-rooms/adopt", { method: "POST", json: {} });
    say(t("queueing.ris.done", { rooms: made.rooms.length, queues: made.queues.length }));
    await load("queues"); // first: the rooms name their queues (a race showed a bare code)
    await Promise.all(["rooms", "screens"].map(load));
    await loadRisRooms();
  } catch (error) { failed(error); }
}));

const settingsForm = document.getElementById("settings-form");
async function loadSettings() {
  const settings = await api("/api/queueing/settings");
  for (const [name, value] of Object.entries(settings)) {
    const input = settingsForm.elements[name];
    if (!input) continue;
    if (input.type === "checkbox") input.checked = value; else input.value = value;
  }
  const preview = document.getElementById("logo-preview");
  preview.hidden = !settings.has_logo;
  if (settings.has_logo) preview.src = "/api/queueing/logo?" + Date.now();
  else preview.removeAttribute("src");
}
settingsForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(document.getElementById("settings-save"), async () => {
    const f = settingsForm.elements;
    const body = { hospital_name: f.hospital_name.value.trim(),
      voice_enabled: f.voice_enabled.checked, voice_name: f.voice_name.value, voice_rate: Number(f.voice_rate.value) };
    for (const font of ["font_title", "font_header", "font_list", "font_call", "font_clock"]) body[font] = Number(f[font].value);
    try {
      await api("/api/queueing/settings", { method: "PUT", json: body });
      await loadSettings();
      say(t("queueing.saved"));
    } catch (error) { failed(error); }
  });
});
document.getElementById("logo-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  try {
    await api("/api/queueing/logo", { method: "PUT", body: file, headers: { "Content-Type": file.type } });
    await loadSettings();
    say(t("queueing.saved"));
  } catch (error) { failed(error); }
});

async function loadAll() {
  say(t("queueing.loading"));
  try {
    await loadSettings();
    await load("queues"); // first: the other tables name their queues
    await Promise.all(["rooms", "screens"].map(load));
    await load("devices");
    await loadRisRooms();
    say("");
  } catch (error) { failed(error); }
}

// After the first load: the confirm form picks from the rooms and screens loaded.
loadAll().then(() => startEnrolment({ field, readForm, say, enrolled: () => load("devices") }));
liveEvents((event) => {
  if (event.type === "room.updated") load("rooms");
  else if (event.type === "config.updated" && event.payload.what in { room: 1, queue: 1, screen: 1, device: 1 }) {
    load(event.payload.what + "s");
  }
}, loadAll, (connected) => {
  liveLine.textContent = t(connected ? "queueing.live.connected" : "queueing.live.offline");
  liveLine.classList.toggle("offline", !connected);
});
