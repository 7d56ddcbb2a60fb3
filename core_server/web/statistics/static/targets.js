// Turnaround targets and working hours: the administrator edits the whole table and saves
// it at once (PUT); a department head reads it.
import { api, busy, showError } from "/static/shared/api.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const { editable } = pageData();
const targets = document.querySelector("#targets tbody");
const hours = document.querySelector("#hours tbody");
const error = document.getElementById("error");
const status = document.getElementById("status");
let steps = [], priorities = [];

function choice(name, values, current, label) {
  const select = el("select", { name, disabled: !editable });
  for (const value of values) {
    select.append(el("option", { value, textContent: label(value), selected: value === current }));
  }
  return select;
}

function removeButton(tr) {
  const button = el("button", { type: "button", className: "secondary", hidden: !editable,
    textContent: t("statistics.targets.remove") });
  button.addEventListener("click", () => tr.remove());
  return button;
}

function targetRow(target) {
  const tr = el("tr", { className: "target" });
  tr.append(
    el("td", {}, el("input", { name: "department", value: target.department, disabled: !editable,
      placeholder: t("statistics.targets.all_departments") })),
    el("td", {}, choice("step", steps, target.step, (s) => t("statistics.turnaround.step." + s))),
    el("td", {}, choice("priority", ["", ...priorities], target.priority,
      (p) => t("statistics.turnaround.priority." + (p || "any")))),
    el("td", {}, el("input", { name: "minutes", type: "number", min: 1, value: target.minutes,
      disabled: !editable })),
    el("td", {}, el("input", { name: "working_hours", type: "checkbox",
      checked: target.working_hours, disabled: !editable })),
    el("td", {}, removeButton(tr)));
  return tr;
}

function hoursRow(rule) {
  const tr = el("tr", { className: "hours" });
  tr.append(
    el("td", {}, el("input", { name: "department", value: rule.department, disabled: !editable })),
    el("td", {}, el("input", { name: "rule", value: rule.rule, size: 32, disabled: !editable,
      placeholder: "1-5 08:00-12:00,13:30-17:30" })),
    el("td", {}, removeButton(tr)));
  return tr;
}

function show(answer) {
  steps = answer.steps;
  priorities = answer.priorities;
  targets.replaceChildren(...answer.targets.map(targetRow));
  hours.replaceChildren(...answer.working_hours.map(hoursRow));
}

function collect() {
  const value = (tr, name) => tr.querySelector(`[name=${name}]`);
  return {
    targets: [...targets.querySelectorAll("tr")].map((tr) => ({
      department: value(tr, "department").value.trim(),
      step: value(tr, "step").value,
      priority: value(tr, "priority").value,
      minutes: Number(value(tr, "minutes").value),
      working_hours: value(tr, "working_hours").checked,
    })),
    working_hours: [...hours.querySelectorAll("tr")].map((tr) => ({
      department: value(tr, "department").value.trim(),
      rule: value(tr, "rule").value.trim(),
    })),
  };
}

async function load() {
  status.textContent = t("web.common.loading");
  try {
    show(await api("/api/statistics/targets"));
    status.textContent = "";
  } catch (err) {
    status.textContent = t("web.common.load_failed", { reason: err.message });
  }
}

document.getElementById("read-only").hidden = editable;
for (const button of document.querySelectorAll(".editing")) button.hidden = !editable;
document.getElementById("add-target").addEventListener("click", () =>
  targets.append(targetRow({ department: "", step: "report", priority: "", minutes: 60,
    working_hours: false })));
document.getElementById("add-hours").addEventListener("click", () =>
  hours.append(hoursRow({ department: "", rule: "" })));
const save = document.getElementById("save");
save.addEventListener("click", () => busy(save, async () => {
  showError(error, null);
  try {
    show(await api("/api/statistics/targets", { method: "PUT", json: collect() }));
    status.textContent = t("statistics.targets.saved");
  } catch (err) {
    showError(error, err);
  }
}));
load();
