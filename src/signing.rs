//! Standard Webhooks signatures: keys as the API shows them (`whsec_`
//! shared secrets; `whsk_` ed25519 signing keys, shown as their `whpk_`
//! public half), and `webhook-signature` values (`v1,` HMAC-SHA256 and
//! `v1a,` ed25519, one per key during a rotation).
//!
//! Signing does no I/O. An endpoint version's keys are readied once
//! ([`Keyed`]: HMAC states with the key absorbed, ed25519 key pairs
//! expanded) and [`Signer`] keeps its buffers, so the delivery hot path
//! allocates nothing per attempt once warm. An ed25519 signature costs far
//! more than an HMAC (docs/BENCHMARKS.md, `bench/hot_path.rs`'s
//! `signer_v1a_1KiB`).

use crate::records::{KeyScheme, SecretKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::Sha256;

/// Prefix of symmetric secrets on the API.
pub const SECRET_PREFIX: &str = "whsec_";
/// Prefix of an ed25519 signing key given to the API (base64 of the 32-byte
/// seed followed by its 32-byte public key).
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// Prefix of an ed25519 public key, as the API shows an asymmetric secret.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";

/// Bytes of an ed25519 seed (what the catalog keeps of a `whsk_` key).
const ED25519_SEED_BYTES: usize = 32;

/// Why a secret string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret must start with whsec_ and carry base64")]
    Format,
    #[error("key must start with whsec_ (HMAC) or whsk_ (ed25519) and carry base64")]
    KeyFormat,
    #[error("secret key must be 24 to 64 bytes once decoded")]
    Length,
    #[error("an ed25519 key (whsk_) must carry 64 bytes: the 32-byte seed, then its public key")]
    Ed25519Length,
    #[error("the public half of the whsk_ key does not belong to its seed")]
    Ed25519Mismatch,
    #[error("an ed25519 public key (whpk_) carries 32 bytes")]
    PublicLength,
}

/// Parses a key given to the API: `whsec_…` (HMAC) or `whsk_…` (ed25519,
/// checked: the public half must be the seed's). Returns the scheme and
/// the bytes the catalog keeps (an ed25519 key keeps only its seed).
pub fn parse_key(text: &str) -> Result<(KeyScheme, Vec<u8>), SecretError> {
    let Some(b64) = text.strip_prefix(SIGNING_KEY_PREFIX) else {
        return match parse_secret(text) {
            Ok(k) => Ok((KeyScheme::Hmac, k)),
            Err(SecretError::Format) => Err(SecretError::KeyFormat),
            Err(e) => Err(e),
        };
    };
    let key = B64.decode(b64).map_err(|_| SecretError::KeyFormat)?;
    if key.len() != 2 * ED25519_SEED_BYTES {
        return Err(SecretError::Ed25519Length);
    }
    let (seed, public) = key.split_at(ED25519_SEED_BYTES);
    Ed25519KeyPair::from_seed_and_public_key(seed, public)
        .map_err(|_| SecretError::Ed25519Mismatch)?;
    Ok((KeyScheme::Ed25519, seed.to_vec()))
}

/// Parses a `whpk_` public key (32 bytes of ed25519).
pub fn parse_public_key(text: &str) -> Result<Vec<u8>, SecretError> {
    let b64 = text
        .strip_prefix(PUBLIC_KEY_PREFIX)
        .ok_or(SecretError::KeyFormat)?;
    let key = B64.decode(b64).map_err(|_| SecretError::KeyFormat)?;
    match key.len() {
        32 => Ok(key),
        _ => Err(SecretError::PublicLength),
    }
}

/// A new random key of `scheme` (24 bytes for HMAC, as Svix; a 32-byte
/// ed25519 seed).
pub fn generate(scheme: KeyScheme) -> Vec<u8> {
    use rand::RngCore;
    match scheme {
        KeyScheme::Hmac => generate_key(),
        KeyScheme::Ed25519 => {
            let mut seed = vec![0u8; ED25519_SEED_BYTES];
            rand::thread_rng().fill_bytes(&mut seed);
            seed
        }
    }
}

