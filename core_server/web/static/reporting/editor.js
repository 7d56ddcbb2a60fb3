// The report editor: one exam's report at a time. Rich text (contenteditable + execCommand),
// autosave every few seconds and when the page is hidden or closed (fetch keepalive), the
// editing lock, priors, templates with structured fields, key images, flags, the workflow
// steps (submit, review, sign, reject, amend), the diff against the previous author's text,
// critical values and quality grades.
"use strict";

const $ = (id) => document.getElementById(id);
const GRADE_RANK = { resident: 1, attending: 2, chief: 3 };
const STEP_DONE = {
  submit: "reporting_ui.done.submit",
  review: "reporting_ui.done.review",
  sign: "reporting_ui.done.sign",
  reject: "reporting_ui.done.reject",
  amend: "reporting_ui.done.amend",
};

const editor = {
  examId: null,
  exam: null,
  row: null,
  report: null,
  template: null, // the structured template whose fields the form shows
  templateChanged: false,
  editable: false,
  dirty: false,
  saving: null, // the autosave in flight
  onChange: () => {}, // the worklist refreshes after a step
};

const isDoctor = ["reporting_doctor", "reviewing_doctor"].includes(PAGE.role);
let grades = {};

function myGrade() {
  return grades[PAGE.username] || (PAGE.role === "reviewing_doctor" ? "attending" : PAGE.role === "reporting_doctor" ? "resident" : "");
}

function rank() {
  return GRADE_RANK[myGrade()] || 0;
}

// -- the text -----------------------------------------------------------------------------------

function content() {
  const body = { findings: $("findings").innerHTML, impression: $("impression").innerHTML };
  if (editor.template && editor.template.fields.length) body.fields = fieldValues();
  if (editor.template && editor.templateChanged) body.template_id = editor.template.id;
  return body;
}

function setSaveState(key, values) {
  $("save-state").textContent = key ? t(key, values) : "";
}

function markDirty() {
  if (!editor.editable) return;
  editor.dirty = true;
  setSaveState("reporting_ui.save.unsaved");
}

// The working copy to the server (no version kept); the lock is renewed with it.
async function autosave() {
  if (!editor.dirty || !editor.editable || !editor.report) return;
  if (editor.saving) return editor.saving;
  editor.dirty = false;
  const id = editor.report.id;
  editor.saving = rapi(`/api/reporting/reports/${id}/draft`, { method: "PUT", json: content() })
    .then((saved) => {
      setSaveState("reporting_ui.save.saved", { at: when(saved.draft_saved_at) });
    })
    .catch((error) => {
      editor.dirty = true;
      if (error.status === 409 && error.holder) return lockedBy(error.holder, error.expiresAt);
      setSaveState("reporting_ui.save.failed", { reason: errorText(error) });
    })
    .finally(() => {
      editor.saving = null;
    });
  return editor.saving;
}

// The page is being hidden or closed: send what is unsaved in a request that outlives it.
function flushOnLeave() {
  if (!editor.report || !editor.editable) return;
  const id = editor.report.id;
  const init = { method: "PUT", credentials: "same-origin", keepalive: true, headers: { "Content-Type": "application/json" } };
  if (editor.dirty) {
    editor.dirty = false;
    fetch(`/api/reporting/reports/${id}/draft`, { ...init, body: JSON.stringify(content()) }).catch(() => {
      editor.dirty = true;
    });
  } else if (document.visibilityState !== "visible") {
    // Nothing to save and the page is going: give the lock back at once. (With unsaved text the
    // save above takes the lock again; it then expires after the configured minutes.)
    if (leaving) fetch(`/api/reporting/reports/${id}/lock`, { ...init, method: "DELETE" }).catch(() => {});
  }
}

