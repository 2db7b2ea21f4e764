//! The wire side of delivery: a run of encoded requests written to one pooled
//! keep-alive connection in a single write (HTTP/1.1 pipelining when the run
//! has more than one) and their responses read back in order.
//!
//! # Invariants
//! - every request of a run gets exactly one answer, in order;
//! - a request is sent again only when the receiver cannot have acted on it:
//!   its connection was reused and failed before any response byte arrived
//!   and before any request of the round was written whole, or an earlier
//!   response on it closed the connection (`Connection: close`, or a close
//!   ending a response without length); requests behind a response without
//!   length that ended by a quiet spell, the receiver keeping the
//!   connection open, are not (the receiver has them);
//! - each response has its own `request_timeout_ms`, counted from the write or
//!   from the end of the response before it, so pipelining never shortens the
//!   time a receiver has for one request.

use super::conn::{key_of, Conn, ConnError};
use super::deadlines::{Deadlines, Elapsed};
use super::guard::Target;
use crate::http_wire::{Progress, Response, ResponseParser};
use crate::limits::{WIRES_SPARE_MAX, WIRE_SPARE_BYTES_MAX};
use futures_util::FutureExt;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// Bytes read from a connection per read call.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// A worker's read buffer starts this small (receivers' answers are mostly
/// a status line and a few headers) and doubles, up to `READ_CHUNK_BYTES`,
/// each time a read fills it: a new worker's buffers cost a kilobyte to
/// read into, not 16 (spare buffers keep the size they grew to).
const READ_START_BYTES: usize = 1024;

/// A worker's connection and wire buffers, reused across runs.
pub struct Wire {
    pub conn: Option<Conn>,
    /// The encoded requests of the run, back to back.
    pub request: Vec<u8>,
    /// Where each request of the run ends in `request`.
    pub ends: Vec<usize>,
    read: Vec<u8>,
    /// Received bytes not yet consumed by the response parser.
    unparsed: Vec<u8>,
}

/// What one request of a run came to, and how long it took.
pub struct Answer {
    pub result: Result<Response, AttemptError>,
    pub duration_us: u32,
}

/// Why an attempt got no usable response. Kept typed through the worker so
/// a timeout is never mistaken for a refused connection; the attempt record
/// stores its kind (`records::error_kind_code`) and its text (`Display`),
/// which is what the API shows as the attempt's response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    /// The URL does not parse, its host does not resolve, or it resolves to
    /// an address the SSRF guard refuses.
    #[error("{0}")]
    Target(String),
    #[error("connect to {addr} failed: {reason}")]
    ConnectRefused { addr: String, reason: String },
    #[error("connect to {addr} failed: {reason}")]
    ConnectTimeout { addr: String, reason: String },
    #[error("connect to {addr} failed: {reason}")]
    Connect { addr: String, reason: String },
    #[error("tls handshake failed: {reason}")]
    Tls {
        failure: super::tls::Failure,
        reason: String,
    },
    /// The egress proxy refused or failed the tunnel.
    #[error("{0}")]
    Proxy(String),
    #[error("write failed: {0}")]
    Write(String),
    /// No (whole) response within the request timeout.
    #[error("timed out after {ms} ms")]
    Timeout { ms: u64 },
    #[error("read failed: {0}")]
    Read(String),
    /// The connection closed before a whole response arrived.
    #[error("connection closed: {0}")]
    Closed(String),
    #[error("bad response: {0}")]
    Malformed(String),
    /// A request behind one that failed on the same connection.
    #[error("not answered: {0}")]
    NotAnswered(Box<AttemptError>),
    /// The request could not be encoded (a header value the sender refuses).
    #[error("{0}")]
    Encode(String),
    /// The exchange ended without reaching this request.
    #[error("not sent")]
    NotSent,
}

impl AttemptError {
    /// The kind's index in `records::ATTEMPT_ERROR_KINDS`.
    pub fn kind_index(&self) -> usize {
        match self {
            AttemptError::Target(_) => 0,
            AttemptError::ConnectRefused { .. } => 1,
            AttemptError::ConnectTimeout { .. } => 2,
            AttemptError::Connect { .. } => 3,
            AttemptError::Tls { failure, .. } => match failure {
                super::tls::Failure::Handshake => 4,
                super::tls::Failure::UnknownCa => 13,
                super::tls::Failure::Expired => 14,
                super::tls::Failure::WrongName => 15,
            },
            AttemptError::Write(_) => 5,
            AttemptError::Timeout { .. } => 6,
            AttemptError::Read(_) => 7,
            AttemptError::Closed(_) => 8,
            AttemptError::Malformed(_) => 9,
            AttemptError::NotAnswered(_) => 10,
            AttemptError::Encode(_) => 11,
            AttemptError::NotSent => 12,
            AttemptError::Proxy(_) => 16,
        }
    }

