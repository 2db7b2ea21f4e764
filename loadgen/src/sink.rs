//! The webhook sink: a fast HTTP/1.1 keep-alive receiver on one glommio executor.
//!
//! It answers deliveries (204 by default, or injected failures and delays), verifies
//! Standard Webhooks signatures when given the secret, counts deliveries and duplicates by
//! (path, `webhook-id`), and records end-to-end latency from the producer timestamp that
//! loadgen embeds in each payload. `GET /stats` on the same port returns the counts as JSON.
//! Counters live in a shared [`SinkStats`] so the thread that started the sink can read
//! them while it runs; the executor thread is never joined (it ends with the process).

use hdrhistogram::Histogram;
use ringhook::split::SplitMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request head accepted; a larger one closes the connection.
const RESPONSE_HEAD_BYTES_MAX: usize = 16 * 1024;
/// Largest request body accepted; a larger one closes the connection.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Header fields parsed per request.
const RESPONSE_HEADERS_MAX: usize = 32;
/// Bytes asked of each socket read.
const READ_CHUNK: usize = 64 * 1024;
/// Distinct (path, webhook-id) pairs remembered for duplicate detection; past this many,
/// new deliveries are counted but no longer checked for duplicates (`untracked`).
pub const MAX_TRACKED_DELIVERIES: usize = 20_000_000;
/// Latencies above this (in microseconds, 1 hour) are clamped into the histogram's top.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// How the sink answers.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub addr: SocketAddr,
    /// Core to pin the executor to; unpinned if `None`.
    pub cpu: Option<usize>,
    /// Fraction (0..=1) of deliveries answered with 500 instead of the success status.
    pub fail_rate: f64,
    /// Status for deliveries that are not failed by `fail_rate` (default 204).
    pub status: u16,
    /// Delay before each answer.
    pub delay: Option<Duration>,
    /// Decoded signing key; signatures are checked when present.
    pub key: Option<Vec<u8>>,
}

/// Counters shared between the sink's executor and whoever reads them.
#[derive(Debug)]
pub struct SinkStats {
    /// Every request with a `webhook-id`, whatever it was answered.
    pub requests: AtomicU64,
    /// Distinct (path, webhook-id) pairs answered with 2xx.
    pub delivered: AtomicU64,
    /// 2xx-answered requests whose (path, webhook-id) had already been answered with 2xx.
    pub duplicates: AtomicU64,
    /// 2xx-answered requests past `MAX_TRACKED_DELIVERIES`, not checked for duplicates.
    pub untracked: AtomicU64,
    /// Requests answered with an injected failure (fail rate or non-2xx status).
    pub failed: AtomicU64,
    /// Requests whose signature did not verify (answered 401).
    pub bad_signatures: AtomicU64,
    /// Arrival time (unix µs) of the latest 2xx-answered delivery.
    pub last_delivery_us: AtomicU64,
    inner: Mutex<Tracked>,
}

/// Tables the duplicate check splits its digests over.
const SEEN_TABLES: usize = 256;

/// The (path, webhook-id) pairs answered so far, as 128-bit digests in a
/// `SplitMap`: one `HashSet` of hundreds of thousands of keys stalled the
/// sink for ~30 ms when it grew, and the stall showed up as the engine's
/// end-to-end tail latency.
type Seen = SplitMap<()>;

/// A digest of the pair: two SipHash passes with distinct prefixes (collisions
/// among 20 M keys have a probability around 10^-24).
fn digest(path: &[u8], webhook_id: &[u8]) -> u128 {
    use std::hash::{DefaultHasher, Hasher};
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        h.write_u8(salt);
        h.write(path);
        h.write_u8(b' ');
        h.write(webhook_id);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

#[derive(Debug)]
struct Tracked {
    seen: Seen,
    /// End-to-end latency in µs: producer timestamp in the payload to arrival here.
    latency_us: Histogram<u64>,
}

/// A point-in-time copy of the counters and latency quantiles.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub untracked: u64,
    pub failed: u64,
    pub bad_signatures: u64,
    pub latency_samples: u64,
    pub e2e_p50_ms: f64,
    pub e2e_p90_ms: f64,
    pub e2e_p99_ms: f64,
    pub e2e_p999_ms: f64,
    pub e2e_max_ms: f64,
}

impl SinkStats {
    pub fn new() -> Result<Arc<SinkStats>, hdrhistogram::CreationError> {
        let latency_us = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?;
        Ok(Arc::new(SinkStats {
            requests: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            untracked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
            last_delivery_us: AtomicU64::new(0),
            inner: Mutex::new(Tracked {
                seen: Seen::new(SEEN_TABLES),
                latency_us,
            }),
        }))
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = StatsSnapshot {
            requests: get(&self.requests),
            delivered: get(&self.delivered),
            duplicates: get(&self.duplicates),
            untracked: get(&self.untracked),
            failed: get(&self.failed),
            bad_signatures: get(&self.bad_signatures),
            ..StatsSnapshot::default()
        };
        if let Ok(t) = self.inner.lock() {
            let h = &t.latency_us;
            let ms = |us: u64| us as f64 / 1000.0;
            s.latency_samples = h.len();
            s.e2e_p50_ms = ms(h.value_at_quantile(0.5));
            s.e2e_p90_ms = ms(h.value_at_quantile(0.9));
            s.e2e_p99_ms = ms(h.value_at_quantile(0.99));
            s.e2e_p999_ms = ms(h.value_at_quantile(0.999));
            s.e2e_max_ms = ms(h.max());
        }
        s
    }

