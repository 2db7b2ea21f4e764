//! Cron sources' schedules, as pure functions of the schedule and times
//! (milliseconds since the Unix epoch, UTC): which tick is due now, and
//! when the next one comes.
//!
//! # Exactly once per tick
//! A tick's messages carry `eventId` `cron-<tick ms>`, so firing a tick
//! twice within the deduplication window makes nothing new; recovery reads
//! the newest tick fired per source back from those message records. After
//! downtime only the newest tick missed fires (once), and only if it is
//! within `lookback_ms` (the retention period, beyond which the records
//! that would say it fired may be compacted away).

use chrono::{DateTime, Utc};
use croner::Cron;

/// The `eventId` prefix of a cron tick's messages.
pub const EVENT_ID_PREFIX: &str = "cron-";

/// Why a schedule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "schedule {schedule:?} is not a cron expression (5 fields, or 6 with seconds first): {why}"
)]
pub struct ScheduleError {
    pub schedule: String,
    pub why: String,
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule(Cron);

impl Schedule {
    /// Parses a standard 5-field expression, or 6 fields with seconds first.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let mut cron = Cron::new(text);
        cron.with_seconds_optional();
        cron.parse().map(Schedule).map_err(|e| ScheduleError {
            schedule: text.to_string(),
            why: e.to_string(),
        })
    }

    /// The first tick strictly after `t_ms`.
    pub fn next_after(&self, t_ms: u64) -> Option<u64> {
        let t = DateTime::<Utc>::from_timestamp_millis(i64::try_from(t_ms).ok()?)?;
        let next = self.0.find_next_occurrence(&t, false).ok()?;
        u64::try_from(next.timestamp_millis()).ok()
    }
}

/// The newest tick `t` with `after_ms < t <= now_ms` and `t > now_ms -
/// lookback_ms`: the one to fire now (`None`: nothing is due).
/// `after_ms` is the newest tick already fired, or the source's creation.
pub fn due(schedule: &Schedule, after_ms: u64, now_ms: u64, lookback_ms: u64) -> Option<u64> {
    let start = after_ms.max(now_ms.saturating_sub(lookback_ms));
    if start >= now_ms {
        return None;
    }
    // Look back from now over windows of 1 s, 2 s, 4 s, ...: the first
    // window holding a tick holds the newest one, in the half that the
    // window before did not cover, so the walk forward is short.
    let mut window = 1_000u64;
    loop {
        let from = now_ms.saturating_sub(window).max(start);
        if let Some(mut t) = schedule.next_after(from).filter(|&t| t <= now_ms) {
            while let Some(n) = schedule.next_after(t).filter(|&n| n <= now_ms) {
                t = n;
            }
            return Some(t);
        }
        if from == start {
            return None;
        }
        window = window.saturating_mul(2);
    }
}

/// The `eventId` of a tick's messages.
pub fn event_id(tick_ms: u64) -> String {
    format!("{EVENT_ID_PREFIX}{tick_ms}")
}

/// The tick an `eventId` names, if it is a cron tick's.
pub fn tick_of(event_id: &str) -> Option<u64> {
    event_id.strip_prefix(EVENT_ID_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    /// 2026-01-01T00:00:00Z.
    const T0: u64 = 1_767_225_600_000;

    #[test]
    fn parse_table() {
        for (text, ok) in [
            ("* * * * *", true),
            ("*/5 * * * *", true),
            ("*/2 * * * * *", true),
            ("0 9 * * MON-FRI", true),
            ("@hourly", true),
            ("61 * * * *", false),
            ("* * *", false),
            ("", false),
        ] {
            assert_eq!(Schedule::parse(text).is_ok(), ok, "{text:?}");
        }
    }

    #[test]
    fn due_table() {
        let every5 = Schedule::parse("*/5 * * * *").expect("parses");
        let day = 24 * 60 * MIN;
        // (after, now, lookback) → due
        let rows = [
            // Nothing since the last tick.
            ((T0, T0 + 4 * MIN, day), None),
            // The next tick, exactly at now.
            ((T0, T0 + 5 * MIN, day), Some(T0 + 5 * MIN)),
            // Down for an hour: only the newest missed tick.
            ((T0, T0 + 62 * MIN, day), Some(T0 + 60 * MIN)),
            // Down for ten days, lookback one day: the newest tick still fires.
            (
                (T0, T0 + 10 * day + 7 * MIN, day),
                Some(T0 + 10 * day + 5 * MIN),
            ),
            // Its tick is older than the lookback: nothing.
            ((T0, T0 + 10 * day, 0), None),
            // Already fired the newest.
            ((T0 + 60 * MIN, T0 + 62 * MIN, day), None),
        ];
        for (i, ((after, now, lookback), want)) in rows.into_iter().enumerate() {
            assert_eq!(due(&every5, after, now, lookback), want, "row {i}");
        }
        let every2s = Schedule::parse("*/2 * * * * *").expect("parses");
        assert_eq!(due(&every2s, T0, T0 + 5_500, day), Some(T0 + 4_000));
        assert_eq!(every2s.next_after(T0 + 4_000), Some(T0 + 6_000));
    }

    #[test]
    fn event_ids_round_trip() {
        assert_eq!(tick_of(&event_id(T0)), Some(T0));
        assert_eq!(tick_of("evt_1"), None);
        assert_eq!(tick_of("cron-x"), None);
    }
}
