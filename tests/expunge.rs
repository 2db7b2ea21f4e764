//! Removing content (issue 14), driven by the official `svix` SDK: an
//! expunged payload or response body reads as empty, stays so across
//! `kill -9`, and a pending retry of an expunged message is cancelled, not
//! sent.

mod common;

use common::{wait_for, Engine, Sink, TOKEN};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn expunged_content_is_gone_from_reads_and_deliveries_across_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Failed attempts wait 3 s for their retry: long enough to expunge first.
    let mut engine = Engine::start(
        dir.path(),
        &["--shards", "2", "--retry-schedule", "0s,3s,3s"],
    );
    let sink = Sink::with_policy(Arc::new(|r, _| if r.path == "/fail" { 500 } else { 200 }));
    let server = format!("http://{}", engine.http);
    let base = || vec![server.clone(), TOKEN.to_string(), sink.url("")];
    let mut args = base();
    args.push("first".into());
    let out = common::run_python_script("expunge_sdk.py", &args);
    let ids: Vec<String> = out
        .lines()
        .find_map(|l| l.strip_prefix("ok "))
        .unwrap_or_else(|| panic!("{out}"))
        .split(' ')
        .map(str::to_string)
        .collect();
    let (app, m1) = (&ids[0], &ids[1]);
    // m1's failed delivery was waiting for its retry: it ends cancelled,
    // and the receiver never sees m1 again.
    let fails = |id: &str| {
        sink.all()
            .iter()
            .filter(|(r, _)| r.path == "/fail" && r.webhook_id() == id)
            .count()
    };
    wait_for("m1's retry cancelled", Duration::from_secs(30), || {
        let (_, page) = engine.api(
            "GET",
            &format!("/api/v1/app/{app}/msg/{m1}/endpoint?expanded_statuses=true"),
            None,
        );
        page["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|e| e["status"] == 4))
            .then_some(())
    });
    assert_eq!(fails(m1), 1, "only the first attempt reached the receiver");
    engine.kill9();
    engine.spawn().expect("restart");
    let mut args = base();
    args.extend([
        "after-restart".to_string(),
        app.clone(),
        m1.clone(),
        ids[2].clone(),
    ]);
    let out = common::run_python_script("expunge_sdk.py", &args);
    assert!(out.trim_end().ends_with("ok"), "{out}");
    // An expunged message cannot be resent: a clear refusal, nothing sent.
    let (_, page) = engine.api("GET", &format!("/api/v1/app/{app}/msg/{m1}/endpoint"), None);
    let ep = page["data"][0]["id"]
        .as_str()
        .expect("an endpoint")
        .to_string();
    let before = sink.all().len();
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg/{m1}/endpoint/{ep}/resend"),
        None,
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("message_expunged")),
        "{v}"
    );
    assert_eq!(sink.all().len(), before);
}
