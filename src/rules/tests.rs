//! Tables for the rule state machine, values and the scope × signal matrix.

use super::*;

fn rule(signal: Signal, cmp: Comparison, threshold: f64) -> Rule {
    Rule {
        id: "rule_1".into(),
        name: "r".into(),
        scope: Scope::All,
        signal,
        comparison: cmp,
        threshold,
        window_ms: 60_000,
        cooldown_ms: 10_000,
        updated_ms: 0,
    }
}

#[test]
fn the_state_machine_fires_resolves_with_hysteresis_and_cools_down() {
    let r = rule(Signal::FailureRate, Comparison::Gt, 0.5);
    // (value, now, expected change, firing after)
    let rows: [(Option<f64>, u64, Option<Change>, bool); 12] = [
        (Some(0.1), 1_000, None, false),
        (Some(0.9), 2_000, Some(Change::Fire), true),
        (Some(0.9), 3_000, None, true),
        (Some(0.1), 4_000, None, true),                   // clear 1
        (Some(0.7), 5_000, None, true),                   // holds again: the run restarts
        (Some(0.1), 6_000, None, true),                   // clear 1
        (None, 7_000, None, true),                        // no data counts as clear: 2
        (Some(0.5), 8_000, Some(Change::Resolve), false), // 0.5 is not > 0.5: 3
        (Some(0.9), 9_000, None, false),                  // cooldown: fired at 2,000 + 10,000
        (Some(0.9), 11_999, None, false),
        (Some(0.9), 12_000, Some(Change::Fire), true),
        (Some(0.9), 13_000, None, true),
    ];
    let mut t = Tracked::default();
    for (i, (v, now, change, firing)) in rows.into_iter().enumerate() {
        assert_eq!(next_state(&mut t, v, &r, now), change, "row {i}");
        assert_eq!(t.firing, firing, "row {i}");
    }
    assert_eq!(t.changes, 3);
    assert_eq!(t.fired_ms, 12_000);
}

#[test]
fn comparisons_hold_as_written() {
    let rows = [
        (Comparison::Gt, 1.0, 1.0, false),
        (Comparison::Ge, 1.0, 1.0, true),
        (Comparison::Lt, 0.0, 1.0, true),
        (Comparison::Le, 1.0, 1.0, true),
        (Comparison::Lt, 1.0, 1.0, false),
    ];
    for (c, v, t, holds) in rows {
        assert_eq!(c.holds(v, t), holds, "{c:?} {v} {t}");
    }
}

#[test]
fn values_come_from_what_was_observed() {
    let full = Observed {
        messages: Some(0),
        attempts: Some(40),
        failed: Some(10),
        consecutive_failures: Some(4),
        backlog: Some(7),
        oldest_pending_ms: Some(90_000),
        e2e_p99_us: Some(2_500),
        covered_ms: 60_000,
    };
    let rows: [(Signal, Observed, u64, Option<f64>); 11] = [
        (Signal::FailureRate, full, 60_000, Some(0.25)),
        (
            Signal::FailureRate,
            Observed {
                attempts: Some(0),
                ..full
            },
            60_000,
            None,
        ),
        (Signal::AttemptsPerMinute, full, 60_000, Some(40.0)),
        (Signal::ConsecutiveFailures, full, 60_000, Some(4.0)),
        (Signal::Backlog, full, 60_000, Some(7.0)),
        (Signal::OldestPendingSeconds, full, 60_000, Some(90.0)),
        (
            Signal::OldestPendingSeconds,
            Observed {
                oldest_pending_ms: None,
                ..full
            },
            60_000,
            Some(0.0),
        ),
        (Signal::E2eP99Ms, full, 60_000, Some(2.5)),
        (Signal::NoMessages, full, 60_000, Some(0.0)),
        // A count over a window the rule has not lived through is no value.
        (Signal::NoMessages, full, 59_999, None),
        (
            Signal::NoMessages,
            Observed {
                covered_ms: 30_000,
                ..full
            },
            60_000,
            None,
        ),
    ];
    for (i, (signal, o, now, want)) in rows.into_iter().enumerate() {
        let r = rule(signal, Comparison::Gt, 0.0);
        assert_eq!(value(&r, &o, now), want, "row {i}: {signal:?}");
    }
}

#[test]
fn scopes_offer_the_signals_the_engine_keeps_for_them() {
    let rows: [(&str, Signal, bool); 10] = [
        ("all", Signal::E2eP99Ms, true),
        ("all", Signal::ConsecutiveFailures, false),
        ("app", Signal::FailureRate, true),
        ("app", Signal::OldestPendingSeconds, false),
        ("source", Signal::NoMessages, true),
        ("endpoint", Signal::ConsecutiveFailures, true),
        ("endpoint", Signal::NoMessages, false),
        ("eventType", Signal::NoMessages, true),
        ("eventType", Signal::FailureRate, false),
        ("galaxy", Signal::Backlog, false),
    ];
    for (scope, signal, ok) in rows {
        assert_eq!(supported(scope, signal), ok, "{scope} {signal:?}");
    }
    for (name, signal) in SIGNALS {
        assert_eq!(Signal::parse(name), Some(signal));
        assert_eq!(signal.name(), name);
    }
}
