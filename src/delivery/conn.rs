//! Outbound connections: plain TCP or rustls over glommio's `TcpStream`.
//!
//! A connection is opened to the first permitted address of the target (the
//! SSRF guard runs on every connect, after resolution) and kept in the
//! endpoint's pool while the peer keeps it alive.

use super::guard::{is_private, Target, TargetError};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
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
    #[error("tls handshake failed: {0}")]
    Tls(String),
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
        "{}://{}:{}",
        if target.tls { "https" } else { "http" },
        target.host,
        target.port
    )
}

/// The shared rustls client configuration (ring provider, webpki roots).
fn tls_config() -> Result<Arc<rustls::ClientConfig>, ConnError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

impl Conn {
    /// Resolves, checks and connects (and handshakes, for https).
    pub async fn connect(
        target: &Target,
        allow_private: bool,
        connect_timeout: Duration,
    ) -> Result<Conn, ConnError> {
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
            match TcpStream::connect_timeout(addr, connect_timeout).await {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    let stream = if target.tls {
                        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                            .map_err(|e| ConnError::Tls(e.to_string()))?;
                        let tls = futures_rustls::TlsConnector::from(tls_config()?)
                            .connect(name, tcp)
                            .await
                            .map_err(|e| ConnError::Tls(e.to_string()))?;
                        Stream::Tls(Box::new(tls))
                    } else {
                        Stream::Plain(tcp)
                    };
                    return Ok(Conn {
                        key: key_of(target),
                        stream,
                    });
                }
                Err(e) => {
                    let reason = e.to_string();
                    let kind = std::io::Error::from(e).kind();
                    last = Some(ConnError::Connect { addr, kind, reason })
                }
            }
        }
        Err(last.unwrap_or_else(|| TargetError::Resolve(target.host.clone()).into()))
    }

    pub async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(buf).await,
            Stream::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
        }
    }

    pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.stream {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }
}
