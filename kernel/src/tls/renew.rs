//! Renewal timing as plain arithmetic: when a certificate is due (one third of
//! its lifetime left, whatever that lifetime is: 90 days, 6 days, a minute on a
//! test CA), how long to back off after failures, and the global cap on orders
//! per minute that keeps a misconfiguration from hammering the CA.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Unix time at which a certificate valid from `not_before` to `not_after`
/// should be renewed: when one third of its lifetime remains.
pub fn renew_at(not_before: i64, not_after: i64) -> i64 {
    let lifetime = not_after.saturating_sub(not_before).max(0);
    not_after.saturating_sub(lifetime / 3)
}

/// Delay before retrying after `failures` consecutive failures (≥ 1): `min`
/// doubling each time, capped at `max`.
pub fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let shift = failures.saturating_sub(1).min(31);
    min.checked_mul(1u32 << shift).map_or(max, |d| d.min(max))
}

/// At most `max` orders in any sliding window of `window`.
#[derive(Debug)]
pub struct OrderLimiter {
    max: usize,
    window: Duration,
    recent: VecDeque<Instant>,
}

impl OrderLimiter {
    /// A limiter allowing `max` orders per `window` (`max` 0 is treated as 1).
    pub fn new(max: u32, window: Duration) -> Self {
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        Self {
            max,
            window,
            recent: VecDeque::with_capacity(max.min(64)),
        }
    }

    /// Take a slot at `now`, or say how long until one frees up.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&oldest) = self.recent.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() < self.max {
            self.recent.push_back(now);
            return Ok(());
        }
        let oldest = self.recent.front().copied().unwrap_or(now);
        Err(self
            .window
            .saturating_sub(now.saturating_duration_since(oldest))
            .max(Duration::from_millis(10)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ninety_day_cert_renews_with_thirty_days_left() {
        let nb = 1_700_000_000;
        let na = nb + 90 * 86_400;
        assert_eq!(renew_at(nb, na), na - 30 * 86_400);
    }

    #[test]
    fn six_day_cert_renews_with_two_days_left() {
        let nb = 1_700_000_000;
        let na = nb + 6 * 86_400;
        assert_eq!(renew_at(nb, na), na - 2 * 86_400);
    }

    #[test]
    fn broken_or_extreme_validity_does_not_overflow() {
        assert_eq!(renew_at(100, 50), 50);
        assert_eq!(renew_at(i64::MIN, i64::MAX), i64::MAX - i64::MAX / 3);
        assert_eq!(renew_at(i64::MAX, i64::MIN), i64::MIN);
    }

    #[test]
    fn backoff_grows_from_minutes_to_hours() {
        let (min, max) = (Duration::from_secs(60), Duration::from_secs(6 * 3600));
        assert_eq!(backoff(0, min, max), min);
        assert_eq!(backoff(1, min, max), min);
        assert_eq!(backoff(2, min, max), min * 2);
        assert_eq!(backoff(5, min, max), min * 16);
        assert_eq!(backoff(9, min, max), min * 256);
        assert_eq!(backoff(10, min, max), max);
        assert_eq!(backoff(u32::MAX, min, max), max);
    }

    #[test]
    fn limiter_caps_orders_per_window() {
        let t0 = Instant::now();
        let w = Duration::from_secs(60);
        let mut l = OrderLimiter::new(2, w);
        assert!(l.try_acquire(t0).is_ok());
        assert!(l.try_acquire(t0 + Duration::from_secs(10)).is_ok());
        let wait = l.try_acquire(t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(l.try_acquire(t0 + Duration::from_secs(60)).is_ok());
        assert!(l.try_acquire(t0 + Duration::from_secs(61)).is_err());
        assert!(l.try_acquire(t0 + Duration::from_secs(70)).is_ok());
    }

    proptest! {
        #[test]
        fn renewal_is_inside_the_validity_window(nb in -1i64<<40..1i64<<40, life in 0i64..1i64<<35) {
            let na = nb + life;
            let r = renew_at(nb, na);
            prop_assert!(r >= nb && r <= na);
            // two thirds of the lifetime have passed, to the second
            prop_assert!((na - r) * 3 <= life && (na - r) * 3 > life - 3);
        }

        #[test]
        fn limiter_never_exceeds_cap(max in 1u32..6, gaps in proptest::collection::vec(0u64..30_000, 1..60)) {
            let w = Duration::from_secs(60);
            let mut l = OrderLimiter::new(max, w);
            let t0 = Instant::now();
            let mut t = t0;
            let mut granted: Vec<Instant> = Vec::new();
            for g in gaps {
                t += Duration::from_millis(g);
                if l.try_acquire(t).is_ok() {
                    granted.push(t);
                }
                let in_window = granted.iter().filter(|&&g| t.duration_since(g) < w).count();
                prop_assert!(in_window <= max as usize);
            }
        }
    }
}
