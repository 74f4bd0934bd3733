//! Checking a login attempt: the password against the stored hash (see [`Kdf`]), under
//! two failure limits — per client address, and over all addresses together, so a botnet
//! that spreads its guesses gets no more than one address would. A login refused by a limit
//! costs no derivation.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::password::{self, Kdf, Verdict};
use super::ratelimit::FailureLimiter;
use crate::kernel::db::Db;

/// Failed logins one address may make per window.
pub const PER_ADDRESS: u32 = 5;
/// Failed logins all addresses together may make per window; past it every login waits for
/// the window's end (tokens, the CLI and live sessions keep working).
pub const GLOBAL: u32 = 30;
/// The window of both limits.
pub const WINDOW: Duration = Duration::from_secs(300);

/// The key the global limit counts under.
const EVERYONE: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Why a login did not succeed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Too many failures: wait this many seconds. `global` when it is the limit over all.
    Limited { wait: u64, global: bool },
    /// No password is set.
    NoPassword,
    /// The password is wrong.
    Wrong,
    /// The stored hash is not one this version reads.
    Unreadable,
    /// Too many logins are being checked at once.
    Busy,
    /// The database could not be read.
    Failed(String),
}

pub struct LoginGuard {
    per_address: FailureLimiter,
    global: FailureLimiter,
    kdf: Kdf,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard {
            per_address: FailureLimiter::new(PER_ADDRESS, WINDOW),
            global: FailureLimiter::new(GLOBAL, WINDOW),
            kdf: Kdf::default(),
        }
    }
}

impl LoginGuard {
    /// Checks `password` for a login from `ip`; counts a wrong one against both limits.
    pub fn attempt(&self, db: &Db, ip: IpAddr, password: &str) -> Result<(), Refused> {
        if let Some(wait) = self.per_address.blocked(ip) {
            return Err(Refused::Limited {
                wait,
                global: false,
            });
        }
        if let Some(wait) = self.global.blocked(EVERYONE) {
            return Err(Refused::Limited { wait, global: true });
        }
        let stored = password::stored(db)
            .map_err(Refused::Failed)?
            .ok_or(Refused::NoPassword)?;
        match self.kdf.verify(&stored, password) {
            None => Err(Refused::Busy),
            Some(Verdict::Match) => Ok(()),
            Some(Verdict::Unreadable) => Err(Refused::Unreadable),
            Some(Verdict::Mismatch) => {
                self.per_address.record_failure(ip);
                self.global.record_failure(EVERYONE);
                Err(Refused::Wrong)
            }
        }
    }
}