let leaving = false;
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flushOnLeave();
});
window.addEventListener("pagehide", () => {
  leaving = true;
  flushOnLeave();
});
setInterval(() => autosave(), (PAGE.autosave_seconds || 3) * 1000);
// Keep the lock while the doctor reads without typing (autosave renews it while typing).
setInterval(() => {
  if (editor.editable && !editor.dirty && document.visibilityState === "visible") {
    rapi(`/api/reporting/reports/${editor.report.id}/lock`, { method: "POST" }).catch((error) => {
      if (error.status === 409 && error.holder) lockedBy(error.holder, error.expiresAt);
    });
  }
}, 60 * 1000);

for (const box of [$("findings"), $("impression")]) {
  box.addEventListener("input", markDirty);
  // Pasted text arrives as plain text: no foreign styles, fonts or links in a report.
  box.addEventListener("paste", (event) => {
    event.preventDefault();
    document.execCommand("insertText", false, event.clipboardData.getData("text/plain"));
  });
}

// The next "__" blank a template left, after the caret (wrapping to the start), selected so
// that typing replaces it.
function nextBlank() {
  const boxes = [$("findings"), $("impression")];
  const selection = window.getSelection();
  const here = selection.rangeCount ? selection.getRangeAt(0) : null;
  const blanks = [];
  for (const box of boxes) {
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let at = node.data.indexOf("__"); at >= 0; at = node.data.indexOf("__", at + 2)) {
        let end = at + 2;
        while (node.data[end] === "_") end += 1;
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, end);
        blanks.push(range);
        at = end - 2;
      }
    }
  }
  if (!blanks.length) return false;
  // The first blank starting at or after the end of the selection (a selected blank: the next).
  const after = here ? blanks.find((r) => r.compareBoundaryPoints(Range.START_TO_END, here) >= 0) : null;
  const target = after || blanks[0];
  const box = boxes.find((b) => b.contains(target.startContainer));
  box.focus();
  selection.removeAllRanges();
  selection.addRange(target);
  return true;
}

document.addEventListener("keydown", (event) => {
  if (!editor.report || !editor.editable) return;
  if (event.key === "F2") {
    event.preventDefault();
    nextBlank();
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault();
    $("save").click();
  }
});

let lastBox = $("findings");
for (const box of [$("findings"), $("impression")]) box.addEventListener("focus", () => (lastBox = box));

for (const button of document.querySelectorAll("#toolbar button")) {
  // mousedown would take the focus (and the selection) away from the text.
  button.addEventListener("mousedown", (event) => event.preventDefault());
  button.addEventListener("click", () => {
    if (!editor.editable) return;
    if (!document.activeElement || !document.activeElement.isContentEditable) lastBox.focus();
    if (button.dataset.blank) return void nextBlank();
    if (button.dataset.command) document.execCommand(button.dataset.command, false, null);
    else document.execCommand("insertText", false, button.dataset.symbol);
    markDirty();
  });
}

// -- structured fields ---------------------------------------------------------------------------

function renderFields(values) {
  const form = $("fields");
  const fields = editor.template ? editor.template.fields : [];
  form.hidden = !fields.length;
  form.replaceChildren(
    ...fields.map((f) => {
      let input;
      if (f.type === "choice") {
        input = el("select", {}, el("option", { value: "" }), ...f.choices.map((c) => el("option", { value: c, textContent: c })));
      } else {
        input = el("input", { type: f.type === "number" ? "number" : f.type === "date" ? "date" : "text" });
        if (f.type === "number") input.step = "any";
        if (f.minimum !== null) input.min = f.minimum;
        if (f.maximum !== null) input.max = f.maximum;
      }
      input.id = "field-" + f.id;
      input.dataset.field = f.id;
      input.dataset.type = f.type;
      input.required = f.required;
      input.disabled = !editor.editable;
      const value = values[f.id];
      if (value !== undefined && value !== null) input.value = String(value);
      input.addEventListener("input", markDirty);
      input.addEventListener("change", markDirty);
      const label = el("label", { htmlFor: input.id, textContent: f.label + (f.required ? " *" : "") });
      return el("div", { className: "field" }, label, input, f.unit ? el("span", { className: "sub", textContent: f.unit }) : null);
    }),
  );
}

