// The event-type registry and incoming sources: create, archive or delete,
// the receive URL to copy, and a source's request log.
import { h, fill, field, pretty, schemaExample, toast, when } from "/console/dom.js";
import { get, post, del, all, enc } from "/console/api.js";
import { route } from "/console/console.js";

export async function eventTypesScreen(main) {
  const types = await all("/api/v1/event-type?include_archived=true");
  const name = h("input", { required: true, pattern: "[a-zA-Z0-9\\-_.]+" });
  const description = h("input");
  const schema = h("textarea", { rows: 4, placeholder: '{"type": "object", "examples": [{"orderId": "o_1"}]}' });
  const form = h("form.inline", {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { name: name.value, description: description.value };
        if (schema.value.trim()) body.schemas = { 1: JSON.parse(schema.value) };
        await post("/api/v1/event-type", body);
        toast("Event type created");
        route();
      } catch (err) { toast(err.message, true); }
    },
  }, field("Name", name), field("Description", description), field("JSON Schema (optional; its first example is the test payload)", schema), h("button", { type: "submit" }, "Create event type"));
  fill(main, h("h1", {}, "Event types"), h("div.card", {}, form),
    h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Description", "Example", "State", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, types.map((t) => h("tr", {},
        h("td.mono", {}, t.name, t.deprecated ? " (deprecated)" : ""),
        h("td", {}, t.description),
        h("td", {}, schemaExample(t) ? h("pre.excerpt", {}, pretty(schemaExample(t))) : "—"),
        h("td", {}, t.archived ? "archived" : "active"),
        h("td", {}, t.archived ? null : h("button", { type: "button", onclick: async () => {
          try { await del(`/api/v1/event-type/${enc(t.name)}`); route(); } catch (err) { toast(err.message, true); }
        } }, "Archive")))))));
}

const TYPES = ["generic-webhook", "github", "stripe", "shopify", "slack", "svix", "cron"];

export async function sourcesScreen(main) {
  const sources = await all("/ingest/api/v1/source");
  const name = h("input", { required: true });
  const type = h("select", {}, TYPES.map((t) => h("option", { value: t }, t)));
  const secret = h("input", { type: "password", autocomplete: "off" });
  const form = h("form.inline", {
    onsubmit: async (e) => {
      e.preventDefault();
      const config = {};
      if (type.value === "cron") { config.schedule = "*/5 * * * *"; config.payload = "{}"; }
      else if (type.value === "generic-webhook") { if (secret.value) config.verify = { kind: "header", name: "x-webhook-token", value: secret.value }; }
      else if (secret.value) config.secret = secret.value;
      try { const s = await post("/ingest/api/v1/source", { name: name.value, type: type.value, config }); toast("Source created"); location.hash = `#/sources/${enc(s.id)}`; } catch (err) { toast(err.message, true); }
    },
  }, field("Name", name), field("Type", type), field("Secret (the provider's signing secret)", secret), h("button", { type: "submit" }, "Create source"));
  fill(main, h("h1", {}, "Incoming sources"), h("div.card", {}, form),
    h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Type", "Receive URL", "State"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, sources.map((s) => h("tr", {},
        h("td", {}, h("a", { href: `#/sources/${enc(s.id)}` }, s.name)),
        h("td", {}, s.type),
        h("td.url", {}, s.ingestUrl),
        h("td", {}, s.disabled ? "disabled" : "enabled"))))));
}

export async function sourceScreen(main, id) {
  const [s, log] = await Promise.all([get(`/ingest/api/v1/source/${enc(id)}`), get(`/ingest/api/v1/source/${enc(id)}/request?limit=50`)]);
  const url = h("input", { readonly: true, value: s.ingestUrl });
  fill(main,
    h("p", {}, h("a", { href: "#/sources" }, "← Sources")),
    h("h1", {}, s.name),
    h("p.mono", {}, `${s.type} · ${s.id}`),
    field("Receive URL", url),
    h("div.row", {},
      h("button", { type: "button", onclick: async () => { try { await navigator.clipboard.writeText(s.ingestUrl); toast("Copied"); } catch { url.select(); } } }, "Copy URL"),
      h("button", { type: "button", onclick: async () => {
        if (!confirm("Rotate the URL? The old one stops working at once.")) return;
        try { await post(`/ingest/api/v1/source/${enc(id)}/token/rotate`, {}); route(); } catch (err) { toast(err.message, true); }
      } }, "Rotate URL"),
      h("a", { href: `#/app/${enc(s.id)}` }, "Endpoints and deliveries")),
    h("h2", {}, "Request log"),
    s.logRequests ? null : h("p", {}, "This source does not log requests (logRequests is off)."),
    h("table", {}, h("thead", {}, h("tr", {}, ["When", "Status", "Outcome", "Body"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, log.data.map((r) => h("tr", {},
        h("td", {}, when(r.createdAt)),
        h("td", {}, String(r.status)),
        h("td", {}, r.outcome),
        h("td", {}, h("pre.excerpt", {}, r.body !== undefined ? pretty(r.body) : "(binary)")))))));
}
