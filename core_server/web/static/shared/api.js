// The one wrapper around our JSON API, for every page.
// - A refusal arrives as {"detail": {"code", "message", ...values}}: ApiError carries the
//   message (already in the user's language), the code and the values (lock holder, problems).
// - A 401 means the session is over: back to sign-in.
// - busy(button, work): the button stays disabled while its request runs, so a double click
//   cannot send twice.
import { LANG, t } from "./i18n.js";

const CJK = /[\u3400-\u9fff]/;

// An older area's "中文 / English" pair: only the page's language. (Refusals from the one
// handler are already in it.)
function oneLanguage(text) {
  const parts = text.split(" / ");
  if (parts.length !== 2) return text;
  const chinese = parts.find((p) => CJK.test(p));
  const other = parts.find((p) => !CJK.test(p));
  if (!chinese || !other) return text;
  return LANG === "zh" ? chinese : other;
}

export class ApiError extends Error {
  constructor(status, detail, fallback = "") {
    let message = fallback;
    let values = {};
    if (Array.isArray(detail)) {
      message = t("web.common.invalid_input");
      values = { problems: detail };
    } else if (detail && typeof detail === "object") {
      message = detail.message || fallback;
      values = detail;
    } else if (typeof detail === "string" && detail) {
      message = oneLanguage(detail);
    }
    super(message || t("web.common.server_error"));
    this.status = status;
    this.code = values.code || "";
    this.values = values;
  }
}

// fetch() on our own API. options: method, json (a body to send as JSON), body, headers,
// onHeaders(headers) (to read X-Total-Count and the like).
export async function api(path, options = {}) {
  const { json, onHeaders, ...rest } = options;
  const init = { credentials: "same-origin", ...rest };
  init.headers = { Accept: "application/json", ...(rest.headers || {}) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  let answer;
  try {
    answer = await fetch(path, init);
  } catch {
    throw new ApiError(0, null, t("web.common.network_error"));
  }
  if (onHeaders) onHeaders(answer.headers);
  if (answer.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, null, t("web.common.signed_out"));
  }
  if (answer.status === 204) return null;
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    // No readable reason (a proxy's error page, a crash): words a user understands.
    const fallback = t(answer.status >= 500 ? "web.common.server_error" : "web.common.refused");
    throw new ApiError(answer.status, body && body.detail, fallback);
  }
  return body;
}

// Run work() with the button disabled (and marked busy) until it settles.
export async function busy(button, work) {
  if (!button) return work();
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// A key for one press of a button: a resend after a lost answer must not act twice.
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs HTTPS
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Show an error (or clear it) in a message box.
export function showError(box, error) {
  if (!box) return;
  box.textContent = error ? error.message || String(error) : "";
  box.hidden = !error;
}
