//! HTTP/1.1 pipelining of deliveries: a backlog goes out as runs of requests
//! in one write per connection; receivers that close after a response or do
//! not handle pipelining still get every message, each exactly once where
//! the receiver could not have acted on a request twice.

mod common;

use common::{wait_for, Engine};
use ringhook::ingest::client::IngestClient;
use ringhook::ingest::frame::{Event, EventResult};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// How the test receiver treats the requests that arrive on a connection.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answers every complete request, in order, as a compliant server does.
    Pipelined,
    /// Answers the first request with `connection: close` and closes.
    CloseAfterOne,
    /// A naive server: per read, answers the first request and drops the
    /// bytes after it.
    FirstOfEachRead,
    /// Answers every request with a response without length (no
    /// `content-length`, not chunked) and keeps the connection open: the
    /// client cannot tell where one answer ends.
    Unframed,
    /// On the first connection: answers its first request as `Pipelined`
    /// does, after 300 ms; then answers one with `connection: close` and
    /// closes at once, unread bytes and all (a per-connection request
    /// limit). Later connections are served as `Pipelined`.
    CloseOnSecond,
}

#[derive(Default)]
struct Seen {
    /// webhook-id of every request answered with 204, in arrival order.
    answered: Vec<String>,
    /// The most complete requests one read brought.
    most_per_read: usize,
    /// The number of requests each read brought, for reads after `mark`.
    per_read_after_mark: Vec<usize>,
    /// The connections (numbered by accept order) that carried requests after `mark`.
    connections_after_mark: std::collections::HashSet<usize>,
    mark: bool,
}

/// A raw receiver on 127.0.0.1 that parses requests itself.
fn receiver(mode: Mode) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let s = s.clone();
            std::thread::spawn(move || serve(stream, n, mode, &s));
        }
    });
    (addr, seen)
}

/// Splits complete requests off the front of `buf`: (webhook-id, length).
fn complete_requests(buf: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(head)) = req.parse(&buf[at..]) else {
            return out;
        };
        let field = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).to_string())
        };
        let len: usize = field("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if buf.len() < at + head + len {
            return out;
        }
        out.push((field("webhook-id").unwrap_or_default(), head + len));
        at += head + len;
    }
}

fn serve(mut stream: TcpStream, conn: usize, mode: Mode, seen: &Mutex<Seen>) {
    let mut buf = Vec::new();
    let mut served = 0;
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let reqs = complete_requests(&buf);
        if reqs.is_empty() {
            continue;
        }
        let take = match mode {
            Mode::Pipelined | Mode::Unframed => reqs.len(),
            Mode::CloseAfterOne | Mode::FirstOfEachRead | Mode::CloseOnSecond => 1,
        };
        let limited = mode == Mode::CloseOnSecond && conn == 0;
        let take = if mode == Mode::CloseOnSecond && !limited {
            reqs.len()
        } else {
            take
        };
        let closing = mode == Mode::CloseAfterOne || (limited && served > 0);
        if limited && served == 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        served += take;
        let mut out = Vec::new();
        {
            let mut seen = seen.lock().expect("lock");
            seen.most_per_read = seen.most_per_read.max(reqs.len());
            if seen.mark {
                seen.per_read_after_mark.push(reqs.len());
                seen.connections_after_mark.insert(conn);
            }
            for (id, _) in reqs.iter().take(take) {
                seen.answered.push(id.clone());
                let close = if closing { "connection: close\r\n" } else { "" };
                let answer = match mode {
                    Mode::Unframed => "HTTP/1.1 200 OK\r\n\r\nok".to_string(),
                    _ => format!("HTTP/1.1 204 No Content\r\n{close}content-length: 0\r\n\r\n"),
                };
                out.extend_from_slice(answer.as_bytes());
            }
        }
        let used: usize = reqs.iter().take(take).map(|(_, len)| len).sum();
        match mode {
            Mode::FirstOfEachRead => buf.clear(),
            _ => {
                buf.drain(..used);
            }
        }
        if stream.write_all(&out).is_err() || closing {
            return;
        }
    }
}

/// An engine with one worker per endpoint (so every backlog is pipelined),
/// short timeouts and retries, and an endpoint at `addr`; returns its app.
fn engine_for(dir: &std::path::Path, addr: &str, depth: &str) -> (Engine, String) {
    engine_with(dir, addr, depth, 1)
}

fn engine_with(
    dir: &std::path::Path,
    addr: &str,
    depth: &str,
    connections: usize,
) -> (Engine, String) {
    engine_timed(dir, addr, depth, connections, 500)
}

