//! The endpoints' failure streaks, derived from the attempt records, so a
//! restart neither resets nor forgets the auto-disable clock
//! (`delivery::decision::should_disable`). No record of its own: a streak
//! starts at the first failed attempt after the endpoint's last success
//! and after its last change in the catalog (re-enabling an endpoint, or
//! any other change, starts it anew), as the live engine tracks it.

use std::collections::HashMap;

/// One attempt as the streaks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Try {
    pub endpoint: u32,
    pub at_ms: u64,
    pub ok: bool,
}

/// Endpoint → start of its current failure streak, from its attempts (any
/// order) and each endpoint's last catalog change (`changed_ms`; an
/// endpoint missing there is deleted and has no streak).
pub fn streaks(tries: &[Try], changed_ms: impl Fn(u32) -> Option<u64>) -> HashMap<u32, u64> {
    let mut last_ok: HashMap<u32, u64> = HashMap::new();
    for t in tries.iter().filter(|t| t.ok) {
        let e = last_ok.entry(t.endpoint).or_insert(t.at_ms);
        *e = (*e).max(t.at_ms);
    }
    let mut out: HashMap<u32, u64> = HashMap::new();
    for t in tries.iter().filter(|t| !t.ok) {
        let Some(changed) = changed_ms(t.endpoint) else {
            continue;
        };
        let after = last_ok.get(&t.endpoint).copied().unwrap_or(0).max(changed);
        if t.at_ms > after {
            let e = out.entry(t.endpoint).or_insert(t.at_ms);
            *e = (*e).min(t.at_ms);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(endpoint: u32, at_ms: u64, ok: bool) -> Try {
        Try {
            endpoint,
            at_ms,
            ok,
        }
    }

    #[test]
    fn streak_table() {
        let changed = |e: u32| match e {
            1 | 2 | 4 => Some(0),
            3 => Some(50),
            _ => None,
        };
        let tries = [
            // 1: fails at 10, 20: streak from 10.
            t(1, 20, false),
            t(1, 10, false),
            // 2: fails, succeeds at 30, fails at 40: streak from 40.
            t(2, 10, false),
            t(2, 30, true),
            t(2, 40, false),
            // 3: changed (re-enabled) at 50: failures before it do not count.
            t(3, 10, false),
            t(3, 60, false),
            // 4: its last attempt succeeded: no streak.
            t(4, 10, false),
            t(4, 20, true),
            // 5: deleted: no streak.
            t(5, 10, false),
        ];
        let got = streaks(&tries, changed);
        let mut got: Vec<(u32, u64)> = got.into_iter().collect();
        got.sort_unstable();
        assert_eq!(got, [(1, 10), (2, 40), (3, 60)]);
    }
}