function fieldValues() {
  const values = {};
  for (const input of $("fields").querySelectorAll("[data-field]")) {
    if (input.value === "") values[input.dataset.field] = null;
    else values[input.dataset.field] = input.dataset.type === "number" ? Number(input.value) : input.value;
  }
  return values;
}

// -- templates -----------------------------------------------------------------------------------

let templateTimer = null;
let templateAsked = 0;

async function loadTemplates() {
  if (!editor.report) return;
  const asked = ++templateAsked;
  const params = new URLSearchParams({ keyword: $("template-q").value.trim() });
  if (!params.get("keyword")) params.set("modality", editor.report.modality);
  const found = await rapi("/api/reporting/templates?" + params);
  if (asked !== templateAsked) return;  // a newer filter's answer is coming
  // The exam's own body part first (a chest CT's templates before the head's).
  const part = editor.report.body_part;
  found.sort((a, b) => (a.body_part === part ? 0 : 1) - (b.body_part === part ? 0 : 1));
  $("templates").replaceChildren(
    ...found.map((tpl) => {
      const insert = el("button", { type: "button", className: "secondary", textContent: t("reporting_ui.templates.insert") });
      insert.dataset.template = tpl.id;
      insert.disabled = !editor.editable;
      insert.addEventListener("click", () => insertTemplate(tpl));
      const scope = el("span", { className: "badge", textContent: t("reporting_ui.templates.scope." + tpl.scope) });
      const item = el("li", {}, el("div", {}, scope, el("strong", { textContent: tpl.name })),
        el("div", { className: "sub", textContent: [tpl.modality, tpl.body_part, tpl.keywords].filter(Boolean).join(" · ") }), insert);
      item.title = (tpl.findings + "\n" + tpl.impression).replace(/<[^>]+>/g, "");
      return item;
    }),
  );
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
    else box.innerHTML = html;  // stored templates are sanitised by the server
  }
  if (tpl.fields.length) {
    editor.template = tpl;
    editor.templateChanged = true;
    renderFields(fieldValues());
  }
  markDirty();
}

// -- the lock ------------------------------------------------------------------------------------

function setEditable(on) {
  editor.editable = on;
  for (const box of [$("findings"), $("impression")]) box.contentEditable = on ? "true" : "false";
  for (const button of document.querySelectorAll("#toolbar button")) button.disabled = !on;
  for (const input of $("fields").querySelectorAll("[data-field]")) input.disabled = !on;
  for (const button of $("templates").querySelectorAll("button")) button.disabled = !on;
  $("save").disabled = !on;
  $("save-template").disabled = !isDoctor;
}

function lockedBy(holder, expiresAt) {
  setEditable(false);
  $("lock-retry").hidden = false;
  $("take-over").hidden = true;
  $("lock-text").textContent = t("reporting_ui.lock.held", { name: personName(holder), until: when(expiresAt).slice(11) });
  $("lock-banner").hidden = false;
  $("lock-break").hidden = PAGE.role !== "admin";
}

async function takeLock() {
  $("lock-banner").hidden = true;
  try {
    editor.report = await rapi(`/api/reporting/reports/${editor.report.id}/lock`, { method: "POST" });
    return true;
  } catch (error) {
    if (error.status === 409 && error.holder) {
      lockedBy(error.holder, error.expiresAt);
      return false;
    }
    throw error;
  }
}

function mayEdit(report) {
  if (!isDoctor || report.status === "signed") return false;
  if (report.status === "submitted") return rank() >= 2;
  if (report.status === "reviewed") return rank() >= 3;
  // Someone else's draft (a rejected one, say) opens read-only: taking it over is a choice.
  return !report.author || report.author === PAGE.username || takeOver;
}

let takeOver = false;
$("take-over").addEventListener("click", () => {
  takeOver = true;
  openExam(editor.examId, editor.row).catch((e) => showError($("error"), e));
});

