//! HTTP/1.1 wire format of the delivery client: request encoding, and an
//! incremental, bounded response parser for keep-alive connections.
//!
//! The parser is two-phase in the mini-redis sense: each call makes progress, reports that it
//! needs more bytes, or fails with a typed error; no byte string makes it panic. Contract:
//! feed all unconsumed bytes (those left from earlier calls plus new ones), then drop
//! `consumed` bytes from the front. The head and chunk-size/trailer lines are consumed only
//! once whole, so they stay buffered (bounded below); body bytes are consumed as they arrive.
//!
//! HEAD requests are not supported: the engine only POSTs, and a response to HEAD cannot
//! be told apart from one with a body.

use crate::limits::{
    CHUNK_LINE_BYTES_MAX, INTERIM_RESPONSES_MAX, RESPONSE_HEADERS_MAX, RESPONSE_HEAD_BYTES_MAX,
    TRAILER_BYTES_MAX,
};
use thiserror::Error;

/// Why a request could not be encoded; nothing is written in that case.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("method {0:?} is not an HTTP token")]
    BadMethod(String),
    #[error("request target must be an origin-form path of visible ASCII")]
    BadTarget,
    #[error("host header is empty or contains control bytes")]
    BadHost,
    #[error("header name {0:?} is not an HTTP token")]
    BadHeaderName(String),
    #[error("value of header {0:?} contains CR, LF or another control byte")]
    BadHeaderValue(String),
    #[error("header {0:?} controls message framing and is written by the encoder")]
    ReservedHeader(String),
}

/// Why a response could not be parsed; the connection must then be closed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ResponseError {
    #[error("response head exceeds {RESPONSE_HEAD_BYTES_MAX} bytes")]
    HeadTooLarge,
    #[error("response head has more than {RESPONSE_HEADERS_MAX} fields")]
    TooManyHeaders,
    #[error("malformed response head: {0}")]
    MalformedHead(httparse::Error),
    #[error("server switched protocols although no upgrade was requested")]
    UnexpectedUpgrade,
    #[error("more than {INTERIM_RESPONSES_MAX} interim (1xx) responses")]
    TooManyInterim,
    #[error("content-length is not a decimal number")]
    BadContentLength,
    #[error("ambiguous message framing: {0}")]
    ConflictingFraming(&'static str),
    #[error("chunk-size line exceeds {CHUNK_LINE_BYTES_MAX} bytes")]
    ChunkLineTooLong,
    #[error("malformed chunk-size line")]
    BadChunkSize,
    #[error("chunk data is not followed by CRLF")]
    BadChunkTerminator,
    #[error("trailer section exceeds {TRAILER_BYTES_MAX} bytes")]
    TrailersTooLarge,
    #[error("malformed trailer field line")]
    BadTrailer,
    #[error("connection closed before any response byte arrived")]
    ClosedBeforeResponse,
    #[error("connection closed in the middle of a response")]
    UnexpectedEof,
}

/// A final (non-1xx) response, with the body reduced to a bounded prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
    /// The last `Retry-After` field, if in delta-seconds form; the HTTP-date form gives `None`.
    pub retry_after_secs: Option<u64>,
    /// The first `body_keep_bytes` bytes of the (de-chunked) body.
    pub body_prefix: Vec<u8>,
    /// Total length of the (de-chunked) body.
    pub body_len: u64,
}

/// The outcome of one [`ResponseParser::feed`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The response is not complete; drop `consumed` bytes and feed again once more arrive.
    NeedMore { consumed: usize },
    /// The response is complete; bytes past `consumed` belong to the next response.
    Done { consumed: usize, response: Response },
}

