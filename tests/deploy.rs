//! The service files in `deploy/` (issue 13, "Running it as a service"):
//! the systemd unit passes `systemd-analyze verify` (when systemd is
//! installed) and keeps its restart and sandboxing directives; the
//! container recipe runs the binary as a non-root user on a private data
//! directory.

use std::path::Path;
use std::process::Command;

fn read(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(name),
    )
    .expect("deploy file")
}

#[test]
fn the_systemd_unit_restarts_on_failure_and_is_sandboxed() {
    let unit = read("ringhook.service");
    for directive in [
        "Restart=on-failure",
        "LimitNOFILE=",
        "LimitMEMLOCK=",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/ringhook",
        "NoNewPrivileges=yes",
        "DynamicUser=yes",
        "StateDirectoryMode=0700",
        "UMask=0077",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(directive)),
            "{directive} missing"
        );
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        // The directives are checked above; the verifier is not installed.
        return;
    }
    // Verify with ExecStart pointing at the binary this build made.
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_ringhook");
    let local = unit.replace("/usr/local/bin/ringhook", bin);
    let path = dir.path().join("ringhook.service");
    std::fs::write(&path, local).expect("write unit");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Lines about ringhook.service itself; the host's own units may warn.
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ringhook.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{text}");
}

#[test]
fn the_container_runs_as_a_user_on_a_private_data_directory() {
    let recipe = read("Containerfile");
    assert!(
        recipe.lines().any(|l| l.starts_with("USER ringhook")),
        "non-root"
    );
    assert!(recipe.contains("chmod 0700 /var/lib/ringhook"));
    assert!(recipe.contains("--data-dir\", \"/var/lib/ringhook\""));
    assert!(recipe.contains("io_uring_setup, io_uring_enter and io_uring_register"));
}