/// What the API shows of a key: the `whsec_` secret, or only the `whpk_`
/// public half of an ed25519 key (never its seed).
pub fn shown(scheme: KeyScheme, key: &[u8]) -> String {
    match scheme {
        KeyScheme::Hmac => format_secret(key),
        KeyScheme::Ed25519 => match Ed25519KeyPair::from_seed_unchecked(key) {
            Ok(pair) => format!("{PUBLIC_KEY_PREFIX}{}", B64.encode(pair.public_key())),
            Err(_) => String::new(),
        },
    }
}

/// The `whsk_` text of an ed25519 seed (seed then public key), as a user
/// gives it; for tests and tools.
pub fn format_signing_key(seed: &[u8]) -> Option<String> {
    let pair = Ed25519KeyPair::from_seed_unchecked(seed).ok()?;
    let mut both = seed.to_vec();
    both.extend_from_slice(pair.public_key().as_ref());
    Some(format!("{SIGNING_KEY_PREFIX}{}", B64.encode(both)))
}

/// Generates a new random 24-byte key (Svix's size).
pub fn generate_key() -> Vec<u8> {
    use rand::RngCore;
    let mut key = vec![0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    key
}

/// Renders a key as `whsec_<base64>`.
pub fn format_secret(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", B64.encode(key))
}

/// Parses `whsec_<base64>` into key bytes.
pub fn parse_secret(secret: &str) -> Result<Vec<u8>, SecretError> {
    let b64 = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SecretError::Format)?;
    let key = B64.decode(b64).map_err(|_| SecretError::Format)?;
    if !(24..=64).contains(&key.len()) {
        return Err(SecretError::Length);
    }
    Ok(key)
}

/// Appends `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` to `out`.
pub fn sign_into(out: &mut String, key: &[u8], msg_id: &str, timestamp_s: u64, body: &[u8]) {
    // HMAC accepts keys of any length, so new_from_slice cannot fail here.
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return;
    };
    sign_with(out, mac, msg_id, timestamp_s, body);
}

/// `sign_into` with the key already absorbed into `mac`.
fn sign_with(out: &mut String, mut mac: Hmac<Sha256>, msg_id: &str, timestamp_s: u64, body: &[u8]) {
    let mut digits = itoa::Buffer::new();
    for part in signed_parts(msg_id, digits.format(timestamp_s).as_bytes(), body) {
        mac.update(part);
    }
    push_signature(out, "v1,", mac.finalize().into_bytes().as_slice());
}

/// The pieces of what both schemes sign: `{id}.{timestamp}.{body}`.
fn signed_parts<'a>(msg_id: &'a str, timestamp: &'a [u8], body: &'a [u8]) -> [&'a [u8]; 5] {
    [msg_id.as_bytes(), b".", timestamp, b".", body]
}

/// Appends one `<version>,<base64>` entry to a signature header value.
fn push_signature(out: &mut String, version: &str, sig: &[u8]) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(version);
    B64.encode_string(sig, out);
}

/// The full header value for one or more keys (all keys sign during a rotation).
pub fn signature_header(keys: &[&[u8]], msg_id: &str, timestamp_s: u64, body: &[u8]) -> String {
    let mut out = String::with_capacity(48 * keys.len());
    for key in keys {
        sign_into(&mut out, key, msg_id, timestamp_s, body);
    }
    out
}

/// Appends `v1a,<base64 ed25519 signature of "{id}.{timestamp}.{body}">`
/// to `out`; `message` is scratch space for the signed bytes.
fn sign_v1a_into(
    out: &mut String,
    pair: &Ed25519KeyPair,
    message: &mut Vec<u8>,
    msg_id: &str,
    timestamp_s: u64,
    body: &[u8],
) {
    message.clear();
    let mut digits = itoa::Buffer::new();
    for part in signed_parts(msg_id, digits.format(timestamp_s).as_bytes(), body) {
        message.extend_from_slice(part);
    }
    push_signature(out, "v1a,", pair.sign(message).as_ref());
}

