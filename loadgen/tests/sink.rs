//! The standalone `loadgen sink`: signature checks, duplicate counting, failure injection,
//! `GET /stats`, and the counts printed on SIGINT, over real sockets.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A sink process, killed if a test fails before it stops it: a panicking
/// test must not leave its sink running.
struct SinkProcess(Option<Child>);

impl Drop for SinkProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts a sink with `extra` flags on a port of its own choosing (port 0:
/// no race with other tests for a port) and returns it with the address it
/// reports once it listens.
fn start_sink(extra: &[&str]) -> (SinkProcess, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["sink", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sink");
    let stderr = child.stderr.take().expect("stderr");
    let mut line = String::new();
    // The sink reports its address once it listens (or exits with an error).
    let mut stderr = BufReader::new(stderr);
    stderr.read_line(&mut line).expect("sink output");
    // Keep draining it, so a later line never meets a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("sink did not report its address: {line:?}"))
        .to_string();
    (SinkProcess(Some(child)), addr)
}

/// Sends one request on a keep-alive connection and returns (status, body).
fn request(conn: &mut TcpStream, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut req = format!("{head}content-length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(body);
    conn.write_all(&req).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(n)) = resp.parse(&buf) {
            let len = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                .unwrap_or(0usize);
            if buf.len() >= n + len {
                return (resp.code.unwrap_or(0), buf[n..n + len].to_vec());
            }
        }
        let got = conn.read(&mut chunk).expect("read");
        assert!(got > 0, "sink closed the connection");
        buf.extend_from_slice(&chunk[..got]);
    }
}

fn delivery(id: &str, signature: &str, body: &[u8]) -> (String, Vec<u8>) {
    let head = format!(
        "POST /ep/0 HTTP/1.1\r\nhost: sink\r\nwebhook-id: {id}\r\n\
         webhook-timestamp: 1700000000\r\nwebhook-signature: {signature}\r\n"
    );
    (head, body.to_vec())
}

fn stop(mut sink: SinkProcess) -> Value {
    let child = sink.0.take().expect("running");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("sink exits");
    assert!(out.status.success(), "sink exit status {:?}", out.status);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "counts as JSON on exit ({e}): {:?}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn verifies_signatures_counts_duplicates_and_reports_stats() {
    let (child, addr) = start_sink(&["--secret", SECRET]);
    let key = ringhook::signing::parse_secret(SECRET).expect("secret");
    let body = br#"{"t":1700000000000000,"seq":1}"#;
    let good = ringhook::signing::signature_header(&[&key], "msg_1", 1_700_000_000, body);
    let mut conn = TcpStream::connect(&addr).expect("connect");
    let (head, b) = delivery("msg_1", &format!("v1,bogus {good}"), body);
    assert_eq!(request(&mut conn, &head, &b).0, 204);
    assert_eq!(
        request(&mut conn, &head, &b).0,
        204,
        "a duplicate is still answered"
    );
    let (head, b) = delivery("msg_2", &good, body);
    assert_eq!(
        request(&mut conn, &head, &b).0,
        401,
        "signature of another id"
    );
    let (status, stats) = request(&mut conn, "GET /stats HTTP/1.1\r\nhost: sink\r\n", b"");
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_slice(&stats).expect("stats JSON");
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["delivered"], 1);
    assert_eq!(stats["duplicates"], 1);
    assert_eq!(stats["bad_signatures"], 1);
    assert_eq!(stats["latency_samples"], 2);
    drop(conn);
    assert_eq!(stop(child)["delivered"], 1);
}

#[test]
fn injects_failures_by_status_and_rate() {
    let (child, addr) = start_sink(&["--status", "503"]);
    let mut conn = TcpStream::connect(&addr).expect("connect");
    let (head, b) = delivery("msg_1", "v1,x", b"{}");
    assert_eq!(request(&mut conn, &head, &b).0, 503);
    drop(conn);
    let counts = stop(child);
    assert_eq!(
        (counts["failed"].as_u64(), counts["delivered"].as_u64()),
        (Some(1), Some(0))
    );

    let (child, addr) = start_sink(&["--fail-rate", "1"]);
    let mut conn = TcpStream::connect(&addr).expect("connect");
    assert_eq!(request(&mut conn, &head, &b).0, 500);
    drop(conn);
    assert_eq!(stop(child)["failed"], 1);
}

/// Starts a sink on a fixed address and returns it, or the error it exits with.
fn start_sink_at(addr: &str) -> Result<SinkProcess, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["sink", "--addr", addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sink");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("sink output");
    if line.contains("listening") {
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        return Ok(SinkProcess(Some(child)));
    }
    let _ = stderr.read_to_string(&mut line);
    let _ = child.wait();
    Err(line)
}

#[test]
fn refuses_a_port_another_sink_serves_and_restarts_on_a_port_it_just_left() {
    let (first, addr) = start_sink(&[]);
    let second = start_sink_at(&addr).map(drop);
    let refused = second.expect_err("a second sink on a served port");
    assert!(refused.contains("another sink"), "{refused}");
    // The sink closes this connection when it stops: its side lingers in
    // TIME_WAIT on the sink's port, which must not keep the next sink out.
    let mut conn = TcpStream::connect(&addr).expect("connect");
    let (status, _) = request(&mut conn, "GET /stats HTTP/1.1\r\nhost: sink\r\n", b"");
    assert_eq!(status, 200);
    stop(first);
    let mut byte = [0u8; 1];
    assert_eq!(
        conn.read(&mut byte).expect("read after stop"),
        0,
        "closed by the sink"
    );
    let again = start_sink_at(&addr).expect("a sink on the port the last one left");
    let mut conn = TcpStream::connect(&addr).expect("connect");
    let (status, _) = request(&mut conn, "GET /stats HTTP/1.1\r\nhost: sink\r\n", b"");
    assert_eq!(status, 200);
    drop(conn);
    stop(again);
}