/// `engine_with` and each response's time limit.
fn engine_timed(
    dir: &std::path::Path,
    addr: &str,
    depth: &str,
    connections: usize,
    request_timeout_ms: u64,
) -> (Engine, String) {
    let config = dir.join("ringhook.toml");
    std::fs::write(
        &config,
        format!(
            "max_in_flight_per_endpoint = {connections}\n\
             max_idle_connections_per_endpoint = {connections}\n\
             request_timeout_ms = {request_timeout_ms}\nretry_jitter_percent = 0\n"
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8").to_string();
    let engine = Engine::start(
        dir,
        &[
            "--config",
            &config,
            "--pipeline-depth",
            depth,
            "--retry-schedule",
            "0s,50ms,50ms,50ms,50ms,50ms",
        ],
    );
    let app = engine.create_app("pipelining");
    engine.create_endpoint(&app, json!({ "url": format!("http://{addr}/hook") }));
    (engine, app)
}

/// An `order.paid` event of `app` with this payload.
fn event(app: &str, payload: Value) -> Event {
    Event {
        app: app.into(),
        event_type: "order.paid".into(),
        event_id: None,
        channels: vec![],
        payload: payload.to_string().into_bytes(),
    }
}

/// `n` events of `app`.
fn events(app: &str, n: usize) -> Vec<Event> {
    (0..n).map(|i| event(app, json!({ "n": i }))).collect()
}

/// The ids an ACK gives, in event order (a rejection fails the test).
fn accepted(results: Vec<EventResult>) -> Vec<String> {
    results
        .into_iter()
        .map(|r| match r {
            EventResult::Accepted { msg_id } => msg_id,
            EventResult::Rejected(why) => panic!("event rejected: {why:?}"),
        })
        .collect()
}

/// Sends `n` events in one ingest batch (so they queue up behind one worker).
fn send_batch(engine: &Engine, app: &str, n: usize) -> Vec<String> {
    let mut client = IngestClient::connect(&engine.socket).expect("connect ingest");
    accepted(
        client
            .send_batch(&events(app, n))
            .expect("batch acknowledged"),
    )
}

fn counts(ids: &[String]) -> HashMap<String, usize> {
    let mut c = HashMap::new();
    for id in ids {
        *c.entry(id.clone()).or_insert(0) += 1;
    }
    c
}

fn wait_all_answered(seen: &Mutex<Seen>, ids: &[String]) -> Vec<String> {
    wait_for("every message answered", DEADLINE, || {
        let answered = seen.lock().expect("lock").answered.clone();
        let c = counts(&answered);
        ids.iter().all(|id| c.contains_key(id)).then_some(answered)
    })
}

#[test]
fn a_backlog_is_pipelined_in_order_and_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, seen) = receiver(Mode::Pipelined);
    let (engine, app) = engine_for(dir.path(), &addr, "4");
    let ids = send_batch(&engine, &app, 40);
    let answered = wait_all_answered(&seen, &ids);
    assert!(
        counts(&answered).values().all(|&n| n == 1),
        "each message delivered once"
    );
    // One worker takes the queue in order, so arrival order is send order.
    assert_eq!(answered, ids, "delivered in order");
    let most = seen.lock().expect("lock").most_per_read;
    assert!(
        (2..=4).contains(&most),
        "runs of up to the depth arrived together ({most} in one read)"
    );
    // The attempt log has one succeeded attempt per message.
    let (s, v) = engine.api(
        "GET",
        &format!("/api/v1/app/{app}/attempt/msg/{}", ids[39]),
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"][0]["responseStatusCode"], json!(204), "{v}");
}

#[test]
fn requests_behind_a_connection_close_are_resent_on_a_new_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, seen) = receiver(Mode::CloseAfterOne);
    let (_engine, app) = engine_for(dir.path(), &addr, "8");
    let ids = send_batch(&_engine, &app, 24);
    let answered = wait_all_answered(&seen, &ids);
    // The receiver answered each request it acted on, and it acted on none
    // of those behind a `connection: close`: no duplicates, still in order.
    assert_eq!(answered, ids);
}

#[test]
fn a_receiver_that_drops_pipelined_requests_is_sent_one_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, seen) = receiver(Mode::FirstOfEachRead);
    let (engine, app) = engine_for(dir.path(), &addr, "8");
    let ids = send_batch(&engine, &app, 16);
    // The first run loses requests to the 500 ms timeout; they are retried
    // one at a time and every message arrives.
    wait_all_answered(&seen, &ids);
    seen.lock().expect("lock").mark = true;
    let more = send_batch(&engine, &app, 16);
    wait_all_answered(&seen, &more);
    let after = seen.lock().expect("lock").per_read_after_mark.clone();
    assert!(
        after.iter().all(|&n| n == 1),
        "one request per read once pipelining is off: {after:?}"
    );
    let log = std::fs::read_to_string(&engine.stderr_path).unwrap_or_default();
    assert!(log.contains("sending one at a time"), "{log}");
}