/// An endpoint version's signing keys made ready to sign with: each HMAC
/// key absorbed into its state (the inner and outer pads: two of a short
/// body's ~9 compressions) and each ed25519 seed expanded into its key
/// pair. Made once per endpoint version and kept with it, so neither a
/// worker start (one per delivery for a slow receiver) nor a request keys
/// anything again.
///
/// Bounds: one state per key of the endpoint (at most
/// `ENDPOINT_SECRETS_MAX`); a seed of the wrong length (which the API never
/// stores) is left out.
pub struct Keyed(Vec<(u64, KeyState)>);

/// One key made ready.
enum KeyState {
    Hmac(Box<Hmac<Sha256>>),
    Ed25519(Box<Ed25519KeyPair>),
}

impl Keyed {
    /// Readies every key of `keys` (expired ones too: expiry is checked at
    /// each signature).
    pub fn new(keys: &[SecretKey]) -> Keyed {
        let ready = keys.iter().filter_map(|k| {
            let state = match k.scheme {
                // HMAC accepts keys of any length.
                KeyScheme::Hmac => {
                    KeyState::Hmac(Box::new(Hmac::<Sha256>::new_from_slice(&k.key).ok()?))
                }
                KeyScheme::Ed25519 => {
                    KeyState::Ed25519(Box::new(Ed25519KeyPair::from_seed_unchecked(&k.key).ok()?))
                }
            };
            Some((k.expires_ms, state))
        });
        Keyed(ready.collect())
    }
}

/// Signs deliveries: the `webhook-timestamp` and `webhook-signature` values
/// of one request at a time, with every unexpired key of an endpoint's
/// [`Keyed`]. Keeps its buffers, so a warm worker allocates nothing per
/// request.
#[derive(Default)]
pub struct Signer {
    signature: String,
    timestamp: String,
    message: Vec<u8>,
}

impl Signer {
    /// Signs `body` of message `msg_id` at `now_ms` with each key of `keys`
    /// that has not expired; read the values with [`Signer::timestamp`] and
    /// [`Signer::signature`].
    pub fn sign(&mut self, keys: &Keyed, now_ms: u64, msg_id: &str, body: &[u8]) {
        let timestamp_s = now_ms / 1000;
        self.signature.clear();
        for (_, state) in keys
            .0
            .iter()
            .filter(|(expires_ms, _)| *expires_ms == 0 || *expires_ms > now_ms)
        {
            match state {
                KeyState::Hmac(mac) => {
                    sign_with(
                        &mut self.signature,
                        (**mac).clone(),
                        msg_id,
                        timestamp_s,
                        body,
                    );
                }
                KeyState::Ed25519(pair) => sign_v1a_into(
                    &mut self.signature,
                    pair,
                    &mut self.message,
                    msg_id,
                    timestamp_s,
                    body,
                ),
            }
        }
        self.timestamp.clear();
        self.timestamp
            .push_str(itoa::Buffer::new().format(timestamp_s));
    }

