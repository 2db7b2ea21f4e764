//! TLS to receivers: whom deliveries trust and which certificate they
//! present.
//!
//! The engine-wide client configuration trusts the bundled web PKI roots,
//! plus the system store (`tls.system_roots`) and private CAs
//! (`tls.ca_files`); [`init`] builds it once at start. An endpoint may
//! replace that trust with its own CA bundle (`caCert`) and present a
//! client certificate (`clientCert` + `clientKey`, mTLS): [`for_endpoint`]
//! builds its configuration from the PEM text the catalog keeps, which the
//! API checked with the same function. A failed handshake is told apart by
//! what went wrong ([`Failure`]), for attempts and metrics.

use crate::config::TlsSettings;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ClientConfig;
use std::sync::{Arc, OnceLock};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: no PEM certificate in it")]
    NoCertificate { what: String },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("clientCert and clientKey go together")]
    HalfPair,
}

/// What went wrong in a handshake (the attempt error kinds `tls_unknown_ca`,
/// `tls_expired`, `tls_wrong_name`, and `tls` for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    UnknownCa,
    Expired,
    WrongName,
    Handshake,
}

impl Failure {
    /// Classifies a handshake's I/O error by the rustls error inside it.
    pub fn of(e: &std::io::Error) -> Failure {
        Failure::within(e).unwrap_or(Failure::Handshake)
    }

    /// The TLS failure inside an I/O error, if it is one: with TLS 1.3 a
    /// receiver refuses a client certificate (or its absence) after the
    /// client has finished its handshake, so the refusal arrives as an
    /// alert on the first read.
    pub fn within(e: &std::io::Error) -> Option<Failure> {
        use rustls::CertificateError as C;
        let inner = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<rustls::Error>())?;
        Some(match inner {
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer | C::BadSignature => Failure::UnknownCa,
                C::Expired | C::ExpiredContext { .. } | C::NotValidYet => Failure::Expired,
                C::NotValidForName | C::NotValidForNameContext { .. } => Failure::WrongName,
                _ => Failure::Handshake,
            },
            _ => Failure::Handshake,
        })
    }
}

/// The engine-wide trust and configuration, set once by `init`.
static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn builder(
    roots: rustls::RootCertStore,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, TlsSetupError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Invalid {
            what: "tls".into(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots))
}

/// The certificates of a PEM text (at least one).
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetupError::Invalid {
            what: what.into(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate { what: what.into() });
    }
    Ok(certs)
}

/// A root store of the certificates in `pem`.
fn roots_of(
    pem: &[u8],
    what: &str,
    roots: &mut rustls::RootCertStore,
) -> Result<(), TlsSetupError> {
    for cert in certificates(pem, what)? {
        roots.add(cert).map_err(|e| TlsSetupError::Invalid {
            what: what.into(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// The web PKI roots plus what `settings` add.
fn default_roots(settings: &TlsSettings) -> Result<rustls::RootCertStore, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if settings.system_roots {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // A system certificate rustls cannot use is skipped, as browsers do.
            let _ = roots.add(cert);
        }
        if let Some(e) = native.errors.first() {
            tracing::warn!(error = %e, "some of the system's certificates could not be read");
        }
    }
    for path in &settings.ca_files {
        let pem = std::fs::read(path).map_err(|source| TlsSetupError::Read {
            path: path.clone(),
            source,
        })?;
        roots_of(&pem, &path.display().to_string(), &mut roots)?;
    }
    Ok(roots)
}

/// Builds the engine-wide configuration from `settings` (at start; a
/// second call keeps the first).
pub fn init(settings: &TlsSettings) -> Result<(), TlsSetupError> {
    let roots = default_roots(settings)?;
    let config = builder(roots.clone())?.with_no_client_auth();
    let _ = ROOTS.set(roots);
    let _ = DEFAULT.set(Arc::new(config));
    Ok(())
}

/// The engine-wide configuration (the web PKI roots alone before `init`).
pub fn default_config() -> Result<Arc<ClientConfig>, TlsSetupError> {
    if let Some(c) = DEFAULT.get() {
        return Ok(c.clone());
    }
    init(&TlsSettings::default())?;
    DEFAULT.get().cloned().ok_or(TlsSetupError::HalfPair)
}

/// An endpoint's TLS settings as the catalog keeps them (PEM text; empty
/// for none).
#[derive(Debug, Clone, Copy)]
pub struct EndpointTls<'a> {
    pub ca_cert: &'a str,
    pub client_cert: &'a str,
    pub client_key: &'a str,
}

impl EndpointTls<'_> {
    /// An endpoint's settings as its record keeps them.
    pub fn of(e: &crate::records::EndpointRecord) -> EndpointTls<'_> {
        EndpointTls {
            ca_cert: &e.tls_ca,
            client_cert: &e.tls_client_cert,
            client_key: &e.tls_client_key,
        }
    }

    /// Whether the endpoint uses the engine-wide configuration as it is.
    pub fn is_default(&self) -> bool {
        self.ca_cert.is_empty() && self.client_cert.is_empty() && self.client_key.is_empty()
    }
}

