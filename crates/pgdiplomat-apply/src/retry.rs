//! How long to wait for locks and how to retry: a short `lock_timeout` per attempt and a
//! jittered exponential backoff between attempts, within an attempt and time budget.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RetryPolicy {
    /// How long one attempt may wait for its lock (PostgreSQL's `lock_timeout`).
    pub lock_timeout: Duration,
    /// Attempts per step before giving up.
    pub max_attempts: u32,
    /// Total time per step (waiting and backing off) before giving up.
    pub max_total: Duration,
    /// The first pause between attempts; it doubles each time, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            lock_timeout: Duration::from_millis(100),
            max_attempts: 30,
            max_total: Duration::from_secs(300),
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): exponential, capped, with "equal
    /// jitter" (half fixed, half random) so that several runners do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..=12 {
            let full = (p.initial_backoff * 2u32.pow(attempt - 1)).min(p.max_backoff);
            for _ in 0..50 {
                let b = p.backoff(attempt);
                assert!(
                    b >= full / 2 && b <= full,
                    "attempt {attempt}: {b:?} not in [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
        assert!(p.backoff(100) <= p.max_backoff);
    }
}
