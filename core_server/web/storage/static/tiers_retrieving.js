// The study list's nearline marks (docs/storage-tiers.md, "Recall and the UI"): after a page
// of studies is drawn, asks which are not wholly online, marks them "近线 / nearline" with a
// retrieve button, points their open links at the retrieving page (which recalls, then opens
// the viewer), and follows archive.recall events live: "取回中 n/N", then online again.
import { api } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";

const nearline = new Map(); // study UID -> its row's mark
let listening = false;

const viewer = (uid) => "/viewer?StudyInstanceUIDs=" + encodeURIComponent(uid);
const retrievePage = (uid) => "/storage/retrieve?study=" + encodeURIComponent(uid);

// Where a click on the study opens it: the viewer, or the retrieving page while nearline.
export function openUrl(uid) {
  return nearline.has(uid) ? retrievePage(uid) : viewer(uid);
}

function setLinks(tr, href) {
  for (const link of tr.querySelectorAll("a.open-viewer, a.patient-name")) link.href = href;
}

function draw(mark, state, done, total) {
  mark.dataset.state = state;
  mark.textContent = state === "retrieving"
    ? t("web.studies.retrieving", { done, total })
    : t("web.studies." + state);
}

function onRecall(recall) {
  const entry = nearline.get(recall.study_instance_uid);
  if (!entry) return;
  if (recall.state === "done") {
    draw(entry.mark, "online", 0, 0);
    entry.button.remove();
    setLinks(entry.tr, viewer(recall.study_instance_uid));
    nearline.delete(recall.study_instance_uid);
  } else if (recall.state === "failed") {
    draw(entry.mark, "retrieve_failed", 0, 0);
    entry.button.disabled = false;
  } else {
    draw(entry.mark, "retrieving", recall.done || 0, recall.total || 0);
    entry.button.disabled = true;
  }
}

function listen() {
  if (listening) return;
  listening = true;
  liveEvents((event) => {
    if (event.type === "archive.recall" && event.payload.recall) onRecall(event.payload.recall);
  }, () => {});
}

function mark(tr, uid, state) {
  const cell = tr.querySelector("td.actions") || tr.lastElementChild;
  const badge = el("span", { className: "badge nearline" });
  const button = el("button", { type: "button", className: "secondary retrieve", textContent: t("web.studies.retrieve") });
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    button.disabled = true;
    try {
      const answer = await api("/api/storage/recall", { method: "POST", json: { study_instance_uid: uid } });
      if (answer.state === "online") onRecall({ study_instance_uid: uid, state: "done" });
      else if (badge.dataset.state === "nearline") draw(badge, "retrieving", 0, answer.total);
    } catch (error) {
      draw(badge, "retrieve_failed", 0, 0);
      badge.title = error.message;
      button.disabled = false;
    }
  });
  nearline.set(uid, { tr, mark: badge, button });
  const recall = state.recall;
  if (recall && recall.state === "retrieving") onRecall(recall);
  else draw(badge, "nearline", 0, 0);
  tr.dataset.nearline = "1";
  setLinks(tr, retrievePage(uid));
  cell.prepend(badge, button);
}

// After the list drew its rows (each a tr with data-study-instance-uid).
export async function showNearline(tbody) {
  nearline.clear();
  const rows = [...tbody.querySelectorAll("tr[data-study-instance-uid]")];
  if (!rows.length) return;
  let answer;
  try {
    answer = await api("/api/storage/studies/nearline", {
      method: "POST",
      json: { study_instance_uids: rows.map((tr) => tr.dataset.studyInstanceUid) },
    });
  } catch {
    return; // the list works without the marks; opening still recalls (WADO-RS)
  }
  for (const tr of rows) {
    const state = answer.studies[tr.dataset.studyInstanceUid];
    if (state) mark(tr, tr.dataset.studyInstanceUid, state);
  }
  if (nearline.size) listen();
}
