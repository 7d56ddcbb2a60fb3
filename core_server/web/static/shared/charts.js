// Bar and line charts as inline SVG, drawn in the browser from a figure's rows: no library,
// nothing fetched from elsewhere (the pages' Content-Security-Policy allows none).
//   chart(container, { kind: "bar" | "line", labels: [...], series: [{ name, values }] })
// A missing value (null) leaves a gap. Each bar and point carries a <title> (its value).
const NS = "http://www.w3.org/2000/svg";
const COLOURS = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2"];
const W = 720, H = 260, LEFT = 48, RIGHT = 12, TOP = 12, BOTTOM = 56;

function node(tag, attrs = {}, text = "") {
  const element = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  if (text) element.textContent = text;
  return element;
}

// A round top for the axis: 1, 2 or 5 times a power of ten, at or above the largest value.
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value);
}

export function chart(container, { kind, labels, series }) {
  const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: `chart chart-${kind}`, role: "img" });
  const values = series.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const top = niceMax(Math.max(0, ...values));
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
  const y = (v) => TOP + plotH - (v / top) * plotH;
  for (let i = 0; i <= 4; i += 1) {  // grid lines and the value axis
    const v = (top * i) / 4;
    svg.append(node("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(node("text", { x: LEFT - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" },
      String(Math.round(v * 10) / 10)));
  }
  const step = plotW / Math.max(labels.length, 1);
  const every = Math.ceil(labels.length / 16);  // at most 16 labels under the axis
  labels.forEach((label, i) => {
    if (i % every) return;
    const x = LEFT + step * (i + 0.5);
    svg.append(node("text", { x, y: H - BOTTOM + 16, "text-anchor": "middle", class: "tick" },
      String(label).slice(-10)));
  });
  series.forEach((s, k) => {
    const colour = COLOURS[k % COLOURS.length];
    if (kind === "bar") {
      const width = (step * 0.8) / series.length;
      s.values.forEach((v, i) => {
        if (typeof v !== "number") return;
        const bar = node("rect", { x: LEFT + step * i + step * 0.1 + width * k, y: y(v),
          width: Math.max(width - 1, 1), height: TOP + plotH - y(v), fill: colour, class: "bar" });
        bar.append(node("title", {}, `${labels[i]} · ${s.name}: ${v}`));
        svg.append(bar);
      });
    } else {
      const points = s.values.map((v, i) => (typeof v === "number" ? [LEFT + step * (i + 0.5), y(v)] : null));
      const path = points.reduce((d, p, i) => (p ? d + `${d && points[i - 1] ? "L" : "M"}${p[0]},${p[1]} ` : d), "");
      svg.append(node("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2, class: "line" }));
      points.forEach((p, i) => {
        if (!p) return;
        const dot = node("circle", { cx: p[0], cy: p[1], r: 3, fill: colour, class: "point" });
        dot.append(node("title", {}, `${labels[i]} · ${s.name}: ${s.values[i]}`));
        svg.append(dot);
      });
    }
    const lx = LEFT + k * 140;  // the legend, under the labels
    svg.append(node("rect", { x: lx, y: H - 18, width: 12, height: 12, fill: colour }));
    svg.append(node("text", { x: lx + 16, y: H - 8, class: "legend" }, s.name));
  });
  container.replaceChildren(svg);
  return svg;
}
