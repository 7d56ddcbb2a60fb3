// Times as the hospital reads them: the server sends ISO 8601 with its offset and the page
// shows it in the hospital's zone (<html data-timezone>), whatever the workstation's zone.
export const ZONE = document.documentElement.dataset.timezone || "Asia/Shanghai";

const parts = (at, options) =>
  Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, hourCycle: "h23", ...options })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );

// "2026-12-07" in the hospital for a Date (default now).
export function hospitalDate(at = new Date()) {
  const p = parts(at, { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day}`;
}

// "14:09" in the hospital.
export function hospitalTime(at = new Date()) {
  const p = parts(at, { hour: "2-digit", minute: "2-digit" });
  return `${p.hour}:${p.minute}`;
}

// An API time -> "2026-12-07 14:09"; with short=true today's times show "14:09" only.
export function when(iso, { short = false } = {}) {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const day = hospitalDate(at);
  const time = hospitalTime(at);
  return short && day === hospitalDate() ? time : `${day} ${time}`;
}

// A DICOM date (20250310) or ISO date -> "2025-03-10".
export function dicomDate(value) {
  if (!value) return "";
  const digits = String(value).replace(/-/g, "");
  return /^\d{8}$/.test(digits)
    ? `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`
    : String(value);
}
