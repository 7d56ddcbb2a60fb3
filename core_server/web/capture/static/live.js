// The supervisor's live view: the rooms whose capture station is connected; choosing one opens
// /api/capture/live/rooms/{room} and draws each JPEG frame on the canvas (decoded by
// createImageBitmap: the pages' CSP allows no blob: images). Nothing is kept.
import { api, showError } from "/static/shared/api.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
let socket = null;

async function draw(blob) {
  const bitmap = await createImageBitmap(blob);
  const canvas = $("picture");
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  canvas.dataset.frames = String(Number(canvas.dataset.frames || 0) + 1);
  bitmap.close();
}

function watch(room) {
  if (socket) socket.close();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/api/capture/live/rooms/${encodeURIComponent(room)}`);
  socket.binaryType = "blob";
  $("view").hidden = false;
  $("watching").textContent = t("capture.live.watching", { room });
  socket.addEventListener("message", (message) => {
    if (message.data instanceof Blob) draw(message.data);
  });
}

async function showRooms() {
  try {
    const answer = await api("/api/capture/live/rooms");
    const buttons = answer.rooms.map((r) => {
      const button = el("button", { type: "button", textContent: r.room });
      button.dataset.room = r.room;
      button.addEventListener("click", () => watch(r.room));
      return el("li", {}, button);
    });
    $("rooms").replaceChildren(...buttons);
    $("none").hidden = buttons.length > 0;
  } catch (error) {
    showError($("status"), error);
  }
}

showRooms();
setInterval(showRooms, 10000);