    /// Records one 2xx-answered delivery: duplicate check and latency.
    fn record_success(&self, path: &[u8], webhook_id: &[u8], sent_us: Option<u64>) {
        let now = now_us();
        self.last_delivery_us.fetch_max(now, Ordering::Relaxed);
        let Ok(mut t) = self.inner.lock() else {
            return;
        };
        if let Some(sent) = sent_us {
            let _ = t
                .latency_us
                .record(now.saturating_sub(sent).clamp(1, MAX_LATENCY_US));
        }
        let key = digest(path, webhook_id);
        if t.seen.contains(&key) {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        } else if t.seen.len() >= MAX_TRACKED_DELIVERIES {
            self.untracked.fetch_add(1, Ordering::Relaxed);
            self.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            t.seen.insert(key, ());
            self.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Microseconds since the Unix epoch (the clock the producer stamps payloads with).
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Binds the listener and starts the executor thread; returns once the port is bound.
pub fn start(config: SinkConfig, stats: Arc<SinkStats>) -> anyhow::Result<SocketAddr> {
    use glommio::{LocalExecutorBuilder, Placement};
    let placement = match config.cpu {
        Some(cpu) => Placement::Fixed(cpu),
        None => Placement::Unbound,
    };
    // glommio's listeners set SO_REUSEPORT: a second sink (a stray one from
    // an earlier run) would share the port and silently take part of a
    // benchmark's deliveries, so a port something already answers on is
    // refused. (A plain bind is no test: the connections an earlier sink
    // closed linger in TIME_WAIT without SO_REUSEADDR and fail it for a
    // minute, though the port is free.)
    if config.addr.port() != 0
        && std::net::TcpStream::connect_timeout(&config.addr, Duration::from_millis(500)).is_ok()
    {
        anyhow::bail!("{} already answers (is another sink running?)", config.addr);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    LocalExecutorBuilder::new(placement)
        .name("loadgen-sink")
        .spawn(move || async move {
            let listener = match glommio::net::TcpListener::bind(config.addr) {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(format!("binding {}: {e}", config.addr)));
                    return;
                }
            };
            let _ = tx.send(listener.local_addr().map_err(|e| e.to_string()));
            let config = std::rc::Rc::new(config);
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ now_us();
            while let Ok(stream) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let conn = serve_conn(stream, config.clone(), stats.clone(), seed);
                glommio::spawn_local(conn).detach();
            }
        })
        .map_err(|e| anyhow::anyhow!("starting the sink executor: {e}"))?;
    let bound = rx
        .recv()
        .map_err(|_| anyhow::anyhow!("sink thread exited during start-up"))?;
    bound.map_err(|e| anyhow::anyhow!(e))
}

/// What the sink decided for one request.
struct Answer {
    status: u16,
    body: Option<Vec<u8>>,
}

async fn serve_conn(
    mut stream: glommio::net::TcpStream,
    config: std::rc::Rc<SinkConfig>,
    stats: Arc<SinkStats>,
    mut rng: u64,
) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        // Answer every complete request in the buffer (pipelining), then write once.
        let mut used = 0;
        loop {
            match parse_request(buf.get(used..).unwrap_or(&[])) {
                Parsed::Incomplete => break,
                Parsed::Invalid => return,
                Parsed::Request(req) => {
                    used += req.consumed;
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let answer = judge(&req, &config, &stats, rng);
                    write_response(&mut out, &answer);
                }
            }
        }
        buf.drain(..used);
        if out.is_empty() {
            continue;
        }
        if let Some(delay) = config.delay {
            glommio::timer::sleep(delay).await;
        }
        if stream.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
    }
}

/// One parsed request, borrowing from the connection buffer.
struct Request<'a> {
    method: &'a str,
    path: &'a [u8],
    webhook_id: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    signature: Option<&'a [u8]>,
    body: &'a [u8],
    consumed: usize,
}

enum Parsed<'a> {
    Incomplete,
    Invalid,
    Request(Request<'a>),
}

