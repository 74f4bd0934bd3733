//! Dashboard login sessions in `admin_sessions`: a random 256-bit id goes into the cookie and
//! only its SHA-256 is stored, with the time it was made, expires, was last seen, and from
//! where. A session ends at [`LIFETIME`] after login, after [`IDLE`] unused, on logout, when
//! revoked, or when the password changes.

use rusqlite::OptionalExtension;

use super::tokens;
use crate::kernel::db::{migrate::hex, now, Db, DbError};

/// A session's absolute lifetime.
pub const LIFETIME: i64 = 7 * 24 * 3600;
/// A session unused this long has ended.
pub const IDLE: i64 = 24 * 3600;
/// Live sessions kept at most: a new login past this ends the least recently used one.
pub const MAX_SESSIONS: i64 = 32;
/// How stale `last_seen_at` may get before a request writes it again (requests would
/// otherwise each cost a write).
const TOUCH_EVERY: i64 = 60;

/// The cookie over plain HTTP, and under HTTPS (where the `__Host-` prefix makes the browser
/// insist on `Secure`, `Path=/` and no `Domain`: the cookie can only ever be the admin host's).
pub const COOKIE: &str = "fazt_session";
pub const COOKIE_SECURE: &str = "__Host-fazt_session";

/// One live session, as listed.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
    pub ip: String,
    pub user_agent: String,
}

impl Session {
    pub fn to_json(&self, current: bool) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "created_at": self.created_at,
            "expires_at": self.expires_at.min(self.last_seen_at + IDLE),
            "last_seen_at": self.last_seen_at,
            "ip_address": self.ip,
            "user_agent": self.user_agent,
            "current": current,
        })
    }
}

/// Starts a session; returns it and the secret for the cookie.
pub fn create(db: &Db, ip: &str, user_agent: &str) -> Result<(Session, String), String> {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).map_err(|e| format!("no randomness: {e}"))?;
    let secret = hex(&raw);
    let (h, ip, ua) = (
        tokens::hash(&secret),
        ip.to_string(),
        user_agent.chars().take(200).collect::<String>(),
    );
    let t = now();
    let s = db
        .write(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM admin_sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2",
                [t, t - IDLE],
            )?;
            tx.execute(
                "DELETE FROM admin_sessions WHERE id IN (SELECT id FROM admin_sessions
                 ORDER BY last_seen_at DESC, id DESC LIMIT -1 OFFSET ?1)",
                [MAX_SESSIONS - 1],
            )?;
            tx.execute(
                "INSERT INTO admin_sessions (token_hash, created_at, expires_at, last_seen_at,
                 ip_address, user_agent) VALUES (?1, ?2, ?3, ?2, ?4, ?5)",
                rusqlite::params![h, t, t + LIFETIME, ip, ua],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Session {
                id,
                created_at: t,
                expires_at: t + LIFETIME,
                last_seen_at: t,
                ip,
                user_agent: ua,
            })
        })
        .map_err(|e| format!("storing the session: {e}"))?;
    Ok((s, secret))
}

/// The live session whose secret is `secret`, touching its last use.
pub fn find(db: &Db, secret: &str) -> Option<Session> {
    // A real secret is 64 hex digits: anything else is not looked up at all.
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let h = tokens::hash(secret);
    let s = db
        .read(|c| {
            c.query_row(
                "SELECT id, created_at, expires_at, last_seen_at, ip_address, user_agent
                 FROM admin_sessions WHERE token_hash = ?1",
                [&h],
                row,
            )
            .optional()
        })
        .ok()??;
    let t = now();
    if s.expires_at <= t || s.last_seen_at + IDLE <= t {
        return None;
    }
    if t - s.last_seen_at >= TOUCH_EVERY {
        let id = s.id;
        let _ = db.write(move |c| {
            c.execute(
                "UPDATE admin_sessions SET last_seen_at = ?1 WHERE id = ?2",
                [t, id],
            )
        });
    }
    Some(s)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        created_at: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
        expires_at: r.get(2)?,
        last_seen_at: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
        ip: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        user_agent: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
    })
}

/// The live sessions, most recently used first.
pub fn list(db: &Db) -> Result<Vec<Session>, DbError> {
    let t = now();
    db.read(|c| {
        let mut st = c.prepare(
            "SELECT id, created_at, expires_at, last_seen_at, ip_address, user_agent
             FROM admin_sessions WHERE expires_at > ?1 AND last_seen_at > ?2
             ORDER BY last_seen_at DESC, id DESC",
        )?;
        let rows = st.query_map([t, t - IDLE], row)?;
        rows.collect()
    })
    .map_err(DbError::Sqlite)
}

/// Ends session `id`; whether it existed.
pub fn revoke(db: &Db, id: i64) -> Result<bool, DbError> {
    db.write(move |c| c.execute("DELETE FROM admin_sessions WHERE id = ?1", [id]))
        .map(|n| n > 0)
}

/// Ends every session; how many there were.
pub fn revoke_all(db: &Db) -> Result<usize, DbError> {
    db.write(|c| c.execute("DELETE FROM admin_sessions", []))
}

/// The session secret in a `Cookie` header, if any (either cookie name).
pub fn from_cookie(header: &str) -> Option<&str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE || k == COOKIE_SECURE).then(|| v.trim_matches('"'))
    })
}

/// The `Set-Cookie` value that stores `secret` (or, empty, deletes the cookie).
pub fn set_cookie(secret: &str, secure: bool) -> String {
    let age = if secret.is_empty() { 0 } else { LIFETIME };
    if secure {
        format!(
            "{COOKIE_SECURE}={secret}; Path=/; Max-Age={age}; HttpOnly; SameSite=Strict; Secure"
        )
    } else {
        format!("{COOKIE}={secret}; Path=/; Max-Age={age}; HttpOnly; SameSite=Strict")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_either_name_only() {
        assert_eq!(from_cookie("fazt_session=abc"), Some("abc"));
        assert_eq!(
            from_cookie("a=1; __Host-fazt_session=\"xyz\"; b=2"),
            Some("xyz")
        );
        assert_eq!(from_cookie("xfazt_session=abc; fazt_sessionx=1"), None);
        assert_eq!(from_cookie(""), None);
        assert_eq!(from_cookie(";;=;"), None);
    }

    #[test]
    fn the_cookie_is_host_only_http_only_and_strict() {
        let c = set_cookie("s", true);
        assert!(c.starts_with("__Host-fazt_session=s; Path=/;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(!c.contains("Domain"));
        let plain = set_cookie("s", false);
        assert!(!plain.contains("Secure") && plain.contains("HttpOnly"));
        assert!(set_cookie("", false).contains("Max-Age=0"));
    }
}
