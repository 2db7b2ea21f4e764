//! A fresh engine's disk use: journal segment files start small and grow as
//! they fill (their segments stay 64 MiB long), so a new data directory
//! takes a few MiB instead of a full segment per shard, and a restart does
//! not extend them.

mod common;

use common::Engine;
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const MIB: u64 = 1024 * 1024;

/// Bytes on disk of every file under `dir` (`st_blocks` × 512), and the
/// largest share of one directory.
fn disk_bytes(dir: &Path) -> (u64, u64) {
    let (mut total, mut largest) = (0, 0);
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            let (sub, _) = disk_bytes(&path);
            total += sub;
            largest = largest.max(sub);
        } else {
            total += meta.blocks() * 512;
        }
    }
    (total, largest)
}

#[test]
fn a_fresh_engine_takes_at_most_16_mib_of_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The default segment sizes (the harness makes shard segments 1 MiB),
    // and the shard count of the 2-CPU machine the bound is stated for.
    let args = ["--shards", "2", "--segment-bytes", "67108864"];
    let mut engine = Engine::start(dir.path(), &args);
    let (fresh, per_journal) = disk_bytes(&engine.data_dir);
    assert!(fresh <= 16 * MIB, "a fresh engine takes {fresh} bytes");
    // Each journal takes one small file, so more shards cost 1 MiB each.
    assert!(
        per_journal <= MIB + 64 * 1024,
        "a journal takes {per_journal} bytes"
    );

    let app = engine.create_app("disk");
    for i in 0..50 {
        engine.send(&app, "disk.used", json!({ "i": i }));
    }
    assert!(engine.stop());
    engine.spawn().expect("restarts");
    let (after, _) = disk_bytes(&engine.data_dir);
    assert!(
        after <= 16 * MIB,
        "after some traffic and a restart: {after} bytes"
    );
    assert!(engine.stop());
}
