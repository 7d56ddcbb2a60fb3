// The reporting configuration page over /api/reporting: settings (critical-value escalation,
// editing lock, default sign-off levels), sign-off levels per department, forbidden and
// mutually exclusive words, shared templates (add, edit, retire) and the default template
// of each exam item. Every change is checked and audited by the API.
import { api } from "/static/shared/api.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const PAGE = pageData();
const statusLine = document.getElementById("status");
const templateDialog = document.getElementById("template-dialog");
const templateForm = document.getElementById("template-form");
let editing = null; // the template being edited, null for a new one
let templates = [];

function button(label, onClick, className = "secondary") {
  const node = el("button", { type: "button", className, textContent: label });
  node.addEventListener("click", onClick);
  return node;
}

// A table row carrying data-* attributes (el() cannot assign the read-only dataset).
function row(className, data, ...cells) {
  const node = el("tr", { className }, ...cells);
  Object.assign(node.dataset, data);
  return node;
}

function options(select, choices, selected) {
  select.replaceChildren(
    ...choices.map(([value, label]) => el("option", { value, textContent: label, selected: value === selected })),
  );
}

const departmentName = (code) => (PAGE.departments.find((d) => d.code === code) || { name: code }).name;
const anyModality = () => [["", t("reporting_admin.any")], ...PAGE.modalities.map((m) => [m, m])];

// Run a change, say it is saved (or why not), and show the new state.
async function act(work, saved = t("reporting_admin.saved")) {
  statusLine.textContent = ""; // cleared at once: the next "saved" is this change's
  try {
    await work();
    statusLine.textContent = saved;
    statusLine.classList.remove("error");
  } catch (error) {
    statusLine.textContent = t("web.common.save_failed", { reason: error.message });
    statusLine.classList.add("error");
  }
  await load();
}

// Template text is HTML (what the editor stores): a textarea line is a paragraph.
function toHtml(text) {
  return text.split("\n").filter((line) => line.trim()).map((line) => {
    const p = document.createElement("p");
    p.textContent = line;
    return p.outerHTML;
  }).join("");
}

function toText(html) {
  const marked = (html || "").replace(/<br\s*\/?>/gi, "\n").replace(/<\/(p|div|li|h\d)>/gi, "\n");
  return new DOMParser().parseFromString(marked, "text/html").body.textContent.trim();
}

// -- settings and levels ------------------------------------------------------------------

function showSettings(settings) {
  const f = document.getElementById("settings-form").elements;
  f.critical_escalate_minutes.value = settings.critical_escalate_minutes;
  f.lock_minutes.value = settings.lock_minutes;
  f.default_levels.value = String(settings.default_levels);
  const known = new Set(PAGE.departments.map((d) => d.code));
  const codes = [...PAGE.departments.map((d) => d.code), ...Object.keys(settings.department_levels).filter((c) => !known.has(c))];
  const levelChoices = [1, 2, 3].map((n) => [String(n), t("reporting_admin.levels." + n)]);
  document.querySelector("#levels tbody").replaceChildren(...codes.map((code) => {
    const select = el("select", { className: "levels", name: "levels-" + code });
    const own = settings.department_levels[code];
    options(select, [["", t("reporting_admin.levels.default", { levels: settings.default_levels })], ...levelChoices], own ? String(own) : "");
    select.querySelector("option[value='']").disabled = Boolean(own); // no way back to "default" once set
    select.addEventListener("change", () => act(() => api(`/api/reporting/departments/${encodeURIComponent(code)}/levels`, {
      method: "PUT", json: { levels: Number(select.value) },
    })));
    return row("department", { code },
      el("td", { textContent: `${departmentName(code)} (${code})` }), el("td", {}, select));
  }));
}

document.getElementById("settings-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const f = event.target.elements;
  act(() => api("/api/reporting/settings", {
    method: "PUT",
    json: {
      critical_escalate_minutes: Number(f.critical_escalate_minutes.value),
      lock_minutes: Number(f.lock_minutes.value),
      default_levels: Number(f.default_levels.value),
    },
  }));
});

// -- word rules -----------------------------------------------------------------------------