/// Appends a complete HTTP/1.1 request to `buf` (left as it was on error), so that
/// several requests can be pipelined in one write: the request line, `host`, `headers`,
/// `content-length` and `body`. It is [`encode_head`] and [`encode_body`] at once; the
/// delivery worker calls them apart, with [`encode_field`] between, to check an endpoint's
/// fixed part once for all its requests.
///
/// `host`, `content-length` and `transfer-encoding` are reserved: the encoder owns framing,
/// and letting callers set them would allow request smuggling. Control bytes in any value
/// are rejected, never stripped, so a hostile value cannot inject a header field.
pub fn encode_request(
    buf: &mut Vec<u8>,
    method: &str,
    host_header: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), EncodeError> {
    let fields: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    buf.reserve(path_and_query.len() + host_header.len() + fields + body.len() + 64);
    encode_head(buf, method, host_header, path_and_query, headers)?;
    encode_body(buf, body);
    Ok(())
}

/// Appends a request's head but its framing: the request line, `host` and
/// `headers` (each checked with [`check_field_name`] and its value with
/// [`no_controls`]). Nothing is written on error.
pub fn encode_head(
    buf: &mut Vec<u8>,
    method: &str,
    host_header: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Result<(), EncodeError> {
    if !is_token(method) {
        return Err(EncodeError::BadMethod(method.to_owned()));
    }
    let target_ok = path_and_query.starts_with('/')
        && path_and_query.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !target_ok {
        return Err(EncodeError::BadTarget);
    }
    if host_header.is_empty() || !no_controls(host_header.as_bytes()) {
        return Err(EncodeError::BadHost);
    }
    for &(name, value) in headers {
        check_field_name(name)?;
        if !no_controls(value.as_bytes()) {
            return Err(EncodeError::BadHeaderValue(name.to_owned()));
        }
    }
    for part in [
        method,
        " ",
        path_and_query,
        " HTTP/1.1\r\nhost: ",
        host_header,
        "\r\n",
    ] {
        buf.extend_from_slice(part.as_bytes());
    }
    for &(name, value) in headers {
        put_field(buf, name, value.as_bytes());
    }
    Ok(())
}

/// Whether `name` may be a request field: an HTTP token, and not one of
/// the framing fields the encoder writes itself.
pub fn check_field_name(name: &str) -> Result<(), EncodeError> {
    if !is_token(name) {
        return Err(EncodeError::BadHeaderName(name.to_owned()));
    }
    let reserved = ["host", "content-length", "transfer-encoding"];
    if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(EncodeError::ReservedHeader(name.to_owned()));
    }
    Ok(())
}

/// Appends one field after a head. `name` must have passed
/// [`check_field_name`] (a constant, or a name checked once for many
/// requests: asserted in debug builds); `value` is checked here, and
/// nothing is written if it holds a control byte.
pub fn encode_field(buf: &mut Vec<u8>, name: &str, value: &str) -> Result<(), EncodeError> {
    debug_assert_eq!(check_field_name(name), Ok(()));
    if !no_controls(value.as_bytes()) {
        return Err(EncodeError::BadHeaderValue(name.to_owned()));
    }
    put_field(buf, name, value.as_bytes());
    Ok(())
}

fn put_field(buf: &mut Vec<u8>, name: &str, value: &[u8]) {
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
}

