// The "retrieving" page: opened for studies not wholly online (one, or a report's priors).
// It connects to the live feed first (so no archive.recall event is missed), then asks for
// each study's recall; shows "retrieving n/N" (all studies together) as the events come and
// opens the viewer when every study is back online. A slow poll of the studies' copies covers
// a lost socket; after a failure (an offline set to insert) "try again" asks once more.
import { api } from "/static/shared/api.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";

const box = document.getElementById("retrieve");
const studies = box.dataset.studies.split(",").filter(Boolean);
const stateLine = document.getElementById("retrieve-state");
const progress = document.getElementById("retrieve-progress");
const errorBox = document.getElementById("error");
const viewer = "/viewer?StudyInstanceUIDs=" + studies.map(encodeURIComponent).join(",");
const states = new Map(studies.map((uid) => [uid, { done: 0, total: 0, online: false }]));
const retry = document.getElementById("retry");
let started = false;
let polling = false;
let leaving = false; // the viewer is being opened: a second replace() would abort the first

function show() {
  if (leaving || box.dataset.state === "failed") return;
  const all = [...states.values()];
  if (all.every((s) => s.online)) {
    box.dataset.state = "online";
    stateLine.textContent = t("storage.tiers.retrieve.online");
    leaving = true;
    location.replace(viewer);
    return;
  }
  const done = all.reduce((sum, s) => sum + (s.online ? s.total : s.done), 0);
  const total = all.reduce((sum, s) => sum + s.total, 0);
  box.dataset.state = "retrieving";
  box.dataset.done = done;
  progress.max = Math.max(total, 1);
  progress.value = done;
  stateLine.textContent = t("storage.tiers.retrieve.retrieving", { done, total });
}

function failed(values) {
  box.dataset.state = "failed";
  errorBox.hidden = false;
  retry.hidden = false;
  stateLine.textContent = "";
  progress.hidden = true;
  errorBox.textContent = values.label
    ? t("storage.tiers.retrieve.insert_set", { label: values.label })
    : t("storage.tiers.retrieve.failed", { reason: values.message || values.code || "" });
}

function onRecall(recall) {
  const state = states.get(recall.study_instance_uid);
  if (!state || state.online) return;
  if (recall.state === "failed") return failed(recall);
  state.total = recall.total || state.total;
  state.done = recall.done || 0;
  state.online = recall.state === "done";
  show();
}

async function start() {
  if (started) return;
  started = true;
  for (const uid of studies) {
    try {
      const answer = await api("/api/storage/recall", { method: "POST", json: { study_instance_uid: uid } });
      const state = states.get(uid);
      if (answer.state === "online") state.online = true;
      else state.total = Math.max(state.total, answer.total);
    } catch (error) {
      failed({ message: error.message, ...error.values });
    }
  }
  show();
  if (!polling) setInterval(poll, 3000);
  polling = true;
}

// After "insert set X" (or another failure): the operator fixed it, ask again.
retry.addEventListener("click", () => {
  retry.hidden = true;
  errorBox.hidden = true;
  progress.hidden = false;
  box.dataset.state = "starting";
  started = false;
  start();
});

async function poll() {
  for (const [uid, state] of states) {
    if (state.online) continue;
    try {
      const where = await api(`/api/storage/studies/${encodeURIComponent(uid)}/copies`);
      if (where.online === where.objects) onRecall({ study_instance_uid: uid, state: "done", total: where.objects });
      else if (where.recall) onRecall(where.recall);
    } catch {
      // the next poll tries again; the socket may be enough
    }
  }
}

if (!studies.length) {
  failed({ message: t("storage.tiers.retrieve.no_study") });
} else {
  liveEvents(
    (event) => event.type === "archive.recall" && event.payload.recall && onRecall(event.payload.recall),
    poll,
    (connected) => connected && start(),
  );
  setTimeout(start, 3000); // without a socket (a proxy refusing it), start anyway
}
