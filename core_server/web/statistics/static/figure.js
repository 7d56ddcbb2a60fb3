// One page for every figure: the filter bar, the chart, the table with its totals, the Excel
// and PDF of exactly what is shown; a click on a row opens the exams behind it.
import { api, showError } from "/static/shared/api.js";
import { chart } from "/static/shared/charts.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { filterBar } from "./filters.js";

const { name } = pageData();
const table = document.getElementById("figure");
const status = document.getElementById("status");
const errorBox = document.getElementById("error");

export function cell(value, kind) {
  if (value === null || value === undefined || value === "") return "";
  if (kind === "percent") return `${value}%`;
  if (kind === "money") return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return String(value);
}

function tableRow(columns, row, tag = "td") {
  return el("tr", {}, ...columns.map((c) =>
    el(tag, { className: c.kind === "text" ? "" : "num", textContent: cell(row[c.key], c.kind) })));
}

function draw(figure, params) {
  document.getElementById("figure-title").textContent = figure.title;
  table.tHead.replaceChildren(el("tr", {}, ...figure.columns.map((c) =>
    el("th", { className: c.kind === "text" ? "" : "num", textContent: c.label }))));
  table.tBodies[0].replaceChildren(...figure.rows.map((row, i) => {
    const tr = tableRow(figure.columns, row);
    const drill = figure.drill[i];
    if (drill) {
      tr.classList.add("drill");
      tr.tabIndex = 0;
      const open = () => location.assign("/statistics/exams?" + new URLSearchParams({ ...Object.fromEntries(params), ...drill }));
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
    }
    return tr;
  }));
  table.tFoot.replaceChildren(...(figure.totals ? [tableRow(figure.columns, { ...figure.totals,
    [figure.columns[0].key]: figure.totals[figure.columns[0].key] ?? t("statistics.total") })] : []));
  const box = document.getElementById("chart");
  if (figure.chart && figure.rows.length) {
    const labelOf = Object.fromEntries(figure.columns.map((c) => [c.key, c.label]));
    chart(box, { kind: figure.chart.kind, labels: figure.rows.map((r) => r[figure.chart.x]),
      series: figure.chart.series.map((key) => ({ name: labelOf[key], values: figure.rows.map((r) => r[key]) })) });
  } else {
    box.replaceChildren();
  }
  document.getElementById("note").textContent = figure.note;
  status.textContent = figure.rows.length ? "" : t("statistics.empty");
}

async function load(params) {
  errorBox.hidden = true;
  status.textContent = t("web.common.loading");
  const query = "?" + params;
  document.getElementById("export-excel").href = `/api/statistics/figures/${name}/excel${query}`;
  document.getElementById("export-pdf").href = `/api/statistics/figures/${name}/pdf${query}`;
  try {
    draw(await api(`/api/statistics/figures/${encodeURIComponent(name)}${query}`), params);
  } catch (error) {
    status.textContent = "";
    showError(errorBox, error);
  }
}

const form = document.getElementById("filters");
load(await filterBar(form, load));
