//! Rule-based notifications (after Alloy's RBN): a rule compares one signal
//! of one scope with a threshold over a window, and tells the operators
//! (`rule.firing` / `rule.resolved` operational webhooks, a log event, the
//! `ringhook_rule_firing{rule}` gauge) when its state changes.
//!
//! This module is pure: what a rule is ([`Rule::of`] checks a record),
//! which signals a scope has ([`supported`]), the value of a signal from
//! what was observed ([`value`]), and the state machine ([`next_state`]),
//! with hysteresis (a firing rule resolves only after
//! [`CLEAR_EVALUATIONS`] clear evaluations in a row) and a cooldown (a rule
//! fires again only `cooldown` after it last fired). `evaluator` does the
//! I/O: it observes, on shard 0's timer, from counters the engine already
//! keeps (the metrics snapshots and the read path's indexes), never on the
//! delivery path.

pub mod evaluator;

use crate::records::RuleRecord;

/// The longest window (a day) and cooldown (a week) a rule may have.
pub const WINDOW_MS_MAX: u64 = 86_400_000;
pub const COOLDOWN_MS_MAX: u64 = 7 * 86_400_000;

/// Evaluations in a row whose condition is clear before a firing rule
/// resolves: a value hovering at the threshold does not flap.
pub const CLEAR_EVALUATIONS: u32 = 3;

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    App(String),
    /// An incoming source: its application (id = the source's).
    Source(String),
    Endpoint {
        app_id: String,
        endpoint_id: String,
    },
    /// Messages of one type, of one application or of all.
    EventType {
        event_type: String,
        app_id: Option<String>,
    },
}

impl Scope {
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::App(_) => "app",
            Scope::Source(_) => "source",
            Scope::Endpoint { .. } => "endpoint",
            Scope::EventType { .. } => "eventType",
        }
    }
}

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Failed attempts / attempts in the window (no value without attempts).
    FailureRate,
    /// Failed attempts in a row, newest first, of any endpoint in scope.
    ConsecutiveFailures,
    /// Deliveries pending or being sent.
    Backlog,
    /// Age of the oldest pending delivery.
    OldestPendingSeconds,
    /// The highest 99th percentile of accept-to-delivery latency of any
    /// evaluation interval in the window.
    E2eP99Ms,
    AttemptsPerMinute,
    /// Messages received in the window (the delivery-gap monitor: `< 1`).
    NoMessages,
}

pub const SIGNALS: [(&str, Signal); 7] = [
    ("failure_rate", Signal::FailureRate),
    ("consecutive_failures", Signal::ConsecutiveFailures),
    ("backlog", Signal::Backlog),
    ("oldest_pending_seconds", Signal::OldestPendingSeconds),
    ("e2e_p99_ms", Signal::E2eP99Ms),
    ("attempts_per_minute", Signal::AttemptsPerMinute),
    ("no_messages", Signal::NoMessages),
];

impl Signal {
    pub fn parse(s: &str) -> Option<Signal> {
        SIGNALS.iter().find(|(n, _)| *n == s).map(|(_, sig)| *sig)
    }

    pub fn name(self) -> &'static str {
        SIGNALS
            .iter()
            .find(|(_, sig)| *sig == self)
            .map_or("", |(n, _)| n)
    }

    /// Whether the value is a count over the window (so the window must
    /// have passed since the rule was made before it means anything).
    fn windowed_count(self) -> bool {
        matches!(self, Signal::NoMessages | Signal::AttemptsPerMinute)
    }
}

/// Which signals a scope kind has: what the engine keeps for it.
pub fn supported(scope: &str, signal: Signal) -> bool {
    use Signal::*;
    match scope {
        "all" => !matches!(signal, ConsecutiveFailures),
        "app" | "source" => matches!(
            signal,
            FailureRate | AttemptsPerMinute | Backlog | NoMessages
        ),
        "endpoint" => matches!(
            signal,
            FailureRate | AttemptsPerMinute | Backlog | ConsecutiveFailures
        ),
        "eventType" => matches!(signal, NoMessages),
        _ => false,
    }
}

/// How the value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Comparison {
    pub fn parse(s: &str) -> Option<Comparison> {
        Some(match s {
            ">" => Comparison::Gt,
            ">=" => Comparison::Ge,
            "<" => Comparison::Lt,
            "<=" => Comparison::Le,
            _ => return None,
        })
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Gt => value > threshold,
            Comparison::Ge => value >= threshold,
            Comparison::Lt => value < threshold,
            Comparison::Le => value <= threshold,
        }
    }
}

/// A rule, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub signal: Signal,
    pub comparison: Comparison,
    pub threshold: f64,
    pub window_ms: u64,
    pub cooldown_ms: u64,
    /// Since when the rule is as it is (its window counts from there).
    pub updated_ms: u64,
}