fn parse_request(buf: &[u8]) -> Parsed<'_> {
    let mut headers = [httparse::EMPTY_HEADER; RESPONSE_HEADERS_MAX];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() <= RESPONSE_HEAD_BYTES_MAX => {
            return Parsed::Incomplete
        }
        _ => return Parsed::Invalid,
    };
    let (mut len, mut webhook_id, mut timestamp, mut signature) = (0usize, None, None, None);
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.parse().ok());
            match parsed {
                Some(n) if n <= MAX_BODY_BYTES => len = n,
                _ => return Parsed::Invalid,
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Invalid;
        } else if name.eq_ignore_ascii_case("webhook-id") {
            webhook_id = Some(h.value);
        } else if name.eq_ignore_ascii_case("webhook-timestamp") {
            timestamp = Some(h.value);
        } else if name.eq_ignore_ascii_case("webhook-signature") {
            signature = Some(h.value);
        }
    }
    let Some(body) = buf.get(head_len..head_len + len) else {
        return Parsed::Incomplete;
    };
    Parsed::Request(Request {
        method: req.method.unwrap_or(""),
        path: req.path.unwrap_or("").as_bytes(),
        webhook_id,
        timestamp,
        signature,
        body,
        consumed: head_len + len,
    })
}

fn judge(req: &Request<'_>, config: &SinkConfig, stats: &SinkStats, rng: u64) -> Answer {
    if req.method == "GET" && req.path == b"/stats" {
        let body = serde_json::to_vec(&stats.snapshot()).unwrap_or_default();
        return Answer {
            status: 200,
            body: Some(body),
        };
    }
    let Some(webhook_id) = req.webhook_id else {
        return Answer {
            status: 400,
            body: None,
        };
    };
    stats.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(key) = &config.key {
        if !signature_ok(key, webhook_id, req.timestamp, req.signature, req.body) {
            stats.bad_signatures.fetch_add(1, Ordering::Relaxed);
            return Answer {
                status: 401,
                body: None,
            };
        }
    }
    // The top 53 bits of the generator as a uniform fraction in [0, 1).
    let roll = (rng >> 11) as f64 / (1u64 << 53) as f64;
    let status = if roll < config.fail_rate {
        500
    } else {
        config.status
    };
    if (200..300).contains(&status) {
        stats.record_success(req.path, webhook_id, sent_us(req.body));
    } else {
        stats.failed.fetch_add(1, Ordering::Relaxed);
    }
    Answer { status, body: None }
}

/// Whether one of the space-separated `v1,` signatures matches the body.
fn signature_ok(
    key: &[u8],
    id: &[u8],
    timestamp: Option<&[u8]>,
    signature: Option<&[u8]>,
    body: &[u8],
) -> bool {
    fn text(b: Option<&[u8]>) -> Option<&str> {
        b.and_then(|v| std::str::from_utf8(v).ok())
    }
    let (Some(id), Some(ts), Some(sig)) = (text(Some(id)), text(timestamp), text(signature)) else {
        return false;
    };
    let Ok(ts) = ts.parse::<u64>() else {
        return false;
    };
    let expected = ringhook::signing::signature_header(&[key], id, ts, body);
    sig.split(' ').any(|s| s == expected)
}

/// The producer timestamp: the digits after the first `"t":` in the body, in unix µs.
pub fn sent_us(body: &[u8]) -> Option<u64> {
    let at = body.windows(4).position(|w| w == b"\"t\":")? + 4;
    let digits = body.get(at..)?;
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(digits.get(..end)?).ok()?.parse().ok()
}

fn write_response(out: &mut Vec<u8>, answer: &Answer) {
    use std::io::Write;
    let reason = match answer.status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let _ = write!(out, "HTTP/1.1 {} {reason}\r\n", answer.status);
    match (&answer.body, answer.status) {
        (Some(body), _) => {
            let _ = write!(
                out,
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            out.extend_from_slice(body);
        }
        (None, 204) => out.extend_from_slice(b"\r\n"),
        (None, _) => out.extend_from_slice(b"content-length: 0\r\n\r\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipelined_requests_and_timestamps() {
        let one = b"POST /ep/1 HTTP/1.1\r\nhost: x\r\nwebhook-id: msg_1\r\ncontent-length: 19\r\n\r\n{\"t\":1234,\"pad\":\"\"}";
        let mut two = one.to_vec();
        two.extend_from_slice(one);
        let Parsed::Request(req) = parse_request(&two) else {
            panic!("first request should parse");
        };
        assert_eq!(req.consumed, one.len());
        assert_eq!(req.webhook_id, Some(&b"msg_1"[..]));
        assert_eq!(sent_us(req.body), Some(1234));
        assert!(matches!(
            parse_request(&two[..one.len() - 1]),
            Parsed::Incomplete
        ));
        assert!(matches!(
            parse_request(b"\x00\x01 nope\r\n\r\n"),
            Parsed::Invalid
        ));
    }

    #[test]
    fn duplicates_are_counted_per_path() {
        let stats = SinkStats::new().expect("histogram bounds");
        stats.record_success(b"/a", b"msg_1", None);
        stats.record_success(b"/b", b"msg_1", None);
        stats.record_success(b"/a", b"msg_1", Some(now_us()));
        let s = stats.snapshot();
        assert_eq!((s.delivered, s.duplicates, s.latency_samples), (2, 1, 1));
    }
}
