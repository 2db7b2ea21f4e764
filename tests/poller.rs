//! The polling fallback (issue 14): the official `svix` SDK polls an
//! endpoint's messages in order, and a named consumer's position survives
//! `kill -9`.

mod common;

use common::{Engine, TOKEN};

#[test]
fn the_svix_sdk_polls_and_a_consumer_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "2"]);
    let server = format!("http://{}", engine.http);
    let out = common::run_python_script(
        "poller_sdk.py",
        &[server.clone(), TOKEN.into(), "first".into()],
    );
    let ids: Vec<&str> = out
        .lines()
        .find_map(|l| l.strip_prefix("ok "))
        .unwrap_or_else(|| panic!("{out}"))
        .split(' ')
        .collect();
    assert_eq!(ids.len(), 2, "{out}");
    engine.kill9();
    engine.spawn().expect("restart");
    let out = common::run_python_script(
        "poller_sdk.py",
        &[
            server,
            TOKEN.into(),
            "after-restart".into(),
            ids[0].into(),
            ids[1].into(),
        ],
    );
    assert!(out.trim_end().ends_with("ok"), "{out}");
}
