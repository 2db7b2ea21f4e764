// Notification rules: each rule's state (ok or firing, since when, the
// value that changed it), a form to create one, and delete.
import { h, fill, field, toast, when } from "/console/dom.js";
import { post, del, all, enc } from "/console/api.js";
import { route } from "/console/console.js";

const SIGNALS = ["failure_rate", "attempts_per_minute", "consecutive_failures", "backlog",
  "oldest_pending_seconds", "e2e_p99_ms", "no_messages"];
const SCOPES = ["all", "app", "endpoint", "eventType", "source"];

function scopeText(s) {
  switch (s.type) {
    case "app": return `app ${s.appId}`;
    case "endpoint": return `endpoint ${s.endpointId} (${s.appId})`;
    case "eventType": return `event type ${s.eventType}${s.appId ? ` (${s.appId})` : ""}`;
    case "source": return `source ${s.sourceId}`;
    default: return "everything";
  }
}

export async function rulesScreen(main) {
  const rules = await all("/api/v1/rule");
  const name = h("input", { required: true });
  const scope = h("select", {}, SCOPES.map((s) => h("option", { value: s }, s)));
  const appId = h("input", { placeholder: "app_… (app, endpoint, eventType)" });
  const target = h("input", { placeholder: "ep_…, event type or src_…" });
  const signal = h("select", {}, SIGNALS.map((s) => h("option", { value: s }, s)));
  const comparison = h("select", {}, [">", ">=", "<", "<="].map((c) => h("option", { value: c }, c)));
  const threshold = h("input", { type: "number", step: "any", value: "0.5" });
  const windowSecs = h("input", { type: "number", min: "1", value: "300" });
  const cooldown = h("input", { type: "number", min: "0", value: "900" });
  const form = h("form.inline", {
    onsubmit: async (e) => {
      e.preventDefault();
      const s = { type: scope.value };
      if (appId.value) s.appId = appId.value.trim();
      if (scope.value === "endpoint") s.endpointId = target.value.trim();
      if (scope.value === "eventType") s.eventType = target.value.trim();
      if (scope.value === "source") s.sourceId = target.value.trim();
      try {
        await post("/api/v1/rule", {
          name: name.value, scope: s, signal: signal.value, comparison: comparison.value,
          threshold: Number(threshold.value), windowSeconds: Number(windowSecs.value), cooldownSeconds: Number(cooldown.value),
        });
        toast("Rule created");
        route();
      } catch (err) { toast(err.message, true); }
    },
  }, field("Name", name), field("Scope", scope), field("Application", appId), field("Endpoint, event type or source", target),
  field("Signal", signal), field("Comparison", comparison), field("Threshold", threshold),
  field("Window (seconds)", windowSecs), field("Cooldown (seconds)", cooldown), h("button", { type: "submit" }, "Create rule"));
  fill(main, h("h1", {}, "Rules"),
    h("p", {}, "A rule tells the operational endpoints (rule.firing, rule.resolved) when a signal crosses its threshold."),
    h("div.card", {}, form),
    h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Scope", "Condition", "State", "Since", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rules.map((r) => h("tr", { "data-rule": r.id },
        h("td", {}, r.name, r.disabled ? " (disabled)" : ""),
        h("td", {}, scopeText(r.scope)),
        h("td.mono", {}, `${r.signal} ${r.comparison} ${r.threshold} over ${r.windowSeconds} s`),
        h("td", { "data-rule-state": r.state.status }, r.state.status, r.state.value === null ? "" : ` (${r.state.value})`),
        h("td", {}, r.state.since ? when(r.state.since) : "—"),
        h("td", {}, h("button.danger", { type: "button", "aria-label": `Delete ${r.name}`, onclick: async () => {
          if (!confirm(`Delete rule ${r.name}?`)) return;
          try { await del(`/api/v1/rule/${enc(r.id)}`); route(); } catch (err) { toast(err.message, true); }
        } }, "Delete")))))),
    rules.length ? null : h("p", {}, "No rules yet."));
}
