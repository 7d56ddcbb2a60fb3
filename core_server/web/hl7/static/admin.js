// The HL7 interface page over /api/hl7: who may send (the allow-list), destinations, the
// outbound queue (retry dead letters), the inbound log (reprocess a failed message, allow a
// refused sender), each message's text and ACK. Times in the hospital's zone.
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const statusLine = document.getElementById("status");
const destinationDialog = document.getElementById("destination-dialog");
const destinationForm = document.getElementById("destination-form");
const messageDialog = document.getElementById("message-dialog");
const senderForm = document.getElementById("sender-form");
let editing = null;

// HL7 separates segments with CR: one segment per line on screen.
const lines = (text) => (text || "").replace(/\r\n?/g, "\n");

function showMessage(title, text, ack) {
  document.getElementById("message-dialog-title").textContent = title;
  document.getElementById("message-text").textContent = lines(text);
  document.getElementById("message-ack").textContent = lines(ack) || t("hl7.message.no_ack");
  messageDialog.showModal();
}

// A button whose work runs once at a time (disabled meanwhile), then the page reloads.
function button(label, work, className = "secondary") {
  const node = el("button", { type: "button", className, textContent: label });
  node.addEventListener("click", () => act(node, work));
  return node;
}

async function act(node, work) {
  try {
    await busy(node, work);
    await load();
  } catch (error) {
    statusLine.textContent = t("web.common.save_failed", { reason: error.message });
  }
}

// "order_status,results" -> the names of the purposes, in the page's language.
function purposeNames(purposes) {
  return purposes.split(",").map((p) => p.trim()).filter(Boolean).map((p) => t("hl7.purpose." + p)).join("、");
}

function senderRow(s) {
  const any = t("hl7.senders.any");
  return el("tr", { className: "sender" },
    el("td", { textContent: s.address || any }),
    el("td", { textContent: s.sending_application || any }),
    el("td", { textContent: s.sending_facility || any }),
    el("td", { textContent: s.note }),
    el("td", { className: "actions" },
      button(t("hl7.senders.remove"), async () => {
        if (confirm(t("hl7.senders.confirm_remove"))) await api(`/api/hl7/senders/${s.id}`, { method: "DELETE" });
      }, "secondary danger")),
  );
}

function destinationRow(d) {
  return el("tr", { className: "destination" },
    el("td", { textContent: d.name }),
    el("td", { className: "address" }, `${d.host}:${d.port}`,
      ...(d.tls ? [" ", el("span", { className: "badge tls", textContent: t("hl7.destinations.tls_badge") })] : [])),
    el("td", { textContent: d.charset }),
    el("td", { className: "purposes", textContent: purposeNames(d.purposes) }),
    el("td", { textContent: d.status_message }),
    el("td", { textContent: t("hl7.destinations.retry_summary", { attempts: d.max_attempts, base: d.retry_base_seconds }) }),
    el("td", { textContent: d.enabled ? t("web.common.yes") : t("web.common.no") }),
    el("td", { className: "actions" },
      el("button", { type: "button", className: "secondary", textContent: t("web.common.edit"), onclick: () => openDestination(d) }),
      button(t("web.common.delete"), async () => {
        if (confirm(t("hl7.destinations.confirm_delete", { name: d.name }))) {
          await api("/api/hl7/destinations/" + encodeURIComponent(d.name), { method: "DELETE" });
        }
      }, "secondary danger")),
  );
}

function jobRow(job) {
  const actions = [el("button", {
    type: "button", className: "secondary", textContent: t("hl7.message.show"),
    onclick: () => showMessage(`#${job.id} ${job.message_type}`, job.message, job.ack),
  })];
  if (job.status === "dead" || job.status === "pending") {
    actions.push(button(t("hl7.outbound.retry"), () => api(`/api/hl7/outbound/${job.id}/retry`, { method: "POST" }), "primary retry"));
  }
  return el("tr", { className: "job " + job.status },
    el("td", { className: "num", textContent: job.id }),
    el("td", { textContent: job.destination }),
    el("td", { textContent: job.message_type }),
    el("td", { textContent: job.control_id }),
    el("td", {}, el("span", { className: job.status === "dead" ? "badge off" : "badge", textContent: t("hl7.job." + job.status) + (job.ack_code ? ` (${job.ack_code})` : "") })),
    el("td", { className: "num", textContent: job.attempts }),
    el("td", { textContent: job.status === "pending" ? when(job.next_attempt_at) : when(job.sent_at) }),
    el("td", { textContent: job.last_error }),
    el("td", { className: "actions" }, ...actions),
  );
}

// The peer's address without its port ("10.1.2.3:50412", "::1:50412").
const peerAddress = (peer) => (peer.includes(":") ? peer.slice(0, peer.lastIndexOf(":")) : peer);

function inboundRow(m) {
  const actions = [];
  if (m.status !== "refused") {
    actions.push(button(t("hl7.message.show"), async () => {
      const full = await api(`/api/hl7/messages/${m.id}`);
      showMessage(`${full.message_type} ${full.control_id || ""}`, full.text, full.ack);
    }));
  }
  if (m.status === "error" || m.status === "failed") {
    actions.push(button(t("hl7.inbound.reprocess"), () => api(`/api/hl7/messages/${m.id}/reprocess`, { method: "POST" }), "primary reprocess"));
  }
  if (m.status === "refused") {
    actions.push(button(t("hl7.inbound.allow"), () => api("/api/hl7/senders", {
      method: "POST",
      json: { address: peerAddress(m.peer), sending_application: m.sending_application, sending_facility: m.sending_facility },
    }), "primary allow"));
  }
  return el("tr", { className: "message " + m.status },
    el("td", { textContent: when(m.received_at) }),
    el("td", { textContent: [m.sending_application, m.sending_facility].filter(Boolean).join(" / ") + (m.peer ? ` (${m.peer})` : "") }),
    el("td", { textContent: m.message_type }),
    el("td", { textContent: (m.control_id || "") + (m.duplicates ? " ×" + (m.duplicates + 1) : "") }),
    el("td", {}, el("span", { className: m.status === "accepted" ? "badge" : "badge off", textContent: t("hl7.inbound." + m.status) + (m.ack_code ? ` (${m.ack_code})` : "") })),
    el("td", { textContent: m.error }),
    el("td", { className: "actions" }, ...actions),
  );
}