$("lock-retry").addEventListener("click", () => openExam(editor.examId, editor.row).catch((e) => showError($("error"), e)));
$("lock-break").addEventListener("click", async () => {
  try {
    await rapi(`/api/reporting/reports/${editor.report.id}/lock/break`, { method: "POST" });
    await openExam(editor.examId, editor.row);
  } catch (error) {
    showError($("error"), error);
  }
});

// -- opening and closing -------------------------------------------------------------------------

async function closeReport() {
  if (!editor.report) return;
  await autosave();
  if (editor.editable) {
    await rapi(`/api/reporting/reports/${editor.report.id}/lock`, { method: "DELETE" }).catch(() => {});
  }
  editor.report = null;
  setEditable(false);
}

let startNow = false;
$("start-report").addEventListener("click", () => {
  startNow = true;
  openExam(editor.examId, editor.row).catch((e) => showError($("error"), e));
});

async function openExam(examId, row) {
  if (editor.report && editor.examId !== examId) await closeReport();
  showError($("error"), null);
  editor.examId = examId;
  editor.row = row || null;
  const [exam, settings] = await Promise.all([rapi(`/api/ris/exams/${examId}`), rapi("/api/reporting/settings")]);
  grades = settings.grades || {};
  editor.exam = exam;
  // A resident opens an unreported exam to write it (POST answers the existing report, or
  // starts one); anyone else (an attending looking through the list) starts one only on
  // purpose, so that a look does not make them its author.
  let report = null;
  if (PAGE.role === "reporting_doctor" || (isDoctor && startNow)) {
    report = await rapi(`/api/reporting/exams/${examId}/report`, { method: "POST" });
  } else if (!row || row.report_id) {
    report = await rapi(`/api/reporting/exams/${examId}/report`).catch((error) => {
      if (error.status === 404) return null;
      throw error;
    });
  }
  startNow = false;
  $("editor-empty").hidden = !!report;
  $("editor-body").hidden = !report;
  if (!report) {
    editor.report = null;
    $("editor-empty-text").textContent = t("reporting_ui.editor.no_report", { name: exam.patient_name, procedure: exam.procedure_name });
    $("start-report").hidden = !isDoctor;
    return;
  }
  editor.report = report;
  editor.dirty = false;
  editor.templateChanged = false;
  setEditable(false);
  const editable = mayEdit(report);
  takeOver = false;
  $("take-over").hidden = true;
  if (report.lock_holder && report.lock_holder !== PAGE.username && new Date(report.lock_expires_at) > new Date()) {
    lockedBy(report.lock_holder, report.lock_expires_at);  // an administrator may break it
  } else if (editable) {
    setEditable(await takeLock());
  } else if (isDoctor && report.status === "draft") {
    $("lock-text").textContent = t("reporting_ui.lock.draft_of", { name: personName(report.author) });
    $("lock-banner").hidden = false;
    $("lock-retry").hidden = true;
    $("lock-break").hidden = true;
    $("take-over").hidden = false;
  } else {
    $("lock-banner").hidden = true;
  }
  await showReport();
  editor.onChange();
}