/// A response without length ends, on a connection the receiver keeps
/// open, only by a quiet spell; the receiver has the requests behind it and
/// its answers to them were read as that response's body. They are not
/// sent again at once (each would reach the receiver once more per
/// response ahead of it, run after run): they count as not answered, are
/// retried on the schedule, and the endpoint is sent one request at a time.
#[test]
fn requests_behind_an_unframed_answer_are_not_resent_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, seen) = receiver(Mode::Unframed);
    // A limit well past the 500 ms quiet spell that ends each answer.
    let (engine, app) = engine_timed(dir.path(), &addr, "4", 1, 3_000);
    let ids = send_batch(&engine, &app, 6);
    let answered = wait_all_answered(&seen, &ids);
    let c = counts(&answered);
    assert!(
        c.values().all(|&n| n <= 2),
        "a request reaches the receiver at most twice: {c:?}"
    );
    // The requests behind the first of a pipelined run are recorded as not
    // answered: attempts, not silent repeats.
    let attempts: Vec<String> = ids
        .iter()
        .map(|id| {
            let (s, v) = engine.api("GET", &format!("/api/v1/app/{app}/attempt/msg/{id}"), None);
            assert_eq!(s, 200, "{v}");
            v.to_string()
        })
        .collect();
    assert!(
        attempts.iter().any(|a| a.contains("not answered")),
        "{attempts:?}"
    );
}

/// A run written to a pooled connection that fails after a whole request
/// went out is not sent again at once: the receiver may have acted on that
/// request (here it answered it, asked to close, and closed with the rest
/// unread). The run's deliveries are attempts that failed, retried on the
/// schedule.
#[test]
fn a_run_whose_write_fails_after_a_whole_request_is_not_resent_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, seen) = receiver(Mode::CloseOnSecond);
    let (engine, app) = engine_timed(dir.path(), &addr, "8", 1, 5_000);
    // A first message; its answer takes 300 ms, and the eight below queue
    // up behind it meanwhile, to go out as one run on the same connection.
    let first = send_batch(&engine, &app, 1);
    // Eight of ~900 KB in one run: more than the sockets' buffers take
    // while the receiver reads only the first.
    let big = "x".repeat(900 * 1024);
    let batch: Vec<Event> = (0..8)
        .map(|i| event(&app, json!({ "n": i, "pad": big })))
        .collect();
    let mut client = IngestClient::connect(&engine.socket).expect("connect ingest");
    let ids = accepted(client.send_batch(&batch).expect("batch acknowledged"));
    wait_all_answered(&seen, &first);
    wait_all_answered(&seen, &ids);
    let (s, v) = engine.api(
        "GET",
        &format!("/api/v1/app/{app}/attempt/msg/{}", ids[0]),
        None,
    );
    assert_eq!(s, 200, "{v}");
    let text = v.to_string();
    assert!(
        text.contains("write failed"),
        "the run's first delivery records its failed write: {text}"
    );
}

#[test]
fn a_fast_receiver_gets_full_runs_over_few_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, seen) = receiver(Mode::Pipelined);
    let (engine, app) = engine_with(dir.path(), &addr, "16", 16);
    // One message first: the engine learns that the receiver is fast.
    let first = send_batch(&engine, &app, 1);
    wait_all_answered(&seen, &first);
    seen.lock().expect("lock").mark = true;
    // 64 at once: four runs of sixteen, not sixteen connections of four.
    let ids = send_batch(&engine, &app, 64);
    let answered = wait_all_answered(&seen, &ids);
    assert!(counts(&answered).values().all(|&n| n == 1), "each once");
    let seen = seen.lock().expect("lock");
    let used = seen.connections_after_mark.len();
    assert!(
        (1..=4).contains(&used),
        "{used} connections for 64 requests"
    );
    let most = seen.per_read_after_mark.iter().max().copied().unwrap_or(0);
    assert!(
        most >= 8,
        "runs arrive together ({most} requests in one read)"
    );
}

/// Batches that one group commit makes durable hand their deliveries on in
/// the order they were accepted (their waiters were once woken last first),
/// so one worker sends an endpoint's messages in the order of their ids.
#[test]
fn batches_made_durable_together_are_delivered_in_acceptance_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, seen) = receiver(Mode::Pipelined);
    let (engine, app) = engine_for(dir.path(), &addr, "4");
    let mut client = IngestClient::connect(&engine.socket).expect("connect ingest");
    // Sent without waiting: the shard reads them together and they wait
    // for the same syncs.
    let batches: Vec<u64> = (0..24)
        .map(|_| {
            client
                .send_batch_nowait(&events(&app, 2))
                .expect("batch sent")
        })
        .collect();
    let mut acks: HashMap<u64, Vec<String>> = HashMap::new();
    while acks.len() < batches.len() {
        let (request, results) = client.recv_ack().expect("acknowledged");
        acks.insert(request, accepted(results));
    }
    let ids: Vec<String> = batches.iter().flat_map(|b| acks[b].clone()).collect();
    let mut minted = ids.clone();
    minted.sort();
    assert_eq!(ids, minted, "ids are minted in acceptance order");
    let answered = wait_all_answered(&seen, &ids);
    assert_eq!(answered, ids, "delivered in acceptance order");
}
