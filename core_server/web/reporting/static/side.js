// What the editor shows beside the text: templates (one click inserts one), the patient's
// priors with their signed reports, the versions and the diff against the previous author's
// text, the study's images to choose key images from, the report's critical value alerts.
import { api, showError } from "/static/shared/api.js";
import { when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { liveEvents } from "/static/shared/ws.js";
import { $, PAGE, personName } from "/static/reporting/page.js";
import { editor } from "/static/reporting/state.js";
import { fieldValues, markDirty, renderFields } from "/static/reporting/writing.js";

// -- templates ------------------------------------------------------------------------------------

let templateTimer = null;
let templateAsked = 0;

function templateItem(tpl) {
  const insert = el("button", { type: "button", className: "secondary", textContent: t("reporting_ui.templates.insert") });
  insert.dataset.template = tpl.id;
  insert.disabled = !editor.editable;
  insert.hidden = !editor.editable; // a read-only report offers nothing to insert
  insert.addEventListener("click", () => insertTemplate(tpl));
  const scope = el("span", { className: "badge", textContent: t("reporting_ui.templates.scope." + tpl.scope) });
  const part = tpl.body_part ? (PAGE.body_parts || {})[tpl.body_part] || tpl.body_part : "";
  const item = el("li", {}, el("div", {}, scope, el("strong", { textContent: tpl.name })),
    el("div", { className: "sub", textContent: [tpl.modality, part, tpl.keywords].filter(Boolean).join(" · ") }), insert);
  item.title = (tpl.findings + "\n" + tpl.impression).replace(/<[^>]+>/g, "");
  return item;
}

export async function loadTemplates() {
  if (!editor.report) return;
  const asked = ++templateAsked;
  const params = new URLSearchParams({ keyword: $("template-q").value.trim() });
  if (!params.get("keyword")) params.set("modality", editor.report.modality);
  const found = await api("/api/reporting/templates?" + params);
  if (asked !== templateAsked) return; // a newer filter's answer is coming
  // The exam's own body part first (a chest CT's templates before the head's).
  const part = editor.report.body_part;
  found.sort((a, b) => (a.body_part === part ? 0 : 1) - (b.body_part === part ? 0 : 1));
  $("templates").replaceChildren(...found.map(templateItem));
  if (!found.length) $("templates").append(el("li", { className: "sub", textContent: t("reporting_ui.templates.none") }));
}

$("template-q").addEventListener("input", () => {
  clearTimeout(templateTimer);
  templateTimer = setTimeout(() => loadTemplates().catch((e) => showError($("error"), e)), 250);
});

// One click: the template's text goes in (replacing an empty box, else added at the end) and
// its structured fields become the form.
function insertTemplate(tpl) {
  if (!editor.editable) return;
  for (const [box, html] of [[$("findings"), tpl.findings], [$("impression"), tpl.impression]]) {
    if (!html) continue;
    if (box.textContent.trim()) box.insertAdjacentHTML("beforeend", html);
    else box.innerHTML = html; // stored templates are sanitised by the server
  }
  if (tpl.fields.length) {
    editor.template = tpl;
    editor.templateChanged = true;
    renderFields(fieldValues());
  }
  markDirty();
}

// -- priors ---------------------------------------------------------------------------------------

function priorItem(p) {
  const item = el("li", { className: "rp-prior" });
  item.dataset.accession = p.accession_number;
  item.append(el("span", { textContent: when(p.exam_at).slice(0, 10) }), " ", el("strong", { textContent: p.procedure_name || p.modality }), " ");
  if (p.studies.length) {
    item.append(el("a", { href: "/viewer?StudyInstanceUIDs=" + p.studies.map(encodeURIComponent).join(","), target: "_blank", rel: "noopener", textContent: t("reporting_ui.priors.images") }), " ");
  }
  if (!p.report) {
    item.append(el("span", { className: "sub", textContent: t("reporting_ui.priors.no_report") }));
    return item;
  }
  const text = el("div", { className: "rp-prior-text" });
  text.hidden = true;
  const findings = el("div");
  findings.innerHTML = p.report.findings; // signed, sanitised text
  const impression = el("div");
  impression.innerHTML = p.report.impression;
  text.append(el("h4", { textContent: t("reporting_ui.editor.findings") }), findings, el("h4", { textContent: t("reporting_ui.editor.impression") }), impression,
    el("p", { className: "sub", textContent: t("reporting_ui.priors.signed", { name: personName(p.report.signed_by), at: when(p.report.signed_at) }) }));
  const open = el("button", { type: "button", className: "secondary rp-prior-open", textContent: t("reporting_ui.priors.report") });
  open.addEventListener("click", () => (text.hidden = !text.hidden));
  item.append(open, text);
  return item;
}

export async function showPriors() {
  const priors = await api(`/api/reporting/reports/${editor.report.id}/priors`);
  const reported = priors.filter((p) => p.report).length;
  $("priors").hidden = !priors.length;
  $("priors-toggle").textContent = t("reporting_ui.priors.hint", { n: priors.length, reports: reported });
  $("priors-toggle").setAttribute("aria-expanded", "false");
  $("priors-list").hidden = true;
  $("priors-list").replaceChildren(...priors.map(priorItem));
}

$("priors-toggle").addEventListener("click", () => {
  const list = $("priors-list");
  list.hidden = !list.hidden;
  $("priors-toggle").setAttribute("aria-expanded", String(!list.hidden));
});

// -- versions and the diff ------------------------------------------------------------------------

function runs(parts) {
  return parts.map((part) => {
    if (part.op === "delete") return el("del", { className: "diff-del", textContent: part.text });
    if (part.op === "insert") return el("ins", { className: "diff-ins", textContent: part.text });
    return document.createTextNode(part.text);
  });
}

// The newest version against the previous author's (what the reviewer changed), or two chosen.
export async function showDiff(number, against) {
  const box = $("diff");
  if (!editor.report.version) {
    box.hidden = true;
    return;
  }
  const params = new URLSearchParams();
  if (number) params.set("number", number);
  if (against) params.set("against", against);
  const diff = await api(`/api/reporting/reports/${editor.report.id}/diff?` + params);
  const changed = [...diff.findings, ...diff.impression].some((part) => part.op !== "equal");
  box.hidden = !diff.from || !changed;
  if (box.hidden) return;
  $("diff-between").textContent = t("reporting_ui.diff.between", {
    old: personName(diff.from.username), old_n: diff.from.number, new: personName(diff.to.username), new_n: diff.to.number,
  });
  $("diff-findings").replaceChildren(...runs(diff.findings));
  $("diff-impression").replaceChildren(...runs(diff.impression));
}

export async function showHistory() {
  const versions = await api(`/api/reporting/reports/${editor.report.id}/versions`);
  $("history").replaceChildren(
    ...versions.reverse().map((v) => {
      const item = el("li", {}, el("strong", { textContent: t("reporting_ui.history.version", { n: v.number }) }), " ",
        t("reporting_ui.history.action." + v.action), " · ", personName(v.username), " · ", when(v.created_at));
      if (v.reason) item.append(el("div", { className: "sub", textContent: v.reason }));
      if (v.number > 1) {
        const compare = el("button", { type: "button", className: "secondary", textContent: t("reporting_ui.history.compare") });
        compare.addEventListener("click", () => showDiff(v.number, v.number - 1).catch((e) => showError($("error"), e)));
        item.append(" ", compare);
      }
      return item;
    }),
  );
}

// -- key images -----------------------------------------------------------------------------------

// Reports (SR, the archived PDF), key object notes and presentation states live in the study
// too, but have no pixels to show.
const NOT_IMAGES = ["SR", "KO", "PR", "DOC"];
const NOT_IMAGE_CLASSES = ["1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.104.", "1.2.840.10008.5.1.4.1.1.11."];

function isImage(attrs) {
  const value = (tag) => (attrs[tag] && attrs[tag].Value ? String(attrs[tag].Value[0]) : "");
  const sopClass = value("00080016");
  return !NOT_IMAGES.includes(value("00080060")) && !NOT_IMAGE_CLASSES.some((prefix) => sopClass.startsWith(prefix));
}

function thumb(study, attrs, chosen) {
  const series = attrs["0020000E"].Value[0];
  const sop = attrs["00080018"].Value[0];
  const path = `/dicom-web/studies/${encodeURIComponent(study)}/series/${encodeURIComponent(series)}/instances/${encodeURIComponent(sop)}`;
  const image = el("img", { src: path + "/thumbnail", alt: "", loading: "lazy", width: 96, height: 96 });
  const box = el("button", { type: "button", className: "rp-thumb" + (chosen.has(sop) ? " key" : "") }, image);
  box.dataset.sop = sop;
  box.dataset.series = series;
  box.dataset.study = study;
  box.setAttribute("aria-pressed", String(chosen.has(sop)));
  box.title = t("reporting_ui.images.toggle");
  box.disabled = !editor.editable; // key images belong to the text: chosen while writing
  box.addEventListener("click", () => toggleKeyImage(box));
  return box;
}

let following = false;
export async function showThumbs() {
  // The exam's own study too: the first capture of an exam arrives before the exam lists it.
  const studies = [...new Set([...(editor.exam.studies || []), editor.exam.study_instance_uid].filter(Boolean))];
  const chosen = new Set(editor.report.key_images.map((k) => k.sop_instance_uid));
  const boxes = [];
  for (const study of studies) {
    const instances = await api(`/dicom-web/studies/${encodeURIComponent(study)}/instances?limit=100`);
    for (const attrs of instances || []) if (isImage(attrs)) boxes.push(thumb(study, attrs, chosen));
  }
  $("thumbs").replaceChildren(...boxes);
  if (!boxes.length) $("thumbs").append(el("p", { className: "sub", textContent: t("reporting_ui.images.none") }));
  showKeyList();
  $("pathology-link").href = `/capture/exams/${editor.exam.id}/pathology`; // endoscopy biopsies
  if (!following) {
    following = true;
    liveEvents(followArrivals, showThumbs);
  }
}

// Captures arrive while the doctor writes (the capture station stores them as it takes them):
// the journal's "archive.study_images" for one of the exam's studies reloads the strip.
let thumbsTimer = null;
function followArrivals(message) {
  if (message.type !== "archive.study_images") return;
  const study = message.payload.study_instance_uid;
  if (study !== editor.exam.study_instance_uid && !(editor.exam.studies || []).includes(study)) return;
  clearTimeout(thumbsTimer);
  thumbsTimer = setTimeout(showThumbs, 200);
}

// The chosen key images in their printed order, each with its caption (the KeyImage note).
// Changes are queued: each applies to the list as the previous PUT left it, so a caption typed
// while another change is on its way is not lost.
let keySaves = Promise.resolve();

function keyItem(k, index, count) {
  const sop = k.sop_instance_uid;
  const path = `/dicom-web/studies/${encodeURIComponent(k.study_uid)}/series/${encodeURIComponent(k.series_uid)}/instances/${encodeURIComponent(sop)}`;
  const caption = el("input", { type: "text", maxLength: 64, value: k.note || "", placeholder: t("reporting_ui.key_images.caption") });
  caption.setAttribute("aria-label", t("reporting_ui.key_images.caption"));
  caption.disabled = !editor.editable;
  // The input already shows the caption: saved without redrawing the list (typing goes on).
  caption.addEventListener("change", () => {
    const note = caption.value.trim();
    saveKeyImages((list) => list.map((o) => (o.sop_instance_uid === sop ? { ...o, note } : o)), false);
  });
  const move = (by, label, disabled) => {
    const button = el("button", { type: "button", className: "secondary", textContent: label, title: t(by < 0 ? "reporting_ui.key_images.up" : "reporting_ui.key_images.down") });
    button.disabled = disabled || !editor.editable;
    button.addEventListener("click", () => saveKeyImages((list) => {
      const at = list.findIndex((o) => o.sop_instance_uid === sop);
      if (at < 0 || at + by < 0 || at + by >= list.length) return list;
      const moved = [...list];
      [moved[at], moved[at + by]] = [moved[at + by], moved[at]];
      return moved;
    }));
    return button;
  };
  const item = el("li", { className: "rp-key" }, el("img", { src: path + "/thumbnail", alt: "", width: 48, height: 48 }), caption,
    move(-1, "↑", index === 0), move(1, "↓", index === count - 1));
  item.dataset.sop = sop;
  return item;
}

function showKeyList() {
  const keys = editor.report.key_images;
  // A caption being typed (not yet saved) survives a redraw that a push or another save makes.
  const typing = new Map([...$("key-images").querySelectorAll("li.rp-key")]
    .map((li) => [li.dataset.sop, li.querySelector("input")])
    .filter(([, input]) => input && input.value.trim() !== (keys.find((k) => k.sop_instance_uid === input.closest("li").dataset.sop)?.note || "")
      && input.value.trim() !== input.defaultValue.trim())
    .map(([sop, input]) => [sop, input.value]));
  $("key-images").replaceChildren(...keys.map((k, i) => keyItem(k, i, keys.length)));
  for (const li of $("key-images").querySelectorAll("li.rp-key")) {
    if (typing.has(li.dataset.sop)) li.querySelector("input").value = typing.get(li.dataset.sop);
  }
  $("key-images-none").hidden = keys.length > 0;
}

function saveKeyImages(change, redraw = true) {
  keySaves = keySaves.then(async () => {
    try {
      const images = change(editor.report.key_images);
      editor.report = await api(`/api/reporting/reports/${editor.report.id}/key-images`, { method: "PUT", json: images });
    } catch (error) {
      showError($("error"), error);
      redraw = true; // show what is kept
    }
    const chosen = new Set(editor.report.key_images.map((k) => k.sop_instance_uid));
    for (const box of $("thumbs").querySelectorAll(".rp-thumb")) {
      box.classList.toggle("key", chosen.has(box.dataset.sop));
      box.setAttribute("aria-pressed", String(chosen.has(box.dataset.sop)));
    }
    if (redraw) showKeyList();
  });
}

function toggleKeyImage(box) {
  const sop = box.dataset.sop;
  // A newly ticked image goes last; the others keep their order and captions.
  saveKeyImages((keys) => (keys.some((k) => k.sop_instance_uid === sop) ? keys.filter((k) => k.sop_instance_uid !== sop)
    : [...keys, { study_uid: box.dataset.study, series_uid: box.dataset.series, sop_instance_uid: sop, frame: 1, note: "" }]));
}

// -- critical value alerts of this report -----------------------------------------------------------

export async function showAlerts() {
  const alerts = await api(`/api/reporting/critical-alerts?report_id=${editor.report.id}`);
  $("report-alerts").replaceChildren(
    ...alerts.map((a) => el("li", {}, el("strong", { textContent: a.description }),
      el("div", { className: "sub", textContent: t("reporting_ui.alerts.line", { name: personName(a.raised_by), at: when(a.raised_at), state: t("reporting_ui.alerts." + a.status) }) }))),
  );
  if (!alerts.length) $("report-alerts").append(el("li", { className: "sub", textContent: t("reporting_ui.alerts.none") }));
}

// -- side tabs ------------------------------------------------------------------------------------

for (const tab of document.querySelectorAll(".rp-tabs [data-tab]")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".rp-tabs [data-tab]")) other.setAttribute("aria-selected", String(other === tab));
    for (const panel of document.querySelectorAll(".rp-panel")) panel.hidden = panel.dataset.panel !== tab.dataset.tab;
  });
}
