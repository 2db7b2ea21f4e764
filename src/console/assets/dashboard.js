// The dashboard: the last hour of deliveries per second, failures by kind,
// end-to-end latency and backlog, from GET /api/v1/stats/dashboard (the
// engine's own samples; no external service). Charts are SVG built through
// the DOM; the latest values are also in a table.
import { h, fill } from "/console/dom.js";
import { get } from "/console/api.js";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2450c7", "#b3261e", "#1a7f37", "#8a5cf5", "#c77d24", "#0f7c86", "#5b6475"];

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** A line chart of `series` ([{name, values}]) over `times` (ms). */
function chart(title, unit, times, series) {
  const W = 560, H = 160, P = 30;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const t0 = times[0] || 0, t1 = times[times.length - 1] || 1;
  const x = (t) => P + ((t - t0) / Math.max(1, t1 - t0)) * (W - P - 8);
  const y = (v) => H - P + 4 - (v / max) * (H - P - 8);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}, last hour` , class: "chart" });
  root.append(svg("line", { x1: P, y1: H - P + 4, x2: W - 8, y2: H - P + 4, stroke: "#d9dde5" }));
  const label = svg("text", { x: 2, y: 12, "font-size": 11, fill: "#5b6475" });
  label.textContent = `${Number(max.toPrecision(3))} ${unit}`;
  root.append(label);
  const span = svg("text", { x: P, y: H - 6, "font-size": 11, fill: "#5b6475" });
  span.textContent = times.length ? `${Math.round((t1 - t0) / 60000)} min` : "no samples yet";
  root.append(span);
  series.forEach((s, i) => {
    if (!s.values.length) return;
    root.append(svg("polyline", {
      fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2,
      points: s.values.map((v, j) => `${x(times[j]).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
    }));
  });
  const legend = h("ul.legend", {}, series.map((s, i) => h("li", { "data-color": i % COLORS.length }, `${s.name}: ${Number((s.values[s.values.length - 1] || 0).toPrecision(4))}`)));
  return h("figure.card", {}, h("figcaption", {}, title), root, legend);
}

export async function dashboardScreen(main) {
  const d = await get("/api/v1/stats/dashboard");
  const s = d.samples;
  const times = s.map((x) => x.atMs);
  const perSec = (f) => s.map((x) => (f(x) * 1000) / Math.max(1, x.intervalMs));
  const kinds = d.errorKinds
    .map((name, i) => ({ name, values: perSec((x) => x.errors[i] || 0) }))
    .filter((k) => k.values.some((v) => v > 0))
    .slice(0, 6);
  fill(main,
    h("h1", {}, "Dashboard"),
    h("p", {}, `The last hour, sampled every ${d.sampleMs / 1000} s.`),
    h("div.charts", {},
      chart("Deliveries per second", "/s", times, [
        { name: "delivered", values: perSec((x) => x.delivered) },
        { name: "accepted", values: perSec((x) => x.messages) },
      ]),
      chart("Failed attempts per second", "/s", times, [{ name: "all", values: perSec((x) => x.failedAttempts) }, ...kinds]),
      chart("End-to-end latency", "ms", times, [
        { name: "p50", values: s.map((x) => x.e2eP50Us / 1000) },
        { name: "p99", values: s.map((x) => x.e2eP99Us / 1000) },
      ]),
      chart("Backlog", "", times, [
        { name: "pending deliveries", values: s.map((x) => x.pending) },
        { name: "deepest endpoint queue", values: s.map((x) => x.deepestQueue) },
      ])));
  clearTimeout(dashboardScreen.timer);
  dashboardScreen.timer = setTimeout(() => {
    if (location.hash.startsWith("#/dashboard")) dashboardScreen(main).catch(() => {});
  }, Math.max(2000, d.sampleMs));
}
