//! The read path end to end: message and attempt listings with filters and
//! pagination, per-destination status and next attempt, resend, recover,
//! send-example and stats, all against a real engine and sink, and the same
//! listings after SIGTERM and after kill -9 (rebuilt from the journal).

mod common;

use common::{wait_for, Engine, Sink};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn get(engine: &Engine, path: &str) -> Value {
    let (s, v) = engine.api("GET", path, None);
    assert_eq!(s, 200, "GET {path}: {v}");
    v
}

/// Restarts the engine on its data directory. Its old API port is free again
/// after the previous process exited, but a concurrent test's outgoing
/// connection may take it as an ephemeral port meanwhile; then a fresh port
/// is used.
fn restart(engine: &mut Engine) {
    restart_with(engine, &[]);
}

/// `restart` with extra flags (e.g. another shard count).
fn restart_with(engine: &mut Engine, more: &[&str]) {
    for _ in 0..5 {
        match engine.spawn_with(more) {
            Ok(()) => return,
            Err(e) if e.contains("Address already in use") => {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("free port")
                    .port();
                engine.http = format!("127.0.0.1:{port}");
            }
            Err(e) => panic!("engine did not restart: {e}"),
        }
    }
    panic!("engine did not restart: no free port");
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_string())
        .collect()
}

