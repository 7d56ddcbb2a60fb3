// The "Devices waiting" section of the queue setup page: enrolment codes the devices asked
// for (polled every few seconds), the server certificate's fingerprint to compare with the
// device's screen, confirm (the device fields its kind needs) or refuse. The device's QR
// opens /queueing/admin?enrol=<code>: that row is marked and its form opened.
import { api, busy, showError } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const POLL_MS = 4000;
// The device fields each kind needs, in admin.js's field specification.
const FIELDS = {
  screen: [["name", "text"], ["screen", "screen"]],
  caller: [["name", "text"], ["room", "room"]],
  printer: [["name", "text"], ["room", "room"], ["queues", "queues"]],
  kiosk: [["name", "text"], ["room", "room"]],
  capture: [["name", "text"], ["room", "room"]],
};
const normal = (code) => (code || "").toUpperCase().replace(/[^A-Z0-9]/g, "");

export function startEnrolment({ field, readForm, say, enrolled }) {
  const tbody = document.querySelector("#enrolment-codes tbody");
  const dialog = document.getElementById("enrol-dialog");
  const form = document.getElementById("enrol-form");
  const wanted = normal(new URLSearchParams(location.search).get("enrol"));
  let codes = [];
  let confirming = null;
  let opened = false;  // the QR's code opens its form once, not at every poll
  let fingerprintText = "";

  const minutesLeft = (at) => Math.max(0, Math.ceil((Date.parse(at) - Date.now()) / 60000));

  function row(code) {
    const open = el("button", { type: "button", className: "primary", textContent: t("queueing.admin.enrolment.open") });
    open.addEventListener("click", () => openForm(code));
    const refuse = el("button", { type: "button", className: "secondary danger", textContent: t("queueing.admin.enrolment.refuse") });
    refuse.addEventListener("click", () => busy(refuse, async () => {
      if (!confirm(t("queueing.admin.enrolment.confirm_refuse", { code: code.code }))) return;
      try {
        await api(`/api/queueing/enrolment-codes/${encodeURIComponent(code.code)}`, { method: "DELETE" });
        say(t("queueing.admin.enrolment.refused", { code: code.code }));
        await refresh();
      } catch (error) { say(error.message); }
    }));
    const tr = el("tr", {},
      el("td", { className: "code", textContent: code.code }),
      el("td", { textContent: t("queueing.kind." + code.kind) }),
      el("td", { textContent: code.name }), el("td", { textContent: code.hostname }),
      el("td", { textContent: code.client }),
      el("td", { textContent: t("queueing.admin.enrolment.minutes_left", { minutes: minutesLeft(code.expires_at) }) }),
      el("td", { className: "actions" }, open, refuse));
    tr.dataset.code = code.code;
    if (normal(code.code) === wanted) tr.classList.add("wanted");
    return tr;
  }

  function openForm(code) {
    confirming = code;
    document.getElementById("enrol-title").textContent = t("queueing.admin.enrolment.form_title", { code: code.code });
    document.getElementById("enrol-fingerprint").textContent = fingerprintText;
    const suggested = { name: code.name || code.hostname.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 48), queues: [] };
    document.getElementById("enrol-fields").replaceChildren(...FIELDS[code.kind].map((s) => field(s, suggested[s[0]])));
    showError(document.getElementById("enrol-error"), null);
    if (!dialog.open) dialog.showModal();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(document.getElementById("enrol-save"), async () => {
      const body = { code: confirming.code, ...readForm(form, FIELDS[confirming.kind]) };
      try {
        const device = await api("/api/queueing/enrolment-codes/confirm", { method: "POST", json: body });
        dialog.close();
        say(t("queueing.admin.enrolment.done", { name: device.name }));
        await Promise.all([refresh(), enrolled()]);
      } catch (error) {
        showError(document.getElementById("enrol-error"), error);
      }
    });
  });
  document.getElementById("enrol-cancel").addEventListener("click", () => dialog.close());

  async function refresh() {
    try {
      codes = await api("/api/queueing/enrolment-codes");
    } catch (error) { say(error.message); return; }
    tbody.replaceChildren(...codes.map(row));
    if (!codes.length) tbody.append(el("tr", {}, el("td", { colSpan: 7, className: "sub", textContent: t("queueing.admin.enrolment.none") })));
    if (wanted && !opened) {
      opened = true;
      const code = codes.find((c) => normal(c.code) === wanted);
      if (code) {
        openForm(code);
        document.getElementById("enrolment-section").scrollIntoView();
      } else say(t("queueing.admin.enrolment.not_waiting", { code: wanted }));
    }
  }

  async function loadFingerprint() {
    try {
      const { fingerprint } = await api("/api/queueing/enrolment-codes/certificate");
      fingerprintText = fingerprint ? t("queueing.admin.enrolment.fingerprint", { fingerprint })
        : t("queueing.admin.enrolment.no_certificate");
      document.getElementById("enrolment-fingerprint").textContent = fingerprintText;
    } catch (error) { say(error.message); }
  }

  loadFingerprint();
  refresh();
  // A device's request is anonymous and publishes nothing: a short poll while the page shows.
  setInterval(() => { if (!document.hidden && !dialog.open) refresh(); }, POLL_MS);
}
