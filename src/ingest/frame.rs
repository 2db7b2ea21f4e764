//! Frame codec of the Unix-socket ingest protocol (docs/ingest-protocol.md): zero-copy
//! decoding of BATCH frames for the server, ACK/ERROR decoding for clients, and encoders.
//!
//! A frame is `u32 length` (of the bytes after it), `u8 type`, `u8 version`, then the body;
//! integers are little-endian. Decoders are total: any bytes give a frame, `Incomplete` or a
//! typed error, and every prefix of a valid frame gives `Incomplete`. Encoders append to the
//! buffer, so frames can be queued, and leave it untouched on error.

use crate::limits::{
    INGEST_CHANNELS_MAX, INGEST_ERROR_MESSAGE_BYTES_MAX, INGEST_FRAME_BYTES_MAX,
    INGEST_FRAME_EVENTS_MAX, INGEST_MSG_ID_BYTES_MAX,
};
use thiserror::Error;

/// The only protocol version this codec speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// Frame types: BATCH is client to server, ACK and ERROR server to client.
pub const FRAME_BATCH: u8 = 1;
pub const FRAME_ACK: u8 = 2;
pub const FRAME_ERROR: u8 = 3;

/// Length prefix plus type and version: the smallest possible frame.
const HEADER_BYTES: usize = 6;
/// Smallest encoded event (all five length fields zero), used to cap preallocation.
const MIN_EVENT_BYTES: usize = 2 + 2 + 2 + 1 + 4;

/// Fatal decoding errors: the connection cannot continue after any of them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame length {len} exceeds {INGEST_FRAME_BYTES_MAX}")]
    TooLarge { len: u32 },
    #[error("frame type {0} is not valid in this direction")]
    BadType(u8),
    #[error("unsupported protocol version {0}")]
    BadVersion(u8),
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
}

impl FrameError {
    /// The code a server sends in its ERROR frame before closing.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { .. } => ErrorCode::FRAME_TOO_LARGE,
            FrameError::BadType(_) => ErrorCode::BAD_FRAME_TYPE,
            FrameError::BadVersion(_) => ErrorCode::BAD_VERSION,
            FrameError::Malformed(_) => ErrorCode::MALFORMED_BATCH,
        }
    }
}

/// The code of an ERROR frame; a newtype rather than an enum so that codes added by newer
/// servers still decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    pub const FRAME_TOO_LARGE: ErrorCode = ErrorCode(1);
    pub const BAD_FRAME_TYPE: ErrorCode = ErrorCode(2);
    pub const BAD_VERSION: ErrorCode = ErrorCode(3);
    pub const MALFORMED_BATCH: ErrorCode = ErrorCode(4);
}

/// Why one event of a sound batch was rejected; the value is its ACK status byte (0 means
/// accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventStatus {
    UnknownApplication = 1,
    /// Not JSON, or larger than the server accepts.
    InvalidPayload = 2,
    /// The event id was already used for this application within 24 hours.
    DuplicateEventId = 3,
    /// Bad UTF-8, an empty required field, or a field the server finds too long.
    InvalidField = 4,
    /// The server is shedding load; the event may be retried later.
    Overloaded = 5,
}

impl EventStatus {
    pub fn from_code(code: u8) -> Option<Self> {
        use EventStatus::*;
        let all = [
            UnknownApplication,
            InvalidPayload,
            DuplicateEventId,
            InvalidField,
            Overloaded,
        ];
        all.into_iter().find(|s| *s as u8 == code)
    }
}

/// The server's verdict on one event, in batch order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventResult {
    Accepted { msg_id: String },
    Rejected(EventStatus),
}

/// A named field of an event, for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    App,
    EventType,
    EventId,
    Channel,
}

/// A per-event decoding problem; the rest of the batch is still usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EventError {
    #[error("{0:?} is not valid UTF-8")]
    InvalidUtf8(Field),
    #[error("{0:?} must not be empty")]
    Empty(Field),
}

impl EventError {
    /// The ACK status a server reports for this event.
    pub fn status(&self) -> EventStatus {
        EventStatus::InvalidField
    }
}