async function showReport() {
  const r = editor.report;
  const exam = editor.exam;
  const row = editor.row;
  $("patient-name").textContent = r.patient_name;
  const meta = [r.patient_id];
  if (row) meta.push(t("reporting_ui.sex." + (row.sex || "O")), row.age !== null ? t("reporting_ui.age", { years: row.age }) : "");
  $("patient-meta").textContent = meta.filter(Boolean).join(" · ");
  $("exam-meta").textContent = [r.accession_number, exam.procedure_name, r.modality, t("reporting_ui.editor.exam_at", { at: when(exam.scheduled_at || exam.created_at) })].filter(Boolean).join(" · ");
  $("report-status").textContent = t("reporting_ui.status." + r.status);
  $("report-status").className = "badge rp-status-" + r.status;
  const badges = [];
  if (r.emergency) badges.push(el("span", { className: "badge rp-emergency", textContent: t("reporting_ui.flag.emergency") }));
  if (r.critical) badges.push(el("span", { className: "badge rp-critical", textContent: t("reporting_ui.flag.critical") }));
  if (r.infectious) badges.push(el("span", { className: "badge rp-infectious", textContent: t("reporting_ui.flag.infectious") }));
  if (r.amendments) badges.push(el("span", { className: "badge", textContent: t("reporting_ui.flag.amended", { n: r.amendments }) }));
  $("flag-badges").replaceChildren(...badges);
  const studies = exam.studies || [];
  $("open-images").hidden = !studies.length;
  $("open-images").href = "/viewer?StudyInstanceUIDs=" + studies.map(encodeURIComponent).join(",");
  $("open-pdf").hidden = !r.signed_version;
  $("open-pdf").href = `/api/reporting/reports/${r.id}/pdf`;
  $("print-report").hidden = !r.signed_version;
  $("print-status").textContent = "";

  $("findings").innerHTML = r.findings;  // sanitised by the server (no attributes, no scripts)
  $("impression").innerHTML = r.impression;
  editor.template = null;
  if (r.template_id) {
    editor.template = await rapi(`/api/reporting/templates/${r.template_id}`).catch(() => null);
  }
  renderFields(r.fields || {});
  setEditable(editor.editable);
  setSaveState(r.draft_saved_at ? "reporting_ui.save.saved" : "", { at: when(r.draft_saved_at) });

  $("flag-positive").checked = r.positive === true;
  $("flag-negative").checked = r.positive === false;
  $("flag-infectious").checked = r.infectious;
  $("flag-teaching").checked = r.teaching;
  $("teaching-note").value = r.teaching_note;
  $("teaching-note").hidden = !r.teaching;
  for (const input of $("flags").querySelectorAll("input")) input.disabled = !isDoctor;
  $("image-quality").value = r.image_quality;
  $("image-quality").disabled = !isDoctor;
  $("report-quality").value = r.report_quality;
  $("pathology-result").value = r.pathology_result;
  $("clinical-outcome").value = r.clinical_outcome;
  $("agreement").value = r.pathology_agreement;
  $("follow-up-state").textContent = r.agreement_by ? t("reporting_ui.follow_up.by", { name: personName(r.agreement_by) }) : "";
  for (const input of $("follow-up").elements) input.disabled = !isDoctor;
  $("report-quality-label").hidden = PAGE.role !== "reviewing_doctor";

  showActions(r);
  const reason = lastReason();
  await Promise.all([showPriors(), loadTemplates(), showHistory(), showDiff(), showThumbs(), showAlerts(), reason]);
}

// Which steps this doctor may take now (the server decides in the end).
function showActions(r) {
  const mine = r.author === PAGE.username;
  const emergencyOrOne = r.emergency || r.levels === 1;
  const show = {
    submit: isDoctor && r.status === "draft" && r.levels > 1,
    sign: isDoctor && ((r.status === "draft" && emergencyOrOne) ||
      (r.status === "submitted" && r.levels === 2 && rank() >= 2 && !mine) ||
      (r.status === "reviewed" && rank() >= 3 && !mine)),
    review: isDoctor && r.status === "submitted" && r.levels === 3 && rank() >= 2 && !mine,
    reject: isDoctor && ((r.status === "submitted" && rank() >= 2) || (r.status === "reviewed" && rank() >= 3)),
    amend: isDoctor && r.status === "signed",
  };
  for (const [id, on] of Object.entries(show)) $(id).hidden = !on;
  $("save").hidden = !isDoctor || r.status === "signed";
  $("raise-critical").hidden = !isDoctor;
  $("save-template").hidden = !isDoctor;
}

async function lastReason() {
  const history = await rapi(`/api/reporting/reports/${editor.report.id}/history`);
  const last = history.filter((h) => ["reject", "amend"].includes(h.action)).pop();
  const box = $("reject-reason");
  box.hidden = !(last && editor.report.status === "draft");
  if (last) box.textContent = t("reporting_ui.reason." + last.action, { name: personName(last.username), reason: last.reason, at: when(last.at) });
}

