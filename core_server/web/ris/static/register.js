// Registration desk: find or type the patient (its pinyin shown and correctable), choose exam
// items, register; then print each exam's barcode label and attach the scanned request form.
// Buttons stay disabled while their request runs; what the browser can check (ID card check
// digit, birth date) is checked before anything is sent; a likely duplicate patient and a
// check-in on another day than the booked one are asked about first.
import { api, busy, showError } from "/static/shared/api.js";
import { hospitalDate, hospitalTime, when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { birthDateProblem, parseIdCard } from "/static/ris/common.js";

const form = document.getElementById("registration");
const errorBox = document.getElementById("error");
const modalitySelect = document.getElementById("modality");
const roomSelect = document.getElementById("room");
const slotDay = document.getElementById("slot_day");
const slotSelect = document.getElementById("slot");
const submitButton = document.getElementById("submit");
const pinyinInput = form.elements.name_pinyin;
const duplicatesBox = document.getElementById("duplicates");
const PATIENT_FIELDS = ["patient_id", "name", "name_pinyin", "id_card_number", "birth_date", "sex", "phone", "address"];
const ORDER_FIELDS = ["placer_order_number", "referring_physician", "referring_department", "clinical_info"];
const fail = (error) => showError(errorBox, error);

async function loadCatalogue() {
  const modality = modalitySelect.value;
  const [items, rooms] = await Promise.all([
    api("/api/ris/procedures?modality=" + encodeURIComponent(modality)),
    api("/api/ris/rooms?modality=" + encodeURIComponent(modality)),
  ]);
  document.getElementById("procedures").replaceChildren(
    ...items.map((item) =>
      el("label", { className: "checkbox" },
        el("input", { type: "checkbox", name: "procedure", value: item.code }),
        `${item.name_zh} (${item.code})`)),
  );
  roomSelect.replaceChildren(
    el("option", { value: "", textContent: t("ris.register.any_room") }),
    ...rooms.map((room) => el("option", { value: room.code, textContent: room.name })),
  );
  await loadSlots();
}

// -- the patient ---------------------------------------------------------------------------

// A found patient fills the form as a person reads the name (王建国, not 王^建国); the server
// keeps the name's components when it reads the same.
function fill(patient) {
  for (const name of PATIENT_FIELDS) form.elements[name].value = patient ? patient[name] || "" : "";
  if (patient) {
    form.elements.name.value = patient.display_name || patient.name;
    pinyinInput.value = patient.pinyin_display || "";
  }
  delete pinyinInput.dataset.edited;
  document.getElementById("card-check").textContent = "";
}

let searchTimer = null;
document.getElementById("find").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  const text = event.target.value.trim();
  searchTimer = setTimeout(async () => {
    const list = document.getElementById("matches");
    if (!text) return list.replaceChildren();
    try {
      const found = await api("/api/ris/patients?text=" + encodeURIComponent(text));
      list.replaceChildren(...found.map((p) => el("li", {}, patientButton(p))));
    } catch (error) {
      fail(error);
    }
  }, 250);
});

function patientButton(patient) {
  const text = [patient.display_name, patient.pinyin_display, patient.patient_id, patient.birth_date || ""];
  const button = el("button", { type: "button", className: "secondary match", textContent: text.filter(Boolean).join(" · ") });
  button.addEventListener("click", () => {
    fill(patient);
    duplicatesBox.hidden = true;
  });
  return button;
}

// The pinyin follows the name as it is typed, until the registrar corrects it by hand.
let pinyinTimer = null;
form.elements.name.addEventListener("input", () => {
  clearTimeout(pinyinTimer);
  if (pinyinInput.dataset.edited) return;
  const name = form.elements.name.value.trim();
  if (!name) return (pinyinInput.value = "");
  pinyinTimer = setTimeout(async () => {
    try {
      const forms = await api("/api/ris/names/pinyin?name=" + encodeURIComponent(name));
      if (!pinyinInput.dataset.edited && form.elements.name.value.trim() === name) {
        pinyinInput.value = forms.pinyin_display || forms.name_pinyin.replace(/\^/g, " ");
      }
    } catch (error) {
      fail(error);
    }
  }, 200);
});
pinyinInput.addEventListener("input", () => {
  if (pinyinInput.value.trim()) pinyinInput.dataset.edited = "1";
  else delete pinyinInput.dataset.edited;
});