/// An owned event, as a producer builds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// Application id or uid.
    pub app: String,
    pub event_type: String,
    /// Idempotency key; `None` travels as length 0.
    pub event_id: Option<String>,
    pub channels: Vec<String>,
    /// JSON bytes; the server validates them, not the codec.
    pub payload: Vec<u8>,
}

/// An event borrowed from a received frame, or built to be encoded without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub app: &'a str,
    pub event_type: &'a str,
    pub event_id: Option<&'a str>,
    pub channels: Vec<&'a str>,
    pub payload: &'a [u8],
}

/// A decoded BATCH; each event is decoded, or carries the reason it is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRef<'a> {
    pub request_id: u64,
    pub events: Vec<Result<EventRef<'a>, EventError>>,
}

/// Result of the server-side decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// At least `needed_bytes` more bytes must arrive before a frame can be decoded.
    Incomplete { needed_bytes: usize },
    /// A batch borrowing from the buffer; its frame is the first `consumed` bytes.
    Batch {
        frame: BatchRef<'a>,
        consumed: usize,
    },
}

/// Result of the client-side decoder; `consumed` as in [`Decoded`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerDecoded {
    Incomplete {
        needed_bytes: usize,
    },
    Ack {
        request_id: u64,
        results: Vec<EventResult>,
        consumed: usize,
    },
    Error {
        code: ErrorCode,
        message: String,
        consumed: usize,
    },
}

/// Why a batch could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BatchEncodeError {
    #[error("{count} events exceed {INGEST_FRAME_EVENTS_MAX} per batch")]
    TooManyEvents { count: usize },
    #[error("event {index}: {field:?} is longer than 65535 bytes")]
    FieldTooLong { index: usize, field: Field },
    #[error("event {index}: {field:?} must not be empty")]
    EmptyField { index: usize, field: Field },
    #[error("event {index}: more than {INGEST_CHANNELS_MAX} channels")]
    TooManyChannels { index: usize },
    #[error("batch frame exceeds {INGEST_FRAME_BYTES_MAX} bytes")]
    FrameTooLarge,
}

/// Why an ACK could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AckEncodeError {
    #[error("{count} results exceed {INGEST_FRAME_EVENTS_MAX} per ack")]
    TooManyResults { count: usize },
    #[error(
        "result {index}: message id must be 1..={INGEST_MSG_ID_BYTES_MAX} visible ASCII bytes"
    )]
    BadMsgId { index: usize },
}

/// Decodes the client frame (which must be a BATCH) at the front of `buf`, borrowing from it.
///
/// Memory: an event is at least 11 bytes on the wire and about 100 bytes decoded (plus 16
/// per channel of at least 2 bytes), so the result is bounded near ten times the frame
/// size, i.e. about 160 MiB for a maximal frame; a server should bound how many frames it
/// decodes at once.
pub fn decode_frame(buf: &[u8]) -> Result<Decoded<'_>, FrameError> {
    let (body, consumed) = match split_frame(buf, &[FRAME_BATCH])? {
        Split::Incomplete(needed_bytes) => return Ok(Decoded::Incomplete { needed_bytes }),
        Split::Frame(_, body, consumed) => (body, consumed),
    };
    let mut r = Reader { buf: body, pos: 0 };
    let request_id = u64::from_le_bytes(r.array()?);
    let count = r.count()?;
    // The count is untrusted, so preallocation is capped by what the frame could hold.
    let mut events = Vec::with_capacity(count.min(r.remaining() / MIN_EVENT_BYTES));
    for _ in 0..count {
        events.push(decode_event(&mut r)?);
    }
    r.finish()?;
    let frame = BatchRef { request_id, events };
    Ok(Decoded::Batch { frame, consumed })
}

/// Reads one event's structure (a frame error if broken), then judges its text (per event).
fn decode_event<'a>(r: &mut Reader<'a>) -> Result<Result<EventRef<'a>, EventError>, FrameError> {
    let mut problem = None;
    let app = text(r.bytes16()?, Field::App, true, &mut problem);
    let event_type = text(r.bytes16()?, Field::EventType, true, &mut problem);
    let event_id = text(r.bytes16()?, Field::EventId, false, &mut problem);
    let channel_count = r.byte()?;
    let mut channels = Vec::with_capacity(usize::from(channel_count));
    for _ in 0..channel_count {
        channels.push(text(r.bytes16()?, Field::Channel, true, &mut problem));
    }
    let payload_len = u32::from_le_bytes(r.array()?) as usize;
    let payload = r.bytes(payload_len)?;
    let event_id = (!event_id.is_empty()).then_some(event_id);
    let event = EventRef {
        app,
        event_type,
        event_id,
        channels,
        payload,
    };
    Ok(problem.map_or(Ok(event), Err))
}

