//! Renewal timing as plain arithmetic: when a certificate is due (one third of
//! its lifetime left, whatever that lifetime is: 90 days, 6 days, a minute on a
//! test CA), how long to back off after failures, the global cap on orders per
//! minute that keeps a misconfiguration from hammering the CA, and the weekly budget
//! of new orders (kept in the store) that keeps on-demand issuance under the CA's own
//! weekly limits across restarts.

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

/// Seconds in the budget's window.
pub const WEEK: i64 = 7 * 86_400;

/// At most `max` new orders in any 7 days, counted from the unix times of past orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyBudget {
    max: usize,
    orders: Vec<i64>,
}

impl WeeklyBudget {
    /// A budget of `max` (0 is treated as 1) with the stored order times (a JSON array of
    /// unix seconds; anything else counts as none).
    pub fn new(max: u32, stored: Option<&[u8]>) -> Self {
        let mut orders: Vec<i64> = stored
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        orders.sort_unstable();
        WeeklyBudget {
            max: usize::try_from(max.max(1)).unwrap_or(usize::MAX),
            orders,
        }
    }

    fn prune(&mut self, now: i64) {
        self.orders.retain(|&t| t > now - WEEK && t <= now + 60);
    }

    /// Room for one more order at `now`, or the unix time the oldest counted one leaves the
    /// window.
    pub fn check(&mut self, now: i64) -> Result<(), i64> {
        self.prune(now);
        if self.orders.len() < self.max {
            Ok(())
        } else {
            Err(self.orders.first().map_or(now, |t| t + WEEK))
        }
    }

    /// Counts an order placed at `now`.
    pub fn record(&mut self, now: i64) {
        self.prune(now);
        self.orders.push(now);
    }

    /// The order times, for the store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.orders).unwrap_or_else(|_| "[]".into())
    }

    /// The budget: orders allowed in any 7 days.
    pub fn max(&self) -> usize {
        self.max
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

    #[test]
    fn weekly_budget_counts_seven_days_and_survives_a_restart() {
        let mut b = WeeklyBudget::new(2, None);
        assert_eq!(b.check(1_000_000), Ok(()));
        b.record(1_000_000);
        b.record(1_000_100);
        assert_eq!(b.check(1_000_200), Err(1_000_000 + WEEK));
        // Stored and read back (a restart): still full.
        let mut again = WeeklyBudget::new(2, Some(b.to_json().as_bytes()));
        assert_eq!(again.check(1_000_300), Err(1_000_000 + WEEK));
        // A week after the first order, one slot frees.
        assert_eq!(again.check(1_000_000 + WEEK), Ok(()));
        // Garbage in the store counts as no orders; 0 is a budget of 1.
        let mut junk = WeeklyBudget::new(0, Some(b"{not json"));
        assert_eq!((junk.max(), junk.check(5)), (1, Ok(())));
        junk.record(5);
        assert_eq!(junk.check(6), Err(5 + WEEK));
        // A time far in the future (a clock that jumped back) does not block forever.
        let mut future = WeeklyBudget::new(1, Some(b"[99999999999]"));
        assert_eq!(future.check(1_000), Ok(()));
    }
}
