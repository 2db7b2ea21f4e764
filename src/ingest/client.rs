//! Blocking ingest client (std only): writes BATCH frames to the server's Unix socket and
//! matches ACK frames to them by request id, with up to INGEST_CLIENT_IN_FLIGHT_MAX batches pipelined.
//!
//! The server may acknowledge batches in any order; an ACK that arrives while the client
//! waits for another batch is kept and handed out by the next `recv_ack`.

use super::frame::{
    decode_server_frame, encode_batch, BatchEncodeError, ErrorCode, Event, EventResult, FrameError,
    ServerDecoded,
};
use crate::limits::{INGEST_CLIENT_IN_FLIGHT_MAX, INGEST_FRAME_BYTES_MAX};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// Bytes asked of each read when the next frame's size is not yet known.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Capacity each buffer keeps between calls; a larger one (after a huge batch) is shrunk.
const RETAINED_BUFFER_BYTES: usize = 1024 * 1024;

/// Errors of the ingest client. Any error other than `Encode`, `TooManyInFlight`,
/// `NothingInFlight` or a read timeout leaves the connection unusable (`Broken` thereafter),
/// because the client can no longer tell where the byte stream stands.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("ingest socket I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("batch cannot be encoded: {0}")]
    Encode(#[from] BatchEncodeError),
    #[error("server sent an invalid frame: {0}")]
    Protocol(#[from] FrameError),
    #[error("server reported error {}: {message}", code.0)]
    Server { code: ErrorCode, message: String },
    #[error("server closed the connection")]
    Closed,
    #[error("server acknowledged request {request_id}, which is not in flight")]
    UnexpectedAck { request_id: u64 },
    #[error("ack for request {request_id} has {got} results for {sent} events")]
    AckMismatch {
        request_id: u64,
        sent: usize,
        got: usize,
    },
    #[error("{INGEST_CLIENT_IN_FLIGHT_MAX} batches are already awaiting acknowledgement")]
    TooManyInFlight,
    #[error("no batch is awaiting acknowledgement")]
    NothingInFlight,
    #[error("connection is unusable after an earlier error")]
    Broken,
}

/// A connection to the ingest socket. Buffers are reused across calls.
#[derive(Debug)]
pub struct IngestClient {
    stream: UnixStream,
    write_buf: Vec<u8>,
    /// Received bytes live in `read_buf[read_start..read_end]`; the rest is spare room.
    read_buf: Vec<u8>,
    read_start: usize,
    read_end: usize,
    next_request_id: u64,
    /// Request id and event count of each batch sent but not yet acknowledged.
    in_flight: Vec<(u64, usize)>,
    /// ACKs that arrived while `send_batch` waited for a different one.
    early_acks: Vec<(u64, Vec<EventResult>)>,
    broken: bool,
}

impl IngestClient {
    /// Connects to the server's socket at `path`.
    pub fn connect(path: &Path) -> Result<IngestClient, ClientError> {
        Ok(Self::from_stream(UnixStream::connect(path)?))
    }

    /// Wraps an already connected stream (for socket pairs, or sockets set up elsewhere).
    pub fn from_stream(stream: UnixStream) -> IngestClient {
        IngestClient {
            stream,
            write_buf: Vec::new(),
            read_buf: Vec::new(),
            read_start: 0,
            read_end: 0,
            next_request_id: 1,
            in_flight: Vec::new(),
            early_acks: Vec::new(),
            broken: false,
        }
    }

    /// Bounds each socket read and write; `None` waits forever. After a read timeout the
    /// batch stays in flight and its ACK can still be collected with `recv_ack`.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.stream.set_read_timeout(timeout)?;
        Ok(self.stream.set_write_timeout(timeout)?)
    }

    /// Batches sent whose ACK has not been returned yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len() + self.early_acks.len()
    }

    /// Sends one batch and waits for its ACK; results are in event order.
    pub fn send_batch(&mut self, events: &[Event]) -> Result<Vec<EventResult>, ClientError> {
        let request_id = self.send_batch_nowait(events)?;
        loop {
            let (acked, results) = self.read_ack()?;
            if acked == request_id {
                return Ok(results);
            }
            self.early_acks.push((acked, results));
        }
    }

    /// Sends one batch without waiting; returns the request id its ACK will carry.
    pub fn send_batch_nowait(&mut self, events: &[Event]) -> Result<u64, ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        if self.in_flight() >= INGEST_CLIENT_IN_FLIGHT_MAX {
            return Err(ClientError::TooManyInFlight);
        }
        let request_id = self.next_request_id;
        self.write_buf.clear();
        encode_batch(&mut self.write_buf, request_id, events)?;
        // A failed write may have sent part of the frame, after which framing is lost.
        let written = self.stream.write_all(&self.write_buf);
        self.broken = written.is_err();
        written?;
        shrink(&mut self.write_buf, 0);
        self.next_request_id = request_id.wrapping_add(1);
        self.in_flight.push((request_id, events.len()));
        Ok(request_id)
    }

    /// Waits for the next ACK of any batch in flight: (request id, results in event order).
    pub fn recv_ack(&mut self) -> Result<(u64, Vec<EventResult>), ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        if !self.early_acks.is_empty() {
            return Ok(self.early_acks.remove(0));
        }
        if self.in_flight.is_empty() {
            return Err(ClientError::NothingInFlight);
        }
        self.read_ack()
    }

    /// Reads frames until an ACK arrives, checks it against the batches in flight, and marks
    /// the connection broken on any failure but a read timeout.
    fn read_ack(&mut self) -> Result<(u64, Vec<EventResult>), ClientError> {
        let outcome = self.read_ack_inner();
        let timed_out = matches!(&outcome, Err(ClientError::Io(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
        self.broken = outcome.is_err() && !timed_out;
        outcome
    }

    fn read_ack_inner(&mut self) -> Result<(u64, Vec<EventResult>), ClientError> {
        loop {
            let unread = self.read_buf.get(self.read_start..self.read_end);
            match decode_server_frame(unread.unwrap_or(&[]))? {
                ServerDecoded::Incomplete { needed_bytes } => self.fill(needed_bytes)?,
                ServerDecoded::Error { code, message, .. } => {
                    return Err(ClientError::Server { code, message })
                }
                ServerDecoded::Ack {
                    request_id,
                    results,
                    consumed,
                } => {
                    self.read_start += consumed;
                    let slot = self.in_flight.iter().position(|(id, _)| *id == request_id);
                    let slot = slot.ok_or(ClientError::UnexpectedAck { request_id })?;
                    let (_, sent) = self.in_flight.remove(slot);
                    if results.len() != sent {
                        let got = results.len();
                        return Err(ClientError::AckMismatch {
                            request_id,
                            sent,
                            got,
                        });
                    }
                    return Ok((request_id, results));
                }
            }
        }
    }

    /// Reads at least one more byte from the socket into the read buffer.
    ///
    /// Unread bytes are first moved to the front, so the buffer never holds more than one
    /// incomplete frame (at most INGEST_FRAME_BYTES_MAX + 4) plus READ_CHUNK_BYTES of room.
    fn fill(&mut self, needed: usize) -> Result<(), ClientError> {
        self.read_buf.copy_within(self.read_start..self.read_end, 0);
        self.read_end -= self.read_start;
        self.read_start = 0;
        shrink(&mut self.read_buf, self.read_end);
        let want = needed.clamp(READ_CHUNK_BYTES, INGEST_FRAME_BYTES_MAX + 4);
        if self.read_buf.len() < self.read_end + want {
            self.read_buf.resize(self.read_end + want, 0);
        }
        let room = self.read_buf.get_mut(self.read_end..).unwrap_or(&mut []);
        let n = loop {
            match self.stream.read(room) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            return Err(ClientError::Closed);
        }
        self.read_end += n;
        Ok(())
    }
}

/// Gives back memory after an unusually large frame, keeping the first `keep` bytes.
fn shrink(buf: &mut Vec<u8>, keep: usize) {
    if buf.capacity() > RETAINED_BUFFER_BYTES && keep <= RETAINED_BUFFER_BYTES {
        buf.truncate(keep);
        buf.shrink_to(RETAINED_BUFFER_BYTES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::frame::{decode_frame, encode_ack, encode_error, BatchRef, Decoded};
    use crate::ingest::frame::{EventError, EventRef, EventStatus};
    use crate::limits::INGEST_FRAME_EVENTS_MAX;
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::{self, JoinHandle};

    /// How the test server answers.
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        /// Ack each batch at once.
        InOrder,
        /// Hold acks and send each pair in reverse order.
        ReversePairs,
    }

    /// A fresh socket path in the temp dir, unique per process and per call.
    fn socket_path() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        std::env::temp_dir().join(format!("ringhook-ingest-{}-{n}.sock", std::process::id()))
    }

    /// The test server's verdicts: per-event errors and app "unknown" are rejected, event type
    /// "boom" makes it send an ERROR frame, everything else gets a message id.
    fn answer(batch: &BatchRef<'_>) -> Option<Vec<EventResult>> {
        let verdict = |(i, event): (usize, &Result<EventRef<'_>, EventError>)| match event {
            Err(e) => Some(EventResult::Rejected(e.status())),
            Ok(e) if e.event_type == "boom" => None,
            Ok(e) if e.app == "unknown" => {
                Some(EventResult::Rejected(EventStatus::UnknownApplication))
            }
            Ok(_) => Some(EventResult::Accepted {
                msg_id: format!("msg_{}_{i}", batch.request_id),
            }),
        };
        batch.events.iter().enumerate().map(verdict).collect()
    }

    /// Accepts one connection and serves it with `decode_frame` and `encode_ack` until EOF.
    fn serve(mode: Mode) -> (PathBuf, JoinHandle<()>) {
        let path = socket_path();
        let listener = UnixListener::bind(&path).expect("bind test socket");
        let handle = thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let (mut buf, mut chunk, mut held) = (Vec::new(), vec![0u8; 8192], Vec::new());
            loop {
                let mut out = Vec::new();
                let mut used = 0;
                let fatal = loop {
                    match decode_frame(buf.get(used..).unwrap_or(&[])) {
                        Ok(Decoded::Incomplete { .. }) => break false,
                        Ok(Decoded::Batch { frame, consumed }) => {
                            used += consumed;
                            let Some(results) = answer(&frame) else {
                                encode_error(&mut out, ErrorCode::MALFORMED_BATCH, "boom");
                                break true;
                            };
                            let mut ack = Vec::new();
                            encode_ack(&mut ack, frame.request_id, &results).expect("valid ack");
                            held.push(ack);
                            if mode == Mode::InOrder || held.len() == 2 {
                                held.drain(..).rev().for_each(|a| out.extend_from_slice(&a));
                            }
                        }
                        Err(e) => {
                            encode_error(&mut out, e.error_code(), &e.to_string());
                            break true;
                        }
                    }
                };
                buf.drain(..used);
                if stream.write_all(&out).is_err() || fatal {
                    return;
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                }
            }
        });
        (path, handle)
    }

    fn event(app: &str, event_type: &str, payload_len: usize) -> Event {
        let mut payload = vec![b' '; payload_len];
        payload.extend_from_slice(b"{}");
        Event {
            app: app.into(),
            event_type: event_type.into(),
            event_id: None,
            channels: vec!["orders".into()],
            payload,
        }
    }

    fn finish(client: IngestClient, path: PathBuf, server: JoinHandle<()>) {
        drop(client);
        server.join().expect("server thread");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn send_batch_round_trip_and_buffer_reuse() {
        let (path, server) = serve(Mode::InOrder);
        let mut client = IngestClient::connect(&path).expect("connect");
        let events = [event("app_1", "a.b", 0), event("unknown", "a.b", 0)];
        let results = client.send_batch(&events).expect("first batch");
        let accepted = EventResult::Accepted {
            msg_id: "msg_1_0".into(),
        };
        let unknown = EventResult::Rejected(EventStatus::UnknownApplication);
        assert_eq!(results, vec![accepted, unknown]);
        // A batch of several MiB needs many partial reads and writes on the server side.
        let big: Vec<Event> = (0..5_000).map(|_| event("app_1", "t", 1_000)).collect();
        let results = client.send_batch(&big).expect("big batch");
        assert_eq!(results.len(), 5_000);
        assert_eq!(
            results[4_999],
            EventResult::Accepted {
                msg_id: "msg_2_4999".into()
            }
        );
        assert_eq!(client.send_batch(&[]).expect("empty batch"), vec![]);
        assert!(matches!(
            client.recv_ack(),
            Err(ClientError::NothingInFlight)
        ));
        finish(client, path, server);
    }

    #[test]
    fn pipelined_batches_match_acks_out_of_order() {
        let (path, server) = serve(Mode::ReversePairs);
        let mut client = IngestClient::connect(&path).expect("connect");
        let one = [event("app", "t", 0)];
        let first = client.send_batch_nowait(&one).expect("send 1");
        let second = client.send_batch_nowait(&[event("app", "t", 0), event("app", "t", 0)]);
        let second = second.expect("send 2");
        assert_eq!(client.in_flight(), 2);
        let (id, results) = client.recv_ack().expect("ack");
        assert_eq!((id, results.len()), (second, 2));
        assert_eq!(client.recv_ack().expect("ack").0, first);
        // The server reverses pairs, so batch 4's ack overtakes batch 3's, which stays
        // in flight for recv_ack.
        let third = client.send_batch_nowait(&one).expect("send 3");
        let fourth = client.send_batch(&one).expect("send 4");
        assert_eq!(
            fourth,
            vec![EventResult::Accepted {
                msg_id: "msg_4_0".into()
            }]
        );
        assert_eq!(client.in_flight(), 1);
        assert_eq!(client.recv_ack().expect("early ack").0, third);
        finish(client, path, server);
    }

    /// An in-order server acks the older batch while send_batch waits for the newer one.
    #[test]
    fn early_ack_is_kept_for_recv_ack() {
        let (path, server) = serve(Mode::InOrder);
        let mut client = IngestClient::connect(&path).expect("connect");
        let one = [event("app", "t", 0)];
        let first = client.send_batch_nowait(&one).expect("send 1");
        assert_eq!(client.send_batch(&one).expect("send 2").len(), 1);
        assert_eq!(client.recv_ack().expect("kept ack").0, first);
        finish(client, path, server);
    }

    #[test]
    fn server_error_frame_breaks_the_connection() {
        let (path, server) = serve(Mode::InOrder);
        let mut client = IngestClient::connect(&path).expect("connect");
        match client.send_batch(&[event("app", "boom", 0)]) {
            Err(ClientError::Server { code, message }) => {
                assert_eq!(
                    (code, message.as_str()),
                    (ErrorCode::MALFORMED_BATCH, "boom")
                );
            }
            other => panic!("expected a server error, got {other:?}"),
        }
        let again = client.send_batch(&[event("app", "t", 0)]);
        assert!(matches!(again, Err(ClientError::Broken)));
        finish(client, path, server);
    }

    #[test]
    fn local_errors_keep_the_connection_usable() {
        let (path, server) = serve(Mode::InOrder);
        let mut client = IngestClient::connect(&path).expect("connect");
        let too_many = vec![event("a", "t", 0); INGEST_FRAME_EVENTS_MAX + 1];
        let err = client.send_batch(&too_many);
        assert!(matches!(
            err,
            Err(ClientError::Encode(BatchEncodeError::TooManyEvents { .. }))
        ));
        assert_eq!(
            client
                .send_batch(&[event("a", "t", 0)])
                .expect("still usable")
                .len(),
            1
        );
        finish(client, path, server);
        let missing = IngestClient::connect(&socket_path());
        assert!(matches!(missing, Err(ClientError::Io(_))));
    }

    #[test]
    fn peer_close_is_reported() {
        let (a, b) = UnixStream::pair().expect("socket pair");
        let mut client = IngestClient::from_stream(a);
        drop(b);
        let err = client.send_batch(&[event("a", "t", 0)]);
        assert!(
            matches!(err, Err(ClientError::Closed | ClientError::Io(_))),
            "{err:?}"
        );
    }
}
