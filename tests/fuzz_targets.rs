//! The fuzz targets (`ringhook::fuzz`) in the test command, so they never
//! rot: each runs over its seed corpus (`tests/fuzz/corpus/<target>/`) and
//! over a few seconds of inputs mutated from it by a seeded generator (bit
//! flips, truncations, splices, insertions of interesting bytes). The
//! coverage-guided runs are cargo-fuzz's (`docs/fuzzing.md`); this is the
//! smoke test that every target still builds, runs and holds its asserts.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("corpus of {target}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect()
}

/// One mutation of `input`, drawn from `rng`, with material from `other`.
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.gen_range(1..4) {
        match rng.gen_range(0..6) {
            0 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if !v.is_empty() => {
                let at = rng.gen_range(0..v.len());
                v.truncate(at);
            }
            2 => {
                let at = rng.gen_range(0..=v.len());
                let interesting = [0u8, 0xff, 0x7f, b'{', b'[', b'"', b'\\', b'\r', b'\n', b':'];
                v.insert(at, interesting[rng.gen_range(0..interesting.len())]);
            }
            3 if !other.is_empty() => {
                let at = rng.gen_range(0..=v.len());
                let from = rng.gen_range(0..other.len());
                let len = rng.gen_range(0..=(other.len() - from).min(64));
                v.splice(at..at, other[from..from + len].iter().copied());
            }
            4 if v.len() >= 4 => {
                // A length-like field set to an extreme.
                let at = rng.gen_range(0..v.len() - 3);
                let extreme: [u32; 4] = [0, 1, u32::MAX, 0x0100_0000];
                let x = extreme[rng.gen_range(0..extreme.len())];
                v[at..at + 4].copy_from_slice(&x.to_le_bytes());
            }
            _ => {
                let at = rng.gen_range(0..=v.len());
                v.insert(at, rng.gen());
            }
        }
    }
    v
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutations_of_it() {
    let per_target = Duration::from_millis(1500);
    for &(name, target) in ringhook::fuzz::TARGETS {
        let seeds = corpus(name);
        assert!(!seeds.is_empty(), "{name} has a seed corpus");
        for s in &seeds {
            target(s);
        }
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let started = Instant::now();
        let mut runs = 0u64;
        while started.elapsed() < per_target {
            let a = &seeds[rng.gen_range(0..seeds.len())];
            let b = &seeds[rng.gen_range(0..seeds.len())];
            let input = mutate(&mut rng, a, b);
            target(&input);
            runs += 1;
        }
        assert!(runs > 100, "{name} ran {runs} inputs");
    }
}

/// Writes the seed corpus from the engine's own encoders (run by hand with
/// `cargo test --test fuzz_targets -- --ignored`; the files are committed).
#[test]
#[ignore]
fn write_seed_corpus() {
    use ringhook::ingest::frame::{encode_ack_items, encode_batch, Event, EventStatus};
    use ringhook::records::{self, Kind};
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(name), bytes).expect("write");
    };
    let ev = |payload: &str, event_id: Option<&str>| Event {
        app: "app_1".into(),
        event_type: "invoice.paid".into(),
        event_id: event_id.map(Into::into),
        channels: vec!["eu".into()],
        payload: payload.as_bytes().to_vec(),
    };
    let mut batch = Vec::new();
    encode_batch(
        &mut batch,
        7,
        &[
            ev(r#"{"a":1}"#, Some("e-1")),
            ev(r#"{"b":[1,{"c":null}]}"#, None),
        ],
    )
    .expect("batch");
    write("ingest_frame", "batch", &batch);
    let mut ack = Vec::new();
    let items = [Ok(&b"msg_1"[..]), Err(EventStatus::InvalidPayload)];
    encode_ack_items(&mut ack, 7, items.into_iter()).expect("ack");
    write("ingest_frame", "ack", &ack);

    write("api_request", "post", b"POST /api/v1/app HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"name\":\"acme\"}");
    write("api_request", "pipelined", b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\nGET /api/v1/app/app_1/msg?limit=2&iterator=msg_x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    write("api_request", "chunked", b"POST /api/v1/app/a/msg HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");

    write(
        "http_response",
        "length",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nretry-after: 5\r\n\r\nok",
    );
    write("http_response", "chunked", b"HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n");
    write(
        "http_response",
        "interim",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    );
    write(
        "http_response",
        "until_close",
        b"HTTP/1.0 200 OK\r\n\r\nbody until close",
    );

    // A real segment's head: its header and first records.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ringhook::journal::JournalConfig {
        segment_bytes: 64 * 1024,
        repair: false,
    };
    let (mut j, _) = ringhook::journal::Journal::open(dir.path(), config, |_| {}).expect("open");
    let msg = records::MessageRecord {
        id: "msg_1".into(),
        app_id: "app_1".into(),
        event_type: "a.b".into(),
        event_id: None,
        channels: vec![],
        payload: b"{\"n\":1}".to_vec(),
        created_ms: 1,
        destinations: vec!["ep_1".into()],
    };
    let body = records::encode(&msg).expect("encode");
    for _ in 0..3 {
        j.append_versioned(Kind::Message as u8, records::RECORD_VERSION, &body)
            .expect("append");
    }
    j.sync().expect("sync");
    let end = j.written_lsn().0 as usize;
    drop(j);
    let seg = std::fs::read(ringhook::journal::segment_path(dir.path(), 1)).expect("segment");
    write("journal_segment", "three_records", &seg[..end + 32]);

    let mut rec = vec![Kind::Message as u8, records::RECORD_VERSION];
    rec.extend_from_slice(&body);
    write("record_body", "message", &rec);
    let del = records::encode(&records::DeleteRecord {
        id: "ep_1".into(),
        at_ms: 2,
    })
    .expect("encode");
    let mut rec = vec![Kind::EndpointDelete as u8, records::RECORD_VERSION];
    rec.extend_from_slice(&del);
    write("record_body", "delete", &rec);

    for (name, url) in [
        ("https", "https://example.com:8443/hooks?x=1"),
        ("mapped", "http://[::ffff:127.0.0.1]:80/x"),
        ("credentials", "http://u:p@10.0.0.1/"),
        ("ip", "169.254.169.254"),
    ] {
        write("target_url", name, url.as_bytes());
    }
    write(
        "config",
        "some_keys",
        b"shards = 2\nretry_schedule = [\"0s\", \"5s\", \"1h\"]\napi_header_timeout_ms = 500\n",
    );
    write("config", "bad", b"shards = \"many\"\nnot_a_key = 1\n");
    write("payload", "object", br#"{"a":[1,2,{"b":null}],"s":"x\"y"}"#);
    write(
        "payload",
        "deep",
        format!("{{\"a\":{}{}}}", "[".repeat(130), "]".repeat(130)).as_bytes(),
    );
}