function wordRow(rule) {
  return el("tr", { className: "word-rule " + rule.kind },
    el("td", { textContent: t("reporting_admin.words." + rule.kind) }),
    el("td", { className: "word", textContent: rule.word }),
    el("td", { textContent: rule.other }),
    el("td", { textContent: rule.modality || t("reporting_admin.any") }),
    el("td", { textContent: rule.message }),
    el("td", { className: "actions" }, button(t("web.common.delete"), () => {
      if (confirm(t("reporting_admin.words.confirm_delete", { word: rule.word }))) {
        act(() => api(`/api/reporting/word-rules/${rule.id}`, { method: "DELETE" }));
      }
    }, "secondary danger")));
}

const wordForm = document.getElementById("word-form");
function showOther() {
  const exclusive = wordForm.elements.kind.value === "exclusive";
  wordForm.elements.other.hidden = !exclusive;
  wordForm.elements.other.required = exclusive;
  document.getElementById("word-other-label").hidden = !exclusive;
}
wordForm.elements.kind.addEventListener("change", showOther);
wordForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const f = wordForm.elements;
  const body = {
    kind: f.kind.value, word: f.word.value.trim(), other: f.kind.value === "exclusive" ? f.other.value.trim() : "",
    modality: f.modality.value, message: f.message.value.trim(),
  };
  act(async () => {
    await api("/api/reporting/word-rules", { method: "POST", json: body });
    wordForm.reset();
    showOther();
  });
});

// -- templates and defaults -----------------------------------------------------------------

// A template as the API takes it back (PUT), active or not.
function templateBody(template, active) {
  const { name, scope, department, modality, body_part, keywords, findings, impression, fields } = template;
  return { name, scope, department, modality, body_part, keywords, findings, impression, fields, active };
}

function templateRow(template) {
  const actions = [button(t("web.common.edit"), () => openTemplate(template))];
  if (template.active) {
    actions.push(button(t("reporting_admin.templates.retire"), () => {
      if (confirm(t("reporting_admin.templates.confirm_retire", { name: template.name }))) {
        act(() => api(`/api/reporting/templates/${template.id}`, { method: "DELETE" }));
      }
    }, "secondary danger"));
  } else {
    // A retired template stays listed (marked) and can be offered again, as it was.
    actions.push(button(t("reporting_admin.templates.reactivate"), () => act(() =>
      api(`/api/reporting/templates/${template.id}`, { method: "PUT", json: templateBody(template, true) }))));
  }
  return row("template" + (template.active ? "" : " retired"), { id: template.id },
    el("td", { className: "name", textContent: template.active ? template.name : `${template.name} (${t("reporting_admin.templates.retired")})` }),
    el("td", { textContent: t("reporting_admin.scope." + template.scope) }),
    el("td", { textContent: template.department ? departmentName(template.department) : "" }),
    el("td", { textContent: template.modality || t("reporting_admin.any") }),
    el("td", { textContent: template.body_part }),
    el("td", { className: "num", textContent: String(template.fields.length) }),
    el("td", { className: "actions" }, ...actions));
}

function defaultRow(procedure, defaults) {
  const select = el("select", { className: "default-template", name: "default-" + procedure.code });
  const fitting = templates.filter((tpl) => tpl.active && (!tpl.modality || tpl.modality === procedure.modality));
  const current = defaults[procedure.code] ? String(defaults[procedure.code]) : "";
  options(select, [["", t("reporting_admin.defaults.none")], ...fitting.map((tpl) => [String(tpl.id), tpl.name])], current);
  select.addEventListener("change", () => act(() => api(`/api/reporting/default-templates/${encodeURIComponent(procedure.code)}`, {
    method: "PUT", json: { template_id: select.value ? Number(select.value) : null },
  })));
  return row("procedure", { code: procedure.code },
    el("td", { textContent: procedure.code }), el("td", { textContent: procedure.name }),
    el("td", { textContent: procedure.modality }), el("td", {}, select));
}

const FIELD_TYPES = ["text", "choice", "number", "date"];

function fieldRow(field = { id: "", label: "", type: "text", choices: [], unit: "", required: false }) {
  const type = el("select", { name: "field-type" });
  options(type, FIELD_TYPES.map((k) => [k, t("reporting_admin.fields.type." + k)]), field.type);
  const fieldTr = el("tr", { className: "field" },
    el("td", {}, el("input", { name: "field-id", value: field.id, maxLength: 64, required: true, pattern: "[A-Za-z0-9_\\-]+" })),
    el("td", {}, el("input", { name: "field-label", value: field.label, maxLength: 128, required: true })),
    el("td", {}, type),
    el("td", {}, el("input", { name: "field-choices", value: (field.choices || []).join("、") })),
    el("td", {}, el("input", { name: "field-unit", value: field.unit || "", maxLength: 32 })),
    el("td", {}, el("input", { type: "checkbox", name: "field-required", checked: Boolean(field.required) })),
    el("td", {}, button(t("web.common.delete"), () => fieldTr.remove(), "secondary danger")));
  return fieldTr;
}