/// Reads a field as UTF-8, recording the first problem instead of failing the whole frame.
fn text<'a>(
    raw: &'a [u8],
    field: Field,
    required: bool,
    problem: &mut Option<EventError>,
) -> &'a str {
    let text = std::str::from_utf8(raw).unwrap_or_else(|_| {
        problem.get_or_insert(EventError::InvalidUtf8(field));
        ""
    });
    if required && raw.is_empty() {
        problem.get_or_insert(EventError::Empty(field));
    }
    text
}

/// Decodes the server frame (ACK or ERROR) at the front of `buf`.
pub fn decode_server_frame(buf: &[u8]) -> Result<ServerDecoded, FrameError> {
    let (frame_type, body, consumed) = match split_frame(buf, &[FRAME_ACK, FRAME_ERROR])? {
        Split::Incomplete(needed_bytes) => return Ok(ServerDecoded::Incomplete { needed_bytes }),
        Split::Frame(frame_type, body, consumed) => (frame_type, body, consumed),
    };
    let mut r = Reader { buf: body, pos: 0 };
    if frame_type == FRAME_ERROR {
        let code = ErrorCode(u16::from_le_bytes(r.array()?));
        // A garbled message must not hide the code, so it is decoded lossily.
        let message = String::from_utf8_lossy(r.bytes16()?).into_owned();
        r.finish()?;
        return Ok(ServerDecoded::Error {
            code,
            message,
            consumed,
        });
    }
    let request_id = u64::from_le_bytes(r.array()?);
    let count = r.count()?;
    let mut results = Vec::with_capacity(count.min(r.remaining()));
    for _ in 0..count {
        let status = r.byte()?;
        results.push(if status == 0 {
            let len = usize::from(r.byte()?);
            let id = r.bytes(len)?;
            let id = std::str::from_utf8(id)
                .ok()
                .filter(|id| valid_msg_id(id.as_bytes()));
            let msg_id = id
                .ok_or(FrameError::Malformed("invalid message id"))?
                .to_owned();
            EventResult::Accepted { msg_id }
        } else {
            let status = EventStatus::from_code(status);
            EventResult::Rejected(status.ok_or(FrameError::Malformed("unknown event status"))?)
        });
    }
    r.finish()?;
    Ok(ServerDecoded::Ack {
        request_id,
        results,
        consumed,
    })
}

/// The outcome of a header check: how many more bytes are needed, or the whole frame.
enum Split<'a> {
    Incomplete(usize),
    Frame(u8, &'a [u8], usize),
}

/// Checks the header of the frame at the front of `buf` and, once it is whole, returns its
/// type, body and size. Each header field is checked as soon as it arrives, so a bad peer is
/// refused before it sends up to 16 MiB of body.
fn split_frame<'a>(buf: &'a [u8], allowed: &[u8]) -> Result<Split<'a>, FrameError> {
    let Some(len) = buf.get(..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        return Ok(Split::Incomplete(HEADER_BYTES - buf.len()));
    };
    let len = u32::from_le_bytes(len);
    if len as usize > INGEST_FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge { len });
    }
    if (len as usize) < HEADER_BYTES - 4 {
        return Err(FrameError::Malformed("length below type and version"));
    }
    let (Some(&frame_type), Some(&version)) = (buf.get(4), buf.get(5)) else {
        return Ok(Split::Incomplete(HEADER_BYTES - buf.len()));
    };
    if version != PROTOCOL_VERSION {
        return Err(FrameError::BadVersion(version));
    }
    if !allowed.contains(&frame_type) {
        return Err(FrameError::BadType(frame_type));
    }
    let total = 4 + len as usize;
    match buf.get(HEADER_BYTES..total) {
        Some(body) => Ok(Split::Frame(frame_type, body, total)),
        None => Ok(Split::Incomplete(total - buf.len())),
    }
}

