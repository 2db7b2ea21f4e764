//! Criterion benchmarks of the per-delivery hot path: the signature over a 1 KiB body
//! (HMAC `v1`, and ed25519 `v1a` through the delivery's `Signer`), request encoding, response parsing (content-length and chunked), and one whole dispatch
//! step (sign + encode + parse a canned response), and minting an id, all without I/O.
//!
//! These are small and fixed-size, so `cargo test --benches` (one run each) is fast as is.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringhook::http_wire::{encode_request, Progress, ResponseParser};
use ringhook::records::{KeyScheme, SecretKey};
use ringhook::signing;

const MSG_ID: &str = "msg_2pQbQ7wM1mB8sTuvWxYz0aBcDeF";
const TIMESTAMP: u64 = 1_795_000_000;
const TIMESTAMP_TEXT: &str = "1795000000";
const KEEP_BYTES: usize = 4096;
const CONTENT_LENGTH_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
const CHUNKED_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
const NO_CONTENT_RESPONSE: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";

fn body() -> Vec<u8> {
    let mut b = br#"{"type":"invoice.paid","data":{"pad":""#.to_vec();
    b.resize(1022, b'x');
    b.extend_from_slice(b"\"}}");
    b.truncate(1024);
    b
}

fn key() -> Vec<u8> {
    signing::parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret")
}

fn encode(buf: &mut Vec<u8>, signature: &str, body: &[u8]) {
    let headers = [
        ("content-type", "application/json"),
        ("user-agent", "ringhook/0.1"),
        ("webhook-id", MSG_ID),
        ("webhook-timestamp", TIMESTAMP_TEXT),
        ("webhook-signature", signature),
    ];
    buf.clear();
    encode_request(buf, "POST", "127.0.0.1:9090", "/ep/0", &headers, body).expect("encode");
}

fn parse(parser: &mut ResponseParser, bytes: &[u8]) -> u16 {
    match parser.feed(bytes).expect("valid response") {
        Progress::Done { response, .. } => response.status,
        Progress::NeedMore { .. } => panic!("canned response is complete"),
    }
}

fn bench_hot_path(c: &mut Criterion) {
    let (key, body) = (key(), body());
    let mut group = c.benchmark_group("hot_path");
    group.throughput(Throughput::Elements(1));

    let mut sig = String::with_capacity(64);
    group.bench_function("sign_1KiB", |b| {
        b.iter(|| {
            sig.clear();
            signing::sign_into(&mut sig, &key, MSG_ID, black_box(TIMESTAMP), &body);
            black_box(sig.len())
        })
    });

    // What a worker does per request: `Signer` with the endpoint's readied
    // keys (`Keyed`, made once per endpoint version).
    let now_ms = TIMESTAMP * 1000;
    for (name, scheme, k) in [
        ("signer_v1_1KiB", KeyScheme::Hmac, key.clone()),
        ("signer_v1a_1KiB", KeyScheme::Ed25519, vec![7u8; 32]),
    ] {
        let keys = [SecretKey {
            key: k,
            expires_ms: 0,
            scheme,
        }];
        let keys = signing::Keyed::new(&keys);
        let mut signer = signing::Signer::default();
        group.bench_function(name, |b| {
            b.iter(|| {
                signer.sign(&keys, black_box(now_ms), MSG_ID, &body);
                black_box(signer.signature().len())
            })
        });
    }

    let signature = signing::signature_header(&[&key], MSG_ID, TIMESTAMP, &body);
    let mut buf = Vec::with_capacity(2048);
    group.bench_function("encode_request_1KiB", |b| {
        b.iter(|| {
            encode(&mut buf, &signature, black_box(&body));
            black_box(buf.len())
        })
    });

    let mut parser = ResponseParser::new(KEEP_BYTES);
    for (name, bytes) in [
        ("parse_content_length", CONTENT_LENGTH_RESPONSE),
        ("parse_chunked", CHUNKED_RESPONSE),
        ("parse_204", NO_CONTENT_RESPONSE),
    ] {
        group.bench_function(name, |b| b.iter(|| parse(&mut parser, black_box(bytes))));
    }

    // Every message and attempt gets a new id.
    let mut ms = 1_795_000_000_000u64;
    group.bench_function("mint_id", |b| {
        b.iter(|| {
            ms += 1;
            ringhook::ids::new_id_at("msg", black_box(ms))
        })
    });

    group.bench_function("dispatch_step", |b| {
        b.iter(|| {
            sig.clear();
            signing::sign_into(&mut sig, &key, MSG_ID, TIMESTAMP, &body);
            encode(&mut buf, &sig, &body);
            parse(&mut parser, black_box(CONTENT_LENGTH_RESPONSE))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_hot_path);
criterion_main!(benches);