function readFields() {
  return [...document.querySelectorAll("#template-fields tbody tr.field")].map((tr) => {
    const value = (name) => tr.querySelector(`[name=${name}]`).value.trim();
    return {
      id: value("field-id"), label: value("field-label"), type: value("field-type"),
      choices: value("field-choices").split(/[、,，;；]/).map((c) => c.trim()).filter(Boolean),
      unit: value("field-unit"), required: tr.querySelector("[name=field-required]").checked,
    };
  });
}

function openTemplate(template) {
  editing = template;
  templateForm.reset();
  document.getElementById("template-error").hidden = true;
  document.getElementById("template-dialog-title").textContent = template ? t("reporting_admin.templates.edit") : t("reporting_admin.templates.add");
  const f = templateForm.elements;
  f.name.value = template ? template.name : "";
  f.scope.value = template ? template.scope : "system";
  options(f.department, [["", t("reporting_admin.any")], ...PAGE.departments.map((d) => [d.code, d.name])], template ? template.department : "");
  options(f.modality, anyModality(), template ? template.modality : "");
  showDepartment();
  f.body_part.value = template ? template.body_part : "";
  f.keywords.value = template ? template.keywords : "";
  f.findings.value = template ? toText(template.findings) : "";
  f.impression.value = template ? toText(template.impression) : "";
  document.querySelector("#template-fields tbody").replaceChildren(...(template ? template.fields : []).map(fieldRow));
  templateDialog.showModal();
}

// A department template names its department; a system template has none.
function showDepartment() {
  const f = templateForm.elements;
  const department = f.scope.value === "department";
  f.department.disabled = !department;
  f.department.required = department;
  f.department.querySelector("option[value='']").disabled = department;
  if (department && !f.department.value && PAGE.departments.length) f.department.value = PAGE.departments[0].code;
  if (!department) f.department.value = "";
}
templateForm.elements.scope.addEventListener("change", showDepartment);

templateForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = templateForm.elements;
  const body = {
    name: f.name.value.trim(), scope: f.scope.value, department: f.scope.value === "department" ? f.department.value : "",
    modality: f.modality.value, body_part: f.body_part.value.trim(), keywords: f.keywords.value.trim(),
    findings: toHtml(f.findings.value), impression: toHtml(f.impression.value), fields: readFields(),
    active: editing ? editing.active : true,
  };
  try {
    if (editing) {
      await api(`/api/reporting/templates/${editing.id}`, { method: "PUT", json: body });
    } else {
      await api("/api/reporting/templates", { method: "POST", json: body });
    }
    templateDialog.close();
    statusLine.textContent = t("reporting_admin.saved");
    await load();
  } catch (error) {
    const node = document.getElementById("template-error");
    node.textContent = t("web.common.save_failed", { reason: error.message });
    node.hidden = false;
  }
});

document.getElementById("add-template").addEventListener("click", () => openTemplate(null));
document.getElementById("template-cancel").addEventListener("click", () => templateDialog.close());
document.getElementById("add-field").addEventListener("click", () => {
  document.querySelector("#template-fields tbody").append(fieldRow());
});

// -- loading --------------------------------------------------------------------------------

async function load() {
  try {
    const [settings, rules, found, defaults] = await Promise.all([
      api("/api/reporting/settings"),
      api("/api/reporting/word-rules"),
      api("/api/reporting/templates?include_inactive=true"),
      api("/api/reporting/default-templates"),
    ]);
    // Shared templates only: doctors keep their private ones themselves.
    templates = found.filter((tpl) => tpl.scope !== "private");
    showSettings(settings);
    document.querySelector("#words tbody").replaceChildren(...rules.map(wordRow));
    document.querySelector("#templates tbody").replaceChildren(...templates.map(templateRow));
    document.querySelector("#defaults tbody").replaceChildren(...PAGE.procedures.map((p) => defaultRow(p, defaults)));
  } catch (error) {
    statusLine.textContent = t("web.common.load_failed", { reason: error.message });
  }
}

options(wordForm.elements.modality, anyModality(), "");
showOther();
load();
