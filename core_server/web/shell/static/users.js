// User administration over /api/users: list, add, change role/name/active, reset password;
// over /api/auth: a user's sessions (end one, end all), reset TOTP, unlock a locked account
// (the pairs /api/auth/locks lists). Directory (LDAP) users get no password reset here.
// Save buttons stay disabled while their request runs; a refusal shows in the dialog in the
// page's language (the server's message: a taken name, a password the policy refuses...).
import { api, busy } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { sessionRow } from "/static/shell/sessions.js";

const tbody = document.querySelector("#users tbody");
const statusLine = document.getElementById("status");
const dialog = document.getElementById("user-dialog");
const userForm = document.getElementById("user-form");
const resetDialog = document.getElementById("reset-dialog");
const resetForm = document.getElementById("reset-form");
const sessionsDialog = document.getElementById("sessions-dialog");
const sessionsBody = document.querySelector("#sessions tbody");
let editing = null; // the user being changed, or null when adding
let locks = {}; // username -> the addresses it is locked from

function showError(node, error) {
  node.textContent = t("web.common.save_failed", { reason: error.message });
  node.hidden = false;
}

function badge(className, text, title = "") {
  return el("span", { className: "badge " + className, textContent: text, title });
}

function state(user) {
  const badges = [];
  if (!user.active) badges.push(badge("off", t("web.users.inactive")));
  if (user.must_change_password) badges.push(badge("must-change", t("web.users.must_change")));
  if (!badges.length) badges.push(badge("on", t("web.users.active")));
  if (user.source === "ldap") badges.push(badge("directory", t("web.users.source_ldap"), t("web.users.directory_hint")));
  if (user.totp_enabled) badges.push(badge("totp", t("web.users.totp_on")));
  if (locks[user.username]) badges.push(badge("off locked", t("web.users.locked", { addresses: locks[user.username].join(", ") })));
  return badges;
}

function button(className, text, action) {
  const node = el("button", { type: "button", className: "secondary " + className, textContent: text });
  node.addEventListener("click", () => action(node));
  return node;
}

function row(user) {
  const actions = [button("edit", t("web.common.edit"), () => openUser(user))];
  if (user.source !== "ldap") actions.push(button("reset", t("web.users.reset_password"), () => openReset(user)));
  actions.push(button("sessions", t("web.users.sessions"), () => openSessions(user)));
  if (user.totp_enabled) actions.push(button("totp-reset", t("web.users.totp_reset"), (b) => busy(b, () => resetTotp(user))));
  if (locks[user.username]) actions.push(button("unlock", t("web.users.unlock"), (b) => busy(b, () => unlock(user))));
  const tr = el("tr", { className: "user" },
    el("td", { textContent: user.username }),
    el("td", { textContent: user.display_name }),
    el("td", { textContent: t("web.role." + user.role) }),
    el("td", { className: "state" }, ...state(user)),
    el("td", { className: "actions" }, ...actions),
  );
  tr.dataset.username = user.username;
  return tr;
}

async function load() {
  statusLine.textContent = t("web.common.loading");
  try {
    const [users, locked] = await Promise.all([api("/api/users"), api("/api/auth/locks")]);
    locks = {};
    for (const lock of locked) (locks[lock.username] ||= []).push(lock.address);
    tbody.replaceChildren(...users.map(row));
    statusLine.textContent = "";
  } catch (error) {
    statusLine.textContent = t("web.common.load_failed", { reason: error.message });
  }
}

function openUser(user) {
  editing = user;
  userForm.reset();
  document.getElementById("user-error").hidden = true;
  document.getElementById("user-dialog-title").textContent = user ? t("web.users.edit") : t("web.users.add");
  const username = userForm.elements.username;
  username.value = user ? user.username : "";
  username.readOnly = Boolean(user);
  userForm.elements.display_name.value = user ? user.display_name : "";
  userForm.elements.role.value = user ? user.role : "technician";
  document.getElementById("user-password-field").hidden = Boolean(user);
  userForm.elements.password.required = !user;
  document.getElementById("user-active-field").hidden = !user;
  userForm.elements.active.checked = user ? user.active : true;
  dialog.showModal();
}

