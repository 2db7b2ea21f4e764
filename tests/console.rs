//! The web console and the application portal (issue 12): sessions, CSRF,
//! security headers and portal scope over real HTTP; and the whole console
//! in a real browser (Debian's chromium through selenium,
//! `tests/py/console_browser.py`).

mod common;

use common::{Engine, TOKEN};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// A request with arbitrary headers; (status, headers, JSON body).
fn call(
    engine: &Engine,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, Value) {
    engine.call(&ureq::agent(), method, path, headers, body)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn console_sessions_need_their_csrf_token_and_pages_carry_a_strict_csp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let (s, hs, _) = call(&engine, "GET", "/", &[], None);
    // ureq follows the redirect to the console page.
    assert_eq!(s, 200);
    let csp = header(&hs, "content-security-policy").expect("csp");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'self'"),
        "{csp}"
    );
    assert_eq!(header(&hs, "x-content-type-options"), Some("nosniff"));

    let (s, _, _) = call(
        &engine,
        "POST",
        "/console/api/session",
        &[("authorization", "Bearer nope")],
        None,
    );
    assert_eq!(s, 401);
    // Pages answer GET only, refused from the head.
    let (s, _, _) = call(&engine, "POST", "/console", &[], Some(json!({ "x": 1 })));
    assert_eq!(s, 405);
    let bearer = format!("Bearer {TOKEN}");
    let (s, hs, v) = call(
        &engine,
        "POST",
        "/console/api/session",
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(s, 200, "{v}");
    let set = header(&hs, "set-cookie").expect("cookie");
    for part in ["rh_session=rhs_", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let id = set.split(';').next().expect("pair").to_string();
    let csrf = v["csrfToken"].as_str().expect("csrf").to_string();
    let cookie = [("cookie", id.as_str())];
    assert_eq!(call(&engine, "GET", "/api/v1/app", &cookie, None).0, 200);
    let (s, _, v) = call(
        &engine,
        "POST",
        "/api/v1/app",
        &cookie,
        Some(json!({ "name": "a" })),
    );
    assert_eq!((s, v["code"].as_str()), (403, Some("csrf_failed")));
    let wrong = [("cookie", id.as_str()), ("x-csrf-token", "csrf_wrong")];
    assert_eq!(
        call(
            &engine,
            "POST",
            "/api/v1/app",
            &wrong,
            Some(json!({ "name": "a" }))
        )
        .0,
        403
    );
    let good = [("cookie", id.as_str()), ("x-csrf-token", csrf.as_str())];
    assert_eq!(
        call(
            &engine,
            "POST",
            "/api/v1/app",
            &good,
            Some(json!({ "name": "a" }))
        )
        .0,
        201
    );
    // A poller consumer's GET moves its position: a write, CSRF and all.
    let (_, app) = engine.api("POST", "/api/v1/app", Some(json!({ "name": "polled" })));
    let app = app["id"].as_str().expect("app id").to_string();
    let ep = engine.create_endpoint(&app, json!({ "url": "http://127.0.0.1:9/hook" }));
    let poll = format!(
        "/api/v1/app/{app}/poller/{}/consumer/console",
        ep["id"].as_str().expect("ep id")
    );
    let (s, _, v) = call(&engine, "GET", &poll, &cookie, None);
    assert_eq!((s, v["code"].as_str()), (403, Some("csrf_failed")));
    assert_eq!(call(&engine, "GET", &poll, &good, None).0, 200);
    // A reloaded page gets its CSRF token back; sign-out ends the session.
    let (s, _, v) = call(&engine, "GET", "/console/api/session", &cookie, None);
    assert_eq!((s, v["csrfToken"].as_str()), (200, Some(csrf.as_str())));
    assert_eq!(
        call(&engine, "DELETE", "/console/api/session", &cookie, None).0,
        403,
        "sign-out needs the CSRF token too"
    );
    assert_eq!(
        call(&engine, "DELETE", "/console/api/session", &good, None).0,
        204
    );
    assert_eq!(call(&engine, "GET", "/api/v1/app", &cookie, None).0, 401);
}

#[test]
fn a_portal_token_reaches_only_its_application_and_capabilities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &[]);
    let mine = engine.create_app("mine");
    let other = engine.create_app("other");
    let ep = engine.create_endpoint(&mine, json!({ "url": "http://127.0.0.1:9/hook" }));
    let ep = ep["id"].as_str().expect("id");
    let theirs = engine.create_endpoint(&other, json!({ "url": "http://127.0.0.1:9/hook" }));
    let theirs = theirs["id"].as_str().expect("id");
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/auth/app-portal-access/{mine}"),
        Some(json!({ "capabilities": ["ViewBase"], "expiry": 3600 })),
    );
    assert_eq!(s, 200, "{v}");
    assert!(
        v["url"]
            .as_str()
            .is_some_and(|u| u.contains("/portal/#token=rhp_")),
        "{v}"
    );
    let bearer = format!("Bearer {}", v["token"].as_str().expect("token"));
    let auth = [("authorization", bearer.as_str())];
    let go =
        |method: &str, path: &str, body: Option<Value>| call(&engine, method, path, &auth, body).0;
    // Its own application, read only.
    assert_eq!(go("GET", &format!("/api/v1/app/{mine}"), None), 200);
    assert_eq!(
        go("GET", &format!("/api/v1/app/{mine}/endpoint"), None),
        200
    );
    assert_eq!(go("GET", &format!("/api/v1/app/{mine}/msg"), None), 200);
    assert_eq!(go("GET", "/api/v1/event-type", None), 200);
    // Nothing else: other applications, the application list, writes
    // without the capability, secrets, sources, metrics, tasks, messages.
    for (method, path, body) in [
        ("GET", format!("/api/v1/app/{other}"), None),
        (
            "GET",
            format!("/api/v1/app/{other}/endpoint/{theirs}"),
            None,
        ),
        ("GET", "/api/v1/app".to_string(), None),
        (
            "POST",
            "/api/v1/app".to_string(),
            Some(json!({ "name": "x" })),
        ),
        (
            "PATCH",
            format!("/api/v1/app/{mine}/endpoint/{ep}"),
            Some(json!({ "disabled": true })),
        ),
        ("DELETE", format!("/api/v1/app/{mine}"), None),
        (
            "GET",
            format!("/api/v1/app/{mine}/endpoint/{ep}/secret"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/app/{mine}/msg"),
            Some(json!({ "eventType": "a", "payload": {} })),
        ),
        (
            "POST",
            format!("/api/v1/app/{mine}/endpoint/{ep}/send-example"),
            Some(json!({ "eventType": "a" })),
        ),
        ("GET", "/ingest/api/v1/source".to_string(), None),
        ("GET", "/metrics".to_string(), None),
        ("GET", "/api/v1/background-task".to_string(), None),
        (
            "POST",
            format!("/api/v1/auth/app-portal-access/{mine}"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/api/v1/auth/app/{mine}/expire-all"),
            Some(json!({})),
        ),
    ] {
        assert_eq!(go(method, &path, body), 403, "{method} {path}");
    }
    // Logout ends it.
    assert_eq!(go("POST", "/api/v1/auth/logout", Some(json!({}))), 204);
    assert_eq!(go("GET", &format!("/api/v1/app/{mine}"), None), 401);

    // A managing, non-read-only portal may change its endpoints; read-only
    // takes that away; expire-all ends every session of the application.
    let mint = |body: Value| {
        let (s, v) = engine.api(
            "POST",
            &format!("/api/v1/auth/app-portal-access/{mine}"),
            Some(body),
        );
        assert_eq!(s, 200, "{v}");
        format!("Bearer {}", v["token"].as_str().expect("token"))
    };
    let manage = mint(json!({}));
    let read_only = mint(json!({ "readOnly": true }));
    let patch = |bearer: &str| {
        call(
            &engine,
            "PATCH",
            &format!("/api/v1/app/{mine}/endpoint/{ep}"),
            &[("authorization", bearer)],
            Some(json!({ "description": "d" })),
        )
        .0
    };
    assert_eq!(patch(&manage), 200);
    assert_eq!(patch(&read_only), 403);
    let secret = call(
        &engine,
        "GET",
        &format!("/api/v1/app/{mine}/endpoint/{ep}/secret"),
        &[("authorization", read_only.as_str())],
        None,
    )
    .0;
    assert_eq!(secret, 200, "read-only still views the secret");
    let (s, _) = engine.api(
        "POST",
        &format!("/api/v1/auth/app/{mine}/expire-all"),
        Some(json!({})),
    );
    assert_eq!(s, 204);
    assert_eq!(patch(&manage), 401);
    // A portal link is never replayed by an idempotency key (as the Svix
    // SDKs send on every POST): one replayed after `expire-all` would be
    // dead. The same key mints a new, working one.
    let keyed = || {
        let (s, _, v) = call(
            &engine,
            "POST",
            &format!("/api/v1/auth/app-portal-access/{mine}"),
            &[
                ("authorization", &format!("Bearer {}", common::TOKEN)),
                ("idempotency-key", "portal-key-1"),
            ],
            Some(json!({})),
        );
        assert_eq!(s, 200, "{v}");
        format!("Bearer {}", v["token"].as_str().expect("token"))
    };
    let first = keyed();
    let (s, _) = engine.api(
        "POST",
        &format!("/api/v1/auth/app/{mine}/expire-all"),
        Some(json!({})),
    );
    assert_eq!(s, 204);
    let again = keyed();
    assert_ne!(first, again, "a new link for the same key");
    assert_eq!(patch(&first), 401);
    assert_eq!(patch(&again), 200);
    let (s, _) = engine.api(
        "POST",
        "/api/v1/auth/app-portal-access/app_nope",
        Some(json!({})),
    );
    assert_eq!(s, 404);
    // ManageEndpoint without ManageEndpointSecret: endpoints, but not their secrets.
    let managing = mint(json!({ "capabilities": ["ViewBase", "ManageEndpoint"] }));
    let create = |body: Value| {
        call(
            &engine,
            "POST",
            &format!("/api/v1/app/{mine}/endpoint"),
            &[("authorization", managing.as_str())],
            Some(body),
        )
        .0
    };
    assert_eq!(
        create(
            json!({ "url": "http://127.0.0.1:9/a", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" })
        ),
        403
    );
    assert_eq!(create(json!({ "url": "http://127.0.0.1:9/a" })), 201);
    // No portal for ringhook's own applications (a source's).
    let (_, src) = engine.api(
        "POST",
        "/ingest/api/v1/source",
        Some(json!({ "name": "s", "type": "generic-webhook" })),
    );
    let (s, _) = engine.api(
        "POST",
        &format!(
            "/api/v1/auth/app-portal-access/{}",
            src["id"].as_str().expect("id")
        ),
        Some(json!({})),
    );
    assert_eq!(s, 404);
}

#[test]
fn the_console_works_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("console.toml");
    std::fs::write(
        &config,
        "dashboard_sample_ms = 200\nrule_eval_interval_ms = 200\n",
    )
    .expect("config");
    let config = config.to_str().expect("utf-8 path").to_string();
    let engine = Engine::start(
        dir.path(),
        &["--retry-schedule", "0s,1s", "--config", &config],
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/console_browser.py");
    let out = Command::new(common::python())
        .arg(&script)
        .arg(format!("http://{}", engine.http))
        .arg(TOKEN)
        .arg(&shots)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "screenshots in {}\n{}{}",
        shots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(report["ok"], true);
    assert!(report["screenshots"].as_u64().is_some_and(|n| n >= 8));
}
