// The console and the portal: a router over location.hash, sign-in, and the
// applications screen. Screens for endpoints, messages and the catalog live
// in their own modules.
import { h, fill, field, toast } from "/console/dom.js";
import { get, post, del, all, enc, session, ApiError } from "/console/api.js";
import { appScreen } from "/console/endpoints.js";
import { messagesScreen, messageScreen } from "/console/messages.js";
import { eventTypesScreen, sourcesScreen, sourceScreen } from "/console/catalog.js";
import { dashboardScreen } from "/console/dashboard.js";
import { rulesScreen } from "/console/rules.js";

const main = () => document.getElementById("main");
const portal = location.pathname.startsWith("/portal");
/** In the portal: {appId, capabilities, readOnly}. */
export const scope = { portal, appId: null, caps: new Set(), readOnly: false };

/** Whether the current principal may do something (always, in the console). */
export function can(cap) {
  if (!scope.portal) return true;
  const writes = cap !== "ViewBase" && cap !== "ViewEndpointSecret";
  return scope.caps.has(cap) && !(writes && scope.readOnly);
}

function nav() {
  const links = scope.portal
    ? [["Endpoints", `#/app/${enc(scope.appId)}`], ["Messages", `#/app/${enc(scope.appId)}/msg`]]
    : [["Applications", "#/"], ["Dashboard", "#/dashboard"], ["Event types", "#/event-types"], ["Sources", "#/sources"], ["Rules", "#/rules"]];
  fill(document.getElementById("nav"), links.map(([t, href]) => h("a", { href }, t)));
  const who = document.getElementById("who");
  if (scope.portal) fill(who, "Portal");
  else fill(who, h("button.link", { type: "button", onclick: signOut }, "Sign out"));
}

async function signOut() {
  try { await del("/console/api/session"); } catch { /* the cookie goes anyway */ }
  session.csrf = null;
  location.hash = "#/";
  start();
}

function signInScreen(message) {
  fill(document.getElementById("nav"));
  fill(document.getElementById("who"));
  const token = h("input", { type: "password", name: "token", autocomplete: "current-password", required: true });
  const form = h("form.card", {
    onsubmit: async (e) => {
      e.preventDefault();
      const res = await fetch("/console/api/session", {
        method: "POST",
        headers: { authorization: `Bearer ${token.value.trim()}` },
        credentials: "same-origin",
      });
      if (!res.ok) { toast("That token is not valid.", true); return; }
      session.csrf = (await res.json()).csrfToken;
      start();
    },
  },
  h("h1", {}, "Sign in"),
  h("p", {}, "Use an API token (ringhook prints one at start; `ringhook token create` makes more)."),
  field("API token", token),
  h("button", { type: "submit" }, "Sign in"),
  message ? h("p.error", {}, message) : null);
  fill(main(), form);
  token.focus();
}

async function appsScreen() {
  const list = h("tbody");
  const search = h("input", { type: "search", placeholder: "Search by name, id or uid" });
  const name = h("input", { name: "name", required: true });
  const uid = h("input", { name: "uid" });
  const create = h("form.inline", {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const app = await post("/api/v1/app", { name: name.value, uid: uid.value || undefined });
        toast(`Created ${app.name}`);
        location.hash = `#/app/${enc(app.id)}`;
      } catch (err) { toast(err.message, true); }
    },
  }, field("Name", name), field("UID (optional)", uid), h("button", { type: "submit" }, "Create application"));
  const apps = await all("/api/v1/app");
  const render = () => {
    const q = search.value.toLowerCase();
    const shown = apps.filter((a) => !q || [a.name, a.id, a.uid || ""].some((s) => s.toLowerCase().includes(q)));
    fill(list, shown.map((a) => {
      const count = h("td", {}, "…");
      get(`/api/v1/app/${enc(a.id)}/endpoint?limit=250`).then((p) => fill(count, `${p.data.length}${p.done ? "" : "+"}`)).catch(() => fill(count, "?"));
      return h("tr", {},
        h("td", {}, h("a", { href: `#/app/${enc(a.id)}` }, a.name)),
        h("td.mono", {}, a.uid || ""),
        h("td.mono", {}, a.id),
        count,
        h("td", {}, h("button.danger", {
          type: "button",
          "aria-label": `Delete ${a.name}`,
          onclick: async () => {
            if (!confirm(`Delete application ${a.name} and its endpoints?`)) return;
            try { await del(`/api/v1/app/${enc(a.id)}`); route(); } catch (err) { toast(err.message, true); }
          },
        }, "Delete")));
    }));
  };
  search.addEventListener("input", render);
  render();
  fill(main(),
    h("h1", {}, "Applications"),
    h("div.card", {}, create),
    field("Search", search),
    h("table", {}, h("thead", {}, h("tr", {}, ["Name", "UID", "ID", "Endpoints", ""].map((t) => h("th", { scope: "col" }, t)))), list),
    apps.length ? null : h("p", {}, "No applications yet: create one above."));
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (scope.portal && parts[1] !== scope.appId) { location.hash = `#/app/${enc(scope.appId)}`; return; }
    if (parts[0] === "app" && parts[2] === "msg" && parts[3]) await messageScreen(main(), parts[1], parts[3]);
    else if (parts[0] === "app" && parts[2] === "msg") await messagesScreen(main(), parts[1]);
    else if (parts[0] === "app" && parts[1]) await appScreen(main(), parts[1]);
    else if (parts[0] === "event-types") await eventTypesScreen(main());
    else if (parts[0] === "dashboard") await dashboardScreen(main());
    else if (parts[0] === "rules") await rulesScreen(main());
    else if (parts[0] === "sources" && parts[1]) await sourceScreen(main(), parts[1]);
    else if (parts[0] === "sources") await sourcesScreen(main());
    else await appsScreen();
    main().focus();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !scope.portal) { signInScreen("Your session ended; sign in again."); return; }
    fill(main(), h("h1", {}, "Something went wrong"), h("p.error", {}, err.message));
  }
}
export { route };

async function start() {
  if (scope.portal) {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (params.get("token")) {
      sessionStorage.setItem("portalToken", params.get("token"));
      history.replaceState(null, "", location.pathname);
    }
    session.portalToken = sessionStorage.getItem("portalToken");
    if (!session.portalToken) { fill(main(), h("p.error", {}, "This portal link has no token.")); return; }
    try {
      const me = await get("/api/v1/auth/portal");
      scope.appId = me.appId;
      scope.caps = new Set(me.capabilities);
      scope.readOnly = me.readOnly;
    } catch {
      fill(main(), h("h1", {}, "This portal link has expired"), h("p", {}, "Ask for a new one."));
      return;
    }
  } else {
    try { session.csrf = (await get("/console/api/session")).csrfToken; } catch { signInScreen(); return; }
  }
  nav();
  route();
}

window.addEventListener("hashchange", () => { if (scope.portal || session.csrf) route(); });
start();
