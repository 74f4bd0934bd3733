//! The dashboard's admin password: PBKDF2-HMAC-SHA256 (RFC 8018) with a random 128-bit salt,
//! stored as `pbkdf2-sha256$ITERATIONS$SALT$HASH` (hex) under the `configurations` key
//! [`KEY`]. The work factor travels with the hash, so raising [`ITERATIONS`] later re-hashes
//! nothing and still verifies old passwords.
//!
//! A derivation costs a third of a second of one core on a Pi, so a request's derivation
//! yields to the worker's other coroutines every [`YIELD_EVERY`] rounds (about a millisecond)
//! instead of stalling every connection on that worker thread, and [`Kdf`] lets at most
//! [`MAX_RUNNING`] run at once, which bounds a flood of login attempts to that many cores.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::kernel::db::migrate::hex;
use crate::kernel::db::Db;
use crate::settings;

/// The `configurations` key of the hash (Go fazt kept its admin password under this name).
pub const KEY: &str = "auth.password_hash";

/// OWASP's current figure for PBKDF2-HMAC-SHA256. Measured (`fazt admin set-password` prints
/// it): 0.20 s on one x86-64 core, 2.5 s for the armv7 build under qemu-user, which is an
/// emulator's speed, not a board's; a Pi 4 (no SHA instructions, ~100 MB/s of software
/// SHA-256) should take about 0.75 s (README, "Dashboard").
pub const ITERATIONS: u32 = 600_000;

/// The shortest and longest password accepted (NIST 800-63B: at least 8, allow long ones;
/// the upper bound keeps a hostile login body from costing more than one HMAC key block).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// Rounds between two yields of a derivation on a request coroutine.
pub const YIELD_EVERY: u32 = 2048;

/// PBKDF2-HMAC-SHA256 with one 32-byte output block (all this module needs).
pub fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    derive(password, salt, iterations, &mut || {})
}

/// [`pbkdf2`], calling `pause` every [`YIELD_EVERY`] rounds.
fn derive(password: &[u8], salt: &[u8], iterations: u32, pause: &mut dyn FnMut()) -> [u8; 32] {
    // HMAC takes a key of any length (longer ones are hashed first), so this cannot fail.
    let Ok(key) = Hmac::<Sha256>::new_from_slice(password) else {
        return [0; 32];
    };
    let mut mac = key.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for i in 1..iterations {
        if i % YIELD_EVERY == 0 {
            pause();
        }
        let mut mac = key.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (o, x) in out.iter_mut().zip(u) {
            *o ^= x;
        }
    }
    out
}

/// Why a password is not accepted as a new one.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!(
            "the password is too short: at least {MIN_LEN} characters"
        ));
    }
    if password.len() > MAX_LEN {
        return Err(format!("the password is too long: at most {MAX_LEN} bytes"));
    }
    Ok(())
}

/// The stored form of `password` under a fresh salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let dk = pbkdf2(password.as_bytes(), &salt, ITERATIONS);
    Ok(format!(
        "pbkdf2-sha256${ITERATIONS}${}${}",
        hex(&salt),
        hex(&dk)
    ))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What checking a password against a stored hash found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Match,
    Mismatch,
    /// The stored value is not a hash this version writes (a Go fazt bcrypt hash, or damage).
    Unreadable,
}

/// Checks `password` against `stored` in constant time over the derived key.
pub fn verify(stored: &str, password: &str) -> Verdict {
    verify_pausing(stored, password, &mut || {})
}

fn verify_pausing(stored: &str, password: &str, pause: &mut dyn FnMut()) -> Verdict {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iter), Some(salt), Some(want), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Verdict::Unreadable;
    };
    let (Ok(iter), Some(salt), Some(want)) = (iter.parse::<u32>(), unhex(salt), unhex(want)) else {
        return Verdict::Unreadable;
    };
    // A stored factor outside these bounds is damage, not a policy: refuse it rather than
    // spend minutes (or nothing) on it.
    if !(1_000..=10_000_000).contains(&iter) || want.len() != 32 {
        return Verdict::Unreadable;
    }
    if password.len() > MAX_LEN {
        return Verdict::Mismatch;
    }
    let got = derive(password.as_bytes(), &salt, iter, pause);
    let diff = got.iter().zip(&want).fold(0u8, |a, (x, y)| a | (x ^ y));
    if diff == 0 {
        Verdict::Match
    } else {
        Verdict::Mismatch
    }
}

/// Stores a new password (after [`check_new`]).
pub fn set(db: &Db, password: &str) -> Result<(), String> {
    check_new(password)?;
    let h = hash(password)?;
    settings::set(db, KEY, &h).map_err(|e| format!("storing the password: {e}"))
}

/// The stored hash, if a password is set.
pub fn stored(db: &Db) -> Result<Option<String>, String> {
    settings::get(db, KEY)
        .map(|v| v.filter(|s| !s.is_empty()))
        .map_err(|e| format!("reading the password: {e}"))
}

/// Derivations for requests: how many run now (see [`MAX_RUNNING`]).
#[derive(Default)]
pub struct Kdf {
    running: std::sync::atomic::AtomicUsize,
}

/// Logins checked at once; more are answered 503 at once (a person retries; a flood waits).
pub const MAX_RUNNING: usize = 2;

impl Kdf {
    /// [`verify`] on the calling coroutine, yielding between rounds; `None` when
    /// [`MAX_RUNNING`] logins are being checked already.
    pub fn verify(&self, stored: &str, password: &str) -> Option<Verdict> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.running.fetch_add(1, SeqCst) >= MAX_RUNNING {
            self.running.fetch_sub(1, SeqCst);
            return None;
        }
        let v = verify_pausing(stored, password, &mut may::coroutine::yield_now);
        self.running.fetch_sub(1, SeqCst);
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_matches_the_published_vectors() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256, first 32 bytes of the 64-byte outputs).
        assert_eq!(
            hex(&pbkdf2(b"passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        assert_eq!(
            hex(&pbkdf2(b"Password", b"NaCl", 80000)),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        );
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        // A cheap factor for the test; the format carries it.
        let salt = [7u8; 16];
        let stored = format!(
            "pbkdf2-sha256$1000${}${}",
            hex(&salt),
            hex(&pbkdf2(b"correct horse", &salt, 1000))
        );
        assert_eq!(verify(&stored, "correct horse"), Verdict::Match);
        assert_eq!(verify(&stored, "correct horsE"), Verdict::Mismatch);
        assert_eq!(verify(&stored, ""), Verdict::Mismatch);
        let long = "x".repeat(MAX_LEN + 1);
        assert_eq!(verify(&stored, &long), Verdict::Mismatch);
    }

    #[test]
    fn unreadable_hashes_never_match() {
        for s in [
            "",
            "$2a$10$abcdefghijklmnopqrstuv",
            "pbkdf2-sha256$1000$zz$00",
            "pbkdf2-sha256$1$0011$00",
            "pbkdf2-sha256$99999999999$00$00",
            "pbkdf2-sha256$1000$00$0011",
            "pbkdf2-sha256$1000$00$00$extra",
            "pbkdf2-sha256$1000$0",
        ] {
            assert_eq!(verify(s, "anything"), Verdict::Unreadable, "{s}");
        }
    }

    #[test]
    fn new_passwords_are_bounded() {
        assert!(check_new("short").is_err());
        assert!(check_new("eight ch").is_ok());
        assert!(check_new(&"y".repeat(MAX_LEN + 1)).is_err());
        // Characters, not bytes, count towards the minimum.
        assert!(check_new("ééééééé").is_err());
    }
}
