// An application's endpoints: the table (state, success rate and last
// attempt over the last hour), the create/edit form with every field the
// API takes, the Active/Inactive toggle, Send test with the attempt shown
// inline, secret reveal and rotate.
import { h, fill, field, pretty, schemaExample, toast, when } from "/console/dom.js";
import { get, post, patch, put, del, all, enc } from "/console/api.js";
import { can, route } from "/console/console.js";

const HOUR_MS = 3600 * 1000;

function tabs(appId, current) {
  return h("nav.tabs", { "aria-label": "Application" },
    h("a", { href: `#/app/${enc(appId)}`, "aria-current": current === "endpoints" ? "page" : null }, "Endpoints"),
    h("a", { href: `#/app/${enc(appId)}/msg`, "aria-current": current === "messages" ? "page" : null }, "Messages"));
}
export { tabs };

async function health(appId, ep, cell, last) {
  const since = new Date(Date.now() - HOUR_MS).toISOString();
  try {
    const page = await get(`/api/v1/app/${enc(appId)}/attempt/endpoint/${enc(ep.id)}?limit=250&after=${enc(since)}`);
    const done = page.data.filter((a) => a.status === 0 || a.status === 2);
    const ok = done.filter((a) => a.status === 0).length;
    fill(cell, done.length ? `${Math.round((100 * ok) / done.length)}% of ${done.length}` : "no attempts");
    const newest = page.data[0];
    fill(last, newest ? `${when(newest.timestamp)} · ${newest.responseStatusCode || newest.statusText}` : "—");
  } catch { fill(cell, "?"); }
}

function headerLines(obj) {
  return Object.entries(obj || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
}

function parseHeaders(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf(":");
    if (at < 1) throw new Error(`header line "${line}" needs "name: value"`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function endpointForm(appId, types, ep, done) {
  const url = h("input", { type: "url", required: true, value: ep ? ep.url : "" });
  const description = h("input", { value: ep ? ep.description : "" });
  const method = h("select", {}, ["POST", "PUT", "PATCH"].map((m) => h("option", { value: m, selected: ep && ep.method === m }, m)));
  const chosen = new Set((ep && ep.filterTypes) || []);
  const typeBoxes = types.map((t) => h("input", { type: "checkbox", value: t.name, checked: chosen.has(t.name) }));
  const channels = h("input", { value: ((ep && ep.channels) || []).join(", "), placeholder: "eu, premium" });
  const headers = h("textarea", { rows: 3, placeholder: "x-team: billing" }, headerLines(ep && ep.headers));
  const extra = h("textarea", { rows: 3, placeholder: "{\"source\": \"ringhook\"}" }, ep && ep.extraJson ? JSON.stringify(ep.extraJson, null, 2) : "");
  const rate = h("input", { type: "number", min: 0, value: ep && ep.rateLimit != null ? ep.rateLimit : "" });
  const caCert = h("textarea", { rows: 3, placeholder: "-----BEGIN CERTIFICATE-----" }, ep && ep.caCert ? ep.caCert : "");
  // Never shown back: left empty, the stored ones stay; both filled replace them.
  const clientCert = h("textarea", { rows: 3, placeholder: ep && ep.hasClientCert ? "set (not shown); paste a new one to replace it" : "-----BEGIN CERTIFICATE-----" });
  const clientKey = h("textarea", { rows: 3, placeholder: "-----BEGIN PRIVATE KEY-----" });
  // May carry credentials, so never shown back: left empty, the stored one stays.
  const proxyUrl = h("input", { placeholder: ep && ep.hasProxy ? "set (not shown); type a new one to replace it" : "http://proxy.internal:3128 (empty: the engine's)" });
  // Fixed at creation: shown, not changed, when editing.
  const fifo = h("input", { type: "checkbox", checked: !!(ep && ep.fifo), disabled: !!ep });
  const topic = h("input", { value: ep && ep.eventTypeHeader ? ep.eventTypeHeader : "", placeholder: "x-alloy-topic" });
  // Only at creation: afterwards the key changes by rotation.
  const secret = ep ? null : h("input", { type: "password", autocomplete: "off", placeholder: "whsec_… or whsk_… (empty: generated)" });
  const form = h("form.card", {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = {
          url: url.value,
          description: description.value,
          method: method.value,
          filterTypes: typeBoxes.filter((b) => b.checked).map((b) => b.value),
          channels: channels.value.split(",").map((s) => s.trim()).filter(Boolean),
          extraJson: extra.value.trim() ? JSON.parse(extra.value) : null,
          rateLimit: rate.value === "" ? null : Number(rate.value),
          eventTypeHeader: topic.value.trim() || null,
        };
        if (secret && secret.value.trim()) body.secret = secret.value.trim();
        if (!ep && fifo.checked) body.fifo = true;
        body.caCert = caCert.value.trim() || null;
        if (proxyUrl.value.trim()) body.proxyUrl = proxyUrl.value.trim();
        if (clientCert.value.trim() || clientKey.value.trim()) {
          body.clientCert = clientCert.value.trim();
          body.clientKey = clientKey.value.trim();
        }
        if (!body.filterTypes.length) body.filterTypes = null;
        if (!body.channels.length) body.channels = null;
        const hdrs = parseHeaders(headers.value);
        if (ep) {
          await patch(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}`, body);
          const removed = Object.keys(ep.headers || {}).filter((k) => !(k in hdrs));
          await patch(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}/headers`, { headers: hdrs, deleteHeaders: removed });
        } else {
          body.headers = hdrs;
          await post(`/api/v1/app/${enc(appId)}/endpoint`, body);
        }
        toast(ep ? "Endpoint saved" : "Endpoint created");
        done();
      } catch (err) { toast(err.message, true); }
    },
  },
  h("h2", {}, ep ? "Edit endpoint" : "New endpoint"),
  field("URL", url),
  field("Description", description),
  field("HTTP method", method),
  h("fieldset", {}, h("legend", {}, "Event types (none chosen: all)"),
    types.length ? typeBoxes.map((b, i) => h("label.check", {}, b, types[i].name)) : h("small", {}, "No event types in the registry yet.")),
  field("Channels (comma-separated)", channels),
  field("Custom headers (one \"name: value\" per line)", headers, ep && ep.sensitiveHeaders && ep.sensitiveHeaders.length ? `Set but not shown: ${ep.sensitiveHeaders.join(", ")}` : null),
  field("Extra JSON merged into every body", extra),
  field("Rate limit (messages per second)", rate),
  field("Event type header (sends the event type in this header)", topic),
  field("CA certificates trusted instead of the engine's (PEM, https only)", caCert),
  field("Client certificate (PEM, for receivers that require one)", clientCert),
  field("Client key (PEM)", clientKey),
  field("Egress proxy (HTTP CONNECT)", proxyUrl),
  h("label.check", {}, fifo, "Deliver in order (FIFO: one at a time; a failing message holds back the rest; fixed at creation)"),
  secret ? field("Signing key (whsec_ for HMAC, whsk_ for ed25519)", secret) : null,
  h("div.row", {}, h("button", { type: "submit" }, ep ? "Save" : "Create endpoint"), h("button.link", { type: "button", onclick: done }, "Cancel")));
  return form;
}

