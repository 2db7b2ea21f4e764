//! The wire side of delivery: a run of encoded requests written to one pooled
//! keep-alive connection in a single write (HTTP/1.1 pipelining when the run
//! has more than one) and their responses read back in order.
//!
//! # Invariants
//! - every request of a run gets exactly one answer, in order;
//! - a request is sent again only when the receiver cannot have acted on it:
//!   its connection was reused and failed before any response byte arrived, or
//!   an earlier response on it closed the connection (`Connection: close`);
//! - each response has its own `request_timeout_ms`, counted from the write or
//!   from the end of the response before it, so pipelining never shortens the
//!   time a receiver has for one request.

use super::conn::{key_of, Conn};
use super::guard::Target;
use crate::http_wire::{Progress, Response, ResponseParser};
use std::time::{Duration, Instant};

/// Bytes read from a connection per read call.
const READ_CHUNK_BYTES: usize = 16 * 1024;

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
    pub result: Result<Response, String>,
    pub duration_us: u32,
}

/// Connection and timing settings of a run.
pub struct Limits {
    pub allow_private: bool,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub keep_bytes: usize,
}

/// Why a response could not be read: the message and whether any of its bytes arrived.
struct ReadError {
    got_bytes: bool,
    message: String,
}

impl Default for Wire {
    fn default() -> Wire {
        Wire {
            conn: None,
            request: Vec::with_capacity(4096),
            ends: Vec::new(),
            read: vec![0; READ_CHUNK_BYTES],
            unparsed: Vec::new(),
        }
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
    pub async fn exchange(&mut self, target: &Target, limits: &Limits) -> Vec<Answer> {
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
                let connect = Conn::connect(target, limits.allow_private, limits.connect_timeout);
                match with_timeout(limits.request_timeout, connect).await {
                    Ok(Ok(c)) => self.conn = Some(c),
                    Ok(Err(e)) => {
                        fail_rest(&mut answers, n, e.to_string());
                        break 'rounds;
                    }
                    Err(e) => {
                        fail_rest(&mut answers, n, e);
                        break 'rounds;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                fail_rest(&mut answers, n, "no connection".into());
                break 'rounds;
            };
            self.unparsed.clear();
            let started = Instant::now();
            let bytes = self.request.get(from..).unwrap_or(&[]);
            let written = match with_timeout(limits.request_timeout, conn.write_all(bytes)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("write failed: {e}")),
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                self.conn = None;
                if reused && may_resend_on_fresh {
                    may_resend_on_fresh = false;
                    continue 'rounds;
                }
                fail_rest(&mut answers, n, e);
                break 'rounds;
            }
            for i in first..n {
                let read =
                    read_response(conn, &mut self.read, &mut self.unparsed, limits.keep_bytes);
                let outcome = match with_timeout(limits.request_timeout, read).await {
                    Ok(r) => r,
                    Err(message) => Err(ReadError {
                        got_bytes: true,
                        message,
                    }),
                };
                match outcome {
                    Ok(response) => {
                        let last = i + 1 == n;
                        // Bytes past the last response would be read as the
                        // start of the next run's first: the connection goes.
                        let close = !response.keep_alive || (last && !self.unparsed.is_empty());
                        answers.push(Answer {
                            result: Ok(response),
                            duration_us: elapsed_us(started),
                        });
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
                        answers.push(Answer {
                            result: Err(e.message.clone()),
                            duration_us: elapsed_us(started),
                        });
                        let behind = format!("not answered: {}", e.message);
                        fail_rest(&mut answers, n, behind);
                        break 'rounds;
                    }
                }
            }
        }
        answers
    }
}

/// Answers every request not answered yet with `message`.
fn fail_rest(answers: &mut Vec<Answer>, n: usize, message: String) {
    while answers.len() < n {
        answers.push(Answer {
            result: Err(message.clone()),
            duration_us: 0,
        });
    }
}

fn elapsed_us(since: Instant) -> u32 {
    since.elapsed().as_micros().min(u128::from(u32::MAX)) as u32
}

/// Runs `f`, or gives up after `limit`.
async fn with_timeout<T>(
    limit: Duration,
    f: impl std::future::Future<Output = T>,
) -> Result<T, String> {
    let work = async { Ok(f.await) };
    let timeout = async {
        glommio::timer::sleep(limit).await;
        Err(format!("timed out after {} ms", limit.as_millis()))
    };
    futures_lite::future::or(work, timeout).await
}

/// Reads one response on `conn`, starting with the bytes left in `unparsed`
/// by the response before it; leaves the bytes after it there.
async fn read_response(
    conn: &mut Conn,
    read: &mut [u8],
    unparsed: &mut Vec<u8>,
    keep: usize,
) -> Result<Response, ReadError> {
    let mut parser = ResponseParser::new(keep);
    let mut got_bytes = !unparsed.is_empty();
    let mut fresh = got_bytes;
    loop {
        if fresh {
            let progress = parser.feed(unparsed).map_err(|e| ReadError {
                got_bytes: true,
                message: format!("bad response: {e}"),
            })?;
            match progress {
                Progress::NeedMore { consumed } => {
                    unparsed.drain(..consumed);
                }
                Progress::Done { response, consumed } => {
                    unparsed.drain(..consumed);
                    return Ok(response);
                }
            }
        }
        let n = conn.read(read).await.map_err(|e| ReadError {
            got_bytes,
            message: format!("read failed: {e}"),
        })?;
        if n == 0 {
            let mut response = parser.finish_eof().map_err(|e| ReadError {
                got_bytes,
                message: format!("connection closed: {e}"),
            })?;
            response.keep_alive = false;
            return Ok(response);
        }
        got_bytes = true;
        fresh = true;
        unparsed.extend_from_slice(read.get(..n).unwrap_or(&[]));
    }
}
