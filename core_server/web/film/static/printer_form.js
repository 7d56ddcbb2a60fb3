// The administrators' printer form on /film/printers: add a laser imager, or edit one (its
// row's "Edit" sends "film:edit-printer"); saved through /api/film/printers, the list is told
// with "film:printer-saved". Refusals (a name taken, a bad port) show in the status line.
import { api, busy, showError } from "/static/shared/api.js";
import { t } from "/static/shared/i18n.js";

const form = document.getElementById("printer-form");
const status = document.getElementById("status");
const LISTS = ["film_sizes", "media"];
const TEXT_LISTS = ["modalities", "departments"];
const FLAGS = ["color", "auto_forward", "skip_cloud_film", "active"];

function open(printer) {
  form.reset();
  form.elements.id.value = printer ? String(printer.id) : "";
  document.getElementById("form-title").textContent = printer
    ? t("film.printer.form_edit", { name: printer.name }) : t("film.printer.form_add");
  if (printer) {
    for (const name of ["name", "ae_title", "host", "port", "default_film_size", "default_medium", "default_destination", "default_priority"]) {
      form.elements[name].value = String(printer[name]);
    }
    for (const name of LISTS) {
      for (const box of form.querySelectorAll(`input[name="${name}"]`)) box.checked = printer[name].includes(box.value);
    }
    for (const name of TEXT_LISTS) form.elements[name].value = printer[name].join(", ");
    for (const name of FLAGS) form.elements[name].checked = Boolean(printer[name]);
  }
  form.hidden = false;
  form.elements.name.focus();
}

function body() {
  const values = {};
  for (const name of ["name", "ae_title", "host", "default_film_size", "default_medium", "default_destination", "default_priority"]) {
    values[name] = form.elements[name].value.trim();
  }
  values.port = Number(form.elements.port.value);
  for (const name of LISTS) values[name] = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((b) => b.value);
  for (const name of TEXT_LISTS) values[name] = form.elements[name].value.split(",").map((v) => v.trim()).filter(Boolean);
  for (const name of FLAGS) values[name] = form.elements[name].checked;
  return values;
}

if (form) {
  document.getElementById("add-printer").addEventListener("click", () => open(null));
  document.getElementById("cancel-form").addEventListener("click", () => { form.hidden = true; });
  document.addEventListener("film:edit-printer", (event) => open(event.detail));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = form.elements.id.value;
    const button = form.querySelector('button[type="submit"]');
    busy(button, async () => {
      try {
        const saved = await api(id ? `/api/film/printers/${id}` : "/api/film/printers", { method: id ? "PUT" : "POST", json: body() });
        document.dispatchEvent(new CustomEvent("film:printer-saved", { detail: saved }));
        form.hidden = true;
        status.textContent = t("film.printer.saved", { name: saved.name });
      } catch (error) {
        showError(status, error);
      }
    });
  });
}
