// Plain forms that post to the server (sign-in, password change): once sent, the submit
// button stays disabled until the answer page arrives, so a double click sends once.
for (const form of document.querySelectorAll("form[data-busy-form]")) {
  form.addEventListener("submit", () => {
    for (const button of form.querySelectorAll("button[type=submit]")) {
      // After this event: disabling first would leave the button's value out of the post.
      setTimeout(() => {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      });
    }
  });
}

// Back to this page from the browser's cache: the form may be sent again.
window.addEventListener("pageshow", () => {
  for (const button of document.querySelectorAll("form[data-busy-form] button[type=submit]")) {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
});
