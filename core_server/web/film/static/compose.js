// The film composer: a study's images put into the boxes of a film layout (drag an image onto a
// box, or click a box then an image; drag a box's handle onto another box to swap them), each
// windowed as shown (presets, two number fields, or dragging on the image: left-right is the
// width, up-down the center); the server composes the preview and prints. What a box shows is
// the server's own windowing of the image, the same the laser imager gets.
import { api, busy, showError } from "/static/shared/api.js";
import { el, pageData } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const $ = (id) => document.getElementById(id);
const data = pageData();
const status = $("status");
const images = new Map(); // sop -> the study API's entry
const boxes = new Map(); // position -> {sop, frame, center, width}
let presets = [];
let selected = 1;

function layoutSize() {
  const [columns, rows] = $("layout").value.split(",").map(Number);
  return { columns, rows, count: columns * rows };
}

function imageUrl(box, size) {
  const query = new URLSearchParams({ size: String(size), frame: String(box.frame || 1) });
  if (box.center !== null && box.width) {
    query.set("center", String(box.center));
    query.set("width", String(box.width));
  }
  return `/api/film/compose/images/${encodeURIComponent(box.sop)}?${query}`;
}

function put(position, sop) {
  const image = images.get(sop);
  boxes.set(position, { sop, frame: 1, center: image.window_center, width: image.window_width });
  const { count } = layoutSize();
  for (let p = 1; p <= count; p += 1) {
    const next = ((position + p - 1) % count) + 1;
    if (!boxes.has(next)) { selected = next; break; }
  }
  drawSheet();
}

function swap(from, to) {
  const a = boxes.get(from);
  const b = boxes.get(to);
  boxes.delete(from);
  boxes.delete(to);
  if (a) boxes.set(to, a);
  if (b) boxes.set(from, b);
  selected = to;
  drawSheet();
}

function dropped(position, event) {
  event.preventDefault();
  const what = event.dataTransfer.getData("text/plain");
  if (what.startsWith("image:")) put(position, what.slice(6));
  if (what.startsWith("box:")) swap(Number(what.slice(4)), position);
}

// Dragging on the picture changes the window; the picture is asked again once the hand rests.
function windowDrag(position, picture) {
  let start = null;
  let timer = 0;
  picture.addEventListener("pointerdown", (event) => {
    const box = boxes.get(position);
    if (!box || box.width === null) return;
    start = { x: event.clientX, y: event.clientY, center: box.center, width: box.width };
    picture.setPointerCapture(event.pointerId);
  });
  picture.addEventListener("pointermove", (event) => {
    if (!start) return;
    const box = boxes.get(position);
    const step = Math.max(1, start.width / 200);
    box.width = Math.max(1, Math.round(start.width + (event.clientX - start.x) * step));
    box.center = Math.round(start.center + (event.clientY - start.y) * step);
    drawWindow();
    clearTimeout(timer);
    timer = setTimeout(() => { picture.src = imageUrl(box, 384); }, 150);
  });
  const end = () => { start = null; };
  picture.addEventListener("pointerup", end);
  picture.addEventListener("pointercancel", end);
}

function boxElement(position) {
  const box = boxes.get(position);
  const node = el("div", { className: "fc-box" + (position === selected ? " selected" : "") });
  node.dataset.position = String(position);
  node.addEventListener("click", () => { selected = position; drawSheet(); });
  node.addEventListener("dragover", (event) => event.preventDefault());
  node.addEventListener("drop", (event) => dropped(position, event));
  if (!box) {
    node.append(el("span", { className: "fc-label", textContent: t("film.compose.box", { position }) }));
    return node;
  }
  node.dataset.sop = box.sop;
  const picture = el("img", { src: imageUrl(box, 384), alt: t("film.compose.box", { position }), draggable: false });
  windowDrag(position, picture);
  const handle = el("span", { className: "fc-handle", textContent: "⠿", draggable: true, title: t("film.compose.box", { position }) });
  handle.addEventListener("dragstart", (event) => event.dataTransfer.setData("text/plain", "box:" + position));
  const remove = el("button", { type: "button", className: "small fc-remove", textContent: "×", title: t("film.compose.remove") });
  remove.setAttribute("aria-label", t("film.compose.remove"));
  remove.addEventListener("click", (event) => { event.stopPropagation(); boxes.delete(position); selected = position; drawSheet(); });
  node.append(picture, handle, remove);
  return node;
}

function drawSheet() {
  const { columns, rows, count } = layoutSize();
  for (const position of [...boxes.keys()]) if (position > count) boxes.delete(position);
  if (selected > count) selected = 1;
  const [w, h] = data.sizes_mm[$("film-size").value] || [355.6, 431.8];
  const landscape = $("orientation").value === "LANDSCAPE";
  const sheet = $("sheet");
  sheet.style.aspectRatio = landscape ? `${h} / ${w}` : `${w} / ${h}`;
  sheet.style.gridTemplateColumns = `repeat(${columns}, 1fr)`;
  sheet.style.gridTemplateRows = `repeat(${rows}, 1fr)`;
  const cells = [];
  for (let p = 1; p <= count; p += 1) cells.push(boxElement(p));
  sheet.replaceChildren(...cells);
  drawWindow();
}

function drawWindow() {
  const box = boxes.get(selected);
  $("window").disabled = !box;
  $("window-box").textContent = t("film.compose.box", { position: selected });
  $("center").value = box && box.center !== null ? String(box.center) : "";
  $("width").value = box && box.width !== null ? String(box.width) : "";
  const own = box ? images.get(box.sop) : null;
  const match = box && presets.find((p) => p.center === box.center && p.width === box.width);
  $("preset").value = match ? match.name : (own && own.window_center === box.center && own.window_width === box.width ? "own" : "");
}

