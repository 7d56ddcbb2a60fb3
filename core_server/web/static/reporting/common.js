// Shared by the reporting pages: the page's data block, error display, dates, people's names.
"use strict";

const PAGE = JSON.parse(document.getElementById("page-data").textContent);

// A person's display name (张医生) when the page knows it, else the login name.
function personName(username) {
  if (!username) return "";
  return (PAGE.names && PAGE.names[username]) || username;
}

// An API refusal as a sentence; word-rule problems (422) listed one by one.
function errorText(error) {
  const detail = error && error.message;
  if (error && error.status === 422 && error.problems) return error.problems.join("；");
  return detail || String(error);
}

function showError(box, error) {
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = errorText(error);
  box.hidden = false;
}

// ISO time -> "2026-11-29 08:15" in the workstation's time zone.
function when(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

// api() with the reporting API's structured refusals kept: 409 lock holder, 422 word problems.
// options.onHeaders(headers): the answer's headers (X-Total-Count of a page).
async function rapi(path, options = {}) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" }, ...options };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    delete init.json;
  }
  delete init.onHeaders;
  const answer = await fetch(path, init);
  if (options.onHeaders) options.onHeaders(answer.headers);
  if (answer.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, t("web.common.signed_out"));
  }
  if (answer.status === 204) return null;
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    let detail = body && body.detail;
    const error = new ApiError(answer.status, "");
    if (detail && typeof detail === "object" && !Array.isArray(detail)) {
      error.holder = detail.holder || "";
      error.expiresAt = detail.expires_at || "";
      if (detail.problems) error.problems = detail.problems.map((p) => p.message || p.word);
      detail = detail.message;
    } else if (Array.isArray(detail)) {
      detail = detail.map((d) => d.msg).join("; ");
    }
    error.message = detail || answer.statusText;
    throw error;
  }
  return body;
}
