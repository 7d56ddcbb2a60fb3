// User administration over /api/users: list, add, change role/name/active, reset password.
// Save buttons stay disabled while their request runs; a refusal shows in the dialog in the
// page's language (the server's message: a taken name, a password the policy refuses...).
import { api, busy } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const tbody = document.querySelector("#users tbody");
const statusLine = document.getElementById("status");
const dialog = document.getElementById("user-dialog");
const userForm = document.getElementById("user-form");
const resetDialog = document.getElementById("reset-dialog");
const resetForm = document.getElementById("reset-form");
let editing = null; // the user being changed, or null when adding

function showError(node, error) {
  node.textContent = t("web.common.save_failed", { reason: error.message });
  node.hidden = false;
}

function state(user) {
  const badges = [];
  if (!user.active) badges.push(el("span", { className: "badge off", textContent: t("web.users.inactive") }));
  if (user.must_change_password) badges.push(el("span", { className: "badge", textContent: t("web.users.must_change") }));
  if (!badges.length) badges.push(el("span", { className: "badge", textContent: t("web.users.active") }));
  return badges;
}

function row(user) {
  const edit = el("button", { type: "button", className: "secondary edit", textContent: t("web.common.edit") });
  edit.addEventListener("click", () => openUser(user));
  const reset = el("button", { type: "button", className: "secondary reset", textContent: t("web.users.reset_password") });
  reset.addEventListener("click", () => openReset(user));
  const tr = el("tr", { className: "user" },
    el("td", { textContent: user.username }),
    el("td", { textContent: user.display_name }),
    el("td", { textContent: t("web.role." + user.role) }),
    el("td", {}, ...state(user)),
    el("td", { className: "actions" }, edit, reset),
  );
  tr.dataset.username = user.username;
  return tr;
}

async function load() {
  statusLine.textContent = t("web.common.loading");
  try {
    const users = await api("/api/users");
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
load();
