// Shared by the queue pages: API calls that keep the queue service's refusals
// ({code, zh, en}) readable, idempotency keys, and the /api/ws live feed with reconnection.
"use strict";

const LANG = document.documentElement.lang.startsWith("zh") ? "zh" : "en";

class QueueRefusal extends Error {
  constructor(status, detail) {
    super(typeof detail === "object" && detail ? detail[LANG] || detail.en || detail.code : String(detail));
    this.status = status;
    this.code = typeof detail === "object" && detail ? detail.code : "";
  }
}

// A key for one press of a button: a resend after a lost answer must not act twice.
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));  // randomUUID needs HTTPS
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function queueApi(path, { method = "GET", json, body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const answer = await fetch(path, init);
  if (answer.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new QueueRefusal(401, t("web.common.signed_out"));
  }
  if (answer.status === 204) return null;
  const data = await answer.json().catch(() => null);
  if (!answer.ok) {
    let detail = data && data.detail;
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
    throw new QueueRefusal(answer.status, detail || answer.statusText);
  }
  return data;
}

// Calls onEvent(message) for every pushed event; reconnects with backoff, resuming from the
// last sequence number it saw (the server replays what was missed, or says "resync").
function liveEvents(onEvent, onResync) {
  const line = document.getElementById("live");
  let last = null;
  let delay = 500;
  function show(ok) {
    if (!line) return;
    line.textContent = t(ok ? "queueing.live.connected" : "queueing.live.offline");
    line.classList.toggle("offline", !ok);
  }
  function open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = last === null ? "" : "?since=" + last;
    const socket = new WebSocket(`${scheme}//${location.host}/api/ws${since}`);
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "hello") {
        delay = 500;
        show(true);
        if (last === null) last = data.seq;
        return;
      }
      if (data.type === "resync") {
        last = data.seq;
        onResync();
        return;
      }
      if (typeof data.seq === "number") {
        last = data.seq;
        onEvent(data);
      }
    });
    socket.addEventListener("close", () => {
      show(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 15000);
    });
  }
  open();
}