async function sendTest(appId, ep, types, panel) {
  const names = types.map((t) => t.name);
  if (!names.includes("svix.ping")) names.unshift("svix.ping");
  const type = h("select", {}, names.map((n) => h("option", { value: n }, n)));
  const payload = h("textarea", { rows: 6 });
  const example = () => {
    const fromSchema = schemaExample(types.find((t) => t.name === type.value));
    payload.value = pretty(type.value === "svix.ping" ? { success: true } : fromSchema || { example: true, eventType: type.value });
  };
  type.addEventListener("change", example);
  example();
  const result = h("div.result", { "aria-live": "polite" });
  fill(panel, h("form.card", {
    onsubmit: async (e) => {
      e.preventDefault();
      fill(result, "Sending…");
      try {
        const msg = await post(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}/send-example`, { eventType: type.value, payload: JSON.parse(payload.value) });
        const deadline = Date.now() + 20000;
        for (;;) {
          const page = await get(`/api/v1/app/${enc(appId)}/attempt/msg/${enc(msg.id)}?endpoint_id=${enc(ep.id)}`);
          const a = page.data[0];
          if (a) {
            fill(result, h("dl.attempt", {},
              h("dt", {}, "Status"), h("dd", { "data-status": a.statusText }, a.statusText),
              h("dt", {}, "Error"), h("dd", { "data-error-kind": a.errorKind || "" }, a.errorKind ? a.errorKind.replace(/_/g, " ") : "none"),
              h("dt", {}, "Response code"), h("dd", {}, String(a.responseStatusCode)),
              h("dt", {}, "Duration"), h("dd", {}, `${a.responseDurationMs} ms`),
              h("dt", {}, "Response body"), h("dd", {}, h("pre", {}, a.response))));
            return;
          }
          if (Date.now() > deadline) { fill(result, "No attempt yet; see the message log."); return; }
          await new Promise((r) => setTimeout(r, 300));
        }
      } catch (err) { fill(result, h("p.error", {}, err.message)); }
    },
  }, h("h2", {}, `Send a test to ${ep.url}`), field("Event type", type), field("Payload (JSON)", payload),
  h("div.row", {}, h("button", { type: "submit" }, "Send"), h("button.link", { type: "button", onclick: () => fill(panel) }, "Close")), result));
}

async function secretPanel(appId, ep, panel) {
  const shown = h("code", {}, "••••••••");
  const newKey = h("input", { type: "password", autocomplete: "off", placeholder: "whsec_… or whsk_… (empty: generated)" });
  fill(panel, h("div.card", {}, h("h2", {}, "Signing secret"), h("p", {}, shown),
    h("small", {}, "An ed25519 (whsk_) key shows only its public half (whpk_), which receivers verify with."),
    can("ManageEndpointSecret") ? field("New key for the next rotation", newKey) : null,
    h("div.row", {},
      can("ViewEndpointSecret") ? h("button", { type: "button", onclick: async () => {
        try { fill(shown, (await get(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}/secret`)).key); } catch (err) { toast(err.message, true); }
      } }, "Reveal") : null,
      can("ManageEndpointSecret") ? h("button", { type: "button", onclick: async () => {
        if (!confirm("Rotate the secret? The old one keeps signing for 24 hours.")) return;
        const key = newKey.value.trim();
        try { fill(shown, (await post(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}/secret/rotate`, key ? { key } : {})).key); newKey.value = ""; toast("Secret rotated"); } catch (err) { toast(err.message, true); }
      } }, "Rotate") : null,
      h("button.link", { type: "button", onclick: () => fill(panel) }, "Close"))));
}

async function recoverPanel(appId, ep, panel) {
  const since = h("input", { type: "datetime-local", required: true });
  fill(panel, h("form.card", {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const task = await post(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}/recover`, { since: new Date(since.value).toISOString() });
        toast(`Recovering failed messages (task ${task.id})`);
        fill(panel);
      } catch (err) { toast(err.message, true); }
    },
  }, h("h2", {}, "Recover failed messages"), field("Failed since", since),
  h("div.row", {}, h("button", { type: "submit" }, "Recover"), h("button.link", { type: "button", onclick: () => fill(panel) }, "Close"))));
}