form.elements.id_card_number.addEventListener("input", (event) => {
  const value = event.target.value.trim();
  const check = document.getElementById("card-check");
  if (value.length < 18) return (check.textContent = "");
  const card = parseIdCard(value);
  check.textContent = card ? "" : t("ris.register.card_invalid");
  if (card) {
    form.elements.birth_date.value = card.birth;
    form.elements.sex.value = card.sex;
  }
});

// What the browser can tell before the server: a catalogue key, or "".
function patientProblem(patient) {
  if (!patient.patient_id) return "ris.register.patient_id_required";
  if (!patient.name) return "ris.register.name_required";
  if (patient.name_pinyin && !/^[A-Za-z^ '-]*$/.test(patient.name_pinyin)) return "ris.register.pinyin_letters";
  if (patient.id_card_number) {
    const card = parseIdCard(patient.id_card_number);
    if (!card) return "ris.register.card_invalid";
    if (patient.birth_date && patient.birth_date !== card.birth) return "ris.register.card_birth_date";
  }
  return birthDateProblem(patient.birth_date);
}

// -- the new patient button: a clean form, patient and order --------------------------------

document.getElementById("new-patient").addEventListener("click", () => {
  fill(null);
  for (const name of ORDER_FIELDS) form.elements[name].value = "";
  for (const box of form.querySelectorAll("input[name=procedure]")) box.checked = false;
  form.elements.emergency.checked = false;
  form.elements.bedside.checked = false;
  form.elements.arrived.checked = true;
  roomSelect.value = "";
  slotDay.value = hospitalDate();
  duplicatesBox.hidden = true;
  document.getElementById("result").hidden = true;
  document.querySelector("#exams tbody").replaceChildren();
  document.getElementById("find").value = "";
  document.getElementById("matches").replaceChildren();
  showError(errorBox, null);
  loadSlots().catch(fail);
  form.elements.patient_id.focus();
});

modalitySelect.addEventListener("change", () => loadCatalogue().catch(fail));

// -- slots ---------------------------------------------------------------------------------

// A slot's value is its start as the hospital's wall clock (2026-12-09T09:00:00): the server
// reads a time without an offset as hospital time.
function wallClock(iso) {
  const at = new Date(iso);
  return `${hospitalDate(at)}T${hospitalTime(at)}:00`;
}

// Only the newest request's answer is shown: an older one answering late (the day changed twice,
// or a booking meanwhile) would bring back a slot that is taken.
let slotsAsked = 0;
async function loadSlots() {
  const asked = ++slotsAsked;
  const options = [el("option", { value: "", textContent: t("ris.register.no_slot") })];
  if (roomSelect.value && slotDay.value) {
    const slots = await api(`/api/ris/rooms/${encodeURIComponent(roomSelect.value)}/slots?day=${slotDay.value}`);
    if (asked !== slotsAsked) return;
    for (const slot of slots.filter((s) => s.free > 0)) {
      const time = hospitalTime(new Date(slot.start));
      options.push(el("option", { value: wallClock(slot.start), textContent: t("ris.register.slot_free", { time, free: slot.free }) }));
    }
  }
  slotSelect.replaceChildren(...options);
}
roomSelect.addEventListener("change", () => loadSlots().catch(fail));
slotDay.addEventListener("change", () => loadSlots().catch(fail));
slotDay.value = hospitalDate();

// -- the registered exams ------------------------------------------------------------------

function resultRow(exam) {
  const label = el("img", { src: `/api/ris/exams/${exam.id}/barcode.svg`, alt: exam.accession_number, className: "barcode" });
  const print = el("button", { type: "button", className: "secondary", textContent: t("ris.register.print") });
  print.addEventListener("click", () => window.open(`/ris/exams/${exam.id}/label`, "_blank"));
  const file = el("input", { type: "file", accept: "application/pdf,image/jpeg,image/png,image/tiff" });
  const upload = el("label", { className: "button secondary" }, t("ris.register.upload"), file);
  file.addEventListener("change", async () => {
    const body = new FormData();
    body.append("file", file.files[0]);
    file.disabled = true;
    try {
      await api(`/api/ris/exams/${exam.id}/requisitions`, { method: "POST", body });
      upload.replaceWith(el("span", { className: "notice", textContent: t("ris.register.uploaded") }));
    } catch (error) {
      fail(error);
    } finally {
      file.disabled = false;
    }
  });
  return el("tr", { className: "exam" },
    el("td", {}, label, el("div", { textContent: exam.accession_number })),
    el("td", { textContent: exam.procedure_name }),
    el("td", { textContent: when(exam.scheduled_at, { short: true }) }),
    el("td", {}, print),
    el("td", {}, upload));
}

// Check-in; an exam booked for another day is checked in only when the registrar says so.
async function checkIn(exam) {
  const path = `/api/ris/exams/${exam.id}/check-in`;
  try {
    return await api(path, { method: "POST" });
  } catch (error) {
    if (error.code !== "ris.exam.check_in_other_day" || !window.confirm(error.message)) throw error;
    return api(path, { method: "POST", json: { confirm_other_day: true } });
  }
}

// Appointment and arrival after the order: a full slot or a refused step is shown, the
// registration itself stands.
async function bookOrArrive(exams, slot) {
  for (const exam of exams) {
    try {
      if (slot) {
        const booked = await api(`/api/ris/exams/${exam.id}/booking`, { method: "POST", json: { room: roomSelect.value, start: slot } });
        exam.scheduled_at = booked.start;
      } else if (form.elements.arrived.checked) {
        await checkIn(exam);
      }
    } catch (error) {
      fail(error);
    }
  }
}

function orderBody(confirmDuplicate) {
  const patient = { confirm_duplicate: confirmDuplicate };
  for (const name of PATIENT_FIELDS) patient[name] = form.elements[name].value.trim();
  if (!patient.birth_date) delete patient.birth_date;
  const codes = [...form.querySelectorAll("input[name=procedure]:checked")].map((box) => box.value);
  return {
    patient,
    placer_order_number: form.elements.placer_order_number.value.trim() || `REG-${Date.now()}`,
    referring_physician: form.elements.referring_physician.value.trim(),
    referring_department: form.elements.referring_department.value.trim(),
    clinical_info: form.elements.clinical_info.value.trim(),
    emergency: form.elements.emergency.checked,
    bedside: form.elements.bedside.checked,
    procedures: codes.map((code) => ({ procedure_code: code, room: roomSelect.value })),
  };
}

// The server found patients that are likely this one: show them; the registrar picks one
// (the form takes it) or registers a new patient anyway.
function askAboutDuplicates(error) {
  document.getElementById("duplicates-message").textContent = error.message;
  const candidates = error.values.candidates || [];
  document.getElementById("duplicate-list").replaceChildren(...candidates.map((p) => el("li", {}, patientButton(p))));
  duplicatesBox.hidden = false;
}

async function register(confirmDuplicate) {
  showError(errorBox, null);
  const body = orderBody(confirmDuplicate);
  const problem = patientProblem(body.patient);
  if (problem) return fail(new Error(t(problem)));
  if (!body.procedures.length) return fail(new Error(t("ris.register.choose_procedure")));
  const slot = slotSelect.value;
  let order;
  try {
    order = await api("/api/ris/orders", { method: "POST", json: body });
  } catch (error) {
    if (error.code === "ris.patient.likely_duplicate") return askAboutDuplicates(error);
    return fail(error);
  }
  duplicatesBox.hidden = true;
  await bookOrArrive(order.exams, slot);
  loadSlots().catch(fail);
  document.getElementById("done").textContent = t("ris.register.done", { count: order.exams.length });
  document.querySelector("#exams tbody").replaceChildren(...order.exams.map(resultRow));
  document.getElementById("result").hidden = false;
  form.elements.placer_order_number.value = "";
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(submitButton, () => register(false)).catch(fail);
});
const anyway = document.getElementById("register-anyway");
anyway.addEventListener("click", () => busy(anyway, () => busy(submitButton, () => register(true))).catch(fail));

loadCatalogue().catch(fail);