    /// A stable name of the kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        crate::records::ATTEMPT_ERROR_KINDS[self.kind_index()]
    }
}

impl From<ConnError> for AttemptError {
    fn from(e: ConnError) -> AttemptError {
        match e {
            ConnError::Target(t) => AttemptError::Target(t.to_string()),
            ConnError::Tls { failure, reason } => AttemptError::Tls { failure, reason },
            ConnError::Proxy(e) => AttemptError::Proxy(e.to_string()),
            ConnError::Connect { addr, kind, reason } => {
                let addr = addr.to_string();
                match kind {
                    std::io::ErrorKind::ConnectionRefused => {
                        AttemptError::ConnectRefused { addr, reason }
                    }
                    std::io::ErrorKind::TimedOut => AttemptError::ConnectTimeout { addr, reason },
                    _ => AttemptError::Connect { addr, reason },
                }
            }
        }
    }
}

/// How long a read-until-close response body may stay quiet before it
/// counts as complete (see `read_response`).
const UNTIL_CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Connection and timing settings of a run.
pub struct Limits<'a> {
    /// The shard's request time limits, which the timer loop fires.
    pub deadlines: &'a Deadlines,
    pub allow_private: bool,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub keep_bytes: usize,
    /// The endpoint's own TLS configuration (`None`: the engine-wide one).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The egress proxy deliveries tunnel through, if any.
    pub proxy: Option<std::sync::Arc<super::proxy::Proxy>>,
}

/// Why a response could not be read, and whether any of its bytes arrived.
struct ResponseReadError {
    got_bytes: bool,
    error: AttemptError,
}

impl Default for Wire {
    fn default() -> Wire {
        Wire {
            conn: None,
            request: Vec::with_capacity(4096),
            ends: Vec::new(),
            read: vec![0; READ_START_BYTES],
            unparsed: Vec::new(),
        }
    }
}

/// Buffers of ended workers, kept for the next worker to start, so that a
/// worker start (one per run for a slow receiver) does not allocate and
/// zero them again. At most `WIRES_SPARE_MAX`; a buffer grown past
/// `WIRE_SPARE_BYTES_MAX` (a run of large payloads) is dropped instead.
#[derive(Default)]
pub struct Spares(RefCell<Vec<Wire>>);

impl Spares {
    /// A spare buffer set, or a new one.
    pub fn take(&self) -> Wire {
        self.0.borrow_mut().pop().unwrap_or_default()
    }

    /// Keeps an ended worker's buffers (its connection already taken).
    pub fn keep(&self, mut wire: Wire) {
        debug_assert!(wire.conn.is_none(), "a spare carries no connection");
        let mut spares = self.0.borrow_mut();
        if spares.len() >= WIRES_SPARE_MAX
            || wire.request.capacity() > WIRE_SPARE_BYTES_MAX
            || wire.unparsed.capacity() > WIRE_SPARE_BYTES_MAX
        {
            return;
        }
        wire.clear();
        wire.unparsed.clear();
        spares.push(wire);
    }
}

impl Wire {
    /// Empties the run.
    pub fn clear(&mut self) {
        self.request.clear();
        self.ends.clear();
    }

