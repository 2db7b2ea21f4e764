// DOM helpers. Every piece of data goes in as text (textContent or an
// attribute value), never as markup: names, payloads, headers and response
// bodies are attacker-controlled and must render as what they are.

/** h("tag.class", {attr: value, onclick: fn}, ...children) → element. */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form field; `input` is the control element. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h("div.field", {}, h("label", { for: id }, label), input, hint ? h("small", {}, hint) : null);
}

/** Pretty JSON text of a value (or the text itself when it is not JSON). */
export function pretty(v) {
  if (typeof v === "string") {
    try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
  }
  return JSON.stringify(v, null, 2);
}

export function toast(text, bad = false) {
  const t = document.getElementById("toast");
  fill(t, text);
  t.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ""; }, 4000);
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

/** The example of an event type's newest schema (`schemas["n"].examples[0]`). */
export function schemaExample(eventType) {
  const schemas = eventType && eventType.schemas;
  if (!schemas) return null;
  const newest = Object.keys(schemas).sort((a, b) => Number(b) - Number(a))[0];
  const examples = newest && schemas[newest] && schemas[newest].examples;
  return Array.isArray(examples) && examples.length ? examples[0] : null;
}
