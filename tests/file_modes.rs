//! The data directory is the owner's alone: the journals hold endpoint
//! secrets and header values in clear. A real engine writes a real data
//! directory; every directory in it must be 0700 and every file 0600, the
//! ingest socket 0600, `token create` likewise, and an engine refuses to
//! start on a directory that group or others can reach.

mod common;

use common::{Engine, Sink, TOKEN};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

/// Every (path, mode) under `dir`, the directory itself included.
fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, u32, bool)>) {
    out.push((dir.to_path_buf(), mode(dir), true));
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push((path.clone(), mode(&path), false));
        }
    }
}

#[test]
fn every_file_of_the_data_directory_and_the_socket_are_the_owners_alone() {
    let root = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start();
    let mut engine = Engine::start(root.path(), &[]);
    let app = engine.create_app("modes");
    engine.create_endpoint(
        &app,
        json!({ "url": sink.url("/m"), "headers": { "authorization": "Bearer s3cr3t" } }),
    );
    engine.send(&app, "t.e", json!({ "n": 1 }));
    assert_eq!(mode(&engine.socket), 0o600, "ingest socket");
    assert!(engine.stop(), "clean stop");

    let mut entries = Vec::new();
    walk(&engine.data_dir, &mut entries);
    let files = entries.iter().filter(|e| !e.2).count();
    assert!(
        files >= 4,
        "journal segments and locks were written: {entries:?}"
    );
    for (path, m, is_dir) in &entries {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*m, want, "{} has mode {m:o}", path.display());
    }
}

#[test]
fn an_engine_refuses_a_data_directory_others_can_read() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_ringhook"))
        .arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .arg("--socket")
        .arg(root.path().join("s.sock"))
        .arg("--http-addr")
        .arg("127.0.0.1:0")
        .env("RINGHOOK_API_TOKEN", TOKEN)
        .output()
        .expect("run ringhook");
    assert!(
        !out.status.success(),
        "must not start on a 0755 data directory"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("chmod -R go-rwx") && stderr.contains("0755"),
        "the error says what is wrong and how to fix it: {stderr}"
    );
    assert!(
        std::fs::read_dir(&data).expect("read_dir").next().is_none(),
        "nothing was written into it"
    );

    // After the fix it starts.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let mut engine = Engine::start(root.path(), &[]);
    assert!(engine.health());
    assert!(engine.stop());
}

#[test]
fn token_create_writes_a_private_directory_and_file() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("fresh");
    let out = Command::new(env!("CARGO_BIN_EXE_ringhook"))
        .args(["token", "create", "--data-dir"])
        .arg(&data)
        .output()
        .expect("run ringhook");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("api-tokens")), 0o600);
    let token = String::from_utf8_lossy(&out.stdout);
    let stored = std::fs::read_to_string(data.join("api-tokens")).expect("tokens");
    assert!(
        stored.contains(token.trim()),
        "the printed token is the stored one"
    );
}