// -- priors ---------------------------------------------------------------------------------------

async function showPriors() {
  const priors = await rapi(`/api/reporting/reports/${editor.report.id}/priors`);
  const reported = priors.filter((p) => p.report).length;
  $("priors").hidden = !priors.length;
  $("priors-toggle").textContent = t("reporting_ui.priors.hint", { n: priors.length, reports: reported });
  $("priors-toggle").setAttribute("aria-expanded", "false");
  $("priors-list").hidden = true;
  $("priors-list").replaceChildren(
    ...priors.map((p) => {
      const item = el("li", { className: "rp-prior" });
      item.dataset.accession = p.accession_number;
      item.append(el("span", { textContent: when(p.exam_at).slice(0, 10) }), " ", el("strong", { textContent: p.procedure_name || p.modality }), " ");
      if (p.studies.length) {
        item.append(el("a", { href: "/viewer?StudyInstanceUIDs=" + p.studies.map(encodeURIComponent).join(","), target: "_blank", rel: "noopener", textContent: t("reporting_ui.priors.images") }), " ");
      }
      if (p.report) {
        const text = el("div", { className: "rp-prior-text" });
        text.hidden = true;
        const findings = el("div");
        findings.innerHTML = p.report.findings;  // signed, sanitised text
        const impression = el("div");
        impression.innerHTML = p.report.impression;
        text.append(el("h4", { textContent: t("reporting_ui.editor.findings") }), findings, el("h4", { textContent: t("reporting_ui.editor.impression") }), impression,
          el("p", { className: "sub", textContent: t("reporting_ui.priors.signed", { name: personName(p.report.signed_by), at: when(p.report.signed_at) }) }));
        const open = el("button", { type: "button", className: "secondary rp-prior-open", textContent: t("reporting_ui.priors.report") });
        open.addEventListener("click", () => (text.hidden = !text.hidden));
        item.append(open, text);
      } else {
        item.append(el("span", { className: "sub", textContent: t("reporting_ui.priors.no_report") }));
      }
      return item;
    }),
  );
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
async function showDiff(number, against) {
  const box = $("diff");
  if (!editor.report.version) {
    box.hidden = true;
    return;
  }
  const params = new URLSearchParams();
  if (number) params.set("number", number);
  if (against) params.set("against", against);
  const diff = await rapi(`/api/reporting/reports/${editor.report.id}/diff?` + params);
  const changed = [...diff.findings, ...diff.impression].some((part) => part.op !== "equal");
  box.hidden = !diff.from || !changed;
  if (box.hidden) return;
  $("diff-between").textContent = t("reporting_ui.diff.between", {
    old: personName(diff.from.username), old_n: diff.from.number, new: personName(diff.to.username), new_n: diff.to.number,
  });
  $("diff-findings").replaceChildren(...runs(diff.findings));
  $("diff-impression").replaceChildren(...runs(diff.impression));
}

async function showHistory() {
  const versions = await rapi(`/api/reporting/reports/${editor.report.id}/versions`);
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

async function showThumbs() {
  const studies = editor.exam.studies || [];
  const chosen = new Set(editor.report.key_images.map((k) => k.sop_instance_uid));
  const boxes = [];
  for (const study of studies) {
    const instances = await rapi(`/dicom-web/studies/${encodeURIComponent(study)}/instances?limit=100`);
    for (const attrs of instances || []) {
      if (!isImage(attrs)) continue;
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
      box.disabled = !isDoctor;
      box.addEventListener("click", () => toggleKeyImage(box));
      boxes.push(box);
    }
  }
  $("thumbs").replaceChildren(...boxes);
  if (!boxes.length) $("thumbs").append(el("p", { className: "sub", textContent: t("reporting_ui.images.none") }));
}

async function toggleKeyImage(box) {
  box.classList.toggle("key");
  box.setAttribute("aria-pressed", String(box.classList.contains("key")));
  const images = [...$("thumbs").querySelectorAll(".rp-thumb.key")].map((b) => ({
    study_uid: b.dataset.study, series_uid: b.dataset.series, sop_instance_uid: b.dataset.sop,
  }));
  try {
    editor.report = await rapi(`/api/reporting/reports/${editor.report.id}/key-images`, { method: "PUT", json: images });
  } catch (error) {
    box.classList.toggle("key");
    showError($("error"), error);
  }
}

// -- critical value alerts of this report -----------------------------------------------------------

async function showAlerts() {
  const alerts = await rapi(`/api/reporting/critical-alerts?report_id=${editor.report.id}`);
  $("report-alerts").replaceChildren(
    ...alerts.map((a) => el("li", {}, el("strong", { textContent: a.description }),
      el("div", { className: "sub", textContent: t("reporting_ui.alerts.line", { name: personName(a.raised_by), at: when(a.raised_at), state: t("reporting_ui.alerts." + a.status) }) }))),
  );
  if (!alerts.length) $("report-alerts").append(el("li", { className: "sub", textContent: t("reporting_ui.alerts.none") }));
}

// -- steps ----------------------------------------------------------------------------------------

function askText(title, okKey) {
  const dialog = $("reason-dialog");
  $("reason-title").textContent = title;
  $("reason-text").value = "";
  $("reason-ok").textContent = t(okKey || "reporting_ui.dialog.ok");
  dialog.showModal();
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.close();
      $("reason-form").onsubmit = null;
      $("reason-cancel").onclick = null;
      resolve(value);
    };
    $("reason-form").onsubmit = (event) => {
      event.preventDefault();
      const value = $("reason-text").value.trim();
      if (value) done(value);
    };
    $("reason-cancel").onclick = () => done(null);
  });
}

