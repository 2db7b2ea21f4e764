//! Verification of incoming webhooks: each provider's published scheme as a
//! pure function of the scheme, the request's headers and body, and the
//! time. No I/O; the receive handler asks here and answers by the verdict.
//!
//! Every secret comparison is constant-time (`ct_eq`); a timestamped scheme
//! refuses a request older or newer than the tolerance (replay window).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

/// How a source checks that a request comes from its provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// Nothing to check (a generic webhook without `verify`, GitHub
    /// without a secret).
    Open,
    /// Standard Webhooks (`webhook-*` or `svix-*` headers); the key bytes.
    Svix { key: Vec<u8> },
    /// Standard Webhooks' asymmetric `v1a` (ed25519): the sender's public
    /// key (a `whpk_` secret).
    SvixPublic { public: Vec<u8> },
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
    Github { secret: Vec<u8> },
    /// `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, "ts.body")>`.
    Stripe { secret: Vec<u8> },
    /// `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(secret, body)>`.
    Shopify { secret: Vec<u8> },
    /// `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:ts:body")>`
    /// with `X-Slack-Request-Timestamp`.
    Slack { secret: Vec<u8> },
    /// A shared secret in a header (name lower-case).
    Header { name: String, value: Vec<u8> },
    /// HTTP basic authentication; `expected` is `user:password`.
    Basic { expected: Vec<u8> },
    /// An HMAC of the body in a header (name lower-case).
    Hmac {
        header: String,
        algorithm: Algorithm,
        encoding: Encoding,
        prefix: String,
        secret: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// Why a request was refused; `code` is the stable name in answers and
/// metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the request carries no signature")]
    MissingSignature,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the request's timestamp is missing or malformed")]
    MissingTimestamp,
    #[error("the request's timestamp is outside the replay window")]
    StaleTimestamp,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingSignature => "missing_signature",
            Refusal::BadSignature => "bad_signature",
            Refusal::MissingTimestamp => "missing_timestamp",
            Refusal::StaleTimestamp => "stale_timestamp",
        }
    }
}

/// What verification sees of a request. Header names are lower-case.
pub struct Incoming<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// Now, in Unix seconds.
    pub now_s: u64,
    /// The replay window, in seconds either way.
    pub tolerance_s: u64,
}

impl Incoming<'_> {
    /// The first value of a header (name lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn fresh(&self, ts: Option<&str>) -> Result<u64, Refusal> {
        let ts: u64 = ts
            .and_then(|t| t.trim().parse().ok())
            .ok_or(Refusal::MissingTimestamp)?;
        if ts.abs_diff(self.now_s) > self.tolerance_s {
            return Err(Refusal::StaleTimestamp);
        }
        Ok(ts)
    }
}

/// Compares in time that depends on neither contents nor lengths (both
/// sides are hashed to 32 bytes first).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest;
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let Ok(mut mac) = <M as Mac>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac::<Hmac<Sha256>>(key, parts)
}

fn hmac512(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac::<Hmac<Sha512>>(key, parts)
}

/// Whether `given` (hex, any case, surrounding spaces ignored) names
/// `expected`'s bytes. Every byte is compared whatever the first
/// difference (the time does not say how much of a guess was right); the
/// length and the hex-ness of `given` are the caller's, not secrets.
fn hex_eq(given: &str, expected: &[u8]) -> bool {
    let given = given.trim().as_bytes();
    if given.len() != expected.len() * 2 {
        return false;
    }
    let mut diff = 0u8;
    for (pair, want) in given.chunks_exact(2).zip(expected) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => diff |= ((high << 4) | low) ^ want,
            _ => return false,
        }
    }
    diff == 0
}

/// One hex digit's value.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A Standard Webhooks request's id, signatures and (fresh) timestamp,
/// from `webhook-*` or `svix-*` headers.
fn standard<'a>(req: &'a Incoming<'_>) -> Result<(&'a str, &'a str, u64), Refusal> {
    let pick = |a: &str, b: &str| req.header(a).or_else(|| req.header(b));
    let id = pick("webhook-id", "svix-id").ok_or(Refusal::MissingSignature)?;
    let sigs = pick("webhook-signature", "svix-signature").ok_or(Refusal::MissingSignature)?;
    let ts = req.fresh(pick("webhook-timestamp", "svix-timestamp"))?;
    Ok((id, sigs, ts))
}