/// Follows `iterator` until `done`, checking every page's size.
fn all_pages(engine: &Engine, path: &str, limit: usize) -> (Vec<String>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut iterator: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &iterator {
            Some(it) => format!("{path}{sep}limit={limit}&iterator={it}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = get(engine, &url);
        let got = ids(&page);
        assert!(got.len() <= limit, "page larger than limit: {page}");
        out.extend(got);
        pages += 1;
        if page["done"] == json!(true) {
            return (out, pages);
        }
        iterator = page["iterator"].as_str().map(str::to_string);
        assert!(pages < 100, "pagination does not end");
    }
}

/// Everything the listings say about an app, for before/after comparisons.
fn snapshot(engine: &Engine, app: &str, eps: &[String], msgs: &[String]) -> Value {
    let mut s = serde_json::Map::new();
    s.insert(
        "msgs".into(),
        get(
            engine,
            &format!("/api/v1/app/{app}/msg?with_content=true&limit=250"),
        ),
    );
    for ep in eps {
        for path in [
            format!("/api/v1/app/{app}/attempt/endpoint/{ep}?limit=250"),
            format!("/api/v1/app/{app}/endpoint/{ep}/msg?limit=250"),
            format!("/api/v1/app/{app}/endpoint/{ep}/stats"),
        ] {
            s.insert(path.clone(), get(engine, &path));
        }
    }
    for m in msgs {
        for path in [
            format!("/api/v1/app/{app}/attempt/msg/{m}"),
            format!("/api/v1/app/{app}/msg/{m}/endpoint"),
            format!("/api/v1/app/{app}/msg/{m}"),
        ] {
            s.insert(path.clone(), get(engine, &path));
        }
    }
    Value::Object(s)
}

#[test]
fn listings_filter_paginate_and_survive_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("reads");
    let ep_all = engine.create_endpoint(&app, json!({ "url": sink.url("/all") }))["id"]
        .as_str()
        .expect("id")
        .to_string();
    let ep_created = engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/created"), "filterTypes": ["user.created"] }),
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut sent = Vec::new();
    for i in 0..25 {
        let et = if i % 2 == 0 {
            "user.created"
        } else {
            "user.deleted"
        };
        let mut body = json!({ "eventType": et, "payload": { "i": i } });
        if i % 5 == 0 {
            body["channels"] = json!(["ch1"]);
        }
        let (s, v) = engine.api("POST", &format!("/api/v1/app/{app}/msg"), Some(body));
        assert_eq!(s, 202, "{v}");
        sent.push(v["id"].as_str().expect("id").to_string());
    }
    wait_for("38 deliveries", DEADLINE, || {
        (sink.count() >= 38).then_some(())
    });
    wait_for("38 attempts indexed", DEADLINE, || {
        let a = get(
            &engine,
            &format!("/api/v1/app/{app}/endpoint/{ep_all}/stats"),
        );
        let b = get(
            &engine,
            &format!("/api/v1/app/{app}/endpoint/{ep_created}/stats"),
        );
        (a["success"] == json!(25) && b["success"] == json!(13)).then_some(())
    });

    // Messages: newest first across three pages of 10.
    let (listed, pages) = all_pages(&engine, &format!("/api/v1/app/{app}/msg"), 10);
    let mut newest_first = sent.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    assert_eq!(pages, 3);
    // The previous-page iterator of page two gives page one again.
    let p1 = get(&engine, &format!("/api/v1/app/{app}/msg?limit=10"));
    let it = p1["iterator"].as_str().expect("iterator");
    let p2 = get(
        &engine,
        &format!("/api/v1/app/{app}/msg?limit=10&iterator={it}"),
    );
    let prev = p2["prevIterator"].as_str().expect("prevIterator");
    let back = get(
        &engine,
        &format!("/api/v1/app/{app}/msg?limit=10&iterator={prev}"),
    );
    assert_eq!(ids(&back), ids(&p1));
    // Filters.
    let (created, _) = all_pages(
        &engine,
        &format!("/api/v1/app/{app}/msg?event_types=user.created"),
        4,
    );
    assert_eq!(created.len(), 13);
    let (both, _) = all_pages(
        &engine,
        &format!("/api/v1/app/{app}/msg?event_types=user.created,user.deleted"),
        50,
    );
    assert_eq!(both.len(), 25);
    let ch = get(&engine, &format!("/api/v1/app/{app}/msg?channel=ch1"));
    assert_eq!(ids(&ch), [20, 15, 10, 5, 0].map(|i| sent[i].clone()));
    let mid = get(&engine, &format!("/api/v1/app/{app}/msg/{}", sent[12]));
    let ts = mid["timestamp"].as_str().expect("timestamp").to_string();
    let enc = |s: &str| s.replace(':', "%3A");
    let before = get(
        &engine,
        &format!("/api/v1/app/{app}/msg?before={}&limit=250", enc(&ts)),
    );
    let after = get(
        &engine,
        &format!("/api/v1/app/{app}/msg?after={}&limit=250", enc(&ts)),
    );
    let at_same_ms = 25 - ids(&before).len() - ids(&after).len();
    assert!(
        at_same_ms >= 1,
        "the message itself is neither before nor after"
    );
    assert!(ids(&before).iter().all(|id| *id < sent[12]));
    assert!(ids(&after).iter().all(|id| *id > sent[12]));
    let bad = engine.api(
        "GET",
        &format!("/api/v1/app/{app}/msg?before=yesterday"),
        None,
    );
    assert_eq!(bad.0, 422);
    // Content comes from the journal only when asked for.
    assert_eq!(mid["payload"], json!({ "i": 12 }));
    let bare = get(
        &engine,
        &format!("/api/v1/app/{app}/msg?with_content=false&limit=1"),
    );
    assert_eq!(bare["data"][0]["payload"], json!({}));
    let full = get(
        &engine,
        &format!("/api/v1/app/{app}/msg?with_content=true&limit=1"),
    );
    assert_eq!(full["data"][0]["payload"], json!({ "i": 24 }));
    assert_eq!(full["data"][0]["eventType"], json!("user.created"));

    // Attempts by endpoint, paginated and filtered.
    let base = format!("/api/v1/app/{app}/attempt/endpoint/{ep_all}");
    let (attempts, pages) = all_pages(&engine, &base, 7);
    assert_eq!((attempts.len(), pages), (25, 4));
    let mut sorted = attempts.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(attempts, sorted, "newest first");
    assert_eq!(
        all_pages(&engine, &format!("{base}?status=0"), 50).0.len(),
        25
    );
    assert_eq!(
        all_pages(&engine, &format!("{base}?status=2"), 50).0.len(),
        0
    );
    assert_eq!(
        all_pages(&engine, &format!("{base}?status_code_class=200"), 50)
            .0
            .len(),
        25
    );
    assert_eq!(
        all_pages(&engine, &format!("{base}?status_code_class=500"), 50)
            .0
            .len(),
        0
    );
    assert_eq!(
        all_pages(&engine, &format!("{base}?event_types=user.deleted"), 50)
            .0
            .len(),
        12
    );
    let one = get(&engine, &format!("{base}?limit=1&with_msg=true"));
    let a = &one["data"][0];
    assert_eq!(a["msgId"], json!(sent[24]));
    assert_eq!(a["endpointId"], json!(ep_all));
    assert_eq!(a["responseStatusCode"], json!(204));
    // A 204 has no body, so the kept response text is empty.
    assert_eq!(a["response"], json!(""));
    assert_eq!(a["status"], json!(0));
    assert_eq!(a["triggerType"], json!(0));
    assert_eq!(a["url"], json!(sink.url("/all")));
    assert_eq!(a["msg"]["eventType"], json!("user.created"));
    assert!(a["responseDurationMs"].is_u64());
    // Attempts of one message, and one attempt by id.
    let by_msg = get(
        &engine,
        &format!("/api/v1/app/{app}/attempt/msg/{}", sent[24]),
    );
    assert_eq!(ids(&by_msg).len(), 2);
    let only = get(
        &engine,
        &format!(
            "/api/v1/app/{app}/attempt/msg/{}?endpoint_id={ep_created}",
            sent[24]
        ),
    );
    assert_eq!(only["data"][0]["endpointId"], json!(ep_created));
    assert_eq!(ids(&only).len(), 1);
    let aid = ids(&only)[0].clone();
    let got = get(
        &engine,
        &format!("/api/v1/app/{app}/msg/{}/attempt/{aid}", sent[24]),
    );
    assert_eq!(got["id"], json!(aid));
    let missing = engine.api(
        "GET",
        &format!("/api/v1/app/{app}/msg/{}/attempt/atmpt_x", sent[24]),
        None,
    );
    assert_eq!(missing.0, 404);
    // Messages of an endpoint and destinations of a message, with status.
    let (ep_msgs, _) = all_pages(
        &engine,
        &format!("/api/v1/app/{app}/endpoint/{ep_created}/msg"),
        5,
    );
    assert_eq!(ep_msgs.len(), 13);
    let em = get(
        &engine,
        &format!("/api/v1/app/{app}/endpoint/{ep_created}/msg?limit=1"),
    );
    assert_eq!(em["data"][0]["status"], json!(0));
    assert_eq!(em["data"][0]["statusText"], json!("success"));
    assert_eq!(em["data"][0]["nextAttempt"], Value::Null);
    assert_eq!(em["data"][0]["payload"], json!({ "i": 24 }));
    let dests = get(
        &engine,
        &format!("/api/v1/app/{app}/msg/{}/endpoint", sent[24]),
    );
    let mut dest_ids = ids(&dests);
    dest_ids.sort();
    let mut want = vec![ep_all.clone(), ep_created.clone()];
    want.sort();
    assert_eq!(dest_ids, want);
    assert!(dests["data"]
        .as_array()
        .expect("list")
        .iter()
        .all(|d| d["status"] == json!(0)));
    assert_eq!(
        ids(&get(
            &engine,
            &format!("/api/v1/app/{app}/msg/{}/endpoint", sent[23])
        )),
        std::slice::from_ref(&ep_all)
    );
    let unknown = engine.api("GET", &format!("/api/v1/app/{app}/msg/msg_nope"), None);
    assert_eq!(unknown.0, 404);

    // The same answers after a clean stop and after kill -9.
    let eps = [ep_all.clone(), ep_created.clone()];
    let probe = [sent[0].clone(), sent[12].clone(), sent[24].clone()];
    let before = snapshot(&engine, &app, &eps, &probe);
    assert!(engine.stop(), "clean stop");
    restart(&mut engine);
    assert_eq!(
        snapshot(&engine, &app, &eps, &probe),
        before,
        "after SIGTERM"
    );
    engine.kill9();
    restart(&mut engine);
    assert_eq!(
        snapshot(&engine, &app, &eps, &probe),
        before,
        "after kill -9"
    );
    // And with the indexes re-homed to another shard count.
    for shards in ["3", "1"] {
        assert!(engine.stop(), "clean stop");
        restart_with(&mut engine, &["--shards", shards]);
        assert_eq!(
            snapshot(&engine, &app, &eps, &probe),
            before,
            "with {shards} shards"
        );
    }
}

