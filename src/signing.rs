//! Standard Webhooks signatures: `whsec_` secrets and `webhook-signature` values.
//!
//! Signing does no I/O and allocates only the output string, so the delivery
//! hot path can call it once per attempt.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix of symmetric secrets on the API.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a secret string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret must start with whsec_ and carry base64")]
    Format,
    #[error("secret key must be 24 to 64 bytes once decoded")]
    Length,
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
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return;
    };
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    let mut digits = [0u8; 20];
    mac.update(decimal(timestamp_s, &mut digits));
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str("v1,");
    B64.encode_string(tag, out);
}

/// The full header value for one or more keys (all keys sign during a rotation).
pub fn signature_header(keys: &[&[u8]], msg_id: &str, timestamp_s: u64, body: &[u8]) -> String {
    let mut out = String::with_capacity(48 * keys.len());
    for key in keys {
        sign_into(&mut out, key, msg_id, timestamp_s, body);
    }
    out
}

/// Writes `n` in decimal into the end of `buf` and returns the digits.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
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

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let key = generate_key();
        assert_eq!(parse_secret(&format_secret(&key)), Ok(key));
        assert_eq!(parse_secret("nope"), Err(SecretError::Format));
        assert_eq!(parse_secret("whsec_!!!"), Err(SecretError::Format));
        assert_eq!(parse_secret("whsec_AAAA"), Err(SecretError::Length));
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