/// The configuration of an endpoint with its own trust or certificate
/// (`None`: the engine-wide one). `caCert` replaces the default trust;
/// `clientCert` and `clientKey` are presented when the receiver asks.
pub fn for_endpoint(tls: EndpointTls<'_>) -> Result<Option<Arc<ClientConfig>>, TlsSetupError> {
    if tls.is_default() {
        return Ok(None);
    }
    let roots = match tls.ca_cert.is_empty() {
        // Only a client certificate: the engine-wide trust.
        true => match ROOTS.get() {
            Some(roots) => roots.clone(),
            None => default_roots(&TlsSettings::default())?,
        },
        false => {
            let mut roots = rustls::RootCertStore::empty();
            roots_of(tls.ca_cert.as_bytes(), "caCert", &mut roots)?;
            roots
        }
    };
    let builder = builder(roots)?;
    let config = match (tls.client_cert.is_empty(), tls.client_key.is_empty()) {
        (true, true) => builder.with_no_client_auth(),
        (false, false) => {
            let chain = certificates(tls.client_cert.as_bytes(), "clientCert")?;
            let key = PrivateKeyDer::from_pem_slice(tls.client_key.as_bytes()).map_err(|e| {
                TlsSetupError::Invalid {
                    what: "clientKey".into(),
                    reason: e.to_string(),
                }
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsSetupError::Invalid {
                    what: "clientKey".into(),
                    reason: e.to_string(),
                })?
        }
        _ => return Err(TlsSetupError::HalfPair),
    };
    Ok(Some(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_roots_and_ca_files_add_to_the_web_pki_roots() {
        let web = default_roots(&TlsSettings::default()).expect("web pki");
        assert!(!web.is_empty());
        let with_system = TlsSettings {
            system_roots: true,
            ..TlsSettings::default()
        };
        let system = default_roots(&with_system).expect("system store");
        // Debian's ca-certificates (installed where the tests run) adds its own.
        if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
            assert!(
                system.len() > web.len(),
                "{} vs {}",
                system.len(),
                web.len()
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = TlsSettings {
            ca_files: vec![dir.path().join("nope.pem")],
            ..TlsSettings::default()
        };
        assert!(matches!(
            default_roots(&missing),
            Err(TlsSetupError::Read { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here").expect("write");
        let no_cert = TlsSettings {
            ca_files: vec![empty],
            ..TlsSettings::default()
        };
        assert!(matches!(
            default_roots(&no_cert),
            Err(TlsSetupError::NoCertificate { .. })
        ));
    }

    #[test]
    fn endpoint_settings_need_both_halves_of_a_client_pair() {
        let none = EndpointTls {
            ca_cert: "",
            client_cert: "",
            client_key: "",
        };
        assert!(matches!(for_endpoint(none), Ok(None)));
        let half = EndpointTls {
            client_cert: "-----BEGIN CERTIFICATE-----",
            ..none
        };
        assert!(for_endpoint(half).is_err());
        let junk_ca = EndpointTls {
            ca_cert: "junk",
            ..none
        };
        assert!(matches!(
            for_endpoint(junk_ca),
            Err(TlsSetupError::NoCertificate { .. })
        ));
    }
}
