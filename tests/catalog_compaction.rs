//! Catalog journal compaction (issue 10, item 10): the catalog journal is
//! rewritten as the live catalog once it has grown, reads back the same after
//! a restart, and loses nothing when the process dies at any step of a
//! compaction (failpoints) or at a random moment (`kill -9`).

mod common;

use common::{wait_for, Engine};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Small catalog segments and a low threshold, so a few hundred changes
/// compact several times.
const CONFIG: &str =
    "max_body_bytes = 65536\ncatalog_segment_bytes = 131072\ncatalog_compact_min_bytes = 65536\n";

fn engine(dir: &Path, env: &[(&str, &str)]) -> Engine {
    let path = dir.join("catalog.toml");
    std::fs::write(&path, CONFIG).expect("config");
    let path = path.to_str().expect("utf-8 path").to_string();
    let mut e = Engine::start(dir, &["--shards", "1", "--config", &path]);
    e.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // `start` already runs one process without the environment; restart
    // with it when there is any.
    if !env.is_empty() {
        assert!(e.stop(), "clean stop");
        e.spawn().expect("restart with the environment");
    }
    e
}

/// Patches the application's metadata to `n`, with some padding so that
/// records are a few KiB; the status, or None when the engine went away.
fn patch(engine: &Engine, app: &str, n: u64) -> Option<u16> {
    engine.api_result(
        "PATCH",
        &format!("/api/v1/app/{app}"),
        json!({ "metadata": { "n": n.to_string(), "pad": "p".repeat(4000) } }),
    )
}

fn metadata_n(engine: &Engine, app: &str) -> u64 {
    let (s, v) = engine.api("GET", &format!("/api/v1/app/{app}"), None);
    assert_eq!(s, 200, "{v}");
    v["metadata"]["n"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("metadata n in {v}"))
}

fn catalog_segments(data_dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(data_dir.join("catalog"))
        .expect("catalog dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect()
}

fn leftovers(data_dir: &Path) -> Vec<&'static str> {
    ["catalog.next", "catalog.prev"]
        .into_iter()
        .filter(|d| data_dir.join(d).exists())
        .collect()
}

fn compactions_logged(engine: &Engine) -> usize {
    std::fs::read_to_string(&engine.stderr_path)
        .unwrap_or_default()
        .matches("catalog journal compacted")
        .count()
}

/// A catalog with deletions and many changes: what reads back after
/// compactions and a restart is exactly what was live.
fn populate(engine: &Engine) -> (String, Vec<String>) {
    let app = engine.create_app("compacted");
    let url = "http://127.0.0.1:9/hook";
    let eps: Vec<String> = (0..3)
        .map(|i| {
            engine.create_endpoint(&app, json!({ "url": url, "uid": format!("ep{i}"), "headers": { "authorization": "Bearer s3cret" } }))["id"]
                .as_str()
                .expect("endpoint id")
                .to_string()
        })
        .collect();
    let (s, _) = engine.api(
        "DELETE",
        &format!("/api/v1/app/{app}/endpoint/{}", eps[1]),
        None,
    );
    assert_eq!(s, 204);
    let (s, _) = engine.api(
        "POST",
        "/api/v1/event-type",
        Some(json!({ "name": "invoice.paid", "description": "d" })),
    );
    assert_eq!(s, 201);
    let gone = engine.create_app("short-lived");
    let (s, _) = engine.api("DELETE", &format!("/api/v1/app/{gone}"), None);
    assert_eq!(s, 204);
    (app, eps)
}

#[test]
fn the_catalog_journal_is_compacted_and_reads_back_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = engine(dir.path(), &[]);
    let (app, eps) = populate(&engine);
    // 300 changes of ~4 KiB: 1.2 MiB of records for ~5 KiB of live data.
    for n in 1..=300 {
        assert_eq!(patch(&engine, &app, n), Some(200));
    }
    assert!(
        compactions_logged(&engine) >= 3,
        "{}",
        std::fs::read_to_string(&engine.stderr_path).unwrap_or_default()
    );
    // Without compaction this would be ten 128 KiB segments.
    let segments = catalog_segments(&engine.data_dir);
    assert!(segments.len() <= 2, "{segments:?}");
    assert!(leftovers(&engine.data_dir).is_empty());

    assert!(engine.stop(), "clean stop");
    engine.spawn().expect("restart");
    assert_eq!(metadata_n(&engine, &app), 300);
    let (s, v) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint"), None);
    assert_eq!(s, 200);
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{v}");
    assert!(ids.contains(&eps[0].as_str()) && ids.contains(&eps[2].as_str()));
    // Looked up by uid, through the rebuilt uid index.
    let (s, _) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint/ep2"), None);
    assert_eq!(s, 200);
    let (s, _) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint/ep1"), None);
    assert_eq!(s, 404);
    let (s, _) = engine.api("GET", "/api/v1/event-type/invoice.paid", None);
    assert_eq!(s, 200);
    let (s, v) = engine.api("GET", "/api/v1/app", None);
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");

    // The compacted journal holds secrets too: same modes as any journal.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&engine.data_dir.join("catalog")), 0o700);
    for seg in catalog_segments(&engine.data_dir) {
        assert_eq!(mode(&seg), 0o600, "{}", seg.display());
    }
    assert!(engine.stop());
}