impl Rule {
    /// The checked form of a record; none for one this build cannot
    /// evaluate (the API refuses to store such a rule).
    pub fn of(r: &RuleRecord) -> Option<Rule> {
        let signal = Signal::parse(&r.signal)?;
        if !supported(&r.scope, signal)
            || !(1..=WINDOW_MS_MAX).contains(&r.window_ms)
            || r.cooldown_ms > COOLDOWN_MS_MAX
            || !r.threshold.is_finite()
        {
            return None;
        }
        let app = || (!r.app_id.is_empty()).then(|| r.app_id.clone());
        let scope = match r.scope.as_str() {
            "all" => Scope::All,
            "app" => Scope::App(app()?),
            "source" => Scope::Source(r.target.clone()),
            "endpoint" => Scope::Endpoint {
                app_id: app()?,
                endpoint_id: r.target.clone(),
            },
            "eventType" => Scope::EventType {
                event_type: r.target.clone(),
                app_id: app(),
            },
            _ => return None,
        };
        Some(Rule {
            id: r.id.clone(),
            name: r.name.clone(),
            scope,
            signal,
            comparison: Comparison::parse(&r.comparison)?,
            threshold: r.threshold,
            window_ms: r.window_ms,
            cooldown_ms: r.cooldown_ms,
            updated_ms: r.updated_ms,
        })
    }
}

/// What the evaluator saw of a rule's scope; `None` where it has no data.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observed {
    pub messages: Option<u64>,
    pub attempts: Option<u64>,
    pub failed: Option<u64>,
    pub consecutive_failures: Option<u64>,
    pub backlog: Option<u64>,
    pub oldest_pending_ms: Option<u64>,
    pub e2e_p99_us: Option<u64>,
    /// How much of the window the counts cover (less at start).
    pub covered_ms: u64,
}

/// The value of the rule's signal; none when there is nothing to judge
/// (no attempts for a failure rate, a count whose window has not passed).
pub fn value(rule: &Rule, o: &Observed, now_ms: u64) -> Option<f64> {
    let full =
        o.covered_ms >= rule.window_ms && now_ms >= rule.updated_ms.saturating_add(rule.window_ms);
    if rule.signal.windowed_count() && !full {
        return None;
    }
    let minutes = rule.window_ms as f64 / 60_000.0;
    match rule.signal {
        Signal::FailureRate => match (o.failed?, o.attempts?) {
            (_, 0) => None,
            (f, a) => Some(f as f64 / a as f64),
        },
        Signal::AttemptsPerMinute => Some(o.attempts? as f64 / minutes),
        Signal::ConsecutiveFailures => o.consecutive_failures.map(|n| n as f64),
        Signal::Backlog => o.backlog.map(|n| n as f64),
        Signal::OldestPendingSeconds => Some(o.oldest_pending_ms.unwrap_or(0) as f64 / 1000.0),
        Signal::E2eP99Ms => o.e2e_p99_us.map(|us| us as f64 / 1000.0),
        Signal::NoMessages => o.messages.map(|n| n as f64),
    }
}

/// What the evaluator keeps of a rule between evaluations (the journaled
/// part is `records::RuleStateRecord`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tracked {
    pub firing: bool,
    pub changes: u64,
    /// When it last fired; 0: never.
    pub fired_ms: u64,
    /// Clear evaluations in a row while firing.
    pub clear_runs: u32,
}

/// A change of a rule's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Fire,
    Resolve,
}

/// One evaluation: the rule's next state given the value observed (none:
/// no data, which counts as clear). Fires when the condition holds and the
/// cooldown since the last firing has passed; resolves after
/// [`CLEAR_EVALUATIONS`] clear evaluations in a row.
pub fn next_state(t: &mut Tracked, value: Option<f64>, rule: &Rule, now_ms: u64) -> Option<Change> {
    let holds = value.is_some_and(|v| rule.comparison.holds(v, rule.threshold));
    if !t.firing {
        let cooled = t.fired_ms == 0 || now_ms >= t.fired_ms.saturating_add(rule.cooldown_ms);
        if !(holds && cooled) {
            return None;
        }
        *t = Tracked {
            firing: true,
            changes: t.changes + 1,
            fired_ms: now_ms,
            clear_runs: 0,
        };
        return Some(Change::Fire);
    }
    if holds {
        t.clear_runs = 0;
        return None;
    }
    t.clear_runs += 1;
    if t.clear_runs < CLEAR_EVALUATIONS {
        return None;
    }
    t.firing = false;
    t.changes += 1;
    t.clear_runs = 0;
    Some(Change::Resolve)
}

#[cfg(test)]
mod tests;
