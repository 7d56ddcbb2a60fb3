// The page's texts: the catalogue block the layout writes (keys chosen by the page's
// i18n_prefixes), with {name} placeholders filled in. Scripts hold no user-facing strings.
const TEXTS = JSON.parse(document.getElementById("i18n-texts")?.textContent || "{}");

export const LANG = document.documentElement.lang.startsWith("zh") ? "zh" : "en";

export function t(key, values = {}) {
  const text = TEXTS[key];
  if (text === undefined) {
    console.error("missing message", key);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
}