async function step(action) {
  showError($("error"), null);
  const id = editor.report.id;
  let json;
  if (action === "reject" || action === "amend") {
    const reason = await askText(t("reporting_ui.dialog." + action));
    if (!reason) return;
    json = { reason };
  } else {
    await autosave();
    json = editor.editable ? content() : undefined;
  }
  try {
    editor.report = await rapi(`/api/reporting/reports/${id}/${action}`, { method: "POST", json });
    editor.dirty = false;
  } catch (error) {
    showError($("error"), error);
    return;
  }
  await openExam(editor.examId, editor.row);
  setSaveState(STEP_DONE[action]);
}

for (const action of Object.keys(STEP_DONE)) {
  $(action).addEventListener("click", () => step(action).catch((e) => showError($("error"), e)));
}

$("save").addEventListener("click", async () => {
  showError($("error"), null);
  try {
    await editor.saving;
    editor.report = await rapi(`/api/reporting/reports/${editor.report.id}/versions`, { method: "POST", json: content() });
    editor.dirty = false;
    setSaveState("reporting_ui.save.version", { n: editor.report.version });
    await Promise.all([showHistory(), showDiff()]);
  } catch (error) {
    showError($("error"), error);
  }
});

$("raise-critical").addEventListener("click", async () => {
  const description = await askText(t("reporting_ui.dialog.critical"), "reporting_ui.action.critical");
  if (!description) return;
  try {
    await rapi(`/api/reporting/reports/${editor.report.id}/critical`, { method: "POST", json: { description } });
    editor.report = await rapi(`/api/reporting/reports/${editor.report.id}`);
    await showReport();
    editor.onChange();
  } catch (error) {
    showError($("error"), error);
  }
});

$("save-template").addEventListener("click", async () => {
  const name = await askText(t("reporting_ui.dialog.template_name"));
  if (!name) return;
  try {
    await autosave();
    await rapi(`/api/reporting/reports/${editor.report.id}/template`, { method: "POST", json: { name } });
    await loadTemplates();
    setSaveState("reporting_ui.save.template", { name });
  } catch (error) {
    showError($("error"), error);
  }
});

