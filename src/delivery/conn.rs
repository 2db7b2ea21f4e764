//! Outbound connections: plain TCP or rustls over glommio's `TcpStream`.
//!
//! A connection is opened to the first permitted address of the target (the
//! SSRF guard runs on every connect, after resolution) and kept in the
//! endpoint's pool while the peer keeps it alive.

use super::guard::{is_private, Target, TargetError};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("connect to {addr} failed: {reason}")]
    Connect {
        addr: SocketAddr,
        /// Refused and timed out are told apart from the rest.
        kind: std::io::ErrorKind,
        reason: String,
    },
    #[error(transparent)]
    Proxy(#[from] super::proxy::ProxyError),
    #[error("tls handshake failed: {reason}")]
    Tls {
        failure: super::tls::Failure,
        reason: String,
    },
}

impl ConnError {
    fn tls(failure: super::tls::Failure, reason: impl std::fmt::Display) -> ConnError {
        ConnError::Tls {
            failure,
            reason: reason.to_string(),
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

/// One keep-alive connection to an endpoint's host.
pub struct Conn {
    /// `scheme://host:port`, to match a pooled connection with its target.
    pub key: String,
    stream: Stream,
}

/// The pool key of a target.
pub fn key_of(target: &Target) -> String {
    format!(
        "{}://{}:{}#{}",
        if target.tls { "https" } else { "http" },
        target.host,
        target.port,
        target.pool_tag
    )
}

/// A TCP connection to `proxy` (the operator's is exempt from the SSRF
/// guard, an endpoint's is not), tunnelled to `to` (the target's checked
/// address), within `timeout`.
async fn through(
    proxy: &super::proxy::Proxy,
    to: SocketAddr,
    timeout: Duration,
    allow_private: bool,
) -> Result<TcpStream, ConnError> {
    let allow = allow_private || proxy.trusted;
    use super::proxy::ProxyError;
    let at = Target {
        tls: false,
        host: proxy.host.clone(),
        port: proxy.port,
        authority: String::new(),
        path_and_query: String::new(),
        pool_tag: 0,
    };
    let addrs = match proxy.host.parse::<IpAddr>() {
        Ok(ip) if !allow && is_private(ip) => return Err(TargetError::Private(ip).into()),
        Ok(ip) => vec![SocketAddr::new(ip, proxy.port)],
        Err(_) => super::resolver::resolve(&at, allow).await?,
    };
    let mut last = ConnError::Proxy(ProxyError::Io(format!("{} does not resolve", proxy.host)));
    for addr in addrs {
        let mut tcp = match TcpStream::connect_timeout(addr, timeout).await {
            Ok(tcp) => tcp,
            Err(e) => {
                last = ConnError::Proxy(ProxyError::Io(format!("connect to {addr} failed: {e}")));
                continue;
            }
        };
        let tunnel = async { proxy.tunnel(&mut tcp, to).await.map(|()| true) };
        let late = async {
            glommio::timer::sleep(timeout).await;
            Ok(false)
        };
        return match futures_lite::future::or(tunnel, late).await {
            Ok(true) => Ok(tcp),
            Ok(false) => Err(ConnError::Proxy(ProxyError::Io(format!(
                "{addr} did not open the tunnel within {} ms",
                timeout.as_millis()
            )))),
            Err(e) => Err(ConnError::Proxy(e)),
        };
    }
    Err(last)
}

impl Conn {
    /// Resolves, checks and connects (and handshakes, for https, with the
    /// endpoint's own TLS configuration or the engine-wide one).
    pub async fn connect(
        target: &Target,
        allow_private: bool,
        connect_timeout: Duration,
        tls: Option<&Arc<rustls::ClientConfig>>,
        proxy: Option<&super::proxy::Proxy>,
    ) -> Result<Conn, ConnError> {
        use super::tls::Failure;
        let addrs = match target.host.parse::<IpAddr>() {
            Ok(ip) => {
                if !allow_private && is_private(ip) {
                    return Err(TargetError::Private(ip).into());
                }
                vec![SocketAddr::new(ip, target.port)]
            }
            Err(_) => super::resolver::resolve(target, allow_private).await?,
        };
        let mut last = None;
        for addr in addrs {
            let opened = match proxy {
                None => TcpStream::connect_timeout(addr, connect_timeout)
                    .await
                    .map_err(|e| {
                        let reason = e.to_string();
                        let kind = std::io::Error::from(e).kind();
                        ConnError::Connect { addr, kind, reason }
                    }),
                Some(p) => through(p, addr, connect_timeout, allow_private).await,
            };
            match opened {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    let stream = if target.tls {
                        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                            .map_err(|e| ConnError::tls(Failure::WrongName, e))?;
                        let config = match tls {
                            Some(c) => c.clone(),
                            None => super::tls::default_config()
                                .map_err(|e| ConnError::tls(Failure::Handshake, e))?,
                        };
                        let tls = futures_rustls::TlsConnector::from(config)
                            .connect(name, tcp)
                            .await
                            .map_err(|e| ConnError::tls(Failure::of(&e), e))?;
                        Stream::Tls(Box::new(tls))
                    } else {
                        Stream::Plain(tcp)
                    };
                    return Ok(Conn {
                        key: key_of(target),
                        stream,
                    });
                }
                Err(e @ ConnError::Proxy(_)) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| TargetError::Resolve(target.host.clone()).into()))
    }

    /// Writes all of `buf` (and flushes TLS), counting in `sent` the bytes
    /// the connection took (plaintext, for TLS) as it goes, so that a
    /// caller whose write failed or timed out knows how much of `buf` may
    /// have reached the receiver.
    pub async fn write_counted(&mut self, buf: &[u8], sent: &mut usize) -> std::io::Result<()> {
        while let Some(rest) = buf.get(*sent..).filter(|r| !r.is_empty()) {
            let n = match &mut self.stream {
                Stream::Plain(s) => s.write(rest).await?,
                Stream::Tls(s) => s.write(rest).await?,
            };
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            *sent += n;
        }
        if let Stream::Tls(s) = &mut self.stream {
            s.flush().await?;
        }
        Ok(())
    }

    pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.stream {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }
}
