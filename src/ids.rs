//! Resource identifiers: prefixed, time-sortable, unique (KSUID-style).
//!
//! An id is `<prefix>_<27 base62 chars>` encoding 20 bytes: a 6-byte big-endian
//! millisecond timestamp, a 4-byte per-process sequence and 10 random bytes.
//! Fixed-width base62 of a big-endian number preserves byte order, so ids sort
//! by creation time as strings, which the API's newest-first listings rely on.

use rand::RngCore;
use std::sync::atomic::{AtomicU32, Ordering};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of the base62 part: 62^27 > 2^160.
pub const ENCODED_LEN: usize = 27;

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// A wyrand state per thread, seeded from the OS generator: the random
    /// bytes only tell apart ids minted in the same millisecond with the same
    /// sequence number by different processes, so they need to be unique,
    /// not unpredictable, and this runs for every message and attempt.
    static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::thread_rng().next_u64());
    /// The simulator's own sequence for this thread (`None`: the process's).
    static SIMULATED_SEQUENCE: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// From now on this thread mints ids from `seed` alone (random part and
/// sequence), so that a simulation replays with the same ids; `None` goes
/// back to the process's sequence and a fresh random state. Only the
/// simulator calls it.
pub fn simulate(seed: Option<u64>) {
    match seed {
        Some(seed) => {
            STATE.with(|s| s.set(seed));
            SIMULATED_SEQUENCE.with(|s| s.set(Some(0)));
        }
        None => {
            STATE.with(|s| s.set(rand::thread_rng().next_u64()));
            SIMULATED_SEQUENCE.with(|s| s.set(None));
        }
    }
}

/// The next sequence number: the process's, or the simulated thread's.
fn next_sequence() -> u32 {
    SIMULATED_SEQUENCE.with(|s| match s.get() {
        Some(n) => {
            s.set(Some(n.wrapping_add(1)));
            n
        }
        None => SEQUENCE.fetch_add(1, Ordering::Relaxed),
    })
}

/// Two 64-bit words from the thread's wyrand generator.
fn random_words() -> (u64, u64) {
    STATE.with(|state| {
        let next = || {
            let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(s);
            let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
            (t as u64) ^ ((t >> 64) as u64)
        };
        (next(), next())
    })
}

/// Mints a new id with the given prefix (`app`, `ep`, `msg`, `atmpt`, ...).
pub fn new_id(prefix: &str) -> String {
    new_id_at(prefix, crate::time::now_ms())
}

/// Mints an id for a given creation time (milliseconds since the Unix epoch).
pub fn new_id_at(prefix: &str, now_ms: u64) -> String {
    let mut raw = [0u8; 20];
    raw[..6].copy_from_slice(&now_ms.to_be_bytes()[2..]);
    let seq = next_sequence();
    raw[6..10].copy_from_slice(&seq.to_be_bytes());
    let (a, b) = random_words();
    raw[10..18].copy_from_slice(&a.to_le_bytes());
    raw[18..].copy_from_slice(&b.to_le_bytes()[..2]);
    let mut out = String::with_capacity(prefix.len() + 1 + ENCODED_LEN);
    out.push_str(prefix);
    out.push('_');
    // The digits come from ALPHABET, so they are ASCII (one check, not a
    // char-by-char push).
    out.push_str(std::str::from_utf8(&encode_base62(&raw)).unwrap_or_default());
    out
}