async function load() {
  try {
    const outboundFilter = document.getElementById("outbound-filter").value;
    const inboundFilter = document.getElementById("inbound-filter").value;
    const [summary, senders, destinations, jobs, messages] = await Promise.all([
      api("/api/hl7/status"),
      api("/api/hl7/senders"),
      api("/api/hl7/destinations"),
      api("/api/hl7/outbound?limit=200" + (outboundFilter ? "&status=" + outboundFilter : "")),
      api("/api/hl7/messages?limit=200" + (inboundFilter ? "&status=" + inboundFilter : "")),
    ]);
    document.querySelector("#senders tbody").replaceChildren(...senders.map(senderRow));
    document.querySelector("#destinations tbody").replaceChildren(...destinations.map(destinationRow));
    document.querySelector("#outbound tbody").replaceChildren(...jobs.map(jobRow));
    document.querySelector("#inbound tbody").replaceChildren(...messages.map(inboundRow));
    statusLine.textContent = [
      t(summary.listening ? "hl7.status.listening" : "hl7.status.down", summary.listening ? { port: summary.port } : {}),
      t("hl7.status.queue", { waiting: summary.outbound_waiting, dead: summary.dead_letters }),
      summary.loopback_only ? t("hl7.senders.loopback_only") : "",
    ].filter(Boolean).join(" ");
  } catch (error) {
    statusLine.textContent = t("web.common.load_failed", { reason: error.message });
  }
}

function openDestination(d) {
  editing = d;
  destinationForm.reset();
  showError(document.getElementById("destination-error"), null);
  document.getElementById("destination-dialog-title").textContent = d ? t("hl7.destinations.edit") : t("hl7.destinations.add");
  const f = destinationForm.elements;
  f.name.value = d ? d.name : "HIS";
  f.name.readOnly = Boolean(d);
  f.host.value = d ? d.host : "";
  f.port.value = d ? d.port : 2575;
  f.receiving_application.value = d ? d.receiving_application : "";
  f.receiving_facility.value = d ? d.receiving_facility : "";
  f.charset.value = d ? d.charset : "UNICODE UTF-8";
  f.status_message.value = d ? d.status_message : "ORM";
  const purposes = (d ? d.purposes : "order_status").split(",").map((p) => p.trim());
  for (const box of destinationForm.querySelectorAll("input[name=purposes]")) box.checked = purposes.includes(box.value);
  f.max_attempts.value = d ? d.max_attempts : 10;
  f.retry_base_seconds.value = d ? d.retry_base_seconds : 5;
  f.retry_max_seconds.value = d ? d.retry_max_seconds : 600;
  f.tls.checked = d ? Boolean(d.tls) : false;
  f.enabled.checked = d ? d.enabled : true;
  destinationDialog.showModal();
}

async function saveDestination() {
  const f = destinationForm.elements;
  const body = {
    host: f.host.value.trim(), port: Number(f.port.value),
    receiving_application: f.receiving_application.value.trim(), receiving_facility: f.receiving_facility.value.trim(),
    charset: f.charset.value, status_message: f.status_message.value,
    purposes: [...destinationForm.querySelectorAll("input[name=purposes]:checked")].map((box) => box.value).join(","),
    max_attempts: Number(f.max_attempts.value),
    retry_base_seconds: Number(f.retry_base_seconds.value), retry_max_seconds: Number(f.retry_max_seconds.value),
    enabled: f.enabled.checked, tls: f.tls.checked,
  };
  if (editing) {
    await api("/api/hl7/destinations/" + encodeURIComponent(editing.name), { method: "PATCH", json: body });
  } else {
    await api("/api/hl7/destinations", { method: "POST", json: { name: f.name.value.trim(), ...body } });
  }
}

destinationForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await busy(destinationForm.querySelector("button[type=submit]"), saveDestination);
    destinationDialog.close();
    await load();
  } catch (error) {
    showError(document.getElementById("destination-error"), error);
  }
});

senderForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = senderForm.elements;
  const body = {
    address: f.address.value.trim(), sending_application: f.sending_application.value.trim(),
    sending_facility: f.sending_facility.value.trim(), note: f.note.value.trim(),
  };
  try {
    await busy(document.getElementById("add-sender"), () => api("/api/hl7/senders", { method: "POST", json: body }));
    showError(document.getElementById("sender-error"), null);
    senderForm.reset();
    await load();
  } catch (error) {
    showError(document.getElementById("sender-error"), error);
  }
});

document.getElementById("add-destination").addEventListener("click", () => openDestination(null));
document.getElementById("destination-cancel").addEventListener("click", () => destinationDialog.close());
document.getElementById("message-close").addEventListener("click", () => messageDialog.close());
document.getElementById("outbound-filter").addEventListener("change", load);
document.getElementById("inbound-filter").addEventListener("change", load);
load();
// Keep the queue and the log current while the page is watched (not while a dialog is open).
setInterval(() => {
  if (!document.hidden && !destinationDialog.open && !messageDialog.open) load();
}, 3000);