export async function appScreen(main, appId) {
  const [app, eps, types] = await Promise.all([
    get(`/api/v1/app/${enc(appId)}`),
    all(`/api/v1/app/${enc(appId)}/endpoint`),
    all("/api/v1/event-type").catch(() => []),
  ]);
  const panel = h("section.panel");
  const rows = eps.map((ep) => {
    const rate = h("td", {}, "…");
    const last = h("td", {}, "…");
    health(appId, ep, rate, last);
    const state = h("button", {
      type: "button",
      class: ep.disabled ? "state off" : "state on",
      "aria-pressed": String(!ep.disabled),
      disabled: !can("ManageEndpoint"),
      onclick: async () => {
        try { await patch(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}`, { disabled: !ep.disabled }); toast(ep.disabled ? "Endpoint active" : "Endpoint inactive"); route(); } catch (err) { toast(err.message, true); }
      },
    }, ep.disabled ? "Inactive" : "Active");
    return h("tr", { "data-endpoint": ep.id },
      h("td.url", {}, ep.url),
      h("td", {}, ep.description),
      h("td", {}, (ep.filterTypes || ["all"]).join(", ")),
      h("td", {}, state),
      rate, last,
      h("td.actions", {},
        can("ManageEndpoint") ? h("button", { type: "button", onclick: () => fill(panel, endpointForm(appId, types, ep, () => route())) }, "Edit") : null,
        can("CreateAttempts") ? h("button", { type: "button", onclick: () => sendTest(appId, ep, types, panel) }, "Send test") : null,
        can("CreateAttempts") ? h("button", { type: "button", onclick: () => recoverPanel(appId, ep, panel) }, "Recover") : null,
        can("ViewEndpointSecret") ? h("button", { type: "button", onclick: () => secretPanel(appId, ep, panel) }, "Secret") : null,
        can("ManageEndpoint") ? h("button.danger", { type: "button", onclick: async () => {
          if (!confirm(`Delete the endpoint ${ep.url}?`)) return;
          try { await del(`/api/v1/app/${enc(appId)}/endpoint/${enc(ep.id)}`); route(); } catch (err) { toast(err.message, true); }
        } }, "Delete") : null));
  });
  fill(main,
    h("h1", {}, app.name),
    h("p.mono", {}, app.id),
    tabs(appId, "endpoints"),
    can("ManageEndpoint") ? h("button", { type: "button", onclick: () => fill(panel, endpointForm(appId, types, null, () => route())) }, "New endpoint") : null,
    panel,
    h("table", {}, h("thead", {}, h("tr", {}, ["URL", "Description", "Event types", "State", "Success (1 h)", "Last attempt", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)),
    eps.length ? null : h("p", {}, "No endpoints yet."));
}

export { put };