/// The smallest id of `prefix` minted at `ms`: every id minted at or after
/// `ms` sorts after it (a position "before everything since `ms`").
pub fn floor_at(prefix: &str, ms: u64) -> String {
    let mut raw = [0u8; 20];
    raw[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    format!(
        "{prefix}_{}",
        std::str::from_utf8(&encode_base62(&raw)).unwrap_or_default()
    )
}

/// 62^5: below 2^30, so a remainder shifted left by a 32-bit limb fits a
/// `u64` and every division is by a constant the compiler turns into a
/// multiplication.
const CHUNK: u64 = 916_132_832;

/// Fixed-width base62 encoding of 20 big-endian bytes.
///
/// The 160-bit number is divided by 62^5 over 32-bit limbs, six times, and
/// each 5-digit remainder is written with plain `u32` arithmetic: every
/// division is by a constant the compiler turns into a multiplication, as
/// this runs for every message and attempt id. Each division shrinks the
/// number by more than 29 bits, so a round skips the limbs the rounds
/// before it emptied (`FIRST_LIMB`): 20 divisions instead of 30.
fn encode_base62(raw: &[u8; 20]) -> [u8; ENCODED_LEN] {
    /// The first limb that can be nonzero before each round: after round
    /// `r` the number is below 2^(160 - 29.77 r).
    const FIRST_LIMB: [usize; 6] = [0, 0, 1, 2, 3, 4];
    let mut limbs = [0u32; 5];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let mut b = [0u8; 4];
        b.copy_from_slice(&raw[i * 4..i * 4 + 4]);
        *limb = u32::from_be_bytes(b);
    }
    let mut digits = [b'0'; ENCODED_LEN];
    // Digits are filled from the right, five per chunk; the last chunk holds
    // the top 2 digits (62^27 > 2^160).
    for (round, first) in FIRST_LIMB.into_iter().enumerate() {
        debug_assert!(limbs[..first].iter().all(|&l| l == 0), "emptied limbs");
        let mut rem: u64 = 0;
        for limb in limbs[first..].iter_mut() {
            let cur = (rem << 32) | u64::from(*limb);
            // rem < CHUNK, so the quotient is below 2^32.
            *limb = (cur / CHUNK) as u32;
            rem = cur % CHUNK;
        }
        // rem < CHUNK < 2^30.
        let mut chunk = rem as u32;
        let end = ENCODED_LEN - 5 * round;
        let start = end.saturating_sub(5);
        for slot in digits[start..end].iter_mut().rev() {
            *slot = ALPHABET[(chunk % 62) as usize];
            chunk /= 62;
        }
    }
    digits
}

/// True when `s` looks like an id of this prefix (used to tell ids from uids).
pub fn has_prefix(s: &str, prefix: &str) -> bool {
    s.len() == prefix.len() + 1 + ENCODED_LEN
        && s.starts_with(prefix)
        && s.as_bytes()[prefix.len()] == b'_'
        && s[prefix.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

/// A new unguessable secret with a prefix: 24 random bytes, base64url
/// (session ids, CSRF and portal tokens, receive-URL tokens).
pub fn new_secret(prefix: &str) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_sorts_before_every_id_minted_since_and_after_every_earlier_one() {
        for ms in [0u64, 1, 1_700_000_000_000, (1 << 48) - 2] {
            let floor = floor_at("msg", ms);
            assert!(has_prefix(&floor, "msg"), "{floor}");
            assert!(floor <= new_id_at("msg", ms), "{ms}");
            assert!(floor < new_id_at("msg", ms + 1), "{ms}");
            if ms > 0 {
                assert!(new_id_at("msg", ms - 1) < floor, "{ms}");
            }
        }
    }

    #[test]
    fn ids_are_prefixed_unique_and_sorted_by_time() {
        let a = new_id_at("msg", 1_000);
        let b = new_id_at("msg", 2_000);
        let c = new_id_at("msg", 2_000);
        assert!(a < b, "{a} < {b}");
        assert_ne!(b, c);
        assert!(has_prefix(&a, "msg"));
        assert!(!has_prefix(&a, "app"));
        assert_eq!(a.len(), 4 + ENCODED_LEN);
    }

    /// The plain digit-at-a-time conversion, as an oracle.
    fn text(digits: [u8; ENCODED_LEN]) -> String {
        digits.iter().map(|&b| b as char).collect()
    }

    fn slow_base62(raw: &[u8; 20]) -> String {
        let mut limbs = [0u32; 5];
        for (i, limb) in limbs.iter_mut().enumerate() {
            let mut b = [0u8; 4];
            b.copy_from_slice(&raw[i * 4..i * 4 + 4]);
            *limb = u32::from_be_bytes(b);
        }
        let mut digits = [b'0'; ENCODED_LEN];
        for slot in digits.iter_mut().rev() {
            let mut rem: u64 = 0;
            for limb in limbs.iter_mut() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 62) as u32;
                rem = cur % 62;
            }
            *slot = ALPHABET[rem as usize];
        }
        digits.iter().map(|&b| b as char).collect()
    }

    proptest::proptest! {
        #[test]
        fn chunked_base62_matches_the_oracle(raw in proptest::array::uniform20(proptest::prelude::any::<u8>())) {
            proptest::prop_assert_eq!(text(encode_base62(&raw)), slow_base62(&raw));
        }
    }

    #[test]
    fn base62_is_fixed_width_and_order_preserving() {
        assert_eq!(text(encode_base62(&[0xff; 20])), slow_base62(&[0xff; 20]));
        let zero = text(encode_base62(&[0u8; 20]));
        let max = text(encode_base62(&[0xff; 20]));
        assert_eq!(zero.len(), ENCODED_LEN);
        assert_eq!(max.len(), ENCODED_LEN);
        assert!(zero < max);
    }
}