#[test]
fn resend_recover_and_send_example() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(
        dir.path(),
        &["--shards", "2", "--retry-schedule", "0s,10ms,10ms"],
    );
    let failing = Arc::new(AtomicBool::new(true));
    let f = failing.clone();
    let sink = Sink::with_policy(Arc::new(
        move |_, _| {
            if f.load(Ordering::Relaxed) {
                500
            } else {
                204
            }
        },
    ));
    let other = Sink::start();
    let app = engine.create_app("manual");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/flaky") }))["id"]
        .as_str()
        .expect("id")
        .to_string();
    engine.create_endpoint(
        &app,
        json!({ "url": other.url("/other"), "filterTypes": ["never"] }),
    );
    let sent: Vec<String> = (0..3)
        .map(|i| engine.send(&app, "order.paid", json!({ "n": i })))
        .collect();
    let stats = |engine: &Engine| get(engine, &format!("/api/v1/app/{app}/endpoint/{ep}/stats"));
    wait_for("3 failed deliveries", DEADLINE, || {
        (stats(&engine)["fail"] == json!(3)).then_some(())
    });
    let s = stats(&engine);
    assert_eq!(
        (
            s["success"].clone(),
            s["pending"].clone(),
            s["sending"].clone()
        ),
        (json!(0), json!(0), json!(0))
    );
    let attempts = get(
        &engine,
        &format!("/api/v1/app/{app}/attempt/msg/{}", sent[0]),
    );
    assert_eq!(ids(&attempts).len(), 3, "the whole schedule was tried");
    for a in attempts["data"].as_array().expect("list") {
        assert_eq!(
            (
                a["status"].clone(),
                a["responseStatusCode"].clone(),
                a["triggerType"].clone()
            ),
            (json!(2), json!(500), json!(0))
        );
    }
    let dest = get(
        &engine,
        &format!("/api/v1/app/{app}/msg/{}/endpoint", sent[0]),
    );
    assert_eq!(dest["data"][0]["statusText"], json!("fail"));
    let failed = get(
        &engine,
        &format!("/api/v1/app/{app}/endpoint/{ep}/msg?status=2"),
    );
    assert_eq!(ids(&failed).len(), 3);

    // Resend one message by hand: same webhook-id, a manual attempt.
    failing.store(false, Ordering::Relaxed);
    let (s, v) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg/{}/endpoint/{ep}/resend", sent[0]),
        None,
    );
    assert_eq!(s, 202, "{v}");
    wait_for("the resent message", DEADLINE, || {
        sink.ids().contains(&sent[0]).then_some(())
    });
    wait_for("its attempt indexed", DEADLINE, || {
        (stats(&engine)["success"] == json!(1)).then_some(())
    });
    assert_eq!(stats(&engine)["fail"], json!(2));
    let attempts = get(
        &engine,
        &format!("/api/v1/app/{app}/attempt/msg/{}", sent[0]),
    );
    let newest = &attempts["data"][0];
    assert_eq!(
        (newest["status"].clone(), newest["triggerType"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(ids(&attempts).len(), 4);
    let missing = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg/msg_none/endpoint/{ep}/resend"),
        None,
    );
    assert_eq!(missing.0, 404);

    // Recover the other two as a background task.
    let since = "2000-01-01T00:00:00Z";
    let (s, task) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint/{ep}/recover"),
        Some(json!({ "since": since })),
    );
    assert_eq!(s, 202, "{task}");
    let task_id = task["id"].as_str().expect("task id").to_string();
    assert!(task_id.starts_with("qtask_"));
    assert_eq!(task["task"], json!("endpoint.recover"));
    assert!(task["status"] == json!("running") || task["status"] == json!("finished"));
    let done = wait_for("recover finished", DEADLINE, || {
        let t = get(&engine, &format!("/api/v1/background-task/{task_id}"));
        (t["status"] == json!("finished")).then_some(t)
    });
    assert_eq!(done["data"]["messages"], json!(2));
    wait_for("recovered deliveries", DEADLINE, || {
        (sent.iter().all(|m| sink.ids().contains(m))).then_some(())
    });
    wait_for("all succeeded", DEADLINE, || {
        (stats(&engine)["success"] == json!(3)).then_some(())
    });
    let tasks = get(&engine, "/api/v1/background-task");
    assert!(ids(&tasks).contains(&task_id));
    let bad = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint/{ep}/recover"),
        Some(json!({})),
    );
    assert_eq!(bad.0, 422);

    // send-example goes to this endpoint only, even though it filters nothing in.
    let (s, ex) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/endpoint/{ep}/send-example"),
        Some(json!({ "eventType": "user.example" })),
    );
    assert_eq!(s, 202, "{ex}");
    let ex_id = ex["id"].as_str().expect("id").to_string();
    let got = wait_for("the example", DEADLINE, || {
        sink.received()
            .into_iter()
            .find(|r| r.webhook_id() == ex_id)
    });
    assert_eq!(got.json()["example"], json!(true));
    assert_eq!(ex["eventType"], json!("user.example"));
    assert_eq!(
        get(&engine, &format!("/api/v1/app/{app}/msg/{ex_id}/endpoint"))["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(other.ids().is_empty(), "the other endpoint got nothing");

    // The manual attempts stay manual after a crash.
    wait_for("example indexed", DEADLINE, || {
        (stats(&engine)["success"] == json!(4)).then_some(())
    });
    let before = snapshot(&engine, &app, std::slice::from_ref(&ep), &sent);
    engine.kill9();
    restart(&mut engine);
    assert_eq!(
        snapshot(&engine, &app, std::slice::from_ref(&ep), &sent),
        before
    );
    assert_eq!(
        sink.ids().iter().filter(|i| **i == sent[0]).count(),
        1,
        "nothing redelivered"
    );
}

#[test]
fn pending_deliveries_show_their_next_attempt_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "2", "--retry-schedule", "0s,1m"]);
    let sink = Sink::with_policy(Arc::new(|_, _| 503));
    let app = engine.create_app("later");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/later") }))["id"]
        .as_str()
        .expect("id")
        .to_string();
    let msg = engine.send(&app, "t.x", json!({ "k": "v" }));
    let dest_path = format!("/api/v1/app/{app}/msg/{msg}/endpoint");
    let dest = wait_for("the first attempt", DEADLINE, || {
        let d = get(&engine, &dest_path);
        (d["data"][0]["status"] == json!(1) && !d["data"][0]["nextAttempt"].is_null()).then_some(d)
    });
    assert_eq!(dest["data"][0]["statusText"], json!("pending"));
    let next = dest["data"][0]["nextAttempt"]
        .as_str()
        .expect("nextAttempt")
        .to_string();
    let sent_at = get(&engine, &format!("/api/v1/app/{app}/msg/{msg}"))["timestamp"]
        .as_str()
        .expect("ts")
        .to_string();
    assert!(next > sent_at, "next attempt {next} is after {sent_at}");
    let stats = get(&engine, &format!("/api/v1/app/{app}/endpoint/{ep}/stats"));
    assert_eq!(stats["pending"], json!(1));
    let em = get(
        &engine,
        &format!("/api/v1/app/{app}/endpoint/{ep}/msg?status=1"),
    );
    assert_eq!(em["data"][0]["nextAttempt"], json!(next));
    // A manual resend while it waits: its attempt fails too and is manual.
    let (s, _) = engine.api(
        "POST",
        &format!("/api/v1/app/{app}/msg/{msg}/endpoint/{ep}/resend"),
        None,
    );
    assert_eq!(s, 202);
    let attempts_path = format!("/api/v1/app/{app}/attempt/msg/{msg}");
    wait_for("the manual attempt", DEADLINE, || {
        let a = get(&engine, &attempts_path);
        (ids(&a).len() == 2 && a["data"][0]["triggerType"] == json!(1)).then_some(())
    });
    let before = snapshot(
        &engine,
        &app,
        std::slice::from_ref(&ep),
        std::slice::from_ref(&msg),
    );
    assert!(engine.stop(), "clean stop");
    restart(&mut engine);
    assert_eq!(
        snapshot(
            &engine,
            &app,
            std::slice::from_ref(&ep),
            std::slice::from_ref(&msg)
        ),
        before,
        "after SIGTERM"
    );
    engine.kill9();
    restart(&mut engine);
    assert_eq!(
        snapshot(
            &engine,
            &app,
            std::slice::from_ref(&ep),
            std::slice::from_ref(&msg)
        ),
        before,
        "after kill -9"
    );
}

