// What the RIS pages share beyond /static/shared/: status names, the resident ID card check
// (GB 11643, as the server checks it) and the birth date checks the registration page runs
// before sending.
import { hospitalDate } from "/static/shared/dates.js";
import { t } from "/static/shared/i18n.js";

export function statusText(status) {
  return t("ris.status." + status);
}

const CARD_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

// The card's birth date and sex, or null when the number is not a valid 18-digit card.
export function parseIdCard(value) {
  const number = value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(number)) return null;
  const sum = CARD_WEIGHTS.reduce((acc, w, i) => acc + w * Number(number[i]), 0);
  if ("10X98765432"[sum % 11] !== number[17]) return null;
  const birth = `${number.slice(6, 10)}-${number.slice(10, 12)}-${number.slice(12, 14)}`;
  const parsed = new Date(birth + "T00:00:00Z");
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== birth) return null;
  if (birth > hospitalDate() || birth < "1880-01-01") return null;
  return { birth, sex: Number(number[16]) % 2 ? "M" : "F" };
}

// What is wrong with a birth date (ISO) before the server says it: a catalogue key, or "".
export function birthDateProblem(iso) {
  if (!iso) return "";
  if (iso > hospitalDate()) return "ris.register.birth_date_future";
  if (iso < "1880-01-01") return "ris.register.birth_date_early";
  return "";
}
