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
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            let window = self.window;
            map.retain(|_, (start, _)| start.elapsed() < window);
            if map.len() >= MAX_TRACKED {
                // Forget the address whose window started longest ago — never everyone at
                // once, which would unblock every attacker together.
                let oldest = map
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    map.remove(&k);
                }
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
    fn a_full_map_evicts_the_oldest_not_everyone() {
        let l = FailureLimiter::new(1, Duration::from_secs(60));
        let blocked: IpAddr = "10.9.9.9".parse().unwrap();
        l.record_failure(blocked);
        assert!(l.blocked(blocked).is_some());
        std::thread::sleep(Duration::from_millis(2));
        for i in 0..MAX_TRACKED as u32 {
            l.record_failure(IpAddr::from((0x0b00_0000 + i).to_be_bytes()));
        }
        // The first address was the oldest and is gone; the newest ones are all still blocked.
        assert!(l.blocked(blocked).is_none());
        let newest = IpAddr::from((0x0b00_0000 + MAX_TRACKED as u32 - 1).to_be_bytes());
        assert!(l.blocked(newest).is_some());
        let second = IpAddr::from(0x0b00_0001u32.to_be_bytes());
        assert!(l.blocked(second).is_some());
    }

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
