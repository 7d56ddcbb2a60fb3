// A session as a table row, for the users page's dialog and the account page: address,
// browser or program (its user agent, shortened), signed in, last seen, and an "end" button
// (none for the session asking, which the account page marks instead).
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

// The browser's or program's name and version out of a user agent, else the agent itself.
export function agentName(agent) {
  if (!agent) return "—";
  const known = /(Edg|Firefox|Chrome|Safari|httpx|python-requests|curl)\/([\d.]+)/.exec(agent);
  if (!known) return agent.slice(0, 60);
  const name = { Edg: "Edge" }[known[1]] || known[1];
  return `${name} ${known[2].split(".")[0]}`;
}

export function sessionRow(session, onEnd, { currentLabel = "" } = {}) {
  const end = el("td", { className: "actions" });
  if (session.current && currentLabel) {
    end.append(el("span", { className: "badge", textContent: currentLabel }));
  } else {
    const button = el("button", {
      type: "button",
      className: "secondary end-session",
      textContent: t("web.users.session_revoke"),
    });
    button.addEventListener("click", () => onEnd(session, button));
    end.append(button);
  }
  const agent = el("td", { textContent: agentName(session.user_agent), title: session.user_agent });
  const tr = el("tr", { className: "session" },
    el("td", { textContent: session.address || "—" }),
    agent,
    el("td", { textContent: when(session.created_at) }),
    el("td", { textContent: session.last_used_at ? when(session.last_used_at) : "—" }),
    end,
  );
  tr.dataset.id = session.id;
  if (session.current) tr.classList.add("current");
  return tr;
}