    /// Sends the run (`request`, split at `ends`) to `target` and returns one
    /// answer per request, in order. The connection stays in `conn` for the
    /// next run if the receiver keeps it alive.
    pub async fn exchange(&mut self, target: &Target, limits: &Limits<'_>) -> Vec<Answer> {
        let n = self.ends.len();
        let mut answers = Vec::with_capacity(n);
        let key = key_of(target);
        let mut may_resend_on_fresh = true;
        'rounds: while answers.len() < n {
            let first = answers.len();
            let from = first.checked_sub(1).map_or(0, |i| self.ends[i]);
            let reused = self.conn.as_ref().is_some_and(|c| c.key == key);
            if !reused {
                self.conn = None;
                // Boxed: a TLS handshake's state is kilobytes, and held
                // inline it would size every worker's task (a task is
                // allocated and moved at each worker start) for a step
                // that runs once per connection.
                let connect = Box::pin(Conn::connect(
                    target,
                    limits.allow_private,
                    limits.connect_timeout,
                    limits.tls.as_ref(),
                    limits.proxy.as_deref(),
                ));
                match with_timeout(limits.deadlines, limits.request_timeout, connect).await {
                    Ok(Ok(c)) => self.conn = Some(c),
                    Ok(Err(e)) => {
                        fail_rest(&mut answers, n, e.into());
                        break 'rounds;
                    }
                    Err(e) => {
                        fail_rest(&mut answers, n, e);
                        break 'rounds;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                fail_rest(&mut answers, n, AttemptError::NotSent);
                break 'rounds;
            };
            self.unparsed.clear();
            let started = Instant::now();
            let bytes = self.request.get(from..).unwrap_or(&[]);
            let mut sent = 0;
            let written = match with_timeout(
                limits.deadlines,
                limits.request_timeout,
                conn.write_counted(bytes, &mut sent),
            )
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(AttemptError::Write(e.to_string())),
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                self.conn = None;
                // Sent again only if no request went out whole: one that did
                // may have been acted on (a slow receiver reading a long run,
                // one that closed after answering it).
                let first_whole = self.ends[first] - from;
                if reused && may_resend_on_fresh && sent < first_whole {
                    may_resend_on_fresh = false;
                    continue 'rounds;
                }
                fail_rest(&mut answers, n, e);
                break 'rounds;
            }
            for i in first..n {
                let read = read_response(
                    conn,
                    &mut self.read,
                    &mut self.unparsed,
                    limits.keep_bytes,
                    limits.deadlines,
                );
                let outcome =
                    match with_timeout(limits.deadlines, limits.request_timeout, read).await {
                        Ok(r) => r,
                        Err(error) => Err(ResponseReadError {
                            got_bytes: true,
                            error,
                        }),
                    };
                match outcome {
                    Ok((response, quiet)) => {
                        let last = i + 1 == n;
                        // Bytes past the last response would be read as the
                        // start of the next run's first: the connection goes.
                        let close = !response.keep_alive || (last && !self.unparsed.is_empty());
                        answers.push(Answer {
                            result: Ok(response),
                            duration_us: elapsed_us(started),
                        });
                        if quiet && !last {
                            // The receiver kept the connection open after a
                            // response without length: it has the requests
                            // behind it, and what it answered them was read
                            // as this response's body. Not sent again: they
                            // count as not answered (retried on the
                            // schedule), and the endpoint gets one request
                            // at a time from now on (`steps::answered`).
                            self.conn = None;
                            let why = AttemptError::Malformed(UNFRAMED_KEPT_OPEN.into());
                            fail_rest(&mut answers, n, AttemptError::NotAnswered(Box::new(why)));
                            break 'rounds;
                        }
                        if close {
                            self.conn = None;
                            // The receiver closes after this response, so it
                            // did not act on the requests behind it.
                            continue 'rounds;
                        }
                    }
                    Err(e) => {
                        self.conn = None;
                        let nothing_yet = i == first && !e.got_bytes;
                        if reused && nothing_yet && may_resend_on_fresh {
                            // A pooled connection the peer closed while idle.
                            may_resend_on_fresh = false;
                            continue 'rounds;
                        }
                        let behind = AttemptError::NotAnswered(Box::new(e.error.clone()));
                        answers.push(Answer {
                            result: Err(e.error),
                            duration_us: elapsed_us(started),
                        });
                        fail_rest(&mut answers, n, behind);
                        break 'rounds;
                    }
                }
            }
        }
        answers
    }
}

/// Answers every request not answered yet with `error`.
fn fail_rest(answers: &mut Vec<Answer>, n: usize, error: AttemptError) {
    while answers.len() < n {
        answers.push(Answer {
            result: Err(error.clone()),
            duration_us: 0,
        });
    }
}

fn elapsed_us(since: Instant) -> u32 {
    since.elapsed().as_micros().min(u128::from(u32::MAX)) as u32
}

/// Runs `f`, or gives up after `limit` (the shard's deadlines).
fn with_timeout<'a, T: 'a>(
    deadlines: &'a Deadlines,
    limit: Duration,
    f: impl std::future::Future<Output = T> + 'a,
) -> impl std::future::Future<Output = Result<T, AttemptError>> + 'a {
    let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    FutureExt::map(deadlines.within(limit, f), move |r| {
        r.map_err(|Elapsed| AttemptError::Timeout { ms })
    })
}

/// Why the requests behind a response that ended by `UNTIL_CLOSE_GRACE` went
/// unanswered.
const UNFRAMED_KEPT_OPEN: &str =
    "the response before it had no length and its connection stayed open";