/// Bounds-checked cursor over a frame body; running past its end is a structural error.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        let end = self.pos.saturating_add(n);
        let out = self.buf.get(self.pos..end);
        self.pos = end;
        out.ok_or(FrameError::Malformed("field runs past the frame end"))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let raw = self.bytes(N)?;
        <[u8; N]>::try_from(raw).map_err(|_| FrameError::Malformed("short fixed-size field"))
    }

    fn byte(&mut self) -> Result<u8, FrameError> {
        self.array::<1>().map(|[b]| b)
    }

    fn bytes16(&mut self) -> Result<&'a [u8], FrameError> {
        let len = u16::from_le_bytes(self.array()?);
        self.bytes(usize::from(len))
    }

    /// Reads an event or result count, which must respect INGEST_FRAME_EVENTS_MAX.
    fn count(&mut self) -> Result<usize, FrameError> {
        let count = u32::from_le_bytes(self.array()?) as usize;
        match count {
            0..=INGEST_FRAME_EVENTS_MAX => Ok(count),
            _ => Err(FrameError::Malformed(
                "count exceeds INGEST_FRAME_EVENTS_MAX",
            )),
        }
    }

    /// A body must end exactly where its last field does; extra bytes mean a framing bug.
    fn finish(&self) -> Result<(), FrameError> {
        match self.remaining() {
            0 => Ok(()),
            _ => Err(FrameError::Malformed("bytes after the end of the body")),
        }
    }
}

/// Read access shared by [`Event`] and [`EventRef`], so one encoder serves both.
trait EventFields {
    type Channel: AsRef<str>;
    fn parts(&self) -> (&str, &str, Option<&str>, &[Self::Channel], &[u8]);
}

impl EventFields for Event {
    type Channel = String;
    fn parts(&self) -> (&str, &str, Option<&str>, &[String], &[u8]) {
        let id = self.event_id.as_deref();
        (
            &self.app,
            &self.event_type,
            id,
            &self.channels,
            &self.payload,
        )
    }
}

