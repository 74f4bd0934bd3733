//! The dashboard's admin password: PBKDF2-HMAC-SHA256 (RFC 8018) with a random 128-bit salt,
//! stored as `pbkdf2-sha256$ITERATIONS$SALT$HASH` (hex) under the `configurations` key
//! [`KEY`]. The work factor travels with the hash, so raising [`ITERATIONS`] later re-hashes
//! nothing and still verifies old passwords.
//!
//! A derivation costs a third of a second of one core on a Pi, so it never runs on a request
//! coroutine (it would stall every other connection on that worker thread): [`Kdf`] is one
//! thread that derives in turn. That also bounds a flood of login attempts to one core.

use std::sync::mpsc;
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::kernel::db::migrate::hex;
use crate::kernel::db::Db;
use crate::settings;

/// The `configurations` key of the hash (Go fazt kept its admin password under this name).
pub const KEY: &str = "auth.password_hash";

/// OWASP's 2023 figure for PBKDF2-HMAC-SHA256. Measured: 0.27 s on x86-64 (one core of this
/// CI machine), about 0.4 s on a Raspberry Pi 4 (README, "Dashboard").
pub const ITERATIONS: u32 = 600_000;

/// The shortest and longest password accepted (NIST 800-63B: at least 8, allow long ones;
/// the upper bound keeps a hostile login body from costing more than one HMAC key block).
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// PBKDF2-HMAC-SHA256 with one 32-byte output block (all this module needs).
pub fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    // HMAC takes a key of any length (longer ones are hashed first), so this cannot fail.
    let Ok(key) = Hmac::<Sha256>::new_from_slice(password) else {
        return [0; 32];
    };
    let mut mac = key.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
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
    let got = pbkdf2(password.as_bytes(), &salt, iter);
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

type Job = (String, String, may::sync::mpsc::Sender<Verdict>);

/// The one thread that runs [`verify`] for requests, and how many requests wait on it.
pub struct Kdf {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    waiting: std::sync::atomic::AtomicUsize,
}

/// Logins that may wait for the KDF thread at once; more are answered 503 at once.
pub const MAX_WAITING: usize = 4;

impl Default for Kdf {
    fn default() -> Self {
        Kdf {
            jobs: Mutex::new(None),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl Kdf {
    /// Runs [`verify`] on the KDF thread (started on first use), parking only the calling
    /// coroutine. `None` when [`MAX_WAITING`] logins already wait, or the thread is gone.
    pub fn verify(&self, stored: &str, password: &str) -> Option<Verdict> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.waiting.fetch_add(1, SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, SeqCst);
            return None;
        }
        let answer = self.submit(stored, password);
        self.waiting.fetch_sub(1, SeqCst);
        answer
    }

    fn submit(&self, stored: &str, password: &str) -> Option<Verdict> {
        let (tx, rx) = may::sync::mpsc::channel();
        {
            let mut jobs = self.jobs.lock().ok()?;
            if jobs.is_none() {
                let (jtx, jrx) = mpsc::channel::<Job>();
                std::thread::Builder::new()
                    .name("kdf".into())
                    .spawn(move || {
                        for (stored, password, reply) in jrx {
                            let _ = reply.send(verify(&stored, &password));
                        }
                    })
                    .ok()?;
                *jobs = Some(jtx);
            }
            jobs.as_ref()?
                .send((stored.to_string(), password.to_string(), tx))
                .ok()?;
        }
        rx.recv().ok()
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
