// The label page prints itself once the barcode image is loaded; the button prints again.
const barcode = document.querySelector(".label-barcode");
document.getElementById("print").addEventListener("click", () => window.print());
if (barcode.complete) window.print();
else barcode.addEventListener("load", () => window.print(), { once: true });