impl<'a> EventFields for EventRef<'a> {
    type Channel = &'a str;
    fn parts(&self) -> (&str, &str, Option<&str>, &[&'a str], &[u8]) {
        let EventRef {
            app,
            event_type,
            event_id,
            channels,
            payload,
        } = self;
        (app, event_type, *event_id, channels, payload)
    }
}

/// Appends a BATCH frame for owned events to `buf`.
pub fn encode_batch(
    buf: &mut Vec<u8>,
    request_id: u64,
    events: &[Event],
) -> Result<(), BatchEncodeError> {
    let start = buf.len();
    // Half a frame left behind would corrupt every frame queued after it.
    write_batch(buf, request_id, events).inspect_err(|_| buf.truncate(start))
}

/// Appends a BATCH frame for borrowed events to `buf`; the bytes equal [`encode_batch`]'s.
pub fn encode_batch_refs(
    buf: &mut Vec<u8>,
    request_id: u64,
    events: &[EventRef<'_>],
) -> Result<(), BatchEncodeError> {
    let start = buf.len();
    write_batch(buf, request_id, events).inspect_err(|_| buf.truncate(start))
}

fn write_batch<E: EventFields>(
    buf: &mut Vec<u8>,
    request_id: u64,
    events: &[E],
) -> Result<(), BatchEncodeError> {
    let count = events.len();
    if count > INGEST_FRAME_EVENTS_MAX {
        return Err(BatchEncodeError::TooManyEvents { count });
    }
    let start = buf.len();
    start_frame(buf, FRAME_BATCH);
    buf.extend_from_slice(&request_id.to_le_bytes());
    buf.extend_from_slice(&(count as u32).to_le_bytes());
    for (index, event) in events.iter().enumerate() {
        let (app, event_type, event_id, channels, payload) = event.parts();
        put16(buf, index, Field::App, app)?;
        put16(buf, index, Field::EventType, event_type)?;
        // Some("") would decode as "no id", so it is refused (by put16) rather than changed.
        match event_id {
            Some(id) => put16(buf, index, Field::EventId, id)?,
            None => buf.extend_from_slice(&[0, 0]),
        }
        let count = u8::try_from(channels.len());
        buf.push(count.map_err(|_| BatchEncodeError::TooManyChannels { index })?);
        for channel in channels {
            put16(buf, index, Field::Channel, channel.as_ref())?;
        }
        // The frame length once this payload and its u32 length are added (the frame's own
        // length prefix is not counted). Checking before copying, event by event, keeps the
        // buffer from growing far past the limit.
        if buf.len() - start + payload.len() > INGEST_FRAME_BYTES_MAX {
            return Err(BatchEncodeError::FrameTooLarge);
        }
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(payload);
    }
    finish_frame(buf, start);
    Ok(())
}

/// Writes a u16-length-prefixed, non-empty string field.
fn put16(buf: &mut Vec<u8>, index: usize, field: Field, s: &str) -> Result<(), BatchEncodeError> {
    let too_long = BatchEncodeError::FieldTooLong { index, field };
    let len = u16::try_from(s.len()).map_err(|_| too_long)?;
    if len == 0 {
        return Err(BatchEncodeError::EmptyField { index, field });
    }
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends an ACK frame to `buf`; `results` must follow the batch's event order.
pub fn encode_ack(
    buf: &mut Vec<u8>,
    request_id: u64,
    results: &[EventResult],
) -> Result<(), AckEncodeError> {
    encode_ack_items(
        buf,
        request_id,
        results.iter().map(|r| match r {
            EventResult::Accepted { msg_id } => Ok(msg_id.as_bytes()),
            EventResult::Rejected(status) => Err(*status),
        }),
    )
}

/// Like [`encode_ack`], over borrowed results (the accepted message's id, or
/// why the event was refused), so the server allocates no id per event. An
/// id must be 1 to 64 printable ASCII bytes.
pub fn encode_ack_items<'a, I>(
    buf: &mut Vec<u8>,
    request_id: u64,
    results: I,
) -> Result<(), AckEncodeError>
where
    I: ExactSizeIterator<Item = Result<&'a [u8], EventStatus>> + Clone,
{
    if results.len() > INGEST_FRAME_EVENTS_MAX {
        return Err(AckEncodeError::TooManyResults {
            count: results.len(),
        });
    }
    if let Some(index) = results
        .clone()
        .position(|r| matches!(r, Ok(msg_id) if !valid_msg_id(msg_id)))
    {
        return Err(AckEncodeError::BadMsgId { index });
    }
    let start = buf.len();
    start_frame(buf, FRAME_ACK);
    buf.extend_from_slice(&request_id.to_le_bytes());
    buf.extend_from_slice(&(results.len() as u32).to_le_bytes());
    for result in results {
        match result {
            Ok(msg_id) => {
                buf.extend_from_slice(&[0, msg_id.len() as u8]);
                buf.extend_from_slice(msg_id);
            }
            Err(status) => buf.push(status as u8),
        }
    }
    // 65,536 results of at most 66 bytes stay far below INGEST_FRAME_BYTES_MAX.
    finish_frame(buf, start);
    Ok(())
}

/// Appends an ERROR frame to `buf`, cutting `message` to INGEST_ERROR_MESSAGE_BYTES_MAX at a char
/// boundary.
pub fn encode_error(buf: &mut Vec<u8>, code: ErrorCode, message: &str) {
    let mut end = message.len().min(INGEST_ERROR_MESSAGE_BYTES_MAX);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let message = message.get(..end).unwrap_or("");
    let start = buf.len();
    start_frame(buf, FRAME_ERROR);
    buf.extend_from_slice(&code.0.to_le_bytes());
    buf.extend_from_slice(&(message.len() as u16).to_le_bytes());
    buf.extend_from_slice(message.as_bytes());
    finish_frame(buf, start);
}

/// Writes a placeholder length, the frame type and the version.
fn start_frame(buf: &mut Vec<u8>, frame_type: u8) {
    buf.extend_from_slice(&[0, 0, 0, 0, frame_type, PROTOCOL_VERSION]);
}

/// Fills in the length of the frame that starts at `start` and ends at the buffer's end.
fn finish_frame(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - 4) as u32;
    if let Some(slot) = buf.get_mut(start..start + 4) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
}

/// Message ids are short visible ASCII, so they print cleanly and a u8 length suffices.
fn valid_msg_id(id: &[u8]) -> bool {
    (1..=INGEST_MSG_ID_BYTES_MAX).contains(&id.len()) && id.iter().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests;
