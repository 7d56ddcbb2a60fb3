// Report printing and archiving for administrators: reprint grants, objects waiting for the
// archive, retry now. Works on /api/reporting/reprint-grants and /api/reporting/archive-jobs.
import { api, busy } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const statusLine = document.getElementById("status");
const grantsBody = document.querySelector("#grants tbody");
const jobsBody = document.querySelector("#archive-jobs tbody");

function fail(error) {
  statusLine.textContent = error.message;
  statusLine.className = "status-line error";
}

function grantRow(grant) {
  const revoke = el("button", { type: "button", textContent: t("report_output.admin.revoke") });
  revoke.addEventListener("click", () => busy(revoke, async () => {
    try {
      await api(`/api/reporting/reprint-grants/${encodeURIComponent(grant.username)}`, { method: "DELETE" });
      await loadGrants();
    } catch (error) {
      fail(error);
    }
  }));
  return el("tr", { className: "grant" },
    el("td", { textContent: grant.username }),
    el("td", { textContent: grant.granted_by }),
    el("td", { textContent: when(grant.granted_at) }),
    el("td", { textContent: grant.note }),
    el("td", { className: "actions" }, revoke),
  );
}

async function loadGrants() {
  const grants = await api("/api/reporting/reprint-grants");
  grantsBody.replaceChildren(...grants.map(grantRow));
  if (!grants.length) {
    grantsBody.append(el("tr", {}, el("td", { colSpan: 5, textContent: t("report_output.admin.none") })));
  }
}

async function loadJobs() {
  const jobs = await api("/api/reporting/archive-jobs");
  jobsBody.replaceChildren(
    ...jobs.map((job) =>
      el("tr", { className: "job" },
        el("td", { textContent: `#${job.report_id} v${job.version}` }),
        el("td", { textContent: job.kind.toUpperCase() }),
        el("td", { className: "num", textContent: String(job.attempts) }),
        el("td", { textContent: when(job.next_attempt_at) }),
        el("td", { textContent: job.last_error }),
      ),
    ),
  );
  if (!jobs.length) {
    jobsBody.append(el("tr", {}, el("td", { colSpan: 5, textContent: t("report_output.admin.archive_ok") })));
  }
}

const grantForm = document.getElementById("grant-form");
grantForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(grantForm.querySelector("button[type=submit]"), async () => {
    try {
      await api(`/api/reporting/reprint-grants/${encodeURIComponent(grantForm.elements.username.value)}`, {
        method: "PUT",
        json: { note: grantForm.elements.note.value },
      });
      grantForm.reset();
      statusLine.textContent = "";
      statusLine.className = "status-line";
      await loadGrants();
    } catch (error) {
      fail(error);
    }
  });
});

const retry = document.getElementById("retry");
retry.addEventListener("click", () => busy(retry, async () => {
  try {
    await api("/api/reporting/archive-jobs/retry", { method: "POST" });
    await loadJobs();
  } catch (error) {
    fail(error);
  }
}));

loadGrants().catch(fail);
loadJobs().catch(fail);
