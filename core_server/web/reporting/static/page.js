// What the reporting pages share: the page's data block, element lookup, people's names.
import { pageData } from "/static/shared/dom.js";

export const PAGE = pageData();

export const $ = (id) => document.getElementById(id);

// A person's display name (张医生) when the page knows it, else the login name.
export function personName(username) {
  if (!username) return "";
  return (PAGE.names && PAGE.names[username]) || username;
}
