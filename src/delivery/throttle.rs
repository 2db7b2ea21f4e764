//! Per-endpoint throttling: a token bucket for an endpoint's `throttleRate`.
//!
//! An endpoint with a throttle rate of R messages per second gets at most R
//! attempts per second, with bursts of up to R (one second's worth). The
//! bucket lives in the endpoint's queue on its owner shard, so all the
//! endpoint's workers share it without locks.

/// A token bucket counted in thousandths of a token, so that refills of a few
/// milliseconds at low rates are not lost to rounding.
///
/// # Invariants
/// - `milli_tokens <= rate_per_s * 1000` (the burst);
/// - `last_ms` never moves backwards.
#[derive(Debug, Default, Clone)]
pub struct TokenBucket {
    rate_per_s: u64,
    milli_tokens: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// Takes one token at `now_ms` for an endpoint limited to `rate_per_s`;
    /// returns `None` when taken, or how many milliseconds until one is due.
    /// A changed rate restarts the bucket full at the new rate.
    pub fn take(&mut self, rate_per_s: u32, now_ms: u64) -> Option<u64> {
        let rate = u64::from(rate_per_s.max(1));
        let burst = rate * 1000;
        if rate != self.rate_per_s {
            *self = TokenBucket {
                rate_per_s: rate,
                milli_tokens: burst,
                last_ms: now_ms,
            };
        }
        let elapsed_ms = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(elapsed_ms.saturating_mul(rate))
            .min(burst);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            None
        } else {
            Some((1000 - self.milli_tokens).div_ceil(rate).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_paces_at_the_rate() {
        let mut b = TokenBucket::default();
        for _ in 0..5 {
            assert_eq!(b.take(5, 1_000), None, "a burst of one second's worth");
        }
        assert_eq!(b.take(5, 1_000), Some(200), "then one token per 200 ms");
        assert_eq!(b.take(5, 1_100), Some(100));
        assert_eq!(b.take(5, 1_200), None);
        assert_eq!(b.take(5, 1_200), Some(200));
    }

    #[test]
    fn a_new_rate_restarts_the_bucket_and_time_never_goes_back() {
        let mut b = TokenBucket::default();
        assert_eq!(b.take(1, 10_000), None);
        assert_eq!(b.take(1, 9_000), Some(1000));
        assert_eq!(b.take(1000, 9_000), None);
        assert_eq!(b.take(0, 9_000), None, "a zero rate is treated as 1/s");
    }
}
