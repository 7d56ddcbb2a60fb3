// The pathology request form of one exam: biopsy sites with their specimen counts, clinical
// information, who requests it; saved on the exam, then printed A5 or A4 (PDF with barcode).
import { api, busy, showError } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const exam = $("exam").dataset.exam;
const status = $("status");

function total() {
  $("total").textContent = String([...$("sites").querySelectorAll("input[type=number]")].reduce((n, i) => n + (Number(i.value) || 0), 0));
}

function siteRow(site = "", specimens = 1) {
  const name = el("input", { type: "text", value: site, maxLength: 64, required: true });
  name.setAttribute("aria-label", t("capture.pathology.site"));
  const count = el("input", { type: "number", value: String(specimens), min: 1, max: 99, required: true });
  count.setAttribute("aria-label", t("capture.pathology.specimens"));
  count.addEventListener("input", total);
  const remove = el("button", { type: "button", className: "secondary", textContent: t("capture.pathology.remove") });
  const row = el("tr", { className: "cap-site" }, el("td", {}, name), el("td", {}, count), el("td", {}, remove));
  remove.addEventListener("click", () => { row.remove(); total(); });
  $("sites").tBodies[0].append(row);
  total();
}

function printable(yes) {
  $("print-a5").hidden = !yes;
  $("print-a4").hidden = !yes;
}

function load() {
  const form = JSON.parse($("form-data").textContent); // the saved form, or null
  if (!form) return siteRow();
  for (const s of form.sites) siteRow(s.site, s.specimens);
  $("clinical").value = form.clinical_info;
  $("requested-by").value = form.requested_by;
  printable(true);
}

$("add-site").addEventListener("click", () => siteRow());
$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const sites = [...$("sites").tBodies[0].rows].map((row) => {
    const [name, count] = row.querySelectorAll("input");
    return { site: name.value.trim(), specimens: Number(count.value) };
  });
  busy($("save"), async () => {
    try {
      await api(`/api/capture/exams/${exam}/pathology`, { method: "POST", json: { sites, clinical_info: $("clinical").value, requested_by: $("requested-by").value } });
      status.textContent = t("capture.pathology.saved");
      printable(true);
    } catch (error) {
      showError(status, error);
    }
  });
});
load();