/// Checks a request against a scheme.
pub fn verify(scheme: &Scheme, req: &Incoming<'_>) -> Result<(), Refusal> {
    match scheme {
        Scheme::Open => Ok(()),
        Scheme::Svix { key } => {
            let (id, sigs, ts) = standard(req)?;
            let expected = B64.encode(hmac256(
                key,
                &[
                    id.as_bytes(),
                    b".",
                    ts.to_string().as_bytes(),
                    b".",
                    req.body,
                ],
            ));
            // Space-separated `v1,<base64>` entries; any one may match.
            let matched = sigs
                .split_whitespace()
                .filter_map(|s| s.strip_prefix("v1,"))
                .fold(false, |m, s| ct_eq(s.as_bytes(), expected.as_bytes()) | m);
            matched.then_some(()).ok_or(Refusal::BadSignature)
        }
        Scheme::SvixPublic { public } => {
            let (id, sigs, ts) = standard(req)?;
            let signed = [
                id.as_bytes(),
                b".",
                ts.to_string().as_bytes(),
                b".",
                req.body,
            ]
            .concat();
            let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public);
            // Space-separated `v1a,<base64>` entries; any one may verify
            // (the first 8: a verification is dear, the route is public).
            let matched = sigs
                .split_whitespace()
                .filter_map(|s| s.strip_prefix("v1a,"))
                .take(8)
                .filter_map(|s| B64.decode(s).ok())
                .any(|sig| key.verify(&signed, &sig).is_ok());
            matched.then_some(()).ok_or(Refusal::BadSignature)
        }
        Scheme::Github { secret } => {
            let sig = req
                .header("x-hub-signature-256")
                .ok_or(Refusal::MissingSignature)?;
            let given = sig.strip_prefix("sha256=").ok_or(Refusal::BadSignature)?;
            hex_eq(given, &hmac256(secret, &[req.body]))
                .then_some(())
                .ok_or(Refusal::BadSignature)
        }
        Scheme::Stripe { secret } => {
            let header = req
                .header("stripe-signature")
                .ok_or(Refusal::MissingSignature)?;
            let mut ts = None;
            let mut v1 = Vec::new();
            for part in header.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", t)) => ts = Some(t),
                    Some(("v1", s)) => v1.push(s),
                    _ => {}
                }
            }
            let ts = req.fresh(ts)?;
            if v1.is_empty() {
                return Err(Refusal::MissingSignature);
            }
            let expected = hmac256(secret, &[ts.to_string().as_bytes(), b".", req.body]);
            let matched = v1.iter().fold(false, |m, s| hex_eq(s, &expected) | m);
            matched.then_some(()).ok_or(Refusal::BadSignature)
        }
        Scheme::Shopify { secret } => {
            let sig = req
                .header("x-shopify-hmac-sha256")
                .ok_or(Refusal::MissingSignature)?;
            let expected = B64.encode(hmac256(secret, &[req.body]));
            ct_eq(sig.trim().as_bytes(), expected.as_bytes())
                .then_some(())
                .ok_or(Refusal::BadSignature)
        }
        Scheme::Slack { secret } => {
            let sig = req
                .header("x-slack-signature")
                .ok_or(Refusal::MissingSignature)?;
            let ts = req.fresh(req.header("x-slack-request-timestamp"))?;
            let given = sig.strip_prefix("v0=").ok_or(Refusal::BadSignature)?;
            let expected = hmac256(secret, &[b"v0:", ts.to_string().as_bytes(), b":", req.body]);
            hex_eq(given, &expected)
                .then_some(())
                .ok_or(Refusal::BadSignature)
        }
        Scheme::Header { name, value } => {
            let given = req.header(name).ok_or(Refusal::MissingSignature)?;
            ct_eq(given.as_bytes(), value)
                .then_some(())
                .ok_or(Refusal::BadSignature)
        }
        Scheme::Basic { expected } => {
            let given = req
                .header("authorization")
                .and_then(|h| {
                    h.strip_prefix("Basic ")
                        .or_else(|| h.strip_prefix("basic "))
                })
                .ok_or(Refusal::MissingSignature)?;
            let decoded = B64
                .decode(given.trim())
                .map_err(|_| Refusal::BadSignature)?;
            ct_eq(&decoded, expected)
                .then_some(())
                .ok_or(Refusal::BadSignature)
        }
        Scheme::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
            secret,
        } => {
            let sig = req.header(header).ok_or(Refusal::MissingSignature)?;
            let given = sig
                .strip_prefix(prefix.as_str())
                .ok_or(Refusal::BadSignature)?;
            let mac = match algorithm {
                Algorithm::Sha256 => hmac256(secret, &[req.body]),
                Algorithm::Sha512 => hmac512(secret, &[req.body]),
            };
            let ok = match encoding {
                Encoding::Hex => hex_eq(given, &mac),
                Encoding::Base64 => ct_eq(given.trim().as_bytes(), B64.encode(&mac).as_bytes()),
            };
            ok.then_some(()).ok_or(Refusal::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const NOW: u64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"type":"invoice.paid"}"#;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn check(scheme: &Scheme, headers: &[(&str, &str)], body: &[u8]) -> Result<(), Refusal> {
        let headers = h(headers);
        verify(
            scheme,
            &Incoming {
                headers: &headers,
                body,
                now_s: NOW,
                tolerance_s: 300,
            },
        )
    }

    #[test]
    fn github_table() {
        let scheme = Scheme::Github {
            secret: b"It's a Secret to Everybody".to_vec(),
        };
        // GitHub's documented example: "Hello, World!" with that secret.
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        type Row<'a> = (&'a [(&'a str, &'a str)], &'a [u8], Result<(), Refusal>);
        let rows: &[Row] = &[
            (&[("x-hub-signature-256", good)], b"Hello, World!", Ok(())),
            (
                &[(
                    "x-hub-signature-256",
                    &good.to_uppercase().replace("SHA256=", "sha256="),
                )],
                b"Hello, World!",
                Ok(()),
            ),
            (
                &[("x-hub-signature-256", good)],
                b"Hello, World?",
                Err(Refusal::BadSignature),
            ),
            (
                &[("x-hub-signature", "sha1=00")],
                b"Hello, World!",
                Err(Refusal::MissingSignature),
            ),
            (
                &[("x-hub-signature-256", &good[7..])],
                b"Hello, World!",
                Err(Refusal::BadSignature),
            ),
            (&[], b"Hello, World!", Err(Refusal::MissingSignature)),
        ];
        for (i, (headers, body, want)) in rows.iter().enumerate() {
            assert_eq!(check(&scheme, headers, body), *want, "row {i}");
        }
    }

    #[test]
    fn stripe_table() {
        let secret = b"whsec_test".to_vec();
        let sig =
            |t: u64, body: &[u8]| hex(&hmac256(&secret, &[t.to_string().as_bytes(), b".", body]));
        let scheme = Scheme::Stripe {
            secret: secret.clone(),
        };
        let good = format!("t={NOW},v1={}", sig(NOW, BODY));
        let two = format!("t={NOW},v1=00ff,v1={},v0=abc", sig(NOW, BODY));
        let stale = format!("t={},v1={}", NOW - 301, sig(NOW - 301, BODY));
        let future = format!("t={},v1={}", NOW + 301, sig(NOW + 301, BODY));
        let edge = format!("t={},v1={}", NOW - 300, sig(NOW - 300, BODY));
        let no_t = format!("v1={}", sig(NOW, BODY));
        let no_v1 = format!("t={NOW}");
        let rows: Vec<(String, &[u8], Result<(), Refusal>)> = vec![
            (good.clone(), BODY, Ok(())),
            (two, BODY, Ok(())),
            (edge, BODY, Ok(())),
            (good, b"{}", Err(Refusal::BadSignature)),
            (stale, BODY, Err(Refusal::StaleTimestamp)),
            (future, BODY, Err(Refusal::StaleTimestamp)),
            (no_t, BODY, Err(Refusal::MissingTimestamp)),
            (no_v1, BODY, Err(Refusal::MissingSignature)),
        ];
        for (i, (header, body, want)) in rows.iter().enumerate() {
            assert_eq!(
                check(&scheme, &[("stripe-signature", header)], body),
                *want,
                "row {i}"
            );
        }
        assert_eq!(check(&scheme, &[], BODY), Err(Refusal::MissingSignature));
    }

    #[test]
    fn svix_v1a_is_checked_with_the_public_key() {
        use ring::signature::{Ed25519KeyPair, KeyPair};
        let pair = Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).expect("pair");
        let scheme = Scheme::SvixPublic {
            public: pair.public_key().as_ref().to_vec(),
        };
        let t = NOW.to_string();
        let signed = [b"msg_1.".as_slice(), t.as_bytes(), b".", BODY].concat();
        let good = format!("v1,AAAA v1a,{}", B64.encode(pair.sign(&signed)));
        let other = Ed25519KeyPair::from_seed_unchecked(&[8u8; 32]).expect("pair");
        let wrong = format!("v1a,{}", B64.encode(other.sign(&signed)));
        let headers = |sig: &str| {
            [
                ("webhook-id", "msg_1".to_string()),
                ("webhook-timestamp", t.clone()),
                ("webhook-signature", sig.to_string()),
            ]
        };
        let rows: [(&str, Result<(), Refusal>); 3] = [
            (&good, Ok(())),
            (&wrong, Err(Refusal::BadSignature)),
            ("v1a,!!!", Err(Refusal::BadSignature)),
        ];
        for (sig, want) in rows {
            let h = headers(sig);
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(check(&scheme, &h, BODY), want, "{sig}");
        }
    }

    #[test]
    fn svix_slack_shopify_table() {
        let key = b"0123456789abcdef01234567".to_vec();
        let sv = |id: &str, t: u64, body: &[u8]| {
            format!(
                "v1,{}",
                B64.encode(hmac256(
                    &key,
                    &[id.as_bytes(), b".", t.to_string().as_bytes(), b".", body]
                ))
            )
        };
        let svix = Scheme::Svix { key: key.clone() };
        let t = NOW.to_string();
        let good = sv("msg_1", NOW, BODY);
        let rotated = format!("v1,AAAA {good}");
        assert_eq!(
            check(
                &svix,
                &[
                    ("webhook-id", "msg_1"),
                    ("webhook-timestamp", &t),
                    ("webhook-signature", &good)
                ],
                BODY
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &svix,
                &[
                    ("svix-id", "msg_1"),
                    ("svix-timestamp", &t),
                    ("svix-signature", &rotated)
                ],
                BODY
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &svix,
                &[
                    ("webhook-id", "msg_2"),
                    ("webhook-timestamp", &t),
                    ("webhook-signature", &good)
                ],
                BODY
            ),
            Err(Refusal::BadSignature)
        );
        let old = (NOW - 400).to_string();
        assert_eq!(
            check(
                &svix,
                &[
                    ("webhook-id", "msg_1"),
                    ("webhook-timestamp", &old),
                    ("webhook-signature", &sv("msg_1", NOW - 400, BODY))
                ],
                BODY
            ),
            Err(Refusal::StaleTimestamp)
        );
        assert_eq!(
            check(&svix, &[("webhook-timestamp", &t)], BODY),
            Err(Refusal::MissingSignature)
        );

        let secret = b"8f742231b10e8888abcd99yyyzzz85a5".to_vec();
        let slack = Scheme::Slack {
            secret: secret.clone(),
        };
        let sl = |t: u64, body: &[u8]| {
            format!(
                "v0={}",
                hex(&hmac256(
                    &secret,
                    &[b"v0:", t.to_string().as_bytes(), b":", body]
                ))
            )
        };
        assert_eq!(
            check(
                &slack,
                &[
                    ("x-slack-signature", &sl(NOW, BODY)),
                    ("x-slack-request-timestamp", &t)
                ],
                BODY
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &slack,
                &[
                    ("x-slack-signature", &sl(NOW, BODY)),
                    ("x-slack-request-timestamp", &t)
                ],
                b"{}"
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(&slack, &[("x-slack-signature", &sl(NOW, BODY))], BODY),
            Err(Refusal::MissingTimestamp)
        );
        assert_eq!(
            check(
                &slack,
                &[
                    ("x-slack-signature", &sl(NOW - 600, BODY)),
                    ("x-slack-request-timestamp", &old)
                ],
                BODY
            ),
            Err(Refusal::StaleTimestamp)
        );

        let shopify = Scheme::Shopify {
            secret: b"shpss_x".to_vec(),
        };
        let good = B64.encode(hmac256(b"shpss_x", &[BODY]));
        assert_eq!(
            check(&shopify, &[("x-shopify-hmac-sha256", &good)], BODY),
            Ok(())
        );
        assert_eq!(
            check(&shopify, &[("x-shopify-hmac-sha256", &good)], b"{ }"),
            Err(Refusal::BadSignature)
        );
        assert_eq!(check(&shopify, &[], BODY), Err(Refusal::MissingSignature));
    }

    #[test]
    fn hex_eq_table() {
        let bytes = [0x00u8, 0x9f, 0xa0, 0xff];
        let rows: &[(&str, bool)] = &[
            ("009fa0ff", true),
            ("009FA0FF", true),
            (" 009fa0ff\t", true),
            ("009fa0fe", false),
            ("109fa0ff", false),
            ("009fa0f", false),
            ("009fa0ff0", false),
            ("009fa0ff00", false),
            ("009fa0fg", false),
            ("009f a0ff", false),
            ("", false),
        ];
        for (i, (given, eq)) in rows.iter().enumerate() {
            assert_eq!(hex_eq(given, &bytes), *eq, "row {i}: {given:?}");
        }
        assert!(hex_eq("", &[]), "nothing names nothing");
    }

    proptest::proptest! {
        #[test]
        fn hex_eq_agrees_with_formatting(bytes: Vec<u8>, other: Vec<u8>, upper: bool) {
            let text = hex(&bytes);
            let text = if upper { text.to_ascii_uppercase() } else { text };
            proptest::prop_assert!(hex_eq(&text, &bytes));
            proptest::prop_assert_eq!(hex_eq(&hex(&other), &bytes), other == bytes);
        }
    }

    #[test]
    fn ct_eq_table() {
        let rows: &[(&[u8], &[u8], bool)] = &[
            (b"rh_abc", b"rh_abc", true),
            (b"rh_abc", b"rh_abd", false),
            (b"rh_abc", b"rh_ab", false),
            (b"rh_abc", b"rh_abcd", false),
            (b"", b"", true),
            (b"", b"x", false),
        ];
        for (i, (a, b, eq)) in rows.iter().enumerate() {
            assert_eq!(ct_eq(a, b), *eq, "row {i}");
        }
    }

    #[test]
    fn generic_verifiers_table() {
        let header = Scheme::Header {
            name: "x-token".into(),
            value: b"s3cret".to_vec(),
        };
        assert_eq!(check(&header, &[("x-token", "s3cret")], BODY), Ok(()));
        assert_eq!(
            check(&header, &[("x-token", "s3cre")], BODY),
            Err(Refusal::BadSignature)
        );
        assert_eq!(check(&header, &[], BODY), Err(Refusal::MissingSignature));

        let basic = Scheme::Basic {
            expected: b"user:pa:ss".to_vec(),
        };
        let good = format!("Basic {}", B64.encode("user:pa:ss"));
        assert_eq!(check(&basic, &[("authorization", &good)], BODY), Ok(()));
        assert_eq!(
            check(&basic, &[("authorization", "Basic !!")], BODY),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(
                &basic,
                &[("authorization", &format!("Basic {}", B64.encode("user:no")))],
                BODY
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(&basic, &[("authorization", "Bearer x")], BODY),
            Err(Refusal::MissingSignature)
        );

        for (algorithm, encoding) in [
            (Algorithm::Sha256, Encoding::Hex),
            (Algorithm::Sha256, Encoding::Base64),
            (Algorithm::Sha512, Encoding::Hex),
            (Algorithm::Sha512, Encoding::Base64),
        ] {
            let scheme = Scheme::Hmac {
                header: "x-signature".into(),
                algorithm,
                encoding,
                prefix: "sha=".into(),
                secret: b"k".to_vec(),
            };
            let mac = match algorithm {
                Algorithm::Sha256 => hmac256(b"k", &[BODY]),
                Algorithm::Sha512 => hmac512(b"k", &[BODY]),
            };
            let enc = match encoding {
                Encoding::Hex => hex(&mac),
                Encoding::Base64 => B64.encode(&mac),
            };
            let good = format!("sha={enc}");
            assert_eq!(
                check(&scheme, &[("x-signature", &good)], BODY),
                Ok(()),
                "{algorithm:?} {encoding:?}"
            );
            assert_eq!(
                check(&scheme, &[("x-signature", &enc)], BODY),
                Err(Refusal::BadSignature)
            );
            assert_eq!(
                check(&scheme, &[("x-signature", &good)], b"{}"),
                Err(Refusal::BadSignature)
            );
        }
        assert_eq!(check(&Scheme::Open, &[], b""), Ok(()));
    }
}
