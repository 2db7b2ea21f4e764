//! The API's HTTP/1.1 server side: reading requests and writing responses.
//!
//! Requests are parsed with `httparse` in two phases: first whether the head
//! is complete (incomplete vs. invalid), then the body by `content-length`.
//! Bounds: the head is at most `API_HEAD_BYTES_MAX`, the body at most the
//! configured `max_body_bytes`; anything larger is answered with an error and
//! the connection is closed, so a client cannot make the server buffer more.

use crate::limits::{API_HEAD_BYTES_MAX, API_REQUEST_HEADERS_MAX};

/// The most one read of a request takes from its connection.
const READ_CHUNK_BYTES: usize = 8192;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// One parsed API request.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    /// The console's session cookie (`rh_session`), if sent.
    pub session: Option<String>,
    /// `x-csrf-token`: a console session's state-changing requests carry it.
    pub csrf: Option<String>,
    /// Every header, only for incoming-webhook requests (`/ingest/{token}`),
    /// whose verification reads the provider's headers.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body's length as the head declares it (`content-length`), known
    /// before a byte of it is read.
    pub body_len: usize,
    pub keep_alive: bool,
}

/// One API response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// `None` means `application/json`.
    pub content_type: Option<&'static str>,
    /// More response headers (`retry-after` of a 429, ...).
    pub headers: Vec<(&'static str, String)>,
}

/// Why no request could be read; `Reply` ones get an answer before closing.
#[derive(Debug)]
pub enum RequestReadError {
    Closed,
    Reply(Response),
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        403 => "Forbidden",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A JSON error body `{"code": ..., "detail": ...}`.
pub fn error(status: u16, code: &str, detail: impl Into<serde_json::Value>) -> Response {
    let body = serde_json::json!({ "code": code, "detail": detail.into() });
    Response {
        status,
        body: serde_json::to_vec(&body).unwrap_or_default(),
        content_type: None,
        headers: Vec::new(),
    }
}

/// A request whose head has been read; its body has not.
#[derive(Debug)]
pub struct Head {
    pub request: Request,
    head_len: usize,
    body_len: usize,
}

/// Reads one request head from `stream` (bytes already in `buf` first), so
/// the caller can judge it (its token) before a single body byte is read.
pub async fn read_head<S: futures_lite::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    max_body_bytes: usize,
) -> Result<Head, RequestReadError> {
    loop {
        if let Some(head) = parse_head(buf, max_body_bytes)? {
            return Ok(head);
        }
        if read_more(stream, buf).await? == 0 {
            return Err(RequestReadError::Closed);
        }
    }
}

/// Reads what `stream` has (up to `READ_CHUNK_BYTES`) onto the end of
/// `buf`; 0 at the stream's end. The bytes go straight into `buf`: a
/// buffer of the read's own would make every request's futures carry it
/// (and copy it as they are built and moved).
///
/// Not cancel-safe: dropped while it waits, it leaves `buf` with
/// `READ_CHUNK_BYTES` zeros at its end. Its callers' deadlines
/// (`api::connection`) close the connection, and `buf` with it.
async fn read_more<S: futures_lite::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, RequestReadError> {
    let len = buf.len();
    buf.resize(len + READ_CHUNK_BYTES, 0);
    let read = stream.read(&mut buf[len..]).await;
    let n = *read.as_ref().unwrap_or(&0);
    buf.truncate(len + n);
    read.map_err(|_| RequestReadError::Closed)
}

/// The request head at the start of `buf`, once it is whole (`None`: more
/// bytes needed); an error when it can only be refused.
fn parse_head(buf: &[u8], max_body_bytes: usize) -> Result<Option<Head>, RequestReadError> {
    let mut headers = [httparse::EMPTY_HEADER; API_REQUEST_HEADERS_MAX];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(buf) {
        Ok(httparse::Status::Complete(head_len)) if head_len > API_HEAD_BYTES_MAX => {
            return Err(RequestReadError::Reply(error(
                431,
                "header_too_large",
                format!("request head exceeds {API_HEAD_BYTES_MAX} bytes"),
            )));
        }
        Ok(httparse::Status::Complete(head_len)) => {
            let mut req = Request {
                method: parsed.method.unwrap_or("").to_string(),
                keep_alive: parsed.version == Some(1),
                ..Default::default()
            };
            let target = parsed.path.unwrap_or("/");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            req.path = path.to_string();
            req.query = query.to_string();
            let keep_headers = super::receive::is_receive_path(path);
            let mut body_len = 0usize;
            let mut seen_length: Option<usize> = None;
            for h in parsed.headers.iter() {
                let value = std::str::from_utf8(h.value).unwrap_or("").trim();
                if keep_headers {
                    req.headers
                        .push((h.name.to_ascii_lowercase(), value.to_string()));
                }
                if h.name.eq_ignore_ascii_case("content-length") {
                    // Digits only (`parse` would take "+5"), and a second
                    // header must agree: a proxy in front that reads the
                    // other value would frame requests differently.
                    let bad = || {
                        RequestReadError::Reply(error(400, "bad_request", "invalid content-length"))
                    };
                    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad());
                    }
                    let len: usize = value.parse().map_err(|_| bad())?;
                    if seen_length.is_some_and(|l| l != len) {
                        return Err(bad());
                    }
                    seen_length = Some(len);
                    body_len = len;
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(RequestReadError::Reply(error(
                        411,
                        "length_required",
                        "chunked request bodies are not supported; send content-length",
                    )));
                } else if h.name.eq_ignore_ascii_case("authorization") {
                    req.authorization = Some(value.to_string());
                } else if h.name.eq_ignore_ascii_case("cookie") {
                    let wanted = super::auth::SESSION_COOKIE;
                    req.session = value
                        .split(';')
                        .filter_map(|c| c.trim().split_once('='))
                        .find(|(name, _)| *name == wanted)
                        .map(|(_, v)| v.to_string())
                        .filter(|v| !v.is_empty());
                } else if h.name.eq_ignore_ascii_case("x-csrf-token") {
                    req.csrf = Some(value.to_string());
                } else if h.name.eq_ignore_ascii_case("idempotency-key") {
                    req.idempotency_key = Some(value.to_string());
                } else if h.name.eq_ignore_ascii_case("connection") {
                    if value.eq_ignore_ascii_case("close") {
                        req.keep_alive = false;
                    } else if value.eq_ignore_ascii_case("keep-alive") {
                        req.keep_alive = true;
                    }
                }
            }
            if body_len > max_body_bytes {
                return Err(RequestReadError::Reply(error(
                    413,
                    "payload_too_large",
                    format!("request body is {body_len} bytes; the limit is {max_body_bytes}"),
                )));
            }
            req.body_len = body_len;
            return Ok(Some(Head {
                request: req,
                head_len,
                body_len,
            }));
        }
        Ok(httparse::Status::Partial) => {
            if buf.len() > API_HEAD_BYTES_MAX {
                return Err(RequestReadError::Reply(error(
                    431,
                    "header_too_large",
                    format!("request head exceeds {API_HEAD_BYTES_MAX} bytes"),
                )));
            }
        }
        Err(e) => {
            return Err(RequestReadError::Reply(error(
                400,
                "bad_request",
                format!("malformed HTTP request: {e}"),
            )))
        }
    }
    Ok(None)
}

