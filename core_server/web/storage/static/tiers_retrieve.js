// The "retrieving" page: opened for a study whose online copy is gone. It connects to the
// live feed first (so no archive.recall event is missed), then asks for the recall; shows
// "retrieving n/N" as the events come and opens the viewer when the study is back online.
// A slow poll of the study's copies covers a lost socket.
import { api } from "/static/shared/api.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";

const box = document.getElementById("retrieve");
const study = box.dataset.study;
const stateLine = document.getElementById("retrieve-state");
const progress = document.getElementById("retrieve-progress");
const errorBox = document.getElementById("error");
const viewer = "/viewer?StudyInstanceUIDs=" + encodeURIComponent(study);
let started = false;

function show(state, done, total) {
  box.dataset.state = state;
  box.dataset.done = done;
  progress.max = Math.max(total, 1);
  progress.value = done;
  stateLine.textContent = t("storage.tiers.retrieve." + state, { done, total });
}

function online() {
  show("online", 1, 1);
  location.replace(viewer);
}

function failed(values) {
  box.dataset.state = "failed";
  errorBox.hidden = false;
  errorBox.textContent = values.label
    ? t("storage.tiers.retrieve.insert_set", { label: values.label })
    : t("storage.tiers.retrieve.failed", { reason: values.message || values.code || "" });
}

function onRecall(recall) {
  if (recall.study_instance_uid !== study || box.dataset.state === "online") return;
  if (recall.state === "done") online();
  else if (recall.state === "failed") failed(recall);
  else show("retrieving", recall.done || 0, recall.total || 0);
}

async function start() {
  if (started) return;
  started = true;
  try {
    const answer = await api("/api/storage/recall", { method: "POST", json: { study_instance_uid: study } });
    if (answer.state === "online") online();
    else show("retrieving", 0, answer.total);
  } catch (error) {
    failed({ message: error.message, ...error.values });
  }
  setInterval(poll, 3000);
}

async function poll() {
  if (box.dataset.state === "online") return;
  try {
    const where = await api(`/api/storage/studies/${encodeURIComponent(study)}/copies`);
    if (where.online === where.objects) online();
    else if (where.recall) onRecall(where.recall);
  } catch {
    // the next poll tries again; the socket may be enough
  }
}

if (!study) {
  failed({ message: t("storage.tiers.retrieve.no_study") });
} else {
  liveEvents(
    (event) => event.type === "archive.recall" && event.payload.recall && onRecall(event.payload.recall),
    poll,
    (connected) => connected && start(),
  );
  setTimeout(start, 3000); // without a socket (a proxy refusing it), start anyway
}
