// The print form of the report view: logs the print on the server (a refused reprint shows
// the server's reason, in the user's language), opens the print's PDF in a new window for the
// browser to print, and shows how often the report was printed.
import { api, busy } from "/static/shared/api.js";
import { t } from "/static/shared/i18n.js";

async function printCount(form) {
  try {
    const log = await api(`/api/reporting/reports/${form.dataset.report}/prints`);
    return log.prints.length;
  } catch {
    return null;
  }
}

async function print(form, status) {
  // Opened now, inside the click, so no pop-up blocker stops it; filled when the PDF is in.
  const target = window.open("", "_blank");
  status.textContent = t("report_output.print.working");
  let record;
  try {
    record = await api(`/api/reporting/reports/${form.dataset.report}/print`, {
      method: "POST",
      json: { copies: Number(form.elements.copies.value), reason: form.elements.reason.value },
    });
  } catch (error) {
    if (target) target.close();
    status.textContent = error.message;
    status.classList.add("error");
    return;
  }
  status.classList.remove("error");
  // The logged print's PDF, opened as a page of its own: the browser's viewer prints it.
  if (target) target.location.href = record.pdf;
  else location.assign(record.pdf);
  const count = await printCount(form);
  const key = record.reprint ? "reprint_done" : "done";
  status.textContent = t(`report_output.print.${key}`, { count: count ?? "" });
  form.elements.reason.value = "";
}

for (const form of document.querySelectorAll("form.print-form")) {
  const status = form.querySelector(".print-status");
  printCount(form).then((count) => {
    if (count) status.textContent = t("report_output.print.printed", { count });
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form.querySelector("button[type=submit]"), () => print(form, status));
  });
}
