//! Failed-authentication rate limiting per client address: after `max` failures in a window
//! the address gets 429 with `Retry-After` until the window ends. Memory is bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct FailureLimiter {
    max: u32,
    window: Duration,
    map: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

const MAX_TRACKED: usize = 10_000;

impl FailureLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        FailureLimiter {
            max,
            window,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait if `ip` is currently blocked.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let map = self.map.lock().ok()?;
        let (start, count) = map.get(&ip)?;
        let elapsed = start.elapsed();
        if *count >= self.max && elapsed < self.window {
            Some((self.window - elapsed).as_secs().max(1))
        } else {
            None
        }
    }

    pub fn record_failure(&self, ip: IpAddr) {
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= MAX_TRACKED {
            let window = self.window;
            map.retain(|_, (start, _)| start.elapsed() < window);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        let now = Instant::now();
        let e = map.entry(ip).or_insert((now, 0));
        if e.0.elapsed() >= self.window {
            *e = (now, 0);
        }
        e.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.blocked(ip).is_none());
            l.record_failure(ip);
        }
        assert!(l.blocked(ip).unwrap() <= 60);
        assert!(l.blocked("10.0.0.2".parse().unwrap()).is_none());
    }
}
