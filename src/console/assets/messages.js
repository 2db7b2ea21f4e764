// The message log of an application (filtered by event type, channel,
// time, and an endpoint's delivery status) and one message: its payload and, per endpoint, its delivery
// status, every attempt, and Resend.
import { h, fill, field, pretty, toast, when } from "/console/dom.js";
import { get, post, all, enc } from "/console/api.js";
import { can, route } from "/console/console.js";
import { tabs } from "/console/endpoints.js";

export async function messagesScreen(main, appId) {
  const [app, types, eps] = await Promise.all([
    get(`/api/v1/app/${enc(appId)}`),
    all("/api/v1/event-type").catch(() => []),
    all(`/api/v1/app/${enc(appId)}/endpoint`).catch(() => []),
  ]);
  const type = h("select", {}, h("option", { value: "" }, "any"), types.map((t) => h("option", { value: t.name }, t.name)));
  // A delivery status belongs to an endpoint: the status filter lists that
  // endpoint's messages (GET …/endpoint/{ep}/msg?status=).
  const endpoint = h("select", {}, h("option", { value: "" }, "any"), eps.map((e) => h("option", { value: e.id }, e.url)));
  const status = h("select", {}, [["", "any"], ["0", "success"], ["1", "pending"], ["2", "fail"], ["3", "sending"]].map(([v, t]) => h("option", { value: v }, t)));
  const channel = h("input", { placeholder: "any" });
  const after = h("input", { type: "datetime-local" });
  const before = h("input", { type: "datetime-local" });
  const body = h("tbody");
  const more = h("div.row");
  let iterator = null;
  const load = async (reset) => {
    if (reset) { iterator = null; fill(body); }
    const q = new URLSearchParams({ limit: "50", with_content: "false" });
    if (type.value) q.set("event_types", type.value);
    if (channel.value.trim()) q.set("channel", channel.value.trim());
    if (after.value) q.set("after", new Date(after.value).toISOString());
    if (before.value) q.set("before", new Date(before.value).toISOString());
    if (iterator) q.set("iterator", iterator);
    if (status.value && !endpoint.value) { toast("Choose an endpoint to filter by delivery status.", true); return; }
    if (status.value) q.set("status", status.value);
    const page = endpoint.value
      ? await get(`/api/v1/app/${enc(appId)}/endpoint/${enc(endpoint.value)}/msg?${q}`)
      : await get(`/api/v1/app/${enc(appId)}/msg?${q}`);
    body.append(...page.data.map((m) => h("tr", {},
      h("td.mono", {}, h("a", { href: `#/app/${enc(appId)}/msg/${enc(m.id)}` }, m.id)),
      h("td", {}, m.eventType),
      h("td", {}, (m.channels || []).join(", ")),
      h("td", {}, when(m.timestamp)),
      h("td", { "data-status": m.statusText || null }, m.statusText || ""))));
    iterator = page.iterator;
    fill(more, page.done ? null : h("button", { type: "button", onclick: () => load(false) }, "Older messages"));
  };
  const filters = h("form.inline", { onsubmit: (e) => { e.preventDefault(); load(true).catch((err) => toast(err.message, true)); } },
    field("Event type", type), field("Endpoint", endpoint), field("Delivery status", status),
    field("Channel", channel), field("After", after), field("Before", before),
    h("button", { type: "submit" }, "Filter"));
  fill(main, h("h1", {}, app.name), tabs(appId, "messages"), filters,
    h("table", {}, h("thead", {}, h("tr", {}, ["Message", "Event type", "Channels", "Created", "Status"].map((t) => h("th", { scope: "col" }, t)))), body),
    more);
  await load(true);
}

export async function messageScreen(main, appId, msgId) {
  const [msg, dests, attempts] = await Promise.all([
    get(`/api/v1/app/${enc(appId)}/msg/${enc(msgId)}`),
    all(`/api/v1/app/${enc(appId)}/msg/${enc(msgId)}/endpoint`),
    all(`/api/v1/app/${enc(appId)}/attempt/msg/${enc(msgId)}`),
  ]);
  const perEndpoint = dests.map((d) => {
    const mine = attempts.filter((a) => a.endpointId === d.id);
    return h("section.card", { "data-endpoint": d.id },
      h("h2", {}, d.url),
      h("p", {}, "Delivery: ", h("strong", { "data-status": d.statusText }, d.statusText), d.nextAttempt ? ` · next attempt ${when(d.nextAttempt)}` : ""),
      can("CreateAttempts") ? h("button", { type: "button", onclick: async () => {
        try { await post(`/api/v1/app/${enc(appId)}/msg/${enc(msgId)}/endpoint/${enc(d.id)}/resend`, {}); toast("Resent"); setTimeout(route, 500); } catch (err) { toast(err.message, true); }
      } }, "Resend") : null,
      h("table", {}, h("thead", {}, h("tr", {}, ["When", "Status", "Error", "Code", "Duration", "Response"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, mine.map((a) => h("tr", {},
          h("td", {}, when(a.timestamp)),
          h("td", { "data-status": a.statusText }, a.statusText, a.triggerType === 1 ? " (manual)" : ""),
          h("td", { "data-error-kind": a.errorKind || "" }, a.errorKind ? a.errorKind.replace(/_/g, " ") : "—"),
          h("td", {}, String(a.responseStatusCode)),
          h("td", {}, `${a.responseDurationMs} ms`),
          h("td", {}, h("pre.excerpt", {}, a.response)))))));
  });
  fill(main,
    h("p", {}, h("a", { href: `#/app/${enc(appId)}/msg` }, "← Messages")),
    h("h1", {}, msg.eventType),
    h("p.mono", {}, msg.id, msg.eventId ? ` · eventId ${msg.eventId}` : "", ` · ${when(msg.timestamp)}`),
    h("h2", {}, "Payload"),
    h("pre.payload", {}, pretty(msg.payload)),
    h("h2", {}, "Deliveries"),
    dests.length ? perEndpoint : h("p", {}, "No endpoint takes this message."));
}
