// The web caller: one exam room's current patient, actions and waiting list, kept live by /api/ws.
"use strict";

const select = document.getElementById("room-select");
const statusLine = document.getElementById("status");
const pauseButton = document.getElementById("pause-button");
let room = null;
let state = null;
let busy = false;

function say(text) { statusLine.textContent = text; }
const priorityText = (p) => (p ? t("queueing.group." + p) : "");

function ticketCells(ticket) {
  return [
    el("td", { textContent: ticket.number }),
    el("td", { textContent: ticket.name }),
  ];
}

function callButton(ticket) {
  const button = el("button", { type: "button", className: "secondary call", textContent: t("queueing.caller.call_this") });
  button.addEventListener("click", () => act("call", { ticket_id: ticket.id }));
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
      el("p", { textContent: [current.sex, current.age, current.exam, current.accession].filter(Boolean).join(" · ") }),
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
    el("td", { textContent: ticket.back_at ? new Date(ticket.back_at).toLocaleTimeString() : "" }),
    callButton(ticket))));
}

async function refresh() {
  if (!room) { state = null; render(); return; }
  try {
    state = await queueApi(`/api/queueing/rooms/${encodeURIComponent(room)}/state`);
    render();
  } catch (error) { say(error.message); }
}

async function act(action, body = {}) {
  if (!room || busy) return;
  busy = true;
  say("");
  try {
    const answer = await queueApi(`/api/queueing/rooms/${encodeURIComponent(room)}/${action}`,
      { method: "POST", json: body, headers: { "Idempotency-Key": idempotencyKey() } });
    if (answer && answer.notice) say(answer.notice[LANG]);
    await refresh();
  } catch (error) {
    say(error.message);
  } finally {
    busy = false;
  }
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", () => act(button.dataset.action));
}
pauseButton.addEventListener("click", () => act(state && state.room.state === "paused" ? "resume" : "pause"));

select.addEventListener("change", () => {
  room = select.value || null;
  if (room) localStorage.setItem("queueing.caller.room", room);
  refresh();
});

async function start() {
  try {
    const rooms = await queueApi("/api/queueing/rooms");
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
}, refresh);
