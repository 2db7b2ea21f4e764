//! Who may do what through the API besides a bearer API token: operator
//! sessions of the console (a cookie and a CSRF token, made from an API
//! token at sign-in) and application-portal sessions (a token scoped to one
//! application and a set of capabilities, minted by
//! `POST /api/v1/auth/app-portal-access/{app}`).
//!
//! Both live in memory on shard 0 (the API's thread), bounded, and end at
//! their expiry, at sign-out / logout, at `expire-all` for an application's
//! portal sessions, or when the process restarts. The scope rule of a
//! portal session is a pure function ([`portal_allows`]) tested by a table.
//!
//! # Invariants
//! - `operators.len() <= OPERATOR_SESSIONS_MAX`, `portals.len() <=
//!   PORTAL_SESSIONS_MAX`; the soonest to expire is dropped to make room;
//! - session ids, CSRF tokens and portal tokens are 24 random bytes, compared
//!   only through hash-map lookups and `ct_eq`.

use std::collections::HashMap;

/// Operator sessions kept at once.
pub const OPERATOR_SESSIONS_MAX: usize = 10_000;
/// Portal sessions kept at once.
pub const PORTAL_SESSIONS_MAX: usize = 100_000;
/// Longest portal session a token may ask for (7 days).
pub const PORTAL_EXPIRY_MAX_S: u64 = 7 * 24 * 3600;
/// A portal session's length unless the request says (Svix: 7 days).
pub const PORTAL_EXPIRY_DEFAULT_S: u64 = 7 * 24 * 3600;

/// What a portal session may do (Svix's `AppPortalCapability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    ViewBase,
    ViewEndpointSecret,
    ManageEndpointSecret,
    CreateAttempts,
    ManageEndpoint,
}

impl Capability {
    pub fn parse(s: &str) -> Option<Capability> {
        Some(match s {
            "ViewBase" => Capability::ViewBase,
            "ViewEndpointSecret" => Capability::ViewEndpointSecret,
            "ManageEndpointSecret" => Capability::ManageEndpointSecret,
            "CreateAttempts" => Capability::CreateAttempts,
            "ManageEndpoint" => Capability::ManageEndpoint,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Capability::ViewBase => "ViewBase",
            Capability::ViewEndpointSecret => "ViewEndpointSecret",
            Capability::ManageEndpointSecret => "ManageEndpointSecret",
            Capability::CreateAttempts => "CreateAttempts",
            Capability::ManageEndpoint => "ManageEndpoint",
        }
    }

    /// Every capability: a portal asked for without a list gets them all
    /// (read-only takes the writing ones away).
    pub const ALL: [Capability; 5] = [
        Capability::ViewBase,
        Capability::ViewEndpointSecret,
        Capability::ManageEndpointSecret,
        Capability::CreateAttempts,
        Capability::ManageEndpoint,
    ];
}

/// A portal session: one application, some capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portal {
    pub app_id: String,
    pub capabilities: Vec<Capability>,
    pub read_only: bool,
    pub expires_ms: u64,
}

impl Portal {
    fn can(&self, c: Capability) -> bool {
        self.capabilities.contains(&c)
    }
}

/// An operator's console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub csrf: String,
    pub expires_ms: u64,
}

/// What an API request touches, as far as portal scope goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The application itself (`/app/{app}`).
    App,
    /// Endpoints, their headers, stats, messages and attempts listings.
    Endpoint,
    EndpointSecret,
    /// Messages and attempts (`/msg`, `/attempt`).
    Message,
    /// Resend, recover, send-example.
    Attempts,
    /// The event-type registry (read only for portals).
    EventTypes,
    /// Anything else: other applications, sources, tasks, metrics, auth.
    Other,
}

/// Whether a portal session may run `method` on `resource` of `app_id`
/// (the application the path names, resolved to its id).
pub fn portal_allows(p: &Portal, method: &str, resource: Resource, app_id: Option<&str>) -> bool {
    let read = matches!(method, "GET" | "HEAD");
    if resource == Resource::EventTypes {
        return read && p.can(Capability::ViewBase);
    }
    if app_id != Some(p.app_id.as_str()) {
        return false;
    }
    let write_ok = !p.read_only;
    match resource {
        Resource::App | Resource::Message => read && p.can(Capability::ViewBase),
        Resource::Endpoint if read => p.can(Capability::ViewBase),
        Resource::Endpoint => write_ok && p.can(Capability::ManageEndpoint),
        Resource::EndpointSecret if read => p.can(Capability::ViewEndpointSecret),
        Resource::EndpointSecret => write_ok && p.can(Capability::ManageEndpointSecret),
        Resource::Attempts => !read && write_ok && p.can(Capability::CreateAttempts),
        Resource::EventTypes | Resource::Other => false,
    }
}

/// The sessions of both kinds.
#[derive(Debug, Default)]
pub struct Sessions {
    operators: HashMap<String, Operator>,
    portals: HashMap<String, Portal>,
}

