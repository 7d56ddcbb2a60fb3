// Registration desk: find or type the patient, choose exam items, register; then print each
// exam's barcode label and attach the scanned request form.
"use strict";

const form = document.getElementById("registration");
const errorBox = document.getElementById("error");
const modalitySelect = document.getElementById("modality");
const roomSelect = document.getElementById("room");
const PATIENT_FIELDS = ["patient_id", "name", "id_card_number", "birth_date", "sex", "phone", "address"];

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
}

function fill(patient) {
  for (const name of PATIENT_FIELDS) form.elements[name].value = patient ? patient[name] || "" : "";
}

let searchTimer = null;
document.getElementById("find").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  const text = event.target.value.trim();
  searchTimer = setTimeout(async () => {
    const list = document.getElementById("matches");
    if (!text) return list.replaceChildren();
    const found = await api("/api/ris/patients?text=" + encodeURIComponent(text));
    list.replaceChildren(...found.map((p) => {
      const button = el("button", { type: "button", className: "secondary match",
        textContent: `${p.name} · ${p.name_pinyin} · ${p.patient_id} · ${p.birth_date || ""}` });
      button.addEventListener("click", () => fill(p));
      return el("li", {}, button);
    }));
  }, 250);
});

document.getElementById("new-patient").addEventListener("click", () => fill(null));

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

modalitySelect.addEventListener("change", () => loadCatalogue().catch((e) => showError(errorBox, e)));

// The free slots of the chosen room and day.
const slotDay = document.getElementById("slot_day");
const slotSelect = document.getElementById("slot");
async function loadSlots() {
  const options = [el("option", { value: "", textContent: t("ris.register.no_slot") })];
  if (roomSelect.value && slotDay.value) {
    const slots = await api(`/api/ris/rooms/${encodeURIComponent(roomSelect.value)}/slots?day=${slotDay.value}`);
    for (const slot of slots.filter((s) => s.free > 0)) {
      options.push(el("option", { value: slot.start, textContent: t("ris.register.slot_free", { time: slot.start.slice(11, 16), free: slot.free }) }));
    }
  }
  slotSelect.replaceChildren(...options);
}
roomSelect.addEventListener("change", () => loadSlots().catch((e) => showError(errorBox, e)));
slotDay.addEventListener("change", () => loadSlots().catch((e) => showError(errorBox, e)));
slotDay.value = new Date().toLocaleDateString("sv");

function resultRow(exam) {
  const label = el("img", { src: `/api/ris/exams/${exam.id}/barcode.svg`, alt: exam.accession_number, className: "barcode" });
  const print = el("button", { type: "button", className: "secondary", textContent: t("ris.register.print") });
  print.addEventListener("click", () => window.open(`/ris/exams/${exam.id}/label`, "_blank"));
  const file = el("input", { type: "file", accept: "application/pdf,image/jpeg,image/png,image/tiff" });
  const upload = el("label", { className: "button secondary" }, t("ris.register.upload"), file);
  file.addEventListener("change", async () => {
    const body = new FormData();
    body.append("file", file.files[0]);
    try {
      await api(`/api/ris/exams/${exam.id}/requisitions`, { method: "POST", body });
      upload.replaceWith(el("span", { className: "notice", textContent: t("ris.register.uploaded") }));
    } catch (error) {
      showError(errorBox, error);
    }
  });
  return el("tr", { className: "exam" },
    el("td", {}, label, el("div", { textContent: exam.accession_number })),
    el("td", { textContent: exam.procedure_name }),
    el("td", { textContent: when(exam.scheduled_at) }),
    el("td", {}, print),
    el("td", {}, upload));
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(errorBox, null);
  const codes = [...form.querySelectorAll("input[name=procedure]:checked")].map((box) => box.value);
  if (!codes.length) return showError(errorBox, new Error(t("ris.register.choose_procedure")));
  const patient = {};
  for (const name of PATIENT_FIELDS) patient[name] = form.elements[name].value.trim();
  if (!patient.birth_date) delete patient.birth_date;
  const slot = slotSelect.value;
  const body = {
    patient,
    placer_order_number: form.elements.placer_order_number.value.trim() || `REG-${Date.now()}`,
    referring_physician: form.elements.referring_physician.value.trim(),
    referring_department: form.elements.referring_department.value.trim(),
    clinical_info: form.elements.clinical_info.value.trim(),
    emergency: form.elements.emergency.checked,
    bedside: form.elements.bedside.checked,
    procedures: codes.map((code) => ({ procedure_code: code, room: roomSelect.value })),
  };
  try {
    const order = await api("/api/ris/orders", { method: "POST", json: body });
    // Appointment and arrival after the order: a full slot or a refused step is shown, the
    // registration itself stands.
    for (const exam of order.exams) {
      try {
        if (slot) {
          await api(`/api/ris/exams/${exam.id}/booking`, { method: "POST", json: { room: roomSelect.value, start: slot } });
          exam.scheduled_at = slot;
        } else if (form.elements.arrived.checked) {
          await api(`/api/ris/exams/${exam.id}/check-in`, { method: "POST" });
        }
      } catch (error) {
        showError(errorBox, error);
      }
    }
    loadSlots().catch((e) => showError(errorBox, e));
    document.getElementById("done").textContent = t("ris.register.done", { count: order.exams.length });
    document.querySelector("#exams tbody").replaceChildren(...order.exams.map(resultRow));
    document.getElementById("result").hidden = false;
    form.elements.placer_order_number.value = "";
  } catch (error) {
    showError(errorBox, error);
  }
});

loadCatalogue().catch((e) => showError(errorBox, e));