// -- printing ----------------------------------------------------------------------------------

// Print the newest signed version: the server logs the print (Accept: application/json) and
// names its PDF, opened in a window of its own for the browser to print. A report printed
// before is a reprint: 403 without an administrator's grant, 400 until a reason is given.
async function printReport() {
  const status = $("print-status");
  status.classList.remove("error");
  status.replaceChildren();
  showError($("error"), null);
  const id = editor.report.id;
  let reason = "";
  for (;;) {
    // Opened now, inside the click (or the reason dialog's OK), so no pop-up blocker stops it.
    const target = window.open("", "_blank");
    status.textContent = t("reporting_print.working");
    try {
      const record = await rapi(`/api/reporting/reports/${id}/print`, { method: "POST", json: { copies: 1, reason } });
      if (target) target.location.href = record.pdf;
      status.replaceChildren(t(record.reprint ? "reporting_print.reprint_done" : "reporting_print.done"));
      if (!target) {
        status.append(" ", el("a", { href: record.pdf, target: "_blank", rel: "noopener", textContent: t("reporting_print.open_pdf") }));
      }
      return;
    } catch (error) {
      if (target) target.close();
      status.textContent = "";
      if (error.status === 400 && !reason) {
        reason = await askText(t("reporting_print.reason"), "reporting_print.reprint");
        if (!reason) return;
        continue;
      }
      status.textContent = error.status === 403 ? t("reporting_print.needs_permission") : errorText(error);
      status.classList.add("error");
      return;
    }
  }
}

$("print-report").addEventListener("click", () => printReport());

// -- flags and grades ------------------------------------------------------------------------------

async function putFlags(json) {
  showError($("error"), null);
  try {
    editor.report = await rapi(`/api/reporting/reports/${editor.report.id}/flags`, { method: "PUT", json });
    editor.onChange();
  } catch (error) {
    showError($("error"), error);
  }
}

$("flag-positive").addEventListener("change", () => putFlags({ positive: true }));
$("flag-negative").addEventListener("change", () => putFlags({ positive: false }));
$("flag-infectious").addEventListener("change", () => putFlags({ infectious: $("flag-infectious").checked }));
$("flag-teaching").addEventListener("change", () => {
  $("teaching-note").hidden = !$("flag-teaching").checked;
  putFlags({ teaching: $("flag-teaching").checked });
});
$("teaching-note").addEventListener("change", () => putFlags({ teaching_note: $("teaching-note").value }));

$("image-quality").addEventListener("change", async () => {
  if (!$("image-quality").value) return;
  try {
    await rapi(`/api/reporting/exams/${editor.examId}/image-quality`, { method: "PUT", json: { quality: $("image-quality").value } });
  } catch (error) {
    showError($("error"), error);
  }
});
$("report-quality").addEventListener("change", async () => {
  if (!$("report-quality").value) return;
  try {
    await rapi(`/api/reporting/reports/${editor.report.id}/report-quality`, { method: "PUT", json: { quality: $("report-quality").value } });
  } catch (error) {
    showError($("error"), error);
  }
});

// Pathology and clinical follow-up, compared with the report (符合 / 部分符合 / 不符合).
$("follow-up").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError($("error"), null);
  try {
    editor.report = await rapi(`/api/reporting/reports/${editor.report.id}/follow-up`, {
      method: "PUT",
      json: { pathology_result: $("pathology-result").value, clinical_outcome: $("clinical-outcome").value, agreement: $("agreement").value },
    });
    $("follow-up-state").textContent = t("reporting_ui.follow_up.saved");
  } catch (error) {
    showError($("error"), error);
  }
});

// -- side tabs ------------------------------------------------------------------------------------

for (const tab of document.querySelectorAll(".rp-tabs [data-tab]")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".rp-tabs [data-tab]")) other.setAttribute("aria-selected", String(other === tab));
    for (const panel of document.querySelectorAll(".rp-panel")) panel.hidden = panel.dataset.panel !== tab.dataset.tab;
  });
}
