//! A journal write that fails (EIO from the disk) aborts the engine before
//! the batch holding it is answered, in every durability mode: the
//! journal's writer stages records and writes them with `pwrite`, and a
//! failed write may leave part of them in the file (`docs/journal-format.md`,
//! "Durability protocol"). Driven through a real process with the
//! `RINGHOOK_FAILPOINT_FAIL_WRITE_EVENT_TYPE` failpoint, which arms the
//! journal's own EIO fault for the batch holding a message of that type.

mod common;

use common::{Engine, Sink};
use serde_json::{json, Value};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

fn listed(engine: &Engine, app: &str) -> Vec<Value> {
    let (s, v) = engine.api("GET", &format!("/api/v1/app/{app}/msg?limit=100"), None);
    assert_eq!(s, 200, "{v}");
    v["data"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_failed_journal_write_aborts_before_the_answer_and_loses_nothing_answered() {
    for durability in ["sync", "none"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = Sink::start();
        let mut engine = Engine::start(dir.path(), &["--shards", "2", "--durability", durability]);
        let app = engine.create_app("disk");
        engine.create_endpoint(&app, json!({ "url": sink.url("/d") }));
        let before: Vec<String> = (0..5)
            .map(|i| engine.send(&app, "calm.x", json!({ "i": i })))
            .collect();
        common::wait_for(
            "the calm messages delivered",
            Duration::from_secs(30),
            || {
                let ids = sink.ids();
                before.iter().all(|id| ids.contains(id)).then_some(())
            },
        );
        assert!(engine.stop());

        engine.env.push((
            "RINGHOOK_FAILPOINT_FAIL_WRITE_EVENT_TYPE".into(),
            "disk.fails".into(),
        ));
        engine.spawn().expect("starts with the failpoint");
        let answer = engine.api_result(
            "POST",
            &format!("/api/v1/app/{app}/msg"),
            json!({ "eventType": "disk.fails", "payload": { "lost": true } }),
        );
        assert!(
            !answer.is_some_and(|s| (200..300).contains(&s)),
            "{durability}: a message whose write failed is never accepted: {answer:?}"
        );
        let status = engine.wait_exit(Duration::from_secs(30));
        let log = std::fs::read_to_string(&engine.stderr_path).unwrap_or_default();
        let status =
            status.unwrap_or_else(|| panic!("{durability}: the engine stops by itself: {log}"));
        assert_eq!(
            status.signal(),
            Some(libc::SIGABRT),
            "{durability}: {status:?}"
        );
        assert!(
            log.contains("journal write failed, aborting"),
            "{durability}: {log}"
        );

        engine.env.clear();
        engine.spawn().expect("restarts");
        let listed = listed(&engine, &app);
        let types: Vec<&str> = listed
            .iter()
            .filter_map(|m| m["eventType"].as_str())
            .collect();
        assert_eq!(types, vec!["calm.x"; 5], "{durability}: {listed:?}");
        let mut ids: Vec<String> = listed
            .iter()
            .filter_map(|m| m["id"].as_str().map(String::from))
            .collect();
        ids.sort();
        let mut want = before.clone();
        want.sort();
        assert_eq!(
            ids, want,
            "{durability}: every answered message is still there"
        );
        assert!(engine.stop());
    }
}