function setWindow(center, width) {
  const box = boxes.get(selected);
  if (!box) return;
  if (Number.isFinite(center)) box.center = center;
  if (Number.isFinite(width) && width > 0) box.width = width;
  drawSheet();
}

function composition() {
  const { columns, rows } = layoutSize();
  const list = [...boxes.entries()].sort((a, b) => a[0] - b[0]).map(([position, box]) => ({
    position,
    sop_instance_uid: box.sop,
    frame: box.frame || 1,
    window_center: box.center,
    window_width: box.width,
  }));
  return {
    display_format: `STANDARD\\${columns},${rows}`,
    film_size: $("film-size").value,
    orientation: $("orientation").value,
    images: list,
  };
}

function refuseEmpty() {
  if (boxes.size > 0) return false;
  status.textContent = t("film.compose.empty");
  return true;
}

// The preview is a PNG: read as a data URL (the pages' policy allows data: images, not blob:).
async function showPreview() {
  if (refuseEmpty()) return;
  const body = { composition: composition(), dpi: 40 };
  if ($("printer").value) body.printer_id = Number($("printer").value);
  const answer = await fetch("/api/film/compose/preview", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!answer.ok) {
    await api("/api/film/compose/preview", { method: "POST", json: body }); // throws its refusal
    return;
  }
  const blob = await answer.blob();
  const url = await new Promise((done) => {
    const reader = new FileReader();
    reader.onload = () => done(reader.result);
    reader.readAsDataURL(blob);
  });
  $("preview").src = url;
  $("preview").hidden = false;
  status.textContent = "";
}

async function sendToPrinter() {
  if (refuseEmpty()) return;
  const body = {
    printer_id: Number($("printer").value),
    copies: Number($("copies").value) || 1,
    composition: composition(),
  };
  if (data.exam) body.exam_id = Number(data.exam);
  const done = await api("/api/film/compose/print", { method: "POST", json: body });
  const sent = $("sent");
  sent.replaceChildren(
    t("film.compose.sent", { job: done.job.id, copies: done.job.copies, printer: done.job.printer }), " ",
    el("a", { href: "/film/printers", textContent: t("film.compose.to_jobs") }),
  );
  sent.dataset.job = String(done.job.id);
  sent.hidden = false;
  status.textContent = "";
}

function thumbnail(image) {
  const caption = `${t("film.compose.series", { number: image.series_number ?? "" })} · ${image.instance_number ?? ""}`;
  const item = el("li", { className: "fc-thumb", draggable: true, title: image.series_description || caption },
    el("img", { src: imageUrl({ sop: image.sop_instance_uid, center: image.window_center, width: image.window_width }, 128), alt: caption, draggable: false }),
    el("span", { textContent: caption }));
  item.dataset.sop = image.sop_instance_uid;
  item.addEventListener("dragstart", (event) => event.dataTransfer.setData("text/plain", "image:" + image.sop_instance_uid));
  item.addEventListener("click", () => put(selected, image.sop_instance_uid));
  return item;
}

function choices(select, values, label) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, textContent: label(v) })));
}

async function loadPrinters() {
  const printers = (await api("/api/film/printers")).filter((p) => p.active);
  choices($("printer"), printers.map((p) => String(p.id)), (id) => printers.find((p) => String(p.id) === id).name);
  $("print-button").disabled = printers.length === 0;
  if (!printers.length) status.textContent = t("film.compose.no_printer");
  else $("film-size").value = printers[0].default_film_size;
}

async function load() {
  if (!data.study) { status.textContent = t("film.compose.no_study"); return; }
  const study = await api(`/api/film/compose/studies/${encodeURIComponent(data.study)}`);
  $("patient").textContent = [study.patient_name, study.patient_id, study.accession_number, study.modalities.join("/")].filter(Boolean).join(" · ");
  for (const image of study.images) images.set(image.sop_instance_uid, image);
  presets = study.presets;
  $("preset").replaceChildren(
    el("option", { value: "", textContent: "—" }),
    el("option", { value: "own", textContent: t("film.compose.preset.own") }),
    ...presets.map((p) => el("option", { value: p.name, textContent: `${t("film.compose.preset." + p.name)} (${p.center}/${p.width})` })));
  $("thumbnails").replaceChildren(...study.images.map(thumbnail));
  await loadPrinters();
  drawSheet();
}

choices($("film-size"), data.film_sizes, (v) => v);
choices($("layout"), data.layouts, (v) => v.replace(",", "×"));
$("layout").value = "2,2";
for (const id of ["film-size", "orientation", "layout"]) $(id).addEventListener("change", drawSheet);
$("center").addEventListener("change", () => setWindow(Number($("center").value), NaN));
$("width").addEventListener("change", () => setWindow(NaN, Number($("width").value)));
$("preset").addEventListener("change", () => {
  const box = boxes.get(selected);
  const value = $("preset").value;
  if (!box || !value) return;
  const chosen = value === "own" ? images.get(box.sop) : presets.find((p) => p.name === value);
  if (value === "own") setWindow(chosen.window_center, chosen.window_width);
  else setWindow(chosen.center, chosen.width);
});
$("clear").addEventListener("click", () => { boxes.clear(); selected = 1; drawSheet(); });
$("fill").addEventListener("click", () => {
  const { count } = layoutSize();
  [...images.keys()].slice(0, count).forEach((sop, i) => put(i + 1, sop));
});
$("preview-button").addEventListener("click", () => busy($("preview-button"), () => showPreview().catch((e) => showError(status, e))));
$("print-button").addEventListener("click", () => busy($("print-button"), () => sendToPrinter().catch((e) => showError(status, e))));
load().catch((e) => showError(status, e));