#[test]
fn the_svix_python_sdk_parses_every_read_path_response() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let app = engine.create_app("sdk");
    let ep = engine.create_endpoint(&app, json!({ "url": sink.url("/sdk") }))["id"]
        .as_str()
        .expect("id")
        .to_string();
    let first = engine.send(&app, "sdk.one", json!({ "a": 1 }));
    let last = engine.send(&app, "sdk.two", json!({ "b": 2 }));
    wait_for("both delivered and indexed", DEADLINE, || {
        let s = get(&engine, &format!("/api/v1/app/{app}/endpoint/{ep}/stats"));
        (s["success"] == json!(2)).then_some(())
    });
    let out = std::process::Command::new(common::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/py/svix_reads.py"
        ))
        .args([
            &format!("http://{}", engine.http),
            common::TOKEN,
            &app,
            &ep,
            &last,
        ])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "svix SDK script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(v["msgs"], json!([last, first]));
    assert_eq!(v["msgs_done"], json!(true));
    assert_eq!(v["payload"], json!({ "b": 2 }));
    assert_eq!(v["get"], json!(last));
    assert_eq!(v["attempt_statuses"], json!([0]));
    assert_eq!(v["by_msg"], json!(1));
    assert_eq!(v["one_trigger"], json!(0));
    assert_eq!(v["dest_status"], json!(["success"]));
    assert_eq!(v["attempted_messages"], json!(2));
    assert_eq!(v["stats"], json!({ "success": 2, "fail": 0 }));
    assert_eq!(v["task"], json!("endpoint.recover"));
    assert_eq!(v["task_status"], json!("finished"));
    assert_eq!(v["tasks_listed"], json!(true));
    assert_eq!(v["example_type"], json!("sdk.example"));
    // The SDK's resend was delivered again under the same webhook-id.
    wait_for("the resend", DEADLINE, || {
        (sink.ids().iter().filter(|i| **i == last).count() == 2).then_some(())
    });
}