/// Reads the body of a request whose head `read_head` returned.
pub async fn read_body<S: futures_lite::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    head: Head,
) -> Result<Request, RequestReadError> {
    let Head {
        request: mut req,
        head_len,
        body_len,
    } = head;
    while buf.len() < head_len + body_len {
        if read_more(stream, buf).await? == 0 {
            return Err(RequestReadError::Closed);
        }
    }
    req.body = buf[head_len..head_len + body_len].to_vec();
    buf.drain(..head_len + body_len);
    Ok(req)
}

/// Writes a response; `keep_alive = false` adds `connection: close`. The
/// answer to a `HEAD` request (`head`) has the headers a `GET` would, its
/// body's length included, and no body: a client or proxy reads none, and
/// body bytes would be taken for the start of the next response. A 204 or
/// 304 has no body and no `content-length` (RFC 9110).
pub async fn write_response<S: futures_lite::AsyncWrite + Unpin>(
    stream: &mut S,
    resp: &Response,
    keep_alive: bool,
    head: bool,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(128 + resp.body.len());
    let mut extra = String::new();
    for (name, value) in &resp.headers {
        extra.push_str(name);
        extra.push_str(": ");
        extra.push_str(value);
        extra.push_str("\r\n");
    }
    let bodiless = matches!(resp.status, 204 | 304);
    let length = match bodiless {
        true => String::new(),
        false => format!("content-length: {}\r\n", resp.body.len()),
    };
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\n{length}{extra}{}\r\n",
            resp.status,
            reason(resp.status),
            resp.content_type.unwrap_or("application/json"),
            if keep_alive {
                ""
            } else {
                "connection: close\r\n"
            }
        )
        .as_bytes(),
    );
    if !head && !bodiless {
        out.extend_from_slice(&resp.body);
    }
    stream.write_all(&out).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::{parse_head, RequestReadError};

    /// What `parse_head` makes of a buffer: `Ok(Some(body_len))`,
    /// `Ok(None)` (more bytes needed) or the refusal's status.
    fn judged(buf: &str) -> Result<Option<usize>, u16> {
        match parse_head(buf.as_bytes(), 100) {
            Ok(head) => Ok(head.map(|h| h.body_len)),
            Err(RequestReadError::Reply(r)) => Err(r.status),
            Err(RequestReadError::Closed) => Err(0),
        }
    }

    #[test]
    fn request_heads_table() {
        let long = format!("GET / HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(20_000));
        let rows: [(&str, Result<Option<usize>, u16>); 9] = [
            ("GET /api/v1/health HTTP/1.1\r\n\r\n", Ok(Some(0))),
            (
                "POST /x HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello",
                Ok(Some(5)),
            ),
            ("POST /x HTTP/1.1\r\ncontent-le", Ok(None)),
            ("", Ok(None)),
            ("POST /x HTTP/1.1\r\ncontent-length: +5\r\n\r\n", Err(400)),
            (
                "POST /x HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
                Err(400),
            ),
            (
                "POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
                Err(411),
            ),
            ("POST /x HTTP/1.1\r\ncontent-length: 101\r\n\r\n", Err(413)),
            ("GET\x01 / HTTP/1.1\r\n\r\n", Err(400)),
        ];
        for (buf, want) in rows {
            assert_eq!(judged(buf), want, "{buf:?}");
        }
        assert_eq!(judged(&long), Err(431), "a head over the bound");
        let h = parse_head(
            b"GET /a?b=1 HTTP/1.1\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n",
            100,
        );
        let req = match h {
            Ok(Some(h)) => h.request,
            _ => panic!("a whole head"),
        };
        assert_eq!(
            (req.path.as_str(), req.query.as_str(), req.keep_alive),
            ("/a", "b=1", false)
        );
        assert_eq!(req.authorization.as_deref(), Some("Bearer t"));
    }
}
