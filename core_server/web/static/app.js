// The shell's shared script: texts from the page's catalogue block, the language switch,
// and a JSON fetch that sends the session cookie and goes back to sign-in when it ends.
"use strict";

const TEXTS = JSON.parse(document.getElementById("i18n-texts").textContent);

// The text of a catalogue key, with {name} placeholders filled in.
function t(key, values = {}) {
  const text = TEXTS[key];
  if (text === undefined) {
    console.error("missing message", key);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// fetch() on our own JSON API; a 401 means the session is over: back to sign-in.
async function api(path, options = {}) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" }, ...options };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    delete init.json;
  }
  const answer = await fetch(path, init);
  if (answer.status === 401) {
    const back = location.pathname + location.search;
    location.assign("/login?next=" + encodeURIComponent(back));
    throw new ApiError(401, t("web.common.signed_out"));
  }
  if (answer.status === 204) return null;
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    let detail = body && body.detail;
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
    throw new ApiError(answer.status, detail || answer.statusText);
  }
  return body;
}

// Build an element: el("td", {className: "x"}, "text", child, ...). Text is never HTML.
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

for (const button of document.querySelectorAll(".lang-switch [data-lang]")) {
  button.addEventListener("click", () => {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `lang=${button.dataset.lang}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
    location.reload();
  });
}

// Close the user menu when clicking elsewhere.
document.addEventListener("click", (event) => {
  const menu = document.getElementById("user-menu");
  if (menu && menu.open && !menu.contains(event.target)) menu.open = false;
});
