// What the RIS pages share: status names, dates, the ID card check digit (GB 11643), errors.
"use strict";

function statusText(status) {
  return t("ris.status." + status);
}

// "2026-11-29T08:30:00" -> "08:30" (or the date too when it is not today).
function when(value) {
  if (!value) return "";
  const [day, time] = value.split("T");
  const today = new Date().toLocaleDateString("sv");
  return (day === today ? "" : day + " ") + (time || "").slice(0, 5);
}

const CARD_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

// The card's birth date and sex, or null when the number is not a valid 18-digit card.
function parseIdCard(value) {
  const number = value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(number)) return null;
  const sum = CARD_WEIGHTS.reduce((acc, w, i) => acc + w * Number(number[i]), 0);
  if ("10X98765432"[sum % 11] !== number[17]) return null;
  const birth = `${number.slice(6, 10)}-${number.slice(10, 12)}-${number.slice(12, 14)}`;
  if (Number.isNaN(Date.parse(birth))) return null;
  return { birth, sex: Number(number[16]) % 2 ? "M" : "F" };
}

function showError(node, error) {
  node.textContent = error ? error.message || String(error) : "";
  node.hidden = !error;
}
