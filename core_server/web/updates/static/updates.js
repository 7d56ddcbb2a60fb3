// The published updates: one row per role and version (newest first), its size, when it was
// published (hospital time) and its role's signature as a box's gpgv sees it; admins remove a
// version here (publishing is `core-server updates publish`).
import { api, busy, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const errorBox = document.getElementById("error");
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const ROLES = ["core", "display", "caller", "printer", "kiosk", "capture"];  // images/roles
const roleName = (role) => (ROLES.includes(role) ? `${t(`updates.role.${role}`)} · ${role}` : role);

function row(role, version) {
  const remove = el("button", { type: "button", className: "secondary", textContent: t("updates.remove") });
  remove.addEventListener("click", () => busy(remove, async () => {
    if (!confirm(t("updates.confirm_remove", { role: role.role, version: version.version }))) return;
    try {
      draw(await api(`/api/updates/${encodeURIComponent(role.role)}/${encodeURIComponent(version.version)}`, { method: "DELETE" }));
      showError(errorBox, null);
    } catch (error) { showError(errorBox, error); }
  }));
  const tr = el("tr", {},
    el("td", { textContent: roleName(role.role) }),
    el("td", { textContent: version.version }),
    el("td", { className: "num", textContent: mib(version.size) }),
    el("td", { textContent: when(version.published_at) }),
    el("td", { className: `signature ${role.signature}`, textContent: t(`updates.signature.${role.signature}`) }),
    el("td", {}, remove));
  tr.dataset.role = role.role;
  tr.dataset.version = version.version;
  return tr;
}

function draw(listing) {
  const key = listing.key;
  document.getElementById("key").textContent = key.present
    ? t("updates.key.present", { fingerprint: key.fingerprint })
    : t("updates.key.missing");
  const rows = listing.roles.flatMap((role) => role.versions.map((v) => row(role, v)));
  document.querySelector("#versions tbody").replaceChildren(...rows);
  document.getElementById("empty").hidden = rows.length > 0;
}

api("/api/updates").then(draw).catch((error) => showError(errorBox, error));
