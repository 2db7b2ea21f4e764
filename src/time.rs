//! Wall-clock helpers: milliseconds since the Unix epoch and RFC 3339 formatting.
//!
//! The engine stores times as `u64` milliseconds everywhere (journal, timer
//! wheel); only the API edge turns them into RFC 3339 strings.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A time in milliseconds since the Unix epoch that is never behind
/// [`now_ms`] and at most ~10 ms ahead of it, read from the kernel's coarse
/// clock (a fraction of `now_ms`'s cost). For per-record bookkeeping where
/// "a little later" is the safe side: the newest record time of a journal
/// segment, which only ever holds a segment back from compaction longer.
pub fn now_ms_not_before() -> u64 {
    /// The coarse clock ticks once a jiffy: 10 ms at the lowest `HZ` (100).
    const TICK_MS: u64 = 10;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    match (u64::try_from(ts.tv_sec), u64::try_from(ts.tv_nsec)) {
        (Ok(s), Ok(ns)) if rc == 0 => s * 1000 + ns / 1_000_000 + TICK_MS,
        _ => now_ms(),
    }
}

/// Formats milliseconds since the epoch as RFC 3339 with millisecond precision, UTC.
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            t.format(&fmt).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

/// Parses an RFC 3339 timestamp into milliseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Parses a duration such as `0s`, `50ms`, `5m`, `2h`, `1d`.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_time_is_never_behind_the_precise_one() {
        for _ in 0..1000 {
            let precise = now_ms();
            let coarse = now_ms_not_before();
            assert!(
                coarse >= precise && coarse <= precise + 20,
                "{coarse} vs {precise}"
            );
        }
    }

    #[test]
    fn rfc3339_round_trips() {
        let ms = 1_700_000_000_123;
        let s = rfc3339(ms);
        assert_eq!(s, "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_rfc3339(&s), Some(ms));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ms("0s"), Some(0));
        assert_eq!(parse_duration_ms("50ms"), Some(50));
        assert_eq!(parse_duration_ms("5m"), Some(300_000));
        assert_eq!(parse_duration_ms("10h"), Some(36_000_000));
        assert_eq!(parse_duration_ms("5"), None);
        assert_eq!(parse_duration_ms("x5s"), None);
    }
}