/// Ends a head with `content-length` and the blank line, then appends
/// `body`.
pub fn encode_body(buf: &mut Vec<u8>, body: &[u8]) {
    let mut digits = itoa::Buffer::new();
    put_field(buf, "content-length", digits.format(body.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(body);
}

/// RFC 9110 token characters, used for methods and field names. The API
/// checks endpoint header names with it, so nothing it accepts fails here.
pub fn is_token(s: &str) -> bool {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !s.is_empty() && s.bytes().all(tchar)
}

/// Field values may hold any byte but controls (HTAB aside); CR and LF are
/// what matter. The API checks endpoint header values with it.
pub fn no_controls(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Where the parser is within the current response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Head,
    /// A body delimited by content-length, or by the peer closing (`None`); bytes left.
    Body(Option<u64>),
    ChunkSize,
    /// Inside a chunk; bytes left.
    ChunkData(u64),
    ChunkEnd,
    /// Inside the trailer section; bytes seen so far.
    Trailers(usize),
}

/// Incremental parser for the responses on one keep-alive connection.
///
/// After `Done` it is ready for the next response on the same connection.
#[derive(Debug, Default)]
pub struct ResponseParser {
    keep: usize,
    state: State,
    interim: usize,
    saw_bytes: bool,
    resp: Response,
}

/// What one state transition did with the input.
enum Step {
    Advance(usize),
    Blocked,
    Finished(usize),
}

impl ResponseParser {
    /// A parser keeping at most `body_keep_bytes` of each body (for logs and attempt records).
    pub fn new(body_keep_bytes: usize) -> Self {
        let keep = body_keep_bytes;
        Self {
            keep,
            ..Self::default()
        }
    }

    /// Forgets any partial response, e.g. before reusing the parser on a new connection.
    pub fn reset(&mut self) {
        *self = Self::new(self.keep);
    }

    /// Parses as much of `input` (all unconsumed bytes, see module docs) as possible.
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress, ResponseError> {
        self.saw_bytes |= !input.is_empty();
        let mut pos = 0;
        loop {
            // Any error ends the response, so the parser is reset for a fresh connection.
            let step = self.step(input.get(pos..).unwrap_or(&[]));
            match step.inspect_err(|_| self.reset())? {
                Step::Advance(n) => pos += n,
                Step::Blocked => return Ok(Progress::NeedMore { consumed: pos }),
                Step::Finished(n) => {
                    let (consumed, response) = (pos + n, std::mem::take(&mut self.resp));
                    self.reset();
                    return Ok(Progress::Done { consumed, response });
                }
            }
        }
    }

    /// Runs one transition of the state machine on the unconsumed input `rest`.
    fn step(&mut self, rest: &[u8]) -> Result<Step, ResponseError> {
        match self.state {
            State::Head => self.step_head(rest),
            State::Body(left) => {
                let n = self.take_body(rest, left.unwrap_or(u64::MAX));
                let left = left.map(|l| l - n as u64);
                self.state = State::Body(left);
                Ok(match (left, n) {
                    (Some(0), _) => Step::Finished(n),
                    (_, 0) => Step::Blocked,
                    _ => Step::Advance(n),
                })
            }
            State::ChunkData(left) => {
                let n = self.take_body(rest, left);
                self.state = match left - n as u64 {
                    0 => State::ChunkEnd,
                    left => State::ChunkData(left),
                };
                Ok(match n {
                    0 => Step::Blocked,
                    n => Step::Advance(n),
                })
            }
            State::ChunkSize => self.step_chunk_size(rest),
            State::ChunkEnd => match rest {
                [b'\r', b'\n', ..] => {
                    self.state = State::ChunkSize;
                    Ok(Step::Advance(2))
                }
                [] | [b'\r'] => Ok(Step::Blocked),
                _ => Err(ResponseError::BadChunkTerminator),
            },
            State::Trailers(seen) => self.step_trailer(rest, seen),
        }
    }

    /// Whether the response being parsed has a body that only the peer's
    /// close ends (no content-length, no chunked framing).
    pub fn reading_until_close(&self) -> bool {
        self.state == State::Body(None)
    }

    /// Reports the peer closing the connection; only a read-until-close body ends well here.
    pub fn finish_eof(&mut self) -> Result<Response, ResponseError> {
        let outcome = match self.state {
            State::Body(None) => Ok(std::mem::take(&mut self.resp)),
            State::Head if !self.saw_bytes => Err(ResponseError::ClosedBeforeResponse),
            _ => Err(ResponseError::UnexpectedEof),
        };
        self.reset();
        outcome
    }

    /// Counts body bytes (at most `limit`) and keeps the prefix; returns how many were taken.
    fn take_body(&mut self, rest: &[u8], limit: u64) -> usize {
        let n = usize::try_from(limit).map_or(rest.len(), |l| l.min(rest.len()));
        let room = self.keep.saturating_sub(self.resp.body_prefix.len());
        let kept = rest.get(..n.min(room)).unwrap_or(&[]);
        self.resp.body_prefix.extend_from_slice(kept);
        // Saturating is exact in practice: no connection carries 2^64 bytes.
        self.resp.body_len = self.resp.body_len.saturating_add(n as u64);
        n
    }

    fn step_head(&mut self, rest: &[u8]) -> Result<Step, ResponseError> {
        // Parsing at most RESPONSE_HEAD_BYTES_MAX makes the limit independent of how the
        // bytes were split across reads: a head that does not fit never completes.
        let window = rest.get(..RESPONSE_HEAD_BYTES_MAX).unwrap_or(rest);
        let mut fields = [httparse::EMPTY_HEADER; RESPONSE_HEADERS_MAX];
        let mut head = httparse::Response::new(&mut fields);
        let len = match head.parse(window) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if rest.len() > RESPONSE_HEAD_BYTES_MAX => {
                return Err(ResponseError::HeadTooLarge)
            }
            Ok(httparse::Status::Partial) => return Ok(Step::Blocked),
            Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
            Err(e) => return Err(ResponseError::MalformedHead(e)),
        };
        let (Some(status), Some(version)) = (head.code, head.version) else {
            return Err(ResponseError::MalformedHead(httparse::Error::Status));
        };
        if (100..200).contains(&status) {
            // Interim responses carry no body; the final response follows them.
            if status == 101 {
                return Err(ResponseError::UnexpectedUpgrade);
            }
            self.interim += 1;
            if self.interim > INTERIM_RESPONSES_MAX {
                return Err(ResponseError::TooManyInterim);
            }
            return Ok(Step::Advance(len));
        }
        let mut content_length: Option<u64> = None;
        let (mut te_present, mut chunked_count, mut chunked_last) = (false, 0, false);
        let (mut close, mut keep_alive_token) = (false, false);
        self.resp.status = status;
        for field in head.headers.iter() {
            let value = std::str::from_utf8(field.value).unwrap_or("");
            let name = field.name;
            if name.eq_ignore_ascii_case("content-length") {
                // A list of identical values is allowed (RFC 9110 §8.6); differing ones are not.
                for item in value.split(',') {
                    let n = parse_decimal(item.trim()).ok_or(ResponseError::BadContentLength)?;
                    if content_length.is_some_and(|old| old != n) {
                        return Err(ResponseError::ConflictingFraming("length values"));
                    }
                    content_length = Some(n);
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                te_present = true;
                for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    chunked_last = coding.eq_ignore_ascii_case("chunked");
                    chunked_count += usize::from(chunked_last);
                }
            } else if name.eq_ignore_ascii_case("connection") {
                for option in value.split(',').map(str::trim) {
                    close |= option.eq_ignore_ascii_case("close");
                    keep_alive_token |= option.eq_ignore_ascii_case("keep-alive");
                }
            } else if name.eq_ignore_ascii_case("retry-after") {
                self.resp.retry_after_secs = parse_decimal(value.trim());
            }
        }
        self.resp.keep_alive = !close && (version == 1 || keep_alive_token);
        if status == 204 || status == 304 {
            return Ok(Step::Finished(len));
        }
        let until_close = State::Body(None);
        self.state = match (te_present, content_length) {
            // Both framings at once is the classic smuggling vector, so it is an error.
            (true, Some(_)) => return Err(ResponseError::ConflictingFraming("length and chunked")),
            (true, None) if chunked_count == 0 => until_close,
            (true, None) if chunked_last && chunked_count == 1 => State::ChunkSize,
            (true, None) => return Err(ResponseError::ConflictingFraming("chunked not last")),
            (false, Some(0)) => return Ok(Step::Finished(len)),
            (false, left) => State::Body(left),
        };
        // A body that ends only when the peer closes leaves nothing to reuse.
        self.resp.keep_alive &= self.state != until_close;
        Ok(Step::Advance(len))
    }

    fn step_chunk_size(&mut self, rest: &[u8]) -> Result<Step, ResponseError> {
        let (too_long, bad) = (ResponseError::ChunkLineTooLong, ResponseError::BadChunkSize);
        let Some((line, used)) = find_line(rest, CHUNK_LINE_BYTES_MAX, too_long, bad)? else {
            return Ok(Step::Blocked);
        };
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let hex = std::str::from_utf8(line.get(..digits).unwrap_or(&[])).unwrap_or("");
        // from_str_radix rejects the empty string and overflow, both malformed sizes.
        let size = u64::from_str_radix(hex, 16).map_err(|_| ResponseError::BadChunkSize)?;
        let after = line.get(digits..).unwrap_or(&[]);
        let ext = after.trim_ascii_start();
        // Extensions are ignored, but they must start with ';' and hold no control bytes.
        if !no_controls(after) || !(ext.is_empty() || ext.starts_with(b";")) {
            return Err(ResponseError::BadChunkSize);
        }
        self.state = match size {
            0 => State::Trailers(0),
            n => State::ChunkData(n),
        };
        Ok(Step::Advance(used))
    }

    fn step_trailer(&mut self, rest: &[u8], seen: usize) -> Result<Step, ResponseError> {
        let budget = TRAILER_BYTES_MAX.saturating_sub(seen + 2);
        let (too_long, bad) = (ResponseError::TrailersTooLarge, ResponseError::BadTrailer);
        let Some((line, used)) = find_line(rest, budget, too_long, bad)? else {
            return Ok(Step::Blocked);
        };
        if line.is_empty() {
            return Ok(Step::Finished(used));
        }
        // Trailer values are not used, but a line must look like a field to be skipped safely.
        let name_len = line.iter().position(|&b| b == b':').unwrap_or(0);
        let name = std::str::from_utf8(line.get(..name_len).unwrap_or(&[])).unwrap_or("");
        if !is_token(name) || !no_controls(line) {
            return Err(ResponseError::BadTrailer);
        }
        self.state = State::Trailers(seen + used);
        Ok(Step::Advance(used))
    }
}

/// Finds a CRLF-ended line of at most `max` bytes at the start of `rest`: the line and the bytes
/// it spans, or `None` until more arrive. Only `max + 2` bytes are examined, so the verdict
/// never depends on how the input was split across reads.
fn find_line(
    rest: &[u8],
    max: usize,
    too_long: ResponseError,
    bare_lf: ResponseError,
) -> Result<Option<(&[u8], usize)>, ResponseError> {
    let window = rest.get(..max + 2).unwrap_or(rest);
    match window.iter().position(|&b| b == b'\n') {
        Some(i) if i >= 1 && window.get(i - 1) == Some(&b'\r') => {
            Ok(Some((window.get(..i - 1).unwrap_or(&[]), i + 1)))
        }
        Some(_) => Err(bare_lf),
        None if rest.len() >= max + 2 => Err(too_long),
        None => Ok(None),
    }
}

/// Parses a non-empty run of ASCII digits into a u64, rejecting signs, spaces and overflow.
fn parse_decimal(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ResponseError as E;

    type Outcome = Result<(Response, usize), ResponseError>;

    /// Plays a caller: appends each chunk, feeds the unconsumed bytes, drains what was consumed,
    /// and reports EOF when the chunks run out. Returns the response and the bytes it used.
    fn run(keep: usize, chunks: &[&[u8]]) -> Outcome {
        let mut parser = ResponseParser::new(keep);
        let (mut buf, mut used) = (Vec::new(), 0);
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            match parser.feed(&buf)? {
                Progress::NeedMore { consumed } => {
                    buf.drain(..consumed);
                    used += consumed;
                }
                Progress::Done { consumed, response } => return Ok((response, used + consumed)),
            }
        }
        parser.finish_eof().map(|r| (r, used))
    }

    /// Splits `input` at the given cut points (taken modulo its length, in any order).
    fn split<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(input.len());
        let starts = std::iter::once(0).chain(cuts.clone());
        starts.zip(cuts).map(|(a, b)| &input[a..b]).collect()
    }

    /// Parses `input` (`|` standing for CRLF) whole, byte by byte and split at every point
    /// (the last two for short inputs only); all must equal `expected`.
    fn check(input: &str, expected: Outcome) {
        let input = input.replace('|', "\r\n");
        let input = input.as_bytes();
        assert_eq!(run(4, &[input]), expected, "whole input");
        if input.len() <= 4096 {
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(run(4, &bytes), expected, "byte by byte");
            for i in 0..=input.len() {
                assert_eq!(run(4, &split(input, &[i])), expected, "split at {i}");
            }
        }
    }

    const CHUNKED: &str = "HTTP/1.1 200 OK|Transfer-Encoding: gzip, chunked||\
        5;name=\"v\"|hello|6 ; x| world|0|x-trailer: 1|x-b:\t2||";
    const TE: &str = "HTTP/1.1 200 OK|transfer-encoding: chunked||";

    /// A successful case: input, then the expected status, keep-alive, retry-after, prefix, length.
    type OkCase = (&'static str, (u16, bool, Option<u64>, &'static str, u64));

    #[rustfmt::skip]
    fn expected(&(input, (status, keep_alive, retry_after_secs, prefix, body_len)): &OkCase) -> Outcome {
        let body_prefix = prefix.as_bytes().to_vec();
        #[rustfmt::skip]
        let resp = Response { status, keep_alive, retry_after_secs, body_prefix, body_len };
        Ok((resp, input.replace('|', "\r\n").len()))
    }

    #[rustfmt::skip]
    const OK: &[OkCase] = &[
        (CHUNKED, (200, true, None, "hell", 11)),
        ("HTTP/1.1 200 OK|Content-Length: 5||hello", (200, true, None, "hell", 5)),
        ("HTTP/1.1 200 OK|content-length: 2, 2||hi", (200, true, None, "hi", 2)),
        ("HTTP/1.1 100 Continue||HTTP/1.1 503 Busy|Retry-After: 120|Connection: close||", (503, false, Some(120), "", 0)),
        ("HTTP/1.1 429 X|retry-after: Wed, 21 Oct 2015 07:28:00 GMT|content-length: 0||", (429, true, None, "", 0)),
        ("HTTP/1.1 204 No Content||", (204, true, None, "", 0)),
        ("HTTP/1.1 304 Not Modified|content-length: 10||", (304, true, None, "", 0)),
        ("HTTP/1.0 200 OK|content-length: 1||x", (200, false, None, "x", 1)),
        ("HTTP/1.0 200 OK|Connection: Keep-Alive|content-length: 1||x", (200, true, None, "x", 1)),
        ("HTTP/1.1 200 OK||until close", (200, false, None, "unti", 11)),
        ("HTTP/1.1 200 OK|transfer-encoding: gzip||ab", (200, false, None, "ab", 2)),
        ("HTTP/1.1 200 OK|transfer-encoding: chunked||0||", (200, true, None, "", 0)),
    ];

    /// Failing cases; a leading `~` stands for the chunked head `TE`.
    #[rustfmt::skip]
    const BAD: &[(&str, ResponseError)] = &[
        ("HTTP/1.1 200 OK|content-length: 1|content-length: 2||", E::ConflictingFraming("length values")),
        ("HTTP/1.1 200 OK|content-length: 1|transfer-encoding: chunked||", E::ConflictingFraming("length and chunked")),
        ("HTTP/1.1 200 OK|transfer-encoding: chunked, gzip||", E::ConflictingFraming("chunked not last")),
        ("HTTP/1.1 200 OK|content-length: -1||", E::BadContentLength),
        ("HTTP/1.1 101 Switching||", E::UnexpectedUpgrade),
        ("HTTP/1.1 200 OK|content-length: 5||ab", E::UnexpectedEof),
        ("HTTP/1.1 200", E::UnexpectedEof),
        ("", E::ClosedBeforeResponse),
        ("HTTP/1.1 2x0 OK||", E::MalformedHead(httparse::Error::Status)),
        ("~zz|", E::BadChunkSize),
        ("~5x|hello|", E::BadChunkSize),
        ("~5\nhello|", E::BadChunkSize),
        ("~fffffffffffffffff|", E::BadChunkSize),
        ("~5|helloXY", E::BadChunkTerminator),
        ("~0|no colon||", E::BadTrailer),
        ("~5|hel", E::UnexpectedEof),
    ];

    #[test]
    fn table() {
        OK.iter().for_each(|case| check(case.0, expected(case)));
        // Pipelined: the first response ends at its last byte whatever follows, under every split.
        check(&format!("{}{}", OK[1].0, CHUNKED), expected(&OK[1]));
        BAD.iter()
            .for_each(|(i, e)| check(&i.replace('~', TE), Err(e.clone())));
        #[rustfmt::skip]
        let big = [
            (format!("{TE}1;{}|", "e".repeat(2000)), E::ChunkLineTooLong),
            ("HTTP/1.1 100 Continue||".repeat(17), E::TooManyInterim),
            (format!("HTTP/1.1 200 OK|{}|", "a: b|".repeat(65)), E::TooManyHeaders),
            (format!("HTTP/1.1 200 OK|x: {}||", "v".repeat(RESPONSE_HEAD_BYTES_MAX)), E::HeadTooLarge),
            (format!("{TE}0|{}", "t: 1|".repeat(3000)), E::TrailersTooLarge),
        ];
        big.into_iter().for_each(|(input, e)| check(&input, Err(e)));
    }

    #[test]
    fn encode_request_layout_and_injection() {
        let mut buf = b"earlier|".to_vec();
        let hs = [("content-type", "application/json"), ("webhook-id", "m")];
        let r = encode_request(&mut buf, "POST", "ex.com:84", "/h?a=1", &hs, b"{}");
        assert_eq!(r, Ok(()));
        let expected = "earlier|POST /h?a=1 HTTP/1.1\r\nhost: ex.com:84\r\n\
            content-type: application/json\r\nwebhook-id: m\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(String::from_utf8_lossy(&buf), expected);
        #[rustfmt::skip]
        let bad = [
            ("POST", "h", "/", ("x-sig", "a\r\nx-evil: 1"), EncodeError::BadHeaderValue("x-sig".into())),
            ("PO ST", "h", "/", ("a", "b"), EncodeError::BadMethod("PO ST".into())),
            ("POST", "h\n", "/", ("a", "b"), EncodeError::BadHost),
            ("POST", "h", "/a b", ("a", "b"), EncodeError::BadTarget),
            ("POST", "h", "/", ("a:b", "v"), EncodeError::BadHeaderName("a:b".into())),
            ("POST", "h", "/", ("Content-Length", "0"), EncodeError::ReservedHeader("Content-Length".into())),
        ];
        for (method, host, target, header, e) in bad {
            let before = buf.clone();
            let r = encode_request(&mut buf, method, host, target, &[header], b"");
            // The buffer must be left as it was so a half-built request is never sent.
            assert_eq!((r, &buf), (Err(e), &before));
        }
    }

    proptest! {
        #[test]
        fn random_chunkings_agree(cuts in prop::collection::vec(0usize..999, 0..12), which in 0..OK.len(), keep in 0usize..16) {
            let input = OK[which].0.replace('|', "\r\n");
            let input = input.as_bytes();
            prop_assert_eq!(run(keep, &split(input, &cuts)), run(keep, &[input]));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), cuts in prop::collection::vec(0usize..512, 0..8)) {
            let _ = run(8, &split(&bytes, &cuts));
            // Behind a valid chunked head, random bytes exercise the body states too.
            let prefixed = [TE.replace('|', "\r\n").as_bytes(), &bytes].concat();
            prop_assert_eq!(run(8, &split(&prefixed, &cuts)), run(8, &[&prefixed]));
        }
    }
}
