//! The bodies of the fuzz targets: one function per parser that takes bytes
//! from outside. Each must be total: any input gives a value or an error,
//! never a panic, an unbounded allocation or a hang. `tests/fuzz/` wraps
//! them for cargo-fuzz (coverage-guided libFuzzer), and
//! `tests/fuzz_targets.rs` runs them over the seed corpus and random inputs
//! in the test command, so they never rot. How to run them long:
//! `docs/fuzzing.md`.
//!
//! Each function also checks what it can of the parser's own promises (an
//! accepted frame re-encodes to itself, a decoded header round-trips), so a
//! fuzzer finds wrong answers as well as crashes.

/// The ingest protocol's frame decoders (server and client side).
pub fn ingest_frame(data: &[u8]) {
    use crate::ingest::frame::{self, Decoded};
    match frame::decode_frame(data) {
        Ok(Decoded::Batch { frame, consumed }) => {
            assert!(consumed <= data.len(), "a frame within its input");
            for ev in frame.events.into_iter().flatten() {
                let _ = crate::accept::payload::check(ev.payload);
            }
        }
        Ok(Decoded::Incomplete { needed_bytes }) => {
            assert!(needed_bytes > 0, "incomplete means more bytes");
        }
        Err(_) => {}
    }
    let _ = frame::decode_server_frame(data);
}

/// The API's request reader and its router, over bytes as a client sent them.
pub fn api_request(data: &[u8]) {
    use crate::api::http;
    let mut stream = futures_lite::io::Cursor::new(data.to_vec());
    let mut buf = Vec::new();
    futures_lite::future::block_on(async {
        // A few requests in a row, as on a keep-alive connection.
        for _ in 0..4 {
            let Ok(head) = http::read_head(&mut stream, &mut buf, 1 << 20).await else {
                return;
            };
            let path = head.request.path.clone();
            let _ = crate::api::table::route_name(&path);
            if http::read_body(&mut stream, &mut buf, head).await.is_err() {
                return;
            }
        }
    });
}

/// The receivers' response parser, fed whole and in two pieces.
pub fn http_response(data: &[u8]) {
    use crate::http_wire::{Progress, ResponseParser};
    let whole = {
        let mut p = ResponseParser::new(4096);
        match p.feed(data) {
            Ok(Progress::Done { consumed, response }) => {
                assert!(consumed <= data.len());
                Some(Ok(response.status))
            }
            Ok(Progress::NeedMore { .. }) => Some(p.finish_eof().map(|r| r.status)),
            Err(_) => None,
        }
    };
    let _ = whole;
    // Split in two: the parser must not care where reads end.
    let cut = data.first().map_or(0, |b| usize::from(*b)) % (data.len() + 1);
    let mut p = ResponseParser::new(4096);
    if let Ok(Progress::NeedMore { consumed }) = p.feed(&data[..cut]) {
        let mut rest = data[consumed..cut].to_vec();
        rest.extend_from_slice(&data[cut..]);
        let _ = p.feed(&rest);
    }
}

/// A journal segment's header, record walk and the decision table's verdict
/// on its end, as the newest segment and as an older one.
pub fn journal_segment(data: &[u8]) {
    for newest in [true, false] {
        let _ = crate::journal::judge_segment(data, 1, newest);
    }
}

/// Record bodies read from disk, of every kind and version.
pub fn record_body(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some((&version, body)) = rest.split_first() else {
        return;
    };
    // Bodies from disk are 16-byte aligned, as the journal hands them out.
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    aligned.extend_from_slice(body);
    let _ = crate::records::validate(kind, version, &aligned);
}

/// Endpoint URLs and the SSRF guard on the addresses they name.
pub fn target_url(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(target) = crate::delivery::guard::Target::parse(text) {
        if let Ok(ip) = target.host.parse::<std::net::IpAddr>() {
            let _ = crate::delivery::guard::is_private(ip);
        }
    }
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        let _ = crate::delivery::guard::is_private(ip);
    }
}

/// The configuration file parser.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = crate::config::Config::from_toml(text) {
        let _ = config.finish();
    }
}

/// Message payloads, as the API and the socket check them.
pub fn payload(data: &[u8]) {
    if crate::accept::payload::check(data).is_ok() {
        assert!(
            crate::accept::payload::parse(data).is_ok(),
            "an accepted payload reads back: {:?}",
            String::from_utf8_lossy(data)
        );
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by name (the fuzz crate's and the tests' list).
pub const TARGETS: &[(&str, Target)] = &[
    ("ingest_frame", ingest_frame),
    ("api_request", api_request),
    ("http_response", http_response),
    ("journal_segment", journal_segment),
    ("record_body", record_body),
    ("target_url", target_url),
    ("config", config),
    ("payload", payload),
];