/// Drops expired entries, then the soonest to expire until there is room.
fn make_room<V>(
    map: &mut HashMap<String, V>,
    max: usize,
    now_ms: u64,
    expires: impl Fn(&V) -> u64,
) {
    map.retain(|_, v| expires(v) > now_ms);
    while map.len() >= max {
        let Some(victim) = map
            .iter()
            .min_by_key(|(_, v)| expires(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&victim);
    }
}

impl Sessions {
    /// A new operator session: (session id for the cookie, CSRF token).
    pub fn sign_in(&mut self, now_ms: u64, ttl_ms: u64) -> (String, String) {
        make_room(&mut self.operators, OPERATOR_SESSIONS_MAX, now_ms, |o| {
            o.expires_ms
        });
        let (id, csrf) = (
            crate::ids::new_secret("rhs"),
            crate::ids::new_secret("csrf"),
        );
        self.operators.insert(
            id.clone(),
            Operator {
                csrf: csrf.clone(),
                expires_ms: now_ms.saturating_add(ttl_ms),
            },
        );
        (id, csrf)
    }

    /// The live operator session of a cookie.
    pub fn operator(&self, id: &str, now_ms: u64) -> Option<&Operator> {
        self.operators.get(id).filter(|o| o.expires_ms > now_ms)
    }

    pub fn sign_out(&mut self, id: &str) -> bool {
        self.operators.remove(id).is_some()
    }

    /// A new portal session; its token.
    pub fn mint_portal(&mut self, portal: Portal, now_ms: u64) -> String {
        make_room(&mut self.portals, PORTAL_SESSIONS_MAX, now_ms, |p| {
            p.expires_ms
        });
        let token = crate::ids::new_secret("rhp");
        self.portals.insert(token.clone(), portal);
        token
    }

    /// The live portal session of a token.
    pub fn portal(&self, token: &str, now_ms: u64) -> Option<&Portal> {
        self.portals.get(token).filter(|p| p.expires_ms > now_ms)
    }

    /// Ends one portal session.
    pub fn logout_portal(&mut self, token: &str) -> bool {
        self.portals.remove(token).is_some()
    }

    /// Ends every portal session of an application; how many.
    pub fn expire_app(&mut self, app_id: &str) -> usize {
        let before = self.portals.len();
        self.portals.retain(|_, p| p.app_id != app_id);
        before - self.portals.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;
    use Resource::*;

    fn portal(caps: &[Capability], read_only: bool) -> Portal {
        Portal {
            app_id: "app_1".into(),
            capabilities: caps.to_vec(),
            read_only,
            expires_ms: 10,
        }
    }

    #[test]
    fn portal_scope_table() {
        let all = portal(&Capability::ALL, false);
        let ro = portal(&Capability::ALL, true);
        let base = portal(&[ViewBase], false);
        // (portal, method, resource, app) → allowed
        let rows: Vec<(&Portal, &str, Resource, Option<&str>, bool)> = vec![
            (&all, "GET", App, Some("app_1"), true),
            (&all, "PUT", App, Some("app_1"), false),
            (&all, "DELETE", App, Some("app_1"), false),
            (&all, "GET", App, Some("app_2"), false),
            (&all, "GET", Endpoint, Some("app_2"), false),
            (&all, "GET", Endpoint, None, false),
            (&all, "POST", Endpoint, Some("app_1"), true),
            (&all, "PATCH", Endpoint, Some("app_1"), true),
            (&ro, "PATCH", Endpoint, Some("app_1"), false),
            (&ro, "GET", Endpoint, Some("app_1"), true),
            (&base, "POST", Endpoint, Some("app_1"), false),
            (&all, "GET", EndpointSecret, Some("app_1"), true),
            (&base, "GET", EndpointSecret, Some("app_1"), false),
            (&all, "POST", EndpointSecret, Some("app_1"), true),
            (&ro, "POST", EndpointSecret, Some("app_1"), false),
            (&all, "GET", Message, Some("app_1"), true),
            (&all, "POST", Message, Some("app_1"), false),
            (&all, "POST", Attempts, Some("app_1"), true),
            (&base, "POST", Attempts, Some("app_1"), false),
            (&ro, "POST", Attempts, Some("app_1"), false),
            (&all, "GET", EventTypes, None, true),
            (&all, "POST", EventTypes, None, false),
            (&all, "GET", Other, Some("app_1"), false),
            (&all, "GET", Other, None, false),
        ];
        for (i, (p, method, resource, app, want)) in rows.into_iter().enumerate() {
            assert_eq!(
                portal_allows(p, method, resource, app),
                want,
                "row {i}: {method} {resource:?} {app:?}"
            );
        }
    }

    #[test]
    fn sessions_expire_end_and_stay_bounded() {
        let mut s = Sessions::default();
        let (id, csrf) = s.sign_in(1_000, 500);
        assert_eq!(
            s.operator(&id, 1_200).map(|o| o.csrf.as_str()),
            Some(csrf.as_str())
        );
        assert!(s.operator(&id, 1_500).is_none(), "expired");
        assert!(s.sign_out(&id));
        let t1 = s.mint_portal(portal(&[ViewBase], false), 0);
        let t2 = s.mint_portal(
            Portal {
                app_id: "app_2".into(),
                ..portal(&[ViewBase], false)
            },
            0,
        );
        assert!(s.portal(&t1, 5).is_some());
        assert_eq!(s.expire_app("app_1"), 1);
        assert!(s.portal(&t1, 5).is_none() && s.portal(&t2, 5).is_some());
        assert!(s.logout_portal(&t2) && s.portal(&t2, 5).is_none());
        let mut map: HashMap<String, u64> = (0..5).map(|i| (i.to_string(), 100 + i)).collect();
        make_room(&mut map, 3, 0, |v| *v);
        assert_eq!(map.len(), 2);
        assert!(!map.contains_key("0") && !map.contains_key("1") && !map.contains_key("2"));
    }
}
