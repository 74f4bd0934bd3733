//! Serialisable KV for each site: a run takes its site's lock at its first `db` call and
//! keeps it until the run ends, so two runs of one site that touch the KV store never
//! interleave (the Counter's `db.get` then `db.set` cannot lose an update), while runs that
//! never touch `db` — and runs of other sites — go on in parallel.
//!
//! One lock per run and locks held to the end make this two-phase locking with a single
//! lock: serialisable, and no deadlock is possible. Waiting is bounded by the waiting run's
//! own deadline. Sites share a fixed set of stripes (by name hash), so memory is constant;
//! two sites on one stripe only wait for each other as one site would.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

const STRIPES: usize = 64;

/// The lock table, shared by every worker of an engine.
pub(super) struct SiteLocks {
    stripes: Vec<(Mutex<bool>, Condvar)>,
}

impl Default for SiteLocks {
    fn default() -> Self {
        SiteLocks {
            stripes: (0..STRIPES)
                .map(|_| (Mutex::new(false), Condvar::new()))
                .collect(),
        }
    }
}

/// Why a lock was not granted.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LockError {
    /// The run's deadline passed while another run of the site held the lock.
    Timeout,
}

impl SiteLocks {
    fn stripe(site: &str) -> usize {
        let mut h = DefaultHasher::new();
        site.hash(&mut h);
        (h.finish() as usize) % STRIPES
    }

    /// Takes the lock of `site`'s stripe, waiting at most until `deadline` (`None`: no
    /// bound). Returns the stripe to hand back to [`SiteLocks::release`].
    pub fn acquire(&self, site: &str, deadline: Option<Instant>) -> Result<usize, LockError> {
        let i = Self::stripe(site);
        let (m, cv) = &self.stripes[i];
        let mut held = m.lock().unwrap_or_else(|e| e.into_inner());
        while *held {
            held = match deadline {
                None => cv.wait(held).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(LockError::Timeout);
                    }
                    cv.wait_timeout(held, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        *held = true;
        Ok(i)
    }

    pub fn release(&self, stripe: usize) {
        if let Some((m, cv)) = self.stripes.get(stripe) {
            *m.lock().unwrap_or_else(|e| e.into_inner()) = false;
            cv.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn second_holder_waits_until_release_or_deadline() {
        let locks = Arc::new(SiteLocks::default());
        let a = locks.acquire("blog", None).unwrap();
        let soon = Instant::now() + Duration::from_millis(50);
        assert_eq!(locks.acquire("blog", Some(soon)), Err(LockError::Timeout));
        let l2 = locks.clone();
        let waiter = std::thread::spawn(move || l2.acquire("blog", None).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        locks.release(a);
        let b = waiter.join().unwrap();
        locks.release(b);
        // Free again.
        let c = locks.acquire("blog", Some(Instant::now())).unwrap();
        locks.release(c);
    }
}
