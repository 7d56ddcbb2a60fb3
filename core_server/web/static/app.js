// The shell's script on every page: the language switch and the user menu. Page scripts are
// ES modules on /static/shared/ (api, i18n, dates, dom, ws).
"use strict";

for (const button of document.querySelectorAll(".lang-switch [data-lang]")) {
  button.addEventListener("click", () => {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `lang=${button.dataset.lang}; Path=/; Max-Age=31536000; SameSite=Lax${secure}`;
    location.reload();
  });
}

// Close the user menu when clicking elsewhere.
document.addEventListener("click", (event) => {
  const menu = document.getElementById("user-menu");
  if (menu && menu.open && !menu.contains(event.target)) menu.open = false;
});
