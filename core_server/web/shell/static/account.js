// My account: change the password (the policy's refusals shown as the server words them),
// my sessions (end one, sign out everywhere else), the TOTP second factor: set up (QR code and
// key, confirm with a code, the recovery codes shown once) or switch off (password and code),
// unless the site requires it. Switching off ends every session (the server's rule): the
// next page is the login.
import { api, busy } from "/static/shared/api.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { sessionRow } from "/static/shell/sessions.js";

const data = pageData();
const statusLine = document.getElementById("status");
const sessionsBody = document.querySelector("#my-sessions tbody");
const $ = (id) => document.getElementById(id);

function fail(node, error) {
  node.textContent = error.message;
  node.hidden = false;
}

// --- password ---
async function changePassword(form) {
  $("pw-error").hidden = true;
  $("pw-done").hidden = true;
  const f = form.elements;
  if (f.new.value !== f.confirm.value) {
    fail($("pw-error"), new Error(t("web.password.mismatch")));
    return;
  }
  try {
    await api("/api/auth/password", {
      method: "POST",
      json: { current_password: f.current.value, new_password: f.new.value },
    });
    form.reset();
    $("pw-done").hidden = false;
    await loadSessions(); // the change ends the other sessions
  } catch (error) {
    fail($("pw-error"), error);
  }
}

// --- sessions ---
async function loadSessions() {
  $("sessions-error").hidden = true;
  try {
    const listed = await api("/api/auth/sessions");
    const label = t("web.account.this_session");
    sessionsBody.replaceChildren(...listed.map((s) => sessionRow(s, endSession, { currentLabel: label })));
    $("sign-out-others").disabled = !listed.some((s) => !s.current);
  } catch (error) {
    fail($("sessions-error"), error);
  }
}

function endSession(session, node) {
  return busy(node, async () => {
    try {
      await api("/api/auth/sessions/" + session.id, { method: "DELETE" });
      statusLine.textContent = t("web.account.session_ended");
      await loadSessions();
    } catch (error) {
      fail($("sessions-error"), error);
    }
  });
}

async function signOutOthers() {
  try {
    await api("/api/auth/sessions/revoke-others", { method: "POST" });
    statusLine.textContent = t("web.account.others_ended");
    await loadSessions();
  } catch (error) {
    fail($("sessions-error"), error);
  }
}

// --- TOTP ---
function showTotp(enabled) {
  $("totp-state").textContent = data.directory
    ? t("web.account.directory")
    : t(enabled ? "web.account.totp_is_on" : "web.account.totp_is_off") +
      (enabled && data.totp_required ? " " + t("web.account.totp_required") : "");
  if (data.directory) return;
  $("totp-begin-step").hidden = enabled;
  $("totp-confirm-step").hidden = true;
  $("totp-disable-step").hidden = !enabled || data.totp_required;
}

// The server's QR code is SVG markup: parsed as SVG, never inserted as HTML.
function svgNode(markup) {
  const parsed = new DOMParser().parseFromString(markup, "image/svg+xml");
  return document.importNode(parsed.documentElement, true);
}

async function beginTotp() {
  $("totp-error").hidden = true;
  try {
    const started = await api("/api/auth/totp", { method: "POST", json: { password: $("totp-password").value } });
    $("totp-qr").replaceChildren(svgNode(started.qr_svg));
    $("totp-secret").textContent = started.secret;
    $("totp-begin-step").hidden = true;
    $("totp-confirm-step").hidden = false;
    $("totp-code").focus();
  } catch (error) {
    fail($("totp-error"), error);
  }
}

async function confirmTotp() {
  $("totp-error").hidden = true;
  try {
    const answer = await api("/api/auth/totp/confirm", { method: "POST", json: { code: $("totp-code").value.trim() } });
    showTotp(true);
    $("recovery-codes").replaceChildren(...answer.recovery_codes.map((c) => el("li", { textContent: c })));
    $("totp-recovery").hidden = false;
    statusLine.textContent = t("web.account.totp_enabled");
  } catch (error) {
    fail($("totp-error"), error);
  }
}

async function disableTotp() {
  $("totp-error").hidden = true;
  try {
    await api("/api/auth/totp/disable", {
      method: "POST",
      json: { password: $("totp-off-password").value, code: $("totp-off-code").value.trim() },
    });
    location.assign("/login?next=%2Faccount"); // every session ended, this one too
  } catch (error) {
    fail($("totp-error"), error);
  }
}

function onSubmit(id, button, work) {
  const form = $(id);
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy($(button), () => work(form));
  });
}

onSubmit("password-form", "pw-save", changePassword);
onSubmit("totp-begin-form", "totp-begin", beginTotp);
onSubmit("totp-confirm-form", "totp-confirm", confirmTotp);
onSubmit("totp-disable-form", "totp-disable", disableTotp);
$("sign-out-others").addEventListener("click", (event) => busy(event.currentTarget, signOutOthers));
showTotp(data.totp_enabled);
loadSessions();
