// The system page: CPU, memory, disks and load now; the last day's samples as line charts
// (drawn here from /api/monitoring/system, nothing fetched from elsewhere); queues, devices
// and the alerts with their times in the hospital's zone. Refreshed every minute.
import { api, showError } from "/static/shared/api.js";
import { chart } from "/static/shared/charts.js";
import { hospitalTime, when } from "/static/shared/dates.js";
import { el } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

const POINTS = 144;  // the day in ten-minute means: 1,440 samples would be 1,440 dots a line
const errorBox = document.getElementById("error");
const status = document.getElementById("status");

const gib = (bytes) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

function card(label, value, more, high = false) {
  return el("div", { className: `sys-card${high ? " high" : ""}` },
    el("div", { className: "label", textContent: label }),
    el("div", { className: "value", textContent: value }),
    el("div", { className: "more", textContent: more }));
}

function drawNow(now) {
  const box = document.getElementById("now");
  if (!now) { box.replaceChildren(); return; }
  box.replaceChildren(
    card(t("monitoring.now.cpu"), `${now.cpu_percent.toFixed(0)}%`, t("monitoring.now.cpus", { cpus: now.cpus })),
    card(t("monitoring.now.memory"), `${now.memory_percent.toFixed(0)}%`,
      `${gib(now.memory_used_bytes)} / ${gib(now.memory_total_bytes)}`),
    card(t("monitoring.now.load"), now.load[0].toFixed(2), now.load.map((v) => v.toFixed(2)).join(" · ")),
    ...now.disks.map((d) => card(t(`monitoring.disk.${d.area}`), `${d.percent.toFixed(0)}%`,
      t("monitoring.now.disk_free", { free: gib(d.free_bytes), total: gib(d.total_bytes) }), d.percent >= 85)),
  );
}

// Means of consecutive groups so that a day is at most POINTS points.
function thin(times, series) {
  const size = Math.max(1, Math.ceil(times.length / POINTS));
  const labels = [];
  const out = series.map(() => []);
  for (let i = 0; i < times.length; i += size) {
    labels.push(hospitalTime(new Date(times[i])));
    series.forEach((values, k) => {
      const group = values.slice(i, i + size);
      out[k].push(Math.round((group.reduce((a, b) => a + b, 0) / group.length) * 10) / 10);
    });
  }
  return { labels, out };
}

function drawHistory(history) {
  const keys = ["cpu_percent", "memory_percent", "storage_percent", "data_percent"];
  const usage = thin(history.times, keys.map((k) => history[k]));
  chart(document.getElementById("usage-chart"), {
    kind: "line",
    labels: usage.labels,
    series: keys.map((k, i) => ({ name: t(`monitoring.series.${k}`), values: usage.out[i] })),
  });
  const load = thin(history.times, [history.load1]);
  chart(document.getElementById("load-chart"), {
    kind: "line",
    labels: load.labels,
    series: [{ name: t("monitoring.series.load1"), values: load.out[0] }],
  });
}

function drawAlerts(alerts) {
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren(...alerts.map((a) => el("tr", { className: a.cleared_at ? "cleared" : "open" },
    el("td", { textContent: t(`monitoring.kind.${a.kind}`) }),
    el("td", { textContent: a.text }),
    el("td", { textContent: when(a.raised_at) }),
    el("td", { textContent: a.cleared_at ? when(a.cleared_at) : t("monitoring.column.open") }))));
  document.getElementById("no-alerts").hidden = alerts.length > 0;
}

function drawQueues(queues) {
  document.querySelector("#queues tbody").replaceChildren(...queues.map((q) => el("tr", {},
    el("td", { textContent: t(`monitoring.queue.${q.name}`) }),
    el("td", { className: "num", textContent: String(q.counts.pending ?? 0) }),
    el("td", { className: "num", textContent: String(q.counts.dead ?? 0) }),
    el("td", { className: "num", textContent: t("monitoring.queue.minutes", { minutes: Math.floor(q.oldest_age_seconds / 60) }) }))));
}

function drawDevices(devices) {
  document.querySelector("#devices tbody").replaceChildren(...devices.map((d) => el("tr", {},
    el("td", { textContent: d.name }),
    el("td", { className: d.online ? "" : "offline", textContent: t(d.online ? "monitoring.device.online" : "monitoring.device.offline") }),
    el("td", { textContent: when(d.last_seen_at) }))));
}

async function load() {
  try {
    const data = await api("/api/monitoring/system");
    errorBox.hidden = true;
    document.getElementById("node").textContent = data.node;
    drawNow(data.now);
    drawHistory(data.history);
    drawAlerts(data.alerts);
    drawQueues(data.queues);
    drawDevices(data.devices);
    status.textContent = t("monitoring.system.updated", { time: hospitalTime() });
  } catch (err) {
    showError(errorBox, err);
  }
}

load();
setInterval(load, 60000);
