// The dashboard: the last hour of deliveries per second, failures by kind,
// end-to-end latency and backlog, from GET /api/v1/stats/dashboard (the
// engine's own samples; no external service). Charts are SVG built through
// the DOM. Below them: the longest endpoint backlogs of the hour and the
// notification rules that fire.
import { h, fill, when } from "/console/dom.js";
import { get, all, enc } from "/console/api.js";

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

/** The endpoints with the longest backlogs in the hour: most at any sample. */
function backlogs(d) {
  const most = new Map();
  for (const x of d.samples) {
    for (const [id, depth] of x.longestQueues) {
      const seen = most.get(id);
      if (!seen || depth > seen.depth) most.set(id, { depth, at: x.atMs });
    }
  }
  const last = d.samples.length ? d.samples[d.samples.length - 1].longestQueues : [];
  const now = new Map(last.map(([id, depth]) => [id, depth]));
  const rows = [...most.entries()].sort((a, b) => b[1].depth - a[1].depth).slice(0, 5);
  return h("section.card", {},
    h("h2", {}, "Longest endpoint backlogs (last hour)"),
    rows.length === 0 ? h("p", {}, "No endpoint had deliveries waiting.") :
      h("table", {}, h("thead", {}, h("tr", {}, ["Endpoint", "Most waiting", "When", "Now"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows.map(([id, m]) => {
          const ep = d.endpoints[id];
          return h("tr", { "data-backlog": id },
            h("td.url", {}, ep ? h("a", { href: `#/app/${enc(ep.appId)}` }, ep.url) : id),
            h("td", {}, String(m.depth)),
            h("td", {}, when(new Date(m.at).toISOString())),
            h("td", {}, String(now.get(id) || 0)));
        }))));
}

/** The notification rules that fire now. */
function firing(rules) {
  const on = rules.filter((r) => r.state.status === "firing");
  return h("section.card", {},
    h("h2", {}, "Rules firing"),
    rules.length === 0 ? h("p", {}, "No rules yet: ", h("a", { href: "#/rules" }, "create one"), ".") :
      on.length === 0 ? h("p", {}, `None of ${rules.length} rules fires.`) :
        h("ul", {}, on.map((r) => h("li", { "data-firing": r.id },
          h("a", { href: "#/rules" }, r.name), ` — ${r.signal} ${r.comparison} ${r.threshold}: ${r.state.value} since ${when(r.state.since)}`))));
}

export async function dashboardScreen(main) {
  const [d, rules] = await Promise.all([get("/api/v1/stats/dashboard"), all("/api/v1/rule")]);
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
      ])),
    firing(rules),
    backlogs(d));
  clearTimeout(dashboardScreen.timer);
  dashboardScreen.timer = setTimeout(() => {
    if (location.hash.startsWith("#/dashboard")) dashboardScreen(main).catch(() => {});
  }, Math.max(2000, d.sampleMs));
}
