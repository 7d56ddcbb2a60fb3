// The filter bar every statistics page shares: a range of hospital days and the dimensions,
// kept in the page's address (so a figure can be bookmarked and sent to a colleague).
import { api } from "/static/shared/api.js";
import { hospitalDate } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

export const DIMENSIONS = ["department", "modality", "room", "procedure_code", "referring_department", "patient_class"];

// The query of the address, with the default range (this month so far) filled in.
export function currentParams() {
  const params = new URLSearchParams(location.search);
  const today = hospitalDate();
  if (!params.get("start")) params.set("start", today.slice(0, 8) + "01");
  if (!params.get("end")) params.set("end", today);
  return params;
}

// Fill the form from the address and its pickers from the core; onChange(params) on submit.
export async function filterBar(form, onChange) {
  const params = currentParams();
  const choices = await api("/api/statistics/choices").catch(() => ({}));
  for (const name of DIMENSIONS) {
    const select = form.elements[name];
    if (!select) continue;
    for (const choice of choices[name] || []) {
      const label = name === "patient_class" ? t("statistics.patient_class." + choice.value) : choice.label;
      select.append(el("option", { value: choice.value, textContent: label || choice.value }));
    }
    const wanted = params.get(name) || "";
    if (wanted && ![...select.options].some((o) => o.value === wanted)) {
      select.append(el("option", { value: wanted, textContent: wanted }));
    }
    select.value = wanted;
  }
  form.elements.start.value = params.get("start");
  form.elements.end.value = params.get("end");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) next.set(key, value);
    history.replaceState(null, "", "?" + next);
    onChange(next);
  });
  return params;
}
