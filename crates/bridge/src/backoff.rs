//! Exponential backoff with jitter, for reconnecting and for retrying sends and webhooks: many
//! clients that failed together should not all come back at the same instant.

use std::time::Duration;

/// A retry schedule: `base * 2^attempt`, capped, then randomly shortened by up to a fifth.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The wait before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let full = self.base.saturating_mul(1u32 << attempt.min(20)).min(self.max);
        let jitter = full.mul_f64(f64::from(random_u32() % 1000) / 5000.0);
        full - jitter
    }
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // Without randomness the schedule is still correct, only less spread.
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_only_shortens() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        for (attempt, full) in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (12, 30)] {
            let delay = backoff.delay(attempt);
            let full = Duration::from_secs(full);
            assert!(
                delay <= full && delay >= full.mul_f64(0.8),
                "attempt {attempt}: {delay:?} not in 80-100% of {full:?}"
            );
        }
    }
}