/// Reads one response on `conn`, starting with the bytes left in `unparsed`
/// by the response before it; leaves the bytes after it there. Also says
/// whether the response ended by `UNTIL_CLOSE_GRACE` (no length, and the
/// receiver kept the connection open), not by its framing or a close.
async fn read_response(
    conn: &mut Conn,
    read: &mut Vec<u8>,
    unparsed: &mut Vec<u8>,
    keep: usize,
    deadlines: &Deadlines,
) -> Result<(Response, bool), ResponseReadError> {
    let mut parser = ResponseParser::new(keep);
    let mut quiet = false;
    let mut got_bytes = !unparsed.is_empty();
    let mut fresh = got_bytes;
    loop {
        if fresh {
            let progress = parser.feed(unparsed).map_err(|e| ResponseReadError {
                got_bytes: true,
                error: AttemptError::Malformed(e.to_string()),
            })?;
            match progress {
                Progress::NeedMore { consumed } => {
                    unparsed.drain(..consumed);
                }
                Progress::Done { response, consumed } => {
                    unparsed.drain(..consumed);
                    return Ok((response, false));
                }
            }
        }
        // A response without length or chunked framing ends when the peer
        // closes; one that keeps the connection open instead would hold the
        // attempt until its timeout and be retried though it was answered.
        // After `UNTIL_CLOSE_GRACE` without more bytes it counts as complete
        // and the connection is not reused (`keep_alive` is false for it).
        let read_more = conn.read(read);
        let n = if parser.reading_until_close() {
            deadlines
                .within(UNTIL_CLOSE_GRACE, read_more)
                .await
                .unwrap_or_else(|Elapsed| {
                    quiet = true;
                    Ok(0)
                })
        } else {
            read_more.await
        }
        .map_err(|e| ResponseReadError {
            got_bytes,
            error: match super::tls::Failure::within(&e) {
                Some(failure) => AttemptError::Tls {
                    failure,
                    reason: e.to_string(),
                },
                None => AttemptError::Read(e.to_string()),
            },
        })?;
        if n == 0 {
            let mut response = parser.finish_eof().map_err(|e| ResponseReadError {
                got_bytes,
                error: AttemptError::Closed(e.to_string()),
            })?;
            response.keep_alive = false;
            return Ok((response, quiet));
        }
        got_bytes = true;
        fresh = true;
        unparsed.extend_from_slice(read.get(..n).unwrap_or(&[]));
        if n == read.len() && read.len() < READ_CHUNK_BYTES {
            read.resize((read.len() * 2).min(READ_CHUNK_BYTES), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_are_bounded_cleared_and_never_oversized() {
        let spares = Spares::default();
        let mut used = spares.take();
        used.request.extend_from_slice(b"POST / HTTP/1.1\r\n\r\n");
        used.ends.push(used.request.len());
        used.unparsed.extend_from_slice(b"HTTP/1.1 2");
        spares.keep(used);
        let again = spares.take();
        assert!(again.request.is_empty() && again.ends.is_empty() && again.unparsed.is_empty());
        let mut big = Wire::default();
        big.request.reserve(WIRE_SPARE_BYTES_MAX + 1);
        spares.keep(big);
        assert!(spares.0.borrow().is_empty(), "an oversized buffer is freed");
        for _ in 0..WIRES_SPARE_MAX + 10 {
            spares.keep(Wire::default());
        }
        assert_eq!(spares.0.borrow().len(), WIRES_SPARE_MAX);
    }

    #[test]
    fn attempt_errors_keep_their_kind_and_their_text() {
        let refused = ConnError::Connect {
            addr: "127.0.0.1:9".parse().expect("addr"),
            kind: std::io::ErrorKind::ConnectionRefused,
            reason: "Connection refused (os error 111)".into(),
        };
        let timed_out = ConnError::Connect {
            addr: "127.0.0.1:9".parse().expect("addr"),
            kind: std::io::ErrorKind::TimedOut,
            reason: "timed out".into(),
        };
        // (error, kind, text the attempt records)
        let rows: Vec<(AttemptError, &str, &str)> = vec![
            (
                refused.into(),
                "connect_refused",
                "connect to 127.0.0.1:9 failed: Connection refused (os error 111)",
            ),
            (
                timed_out.into(),
                "connect_timeout",
                "connect to 127.0.0.1:9 failed: timed out",
            ),
            (
                AttemptError::Timeout { ms: 15_000 },
                "timeout",
                "timed out after 15000 ms",
            ),
            (
                AttemptError::Write("broken pipe".into()),
                "write",
                "write failed: broken pipe",
            ),
            (
                AttemptError::NotAnswered(Box::new(AttemptError::Closed("eof".into()))),
                "not_answered",
                "not answered: connection closed: eof",
            ),
            (
                AttemptError::Malformed("x".into()),
                "malformed",
                "bad response: x",
            ),
            (AttemptError::NotSent, "not_sent", "not sent"),
        ];
        for (i, (e, kind, text)) in rows.into_iter().enumerate() {
            assert_eq!(e.kind(), kind, "row {i}");
            assert_eq!(e.to_string(), text, "row {i}");
        }
    }
}
