// The index of the department's figures, by group.
import { api } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const status = document.getElementById("status");
try {
  const { figures } = await api("/api/statistics");
  const groups = new Map();
  for (const figure of figures) {
    if (!groups.has(figure.group)) groups.set(figure.group, []);
    groups.get(figure.group).push(figure);
  }
  document.getElementById("groups").replaceChildren(...[...groups].map(([group, members]) =>
    el("section", { className: "stats-group" },
      el("h2", { textContent: t("statistics.group." + group) }),
      el("ul", {}, ...members.map((f) => el("li", {},
        el("a", { href: "/statistics/" + encodeURIComponent(f.name), textContent: f.title })))))));
} catch (error) {
  status.textContent = t("web.common.load_failed", { reason: error.message });
}
