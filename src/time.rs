//! Wall-clock helpers: milliseconds since the Unix epoch and RFC 3339 formatting.
//!
//! The engine stores times as `u64` milliseconds everywhere (journal, timer
//! wheel); only the API edge turns them into RFC 3339 strings.
//!
//! The simulator (`sim`) runs the engine's core on a clock of its own: a
//! thread it drives reads [`now_ms`] from [`simulate`]'s value instead of
//! the system clock, so the same seed sees the same times.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The simulated time of this thread, 0 when it reads the system clock.
    static SIMULATED_MS: Cell<u64> = const { Cell::new(0) };
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970), or
/// the simulated time of a thread the simulator drives.
pub fn now_ms() -> u64 {
    let simulated = SIMULATED_MS.with(Cell::get);
    if simulated != 0 {
        return simulated;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// From now on this thread's [`now_ms`] is `ms` (the simulator's clock;
/// `0` goes back to the system clock). Only the simulator calls it.
pub fn simulate(ms: u64) {
    SIMULATED_MS.with(|c| c.set(ms));
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

/// Milliseconds in a (UTC) day.
pub const DAY_MS: u64 = 86_400_000;

/// The UTC date (`YYYY-MM-DD`) of milliseconds since the epoch.
pub fn date(ms: u64) -> String {
    rfc3339(ms).get(..10).unwrap_or_default().to_string()
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
