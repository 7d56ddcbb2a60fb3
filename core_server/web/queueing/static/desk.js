// The registration desk: check-in by scanned barcode (accession, patient ID or ID card), the
// ticket slip to print, and today's tickets of a queue with priority, cancel, early return.
import { api, busy, idempotencyKey } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";

const GROUPS = JSON.parse(document.getElementById("priority-groups").textContent);
const statusLine = document.getElementById("status");
const queueSelect = document.getElementById("queue-select");
const barcode = document.getElementById("barcode");
const liveLine = document.getElementById("live");

function say(text) { statusLine.textContent = text; }

function slip(ticket) {
  const print = el("button", { type: "button", className: "secondary no-print", textContent: t("queueing.desk.print") });
  const card = el("div", { className: "card slip" },
    el("div", { className: "slip-hospital", textContent: ticket.hospital_name }),
    el("div", { className: "slip-queue", textContent: ticket.queue_name + (ticket.rooms.length ? " · " + ticket.rooms.join("、") : "") }),
    el("div", { className: "slip-number", textContent: ticket.number }),
    el("div", { textContent: `${ticket.name}  ${ticket.exam}` }),
    el("div", { textContent: t("queueing.desk.ahead", { count: ticket.waiting_ahead }) }),
    el("div", { className: "sub", textContent: when(ticket.issued_at) }),
    print);
  print.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".slip")) other.classList.toggle("printing", other === card);
    window.print();
  });
  return card;
}

// An exam booked for another day is checked in only when the desk confirms (the RIS records it).
async function checkIn(json) {
  const send = (body) => api("/api/queueing/check-in", { method: "POST", json: body,
    headers: { "Idempotency-Key": idempotencyKey() } });
  try {
    return await send(json);
  } catch (error) {
    if (error.code !== "check_in_other_day" || !window.confirm(error.message)) throw error;
    return await send({ ...json, confirm_other_day: true });
  }
}

// The field is emptied as soon as the code is read, not after the answer: a scanner can send
// the next code while the ticket list is still loading, and that scan must not be wiped.
document.getElementById("checkin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const code = barcode.value.trim();
  if (!code) return;
  const prioritySelectBox = document.getElementById("priority");
  const priority = prioritySelectBox.value || null;
  barcode.value = "";
  prioritySelectBox.value = "";
  barcode.focus();
  say("");
  try {
    const answer = await checkIn({ barcode: code, priority });
    document.getElementById("slips").replaceChildren(...answer.tickets.map(slip));
    say(answer.tickets.some((ticket) => ticket.new) ? t("queueing.desk.checked_in") : t("queueing.desk.had_ticket"));
    if (answer.tickets.length) {
      queueSelect.value = answer.tickets[0].queue;
      await loadTickets();
    }
  } catch (error) {
    say(error.message);
    if (!barcode.value) barcode.value = code;  // refused: the code stays to be corrected
  }
});

function prioritySelect(ticket) {
  const select = el("select", { className: "ticket-priority" },
    el("option", { value: "", textContent: t("queueing.desk.no_priority") }),
    ...["emergency", ...GROUPS].map((g) => el("option", { value: g, textContent: t("queueing.group." + g) })));
  select.value = ticket.priority || "";
  select.disabled = !["waiting", "missed", "called"].includes(ticket.status);
  select.addEventListener("change", () => change(`/api/queueing/tickets/${ticket.id}`, "PATCH", { priority: select.value || null }));
  return select;
}

async function change(path, method, json, button = null) {
  await busy(button, async () => {
    try {
      await api(path, { method, json });
      await loadTickets();
    } catch (error) { say(error.message); }
  });
}

function actions(ticket) {
  const cell = el("td", { className: "actions" });
  const open = ["waiting", "called", "in_progress", "missed"].includes(ticket.status);
  if (ticket.status === "missed") {
    const back = el("button", { type: "button", className: "secondary", textContent: t("queueing.desk.return") });
    back.addEventListener("click", () => change(`/api/queueing/tickets/${ticket.id}/return`, "POST", undefined, back));
    cell.append(back);
  }
  if (open) {
    const reprint = el("button", { type: "button", className: "secondary", textContent: t("queueing.desk.print") });
    reprint.addEventListener("click", async () => {
      try {
        document.getElementById("slips").replaceChildren(slip(await api(`/api/queueing/tickets/${ticket.id}/print`)));
      } catch (error) { say(error.message); }
    });
    const cancel = el("button", { type: "button", className: "secondary danger", textContent: t("queueing.desk.cancel_ticket") });
    cancel.addEventListener("click", () => {
      if (confirm(t("queueing.desk.confirm_cancel", { number: ticket.number }))) change(`/api/queueing/tickets/${ticket.id}/cancel`, "POST", undefined, cancel);
    });
    cell.append(reprint, cancel);
  }
  return cell;
}

async function loadTickets() {
  if (!queueSelect.value) return;
  try {
    const tickets = await api(`/api/queueing/queues/${encodeURIComponent(queueSelect.value)}/tickets`);
    document.querySelector("#tickets tbody").replaceChildren(...tickets.map((ticket) => {
      const tr = el("tr", {},
        el("td", { textContent: ticket.number }),
        el("td", { textContent: ticket.name }),
        el("td", { textContent: ticket.exam }),
        el("td", { textContent: t("queueing.status." + ticket.status) }),
        el("td", {}, prioritySelect(ticket)),
        actions(ticket));
      tr.dataset.number = ticket.number;
      return tr;
    }));
  } catch (error) { say(error.message); }
}

queueSelect.addEventListener("change", loadTickets);

async function start() {
  try {
    const queues = await api("/api/queueing/queues");
    if (!queues.length) say(t("queueing.desk.no_queues"));  // not silently empty
    queueSelect.replaceChildren(...queues.map((q) => el("option", { value: q.code, textContent: `${q.name} (${q.code})` })));
    await loadTickets();
  } catch (error) { say(error.message); }
}

start();
liveEvents((event) => {
  if (!event.queue || event.queue === queueSelect.value) loadTickets();
}, loadTickets, (connected) => {
  liveLine.textContent = t(connected ? "queueing.live.connected" : "queueing.live.offline");
  liveLine.classList.toggle("offline", !connected);
});