/// The process dies at each step of a compaction: the next start settles
/// the directories and the catalog holds every acknowledged change.
#[test]
fn a_crash_at_any_step_of_a_compaction_loses_nothing() {
    for point in [
        "catalog-next-written",
        "catalog-prev-renamed",
        "catalog-next-renamed",
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut engine = engine(dir.path(), &[("RINGHOOK_FAILPOINT_CRASH_AT", point)]);
        let (app, _) = populate(&engine);
        let mut acked = 0;
        let mut sent = 0;
        for n in 1..=1000 {
            sent = n;
            match patch(&engine, &app, n) {
                Some(200) => acked = n,
                Some(other) => panic!("{point}: patch {n} answered {other}"),
                None => break,
            }
        }
        assert!(acked < 1000, "{point}: the failpoint never fired");
        let status = engine
            .wait_exit(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{point}: the engine did not die"));
        assert!(!status.success(), "{point}: a crash exits non-zero");

        // `journal check` names the interrupted swap and changes nothing.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringhook"))
            .args(["journal", "check", "--data-dir"])
            .arg(&engine.data_dir)
            .output()
            .expect("journal check");
        assert!(out.status.success(), "{point}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        if point == "catalog-prev-renamed" {
            assert!(text.contains("interrupted catalog compaction"), "{text}");
            assert!(!engine.data_dir.join("catalog").exists());
        }

        engine.env.clear();
        engine.spawn().expect("restart settles the compaction");
        let n = metadata_n(&engine, &app);
        // The change being answered when the process died was synced
        // before the compaction began: it may be there; every one
        // acknowledged must be.
        assert!(
            n == acked || n == sent,
            "{point}: n {n}, acked {acked}, sent {sent}"
        );
        assert!(leftovers(&engine.data_dir).is_empty(), "{point}");
        assert_eq!(patch(&engine, &app, 5000), Some(200));
        assert!(engine.stop());
        engine.spawn().expect("restart");
        assert_eq!(metadata_n(&engine, &app), 5000, "{point}");
        assert!(engine.stop());
    }
}

/// `kill -9` at a random moment while changes stream in and compactions
/// run: every acknowledged change is there after the restart.
#[test]
fn kill_9_during_compactions_loses_no_acknowledged_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = engine(dir.path(), &[]);
    let (app, _) = populate(&engine);
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = {
        let (http, app, acked) = (engine.http.clone(), app.clone(), acked.clone());
        std::thread::spawn(move || {
            let url = format!("http://{http}/api/v1/app/{app}");
            for n in 1.. {
                let body = json!({ "metadata": { "n": n.to_string(), "pad": "p".repeat(4000) } });
                let ok = ureq::patch(&url)
                    .set("authorization", &format!("Bearer {}", common::TOKEN))
                    .timeout(Duration::from_secs(5))
                    .send_json(body)
                    .is_ok_and(|r| r.status() == 200);
                if !ok {
                    return;
                }
                acked.store(n, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    wait_for("two compactions", Duration::from_secs(60), || {
        (compactions_logged(&engine) >= 2).then_some(())
    });
    engine.kill9();
    let _ = writer.join();
    let acked = acked.load(std::sync::atomic::Ordering::SeqCst);
    engine.spawn().expect("restart after kill -9");
    let n = metadata_n(&engine, &app);
    assert!(n == acked || n == acked + 1, "n {n}, acked {acked}");
    assert!(leftovers(&engine.data_dir).is_empty());
    let (s, v): (u16, Value) = engine.api("GET", &format!("/api/v1/app/{app}/endpoint"), None);
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2), "{v}");
    assert!(engine.stop());
}

/// A catalog journal written with another segment size (every catalog
/// before `catalog_segment_bytes` had the shard journals' 64 MiB) opens,
/// and the first change rewrites it with the configured size.
#[test]
fn a_catalog_journal_of_another_segment_size_is_migrated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = Engine::start(dir.path(), &["--shards", "1"]);
    let app = engine.create_app("old");
    assert!(engine.stop());
    // The segment size a segment was written with is in its header (its
    // file grows as it fills, up to that size).
    let size = |p: &Path| {
        let bytes = std::fs::read(p).expect("read segment");
        let len = std::fs::metadata(p).expect("stat").len();
        let header = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes"));
        assert!(len <= header, "{len} > {header}");
        header
    };
    let before = catalog_segments(&engine.data_dir);
    assert_eq!(before.len(), 1);
    assert_eq!(
        size(&before[0]),
        4 << 20,
        "the default catalog segment size"
    );

    let path = dir.path().join("catalog.toml");
    std::fs::write(&path, CONFIG).expect("config");
    engine.args = vec![
        "--shards".into(),
        "1".into(),
        "--config".into(),
        path.display().to_string(),
    ];
    engine
        .spawn()
        .expect("opens with the size it was written with");
    assert_eq!(metadata_n_or_none(&engine, &app), None);
    assert_eq!(patch(&engine, &app, 7), Some(200));
    let after = catalog_segments(&engine.data_dir);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(size(&after[0]), 128 << 10);
    assert!(engine.stop());
    engine.spawn().expect("restart");
    assert_eq!(metadata_n(&engine, &app), 7);
    assert!(engine.stop());
}

fn metadata_n_or_none(engine: &Engine, app: &str) -> Option<u64> {
    let (s, v) = engine.api("GET", &format!("/api/v1/app/{app}"), None);
    assert_eq!(s, 200, "{v}");
    v["metadata"]["n"].as_str().and_then(|n| n.parse().ok())
}
