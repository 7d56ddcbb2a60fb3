// The web caller: one exam room's current patient, actions and waiting list, kept live by /api/ws.
import { api, idempotencyKey } from "/static/shared/api.js";
import { hospitalTime } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";

const select = document.getElementById("room-select");
const statusLine = document.getElementById("status");
const pauseButton = document.getElementById("pause-button");
const liveLine = document.getElementById("live");
let room = null;
let state = null;
let acting = false;

function say(text) { statusLine.textContent = text; }
const priorityText = (p) => (p ? t("queueing.group." + p) : "");

// 女 · 36岁 (F · 36 y) from the core's F/M/O and DICOM-style age (36Y, 8M, 20D).
function sexAndAge(ticket) {
  const parts = [];
  const sex = String(ticket.sex || "").toUpperCase();
  if (["F", "M", "O"].includes(sex)) parts.push(t("queueing.sex." + sex));
  const age = /^(\d+)([YMWD])$/i.exec(String(ticket.age || ""));
  if (age) parts.push(t("queueing.age." + age[2].toUpperCase(), { n: Number(age[1]) }));
  else if (ticket.age) parts.push(String(ticket.age));
  return parts.join(" · ");
}

function ticketCells(ticket) {
  return [
    el("td", { textContent: ticket.number }),
    el("td", { textContent: ticket.name }),
  ];
}

function callButton(ticket) {
  const button = el("button", { type: "button", className: "secondary call", textContent: t("queueing.caller.call_this"), disabled: acting });
  button.addEventListener("click", () => act("call", { ticket_id: ticket.id }, button));
  return el("td", {}, button);
}

function render() {
  document.getElementById("caller").hidden = !state;
  if (!state) return;
  const roomState = state.room.state;
  document.getElementById("room-state").replaceChildren(
    el("span", { className: "state " + roomState, textContent: t("queueing.state." + roomState) }));
  pauseButton.textContent = t(roomState === "paused" ? "queueing.caller.resume" : "queueing.caller.pause");
  const current = state.current;
  document.getElementById("current").replaceChildren(current
    ? el("div", {},
      el("span", { className: "current-number", textContent: current.number }),
      el("span", { className: "current-name", textContent: current.name }),
      el("p", { className: "current-details", textContent: [sexAndAge(current), current.exam, current.accession].filter(Boolean).join(" · ") }),
      el("p", { className: "sub", textContent: t("queueing.status." + current.status) + " · " + t("queueing.caller.calls", { count: current.call_count }) }))
    : el("p", { className: "sub", textContent: t("queueing.caller.no_current") }));
  document.getElementById("waiting-title").textContent = t("queueing.caller.waiting", { count: state.waiting_count });
  document.querySelector("#waiting tbody").replaceChildren(...state.waiting.map((ticket) => el("tr", { className: "waiting" },
    ...ticketCells(ticket),
    el("td", { textContent: ticket.exam }),
    el("td", { className: "priority", textContent: priorityText(ticket.priority) }),
    callButton(ticket))));
  document.querySelector("#missed tbody").replaceChildren(...state.missed.map((ticket) => el("tr", {},
    ...ticketCells(ticket),
    el("td", { textContent: ticket.back_at ? hospitalTime(new Date(ticket.back_at)) : "" }),
    callButton(ticket))));
}

async function refresh() {
  if (!room) { state = null; render(); return; }
  try {
    state = await api(`/api/queueing/rooms/${encodeURIComponent(room)}/state`);
    render();
  } catch (error) { say(error.message); }
}

// One action at a time for the room: every action button is disabled until the answer and the
// room's new state are in, so a press meanwhile waits visibly instead of being dropped.
async function act(action, body = {}, button = null) {
  if (!room || acting) return;
  acting = true;
  say("");
  const buttons = [...document.querySelectorAll("#caller button")];
  for (const b of buttons) b.disabled = true;
  if (button) button.setAttribute("aria-busy", "true");
  try {
    const answer = await api(`/api/queueing/rooms/${encodeURIComponent(room)}/${action}`,
      { method: "POST", json: body, headers: { "Idempotency-Key": idempotencyKey() } });
    if (answer && answer.notice) say(answer.notice.message);
    await refresh();
  } catch (error) {
    say(error.message);
  } finally {
    for (const b of document.querySelectorAll("#caller button")) b.disabled = false;
    if (button) button.removeAttribute("aria-busy");
    acting = false;
  }
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", () => act(button.dataset.action, {}, button));
}
pauseButton.addEventListener("click", () => act(state && state.room.state === "paused" ? "resume" : "pause", {}, pauseButton));

select.addEventListener("change", () => {
  room = select.value || null;
  if (room) localStorage.setItem("queueing.caller.room", room);
  refresh();
});

async function start() {
  try {
    const rooms = await api("/api/queueing/rooms");
    select.append(...rooms.map((r) => el("option", { value: r.code, textContent: `${r.name} (${r.code})` })));
    const remembered = localStorage.getItem("queueing.caller.room");
    if (remembered && rooms.some((r) => r.code === remembered)) {
      select.value = remembered;
      room = remembered;
    }
    await refresh();
  } catch (error) { say(error.message); }
}

start();
liveEvents((event) => {
  if (!room || !state) return;
  if (event.room === room || state.room.queues.includes(event.queue) || event.type === "config.updated") refresh();
}, refresh, (connected) => {
  liveLine.textContent = t(connected ? "queueing.live.connected" : "queueing.live.offline");
  liveLine.classList.toggle("offline", !connected);
});
