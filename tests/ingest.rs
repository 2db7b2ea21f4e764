//! The ingest socket under bad input: per-event errors leave the rest of a
//! batch intact; broken frames get an ERROR frame and a close; the process
//! stays up and everything accepted is delivered.

mod common;

use common::{wait_for, Engine, Sink};
use ringhook::ingest::client::IngestClient;
use ringhook::ingest::frame::{self, ErrorCode, Event, EventResult, EventStatus, ServerDecoded};
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn ev(app: &str, event_type: &str, event_id: Option<&str>, payload: &str) -> Event {
    Event {
        app: app.into(),
        event_type: event_type.into(),
        event_id: event_id.map(Into::into),
        channels: vec![],
        payload: payload.as_bytes().to_vec(),
    }
}

/// Sends raw bytes and returns the server's first frame (if any) and whether it then closed.
fn raw_exchange(socket: &std::path::Path, bytes: &[u8]) -> (Option<ServerDecoded>, bool) {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(bytes).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut closed = false;
    loop {
        match s.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
    }
    let decoded = frame::decode_server_frame(&buf).ok();
    (decoded, closed)
}

#[test]
fn per_event_errors_do_not_drop_the_rest_of_the_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::start(dir.path(), &["--shards", "2"]);
    let sink = Sink::start();
    let (s, v) = engine.api(
        "POST",
        "/api/v1/app",
        Some(json!({ "name": "acme", "uid": "acme" })),
    );
    assert_eq!(s, 201, "{v}");
    let app = v["id"].as_str().expect("id").to_string();
    engine.create_endpoint(&app, json!({ "url": sink.url("/in") }));

    let mut client = IngestClient::connect(&engine.socket).expect("connect");
    let results = client
        .send_batch(&[
            ev(&app, "a.b", None, r#"{"n":1}"#),
            ev("acme", "a.b", None, r#"{"n":2}"#),
            ev("app_unknown", "a.b", None, r#"{"n":3}"#),
            ev(&app, "a.b", None, r#"{"n":"#),
            ev(&app, "a.b", None, "[1,2]"),
            ev(&app, "a.b", Some("e-1"), r#"{"n":6}"#),
            ev(&app, "a.b", Some("e-1"), r#"{"n":7}"#),
            ev(&app, "a b", None, r#"{"n":8}"#),
        ])
        .expect("batch acked");
    let statuses: Vec<Option<EventStatus>> = results
        .iter()
        .map(|r| match r {
            EventResult::Accepted { .. } => None,
            EventResult::Rejected(s) => Some(*s),
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            None,
            None,
            Some(EventStatus::UnknownApplication),
            Some(EventStatus::InvalidPayload),
            Some(EventStatus::InvalidPayload),
            None,
            Some(EventStatus::DuplicateEventId),
            Some(EventStatus::InvalidField),
        ]
    );
    let accepted: Vec<String> = results
        .iter()
        .filter_map(|r| match r {
            EventResult::Accepted { msg_id } => Some(msg_id.clone()),
            _ => None,
        })
        .collect();
    assert!(accepted.iter().all(|id| id.starts_with("msg_")));

    // Broken frames: a bad type, a length over the limit, a malformed batch.
    let (reply, closed) = raw_exchange(&engine.socket, &[5, 0, 0, 0, 9, 1, b'h', b'i', b'!']);
    assert!(
        matches!(
            reply,
            Some(ServerDecoded::Error {
                code: ErrorCode::BAD_FRAME_TYPE,
                ..
            })
        ),
        "{reply:?}"
    );
    assert!(closed);
    let (reply, closed) = raw_exchange(&engine.socket, &[0xff, 0xff, 0xff, 0xff, 1, 1]);
    assert!(
        matches!(
            reply,
            Some(ServerDecoded::Error {
                code: ErrorCode::FRAME_TOO_LARGE,
                ..
            })
        ),
        "{reply:?}"
    );
    assert!(closed);
    let mut bad = vec![14, 0, 0, 0, 1, 1];
    bad.extend_from_slice(&7u64.to_le_bytes());
    bad.extend_from_slice(&5u32.to_le_bytes()); // claims 5 events, carries none
    let (reply, closed) = raw_exchange(&engine.socket, &bad);
    assert!(
        matches!(
            reply,
            Some(ServerDecoded::Error {
                code: ErrorCode::MALFORMED_BATCH,
                ..
            })
        ),
        "{reply:?}"
    );
    assert!(closed);
    // A truncated frame followed by a close: nothing of it is accepted.
    let mut half = Vec::new();
    frame::encode_batch(
        &mut half,
        9,
        &[ev(&app, "half.sent", None, r#"{"never":true}"#)],
    )
    .expect("encode");
    half.truncate(half.len() / 2);
    {
        let mut s = UnixStream::connect(&engine.socket).expect("connect");
        s.write_all(&half).expect("write");
    }

    // The engine is up, the first client still works, and all accepted events arrive.
    let more = client
        .send_batch(&[ev(&app, "a.b", None, r#"{"n":9}"#)])
        .expect("still serving");
    let EventResult::Accepted { msg_id } = &more[0] else {
        panic!("not accepted: {more:?}");
    };
    let mut want = accepted.clone();
    want.push(msg_id.clone());
    wait_for("accepted events delivered", Duration::from_secs(30), || {
        let ids = sink.ids();
        want.iter().all(|id| ids.contains(id)).then_some(())
    });
    assert!(sink
        .received()
        .iter()
        .all(|r| r.json() != json!({ "never": true })));
    assert_eq!(
        sink.count(),
        want.len(),
        "exactly the accepted events were delivered"
    );
}
