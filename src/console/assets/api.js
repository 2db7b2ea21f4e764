// The one way the pages talk to ringhook: the same /api/v1 the SDKs use.
// In the console, the session cookie authenticates and every state-changing
// request carries the CSRF token; in the portal, the portal token is a
// bearer token kept in memory (and the tab's sessionStorage).

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.detail;
    const text = Array.isArray(detail)
      ? detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ")
      : typeof detail === "string" ? detail : `HTTP ${status}`;
    super(text);
    this.status = status;
    this.code = body && body.code;
  }
}

export const session = { csrf: null, portalToken: null };

export async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (session.portalToken) headers["authorization"] = `Bearer ${session.portalToken}`;
  else if (session.csrf && method !== "GET") headers["x-csrf-token"] = session.csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = text; } }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = (p) => call("GET", p);
export const post = (p, b = {}) => call("POST", p, b);
export const put = (p, b) => call("PUT", p, b);
export const patch = (p, b) => call("PATCH", p, b);
export const del = (p) => call("DELETE", p);

/** Every item of a listing, up to `max`. */
export async function all(path, max = 1000) {
  const out = [];
  let it = null;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(`${path}${sep}limit=250${it ? `&iterator=${encodeURIComponent(it)}` : ""}`);
    out.push(...page.data);
    if (page.done || !page.iterator || out.length >= max) return out;
    it = page.iterator;
  }
}

export const enc = encodeURIComponent;
