// Build an element: el("td", {className: "x"}, "text", child, ...). Text is never HTML.
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// The page's data block (<script type="application/json" id="page-data">), or {}.
export function pageData() {
  const block = document.getElementById("page-data");
  return block ? JSON.parse(block.textContent) : {};
}