function openReset(user) {
  editing = user;
  resetForm.reset();
  document.getElementById("reset-error").hidden = true;
  document.getElementById("reset-who").textContent = `${user.display_name || user.username} (${user.username})`;
  resetDialog.showModal();
}

async function saveUser() {
  const f = userForm.elements;
  try {
    if (editing) {
      await api("/api/users/" + encodeURIComponent(editing.username), {
        method: "PATCH",
        json: { display_name: f.display_name.value, role: f.role.value, active: f.active.checked },
      });
    } else {
      await api("/api/users", {
        method: "POST",
        json: { username: f.username.value.trim(), display_name: f.display_name.value, role: f.role.value, password: f.password.value },
      });
    }
    dialog.close();
    statusLine.textContent = t("web.common.saved");
    await load();
    statusLine.textContent = t("web.common.saved");
  } catch (error) {
    showError(document.getElementById("user-error"), error);
  }
}

async function savePassword() {
  try {
    await api("/api/users/" + encodeURIComponent(editing.username) + "/password", {
      method: "POST",
      json: { password: resetForm.elements.password.value },
    });
    resetDialog.close();
    await load();
    statusLine.textContent = t("web.common.saved");
  } catch (error) {
    showError(document.getElementById("reset-error"), error);
  }
}

function userPath(user) {
  return "/api/auth/users/" + encodeURIComponent(user.username);
}

async function unlock(user) {
  try {
    await api(userPath(user) + "/unlock", { method: "POST" });
    await load();
    statusLine.textContent = t("web.users.unlocked", { username: user.username });
  } catch (error) {
    statusLine.textContent = t("web.common.save_failed", { reason: error.message });
  }
}

async function resetTotp(user) {
  if (!confirm(t("web.users.totp_reset_confirm", { username: user.username }))) return;
  try {
    await api(userPath(user) + "/totp", { method: "DELETE" });
    await load();
    statusLine.textContent = t("web.users.totp_reset_done", { username: user.username });
  } catch (error) {
    statusLine.textContent = t("web.common.save_failed", { reason: error.message });
  }
}

async function loadSessions() {
  const error = document.getElementById("sessions-error");
  error.hidden = true;
  try {
    const listed = await api(userPath(editing) + "/sessions");
    sessionsBody.replaceChildren(...listed.map((s) => sessionRow(s, endSession)));
    document.getElementById("sessions-none").hidden = listed.length > 0;
    document.getElementById("sessions-revoke-all").disabled = listed.length === 0;
  } catch (failure) {
    showError(error, failure);
  }
}

async function openSessions(user) {
  editing = user;
  document.getElementById("sessions-title").textContent = t("web.users.sessions_of", { username: user.username });
  sessionsBody.replaceChildren();
  sessionsDialog.showModal();
  await loadSessions();
}

function endSession(session, node) {
  return busy(node, async () => {
    try {
      await api(userPath(editing) + "/sessions/" + session.id, { method: "DELETE" });
      statusLine.textContent = t("web.users.sessions_ended");
      await loadSessions();
    } catch (error) {
      showError(document.getElementById("sessions-error"), error);
    }
  });
}

async function endAllSessions() {
  try {
    await api(userPath(editing) + "/sessions", { method: "DELETE" });
    statusLine.textContent = t("web.users.sessions_ended");
    await loadSessions();
  } catch (error) {
    showError(document.getElementById("sessions-error"), error);
  }
}

userForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(document.getElementById("user-save"), saveUser);
});

resetForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(document.getElementById("reset-save"), savePassword);
});

document.getElementById("add-user").addEventListener("click", () => openUser(null));
document.getElementById("user-cancel").addEventListener("click", () => dialog.close());
document.getElementById("reset-cancel").addEventListener("click", () => resetDialog.close());
document.getElementById("sessions-close").addEventListener("click", () => sessionsDialog.close());
document.getElementById("sessions-revoke-all").addEventListener("click", (event) => busy(event.currentTarget, endAllSessions));
load();
