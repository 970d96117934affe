//! Exponential backoff with jitter.
//!
//! The delay before attempt `n + 1` is `min(max, base * 2^(n-1))` scaled by a random factor in
//! `[0.5, 1.0]` ("equal jitter"): retries of many jobs failing together spread out, yet no
//! retry comes sooner than half the nominal delay.
use serde::{Deserialize, Serialize};

/// How long to wait between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt, in milliseconds. Default 1,000.
    pub base_ms: u64,
    /// Longest delay, in milliseconds. Default 600,000 (10 minutes).
    pub max_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base_ms: 1_000, max_ms: 600_000 }
    }
}

impl RetryPolicy {
    /// The nominal (un-jittered) delay after failed attempt `attempt` (1-based).
    pub fn nominal_ms(&self, attempt: u32) -> u64 {
        let shift = attempt.saturating_sub(1).min(62);
        self.base_ms.saturating_mul(1u64 << shift).min(self.max_ms)
    }

    /// The delay after failed attempt `attempt`, with `unit` a random number in `[0, 1)`.
    pub fn delay_ms(&self, attempt: u32, unit: f64) -> u64 {
        let nominal = self.nominal_ms(attempt) as f64;
        let factor = 0.5 + 0.5 * unit.clamp(0.0, 1.0);
        (nominal * factor) as u64
    }

    /// The delay after failed attempt `attempt`, jittered with the thread's random generator.
    pub fn delay_ms_random(&self, attempt: u32) -> u64 {
        self.delay_ms(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_until_the_cap() {
        let p = RetryPolicy { base_ms: 100, max_ms: 1_000 };
        let n: Vec<u64> = (1..=6).map(|a| p.nominal_ms(a)).collect();
        assert_eq!(n, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(p.nominal_ms(u32::MAX), 1_000);
    }

    proptest! {
        #[test]
        fn delay_stays_within_half_and_full_nominal(
            base in 0u64..10_000_000, max in 0u64..100_000_000, attempt in 0u32..200, unit in 0.0f64..1.0
        ) {
            let p = RetryPolicy { base_ms: base, max_ms: max };
            let d = p.delay_ms(attempt, unit);
            let nominal = p.nominal_ms(attempt);
            prop_assert!(d <= nominal);
            prop_assert!(d >= nominal / 2);
            prop_assert!(d <= max);
        }

        #[test]
        fn nominal_never_shrinks(base in 1u64..1_000_000, max in 1u64..100_000_000, attempt in 1u32..100) {
            let p = RetryPolicy { base_ms: base, max_ms: max };
            prop_assert!(p.nominal_ms(attempt + 1) >= p.nominal_ms(attempt));
        }
    }
}