    /// The last signed request's `webhook-timestamp`.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The last signed request's `webhook-signature`.
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification.
    #[test]
    fn matches_the_standard_webhooks_example() {
        let key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        let sig = signature_header(
            &[&key],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    /// Readied HMAC states sign as a fresh HMAC does, for every key of a
    /// rotation, call after call.
    #[test]
    fn the_signer_signs_as_a_fresh_hmac_with_every_key() {
        let keys: Vec<Vec<u8>> = (0..crate::limits::ENDPOINT_SECRETS_MAX + 3)
            .map(|i| vec![i as u8 + 1; 24 + i % 40])
            .collect();
        let secret = |k: &Vec<u8>| SecretKey {
            key: k.clone(),
            scheme: KeyScheme::Hmac,
            expires_ms: 0,
        };
        let mut signer = Signer::default();
        for pair in keys.windows(2) {
            let keyed = Keyed::new(&[secret(&pair[0]), secret(&pair[1])]);
            for round in 0..3 {
                let body = format!("{{\"round\":{round}}}");
                signer.sign(&keyed, 1_614_265_330_000, "msg_1", body.as_bytes());
                let want = signature_header(
                    &[&pair[0], &pair[1]],
                    "msg_1",
                    1_614_265_330,
                    body.as_bytes(),
                );
                assert_eq!(signer.signature(), want, "round {round}");
            }
        }
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let key = generate_key();
        assert_eq!(parse_secret(&format_secret(&key)), Ok(key));
        assert_eq!(parse_secret("nope"), Err(SecretError::Format));
        assert_eq!(parse_secret("whsec_!!!"), Err(SecretError::Format));
        assert_eq!(parse_secret("whsec_AAAA"), Err(SecretError::Length));
    }

    #[test]
    fn ed25519_keys_parse_show_their_public_half_and_sign_v1a() {
        let seed = [7u8; 32];
        let text = format_signing_key(&seed).expect("formats");
        assert_eq!(parse_key(&text), Ok((KeyScheme::Ed25519, seed.to_vec())));
        let public = shown(KeyScheme::Ed25519, &seed);
        assert!(public.starts_with(PUBLIC_KEY_PREFIX), "{public}");
        let public = B64
            .decode(&public[PUBLIC_KEY_PREFIX.len()..])
            .expect("base64");
        let mut signer = Signer::default();
        let key = |scheme, key: Vec<u8>, expires_ms| SecretKey {
            key,
            expires_ms,
            scheme,
        };
        let now = 1_614_265_330_500;
        let keys = [
            key(KeyScheme::Ed25519, seed.to_vec(), 0),
            key(KeyScheme::Hmac, vec![1; 24], now + 5_000),
            key(KeyScheme::Hmac, vec![2; 24], now - 1),
        ];
        signer.sign(&Keyed::new(&keys), now, "msg_1", b"{}");
        assert_eq!(signer.timestamp(), "1614265330");
        let parts: Vec<&str> = signer.signature().split(' ').collect();
        assert_eq!(parts.len(), 2, "the expired key does not sign: {parts:?}");
        let sig = B64
            .decode(parts[0].strip_prefix("v1a,").expect("v1a first"))
            .expect("b64");
        let verifier = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public);
        assert!(verifier.verify(b"msg_1.1614265330.{}", &sig).is_ok());
        assert!(verifier.verify(b"msg_1.1614265331.{}", &sig).is_err());
        assert!(parts[1].starts_with("v1,"));
    }

    #[test]
    fn bad_ed25519_keys_are_refused() {
        let text = format_signing_key(&[7u8; 32]).expect("formats");
        let mut bytes = B64.decode(&text[SIGNING_KEY_PREFIX.len()..]).expect("b64");
        bytes[40] ^= 1;
        let wrong = format!("{SIGNING_KEY_PREFIX}{}", B64.encode(&bytes));
        assert_eq!(parse_key(&wrong), Err(SecretError::Ed25519Mismatch));
        let short = format!("{SIGNING_KEY_PREFIX}{}", B64.encode([1u8; 32]));
        assert_eq!(parse_key(&short), Err(SecretError::Ed25519Length));
        assert_eq!(parse_key("whsk_!!"), Err(SecretError::KeyFormat));
        assert_eq!(parse_key("whpk_AAAA"), Err(SecretError::KeyFormat));
    }

    #[test]
    fn two_keys_give_two_signatures() {
        let sig = signature_header(
            &[b"k1k1k1k1k1k1k1k1k1k1k1k1", b"k2k2k2k2k2k2k2k2k2k2k2k2"],
            "m",
            1,
            b"{}",
        );
        assert_eq!(sig.split(' ').count(), 2);
    }
}
