//! The egress proxy: deliveries tunnelled through an HTTP CONNECT proxy,
//! so receivers see one static address (`proxy_url`, or an endpoint's
//! `proxyUrl`).
//!
//! Both `https` and plain `http` targets are tunnelled with `CONNECT`: the
//! proxy sees only the target's address and port, never a request (TLS, if
//! any, runs end to end inside the tunnel). The SSRF guard still runs on
//! the target, whose resolved and checked address is what the tunnel
//! asks for (so the proxy cannot be sent, by a DNS answer, somewhere the
//! guard refused); the operator's proxy (`proxy_url`) is exempt from the
//! guard, an endpoint's (`proxyUrl`, chosen by an API caller) is not. `http://user:password@host:port` sends `Proxy-Authorization:
//! Basic`.
//!
//! Bounds: the proxy's answer to `CONNECT` is read up to `ANSWER_BYTES_MAX`
//! within the connect timeout.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::net::SocketAddr;

/// Longest answer head a proxy may send to `CONNECT`.
const ANSWER_BYTES_MAX: usize = 8 * 1024;

/// A parsed proxy URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Basic <base64(user:password)>` when the URL carries credentials.
    authorization: Option<String>,
    /// The operator's proxy (`proxy_url`), exempt from the SSRF guard; an
    /// endpoint's (`proxyUrl`, an API caller's choice) is not.
    pub trusted: bool,
}

/// Credentials stay out of logs and panics.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("authorization", &self.authorization.as_ref().map(|_| "…"))
            .field("trusted", &self.trusted)
            .finish()
    }
}

/// Why a proxy URL is refused, or a tunnel could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("proxy url is not valid: {0}")]
    Url(String),
    #[error("proxy url must be http://host:port (a CONNECT proxy)")]
    Scheme,
    #[error("proxy answered CONNECT with {status}")]
    Refused { status: u16 },
    #[error("proxy answer is not HTTP: {0}")]
    Malformed(String),
    #[error("proxy {0}")]
    Io(String),
}

impl Proxy {
    /// Parses `http://[user:password@]host:port`.
    pub fn parse(text: &str) -> Result<Proxy, ProxyError> {
        use base64::Engine;
        let url = url::Url::parse(text).map_err(|e| ProxyError::Url(e.to_string()))?;
        if url.scheme() != "http" || url.path() != "/" || url.query().is_some() {
            return Err(ProxyError::Scheme);
        }
        let host = url
            .host_str()
            .ok_or_else(|| ProxyError::Url("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let authorization = (!url.username().is_empty()).then(|| {
            let user = percent_decode(url.username());
            let password = percent_decode(url.password().unwrap_or(""));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        });
        Ok(Proxy {
            host,
            port,
            authorization,
            trusted: false,
        })
    }

    /// The `CONNECT` request for `to`.
    fn request(&self, to: SocketAddr) -> String {
        let mut req = format!("CONNECT {to} HTTP/1.1\r\nHost: {to}\r\n");
        if let Some(auth) = &self.authorization {
            req.push_str("Proxy-Authorization: ");
            req.push_str(auth);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        req
    }

    /// Asks the proxy, on `stream`, for a tunnel to `to` and reads its
    /// answer: the stream is the tunnel once this returns.
    pub async fn tunnel(&self, stream: &mut TcpStream, to: SocketAddr) -> Result<(), ProxyError> {
        let io = |e: std::io::Error| ProxyError::Io(e.to_string());
        stream
            .write_all(self.request(to).as_bytes())
            .await
            .map_err(io)?;
        // Byte by byte up to the blank line: nothing of the tunnel's own
        // bytes may be read here.
        let mut head = Vec::with_capacity(128);
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= ANSWER_BYTES_MAX {
                return Err(ProxyError::Malformed("answer head too long".into()));
            }
            match stream.read(&mut byte).await.map_err(io)? {
                0 => return Err(ProxyError::Malformed("closed before answering".into())),
                _ => head.push(byte[0]),
            }
        }
        match status_of(&head)? {
            200..=299 => Ok(()),
            status => Err(ProxyError::Refused { status }),
        }
    }
}

/// The status code of an answer head. Pure.
fn status_of(head: &[u8]) -> Result<u16, ProxyError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => response
            .code
            .ok_or_else(|| ProxyError::Malformed("no status".into())),
        Ok(httparse::Status::Partial) => Err(ProxyError::Malformed("incomplete".into())),
        Err(e) => Err(ProxyError::Malformed(e.to_string())),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_or_are_refused() {
        let p = Proxy::parse("http://127.0.0.1:3128").expect("parses");
        assert_eq!(
            (p.host.as_str(), p.port, p.authorization),
            ("127.0.0.1", 3128, None)
        );
        let p = Proxy::parse("http://us%40er:p%3Ass@proxy.internal:8080/").expect("parses");
        assert_eq!(p.host, "proxy.internal");
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNAZXI6cDpzcw=="));
        let p = Proxy::parse("http://[::1]:3128").expect("v6");
        assert_eq!(p.host, "::1");
        for bad in [
            "https://proxy:3128",
            "socks5://proxy:1080",
            "http://proxy:3128/path",
            "nope",
        ] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connect_requests_name_the_checked_address_and_answers_give_a_status() {
        let p = Proxy::parse("http://a:b@proxy:3128").expect("parses");
        let to: SocketAddr = "93.184.216.34:443".parse().expect("addr");
        assert_eq!(
            p.request(to),
            "CONNECT 93.184.216.34:443 HTTP/1.1\r\nHost: 93.184.216.34:443\r\nProxy-Authorization: Basic YTpi\r\n\r\n"
        );
        let rows: [(&[u8], Result<u16, ()>); 4] = [
            (b"HTTP/1.1 200 Connection established\r\n\r\n", Ok(200)),
            (
                b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
                Ok(407),
            ),
            (b"HTTP/1.1 200", Err(())),
            (b"SSH-2.0-OpenSSH\r\n\r\n", Err(())),
        ];
        for (head, want) in rows {
            assert_eq!(status_of(head).map_err(drop), want, "{head:?}");
        }
    }
}
