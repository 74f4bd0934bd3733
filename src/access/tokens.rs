//! API tokens: `fazt_` + 192 random bits, stored only as a SHA-256 hash, compared in constant
//! time, with a scope (`deploy` or `admin`). `last_used_at` is kept in memory and written in
//! one batch now and then, so authenticating never costs a write.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use crate::kernel::db::{migrate::hex, now, Db};

pub const PREFIX: &str = "fazt_";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Deploy,
    Admin,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s.trim() {
            "deploy" => Some(Scope::Deploy),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Deploy => "deploy",
            Scope::Admin => "admin",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub id: i64,
    pub name: String,
    pub scope: Scope,
}

pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token (not stored).
pub fn generate() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("{PREFIX}{}", hex(&bytes)))
}

/// Creates a token row and returns (id, token). The token is shown once and never stored.
pub fn create(db: &Db, name: &str, scope: Scope) -> Result<(i64, String), String> {
    let token = generate()?;
    let (n, h) = (name.to_string(), hash(&token));
    let id = db
        .write(move |c| {
            c.execute(
                "INSERT INTO api_keys (name, key_hash, scopes, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![n, h, scope.as_str(), now()],
            )?;
            Ok(c.last_insert_rowid())
        })
        .map_err(|e| format!("storing the token: {e}"))?;
    Ok((id, token))
}

/// The scope of tokens imported from Go fazt: it grants nothing (see [`import_legacy`]).
pub const ROTATE: &str = "rotate";

/// Adds a Go fazt token (a bcrypt hash) so it is listed, with scope [`ROTATE`]: it never
/// authenticates (lookups are by SHA-256, which a bcrypt string never equals), because
/// checking bcrypt would mean one slow hash per token per request from anyone. The owner
/// creates a new token and revokes this one.
pub fn import_legacy(
    c: &rusqlite::Connection,
    name: &str,
    key_hash: &str,
    created: i64,
    last_used: Option<i64>,
) -> rusqlite::Result<crate::database::Merge> {
    use crate::database::Merge;
    let existing: Option<String> = c
        .query_row(
            "SELECT COALESCE(name, '') FROM api_keys WHERE key_hash = ?1",
            [key_hash],
            |r| r.get(0),
        )
        .optional()?;
    if existing.is_some() {
        return Ok(Merge::Same);
    }
    c.execute(
        "INSERT INTO api_keys (name, key_hash, scopes, created_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![name, key_hash, ROTATE, created, last_used],
    )?;
    Ok(Merge::Added)
}

/// A token as listed (never its hash).
pub struct KeyInfo {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// All tokens, oldest first.
pub fn list(db: &Db) -> rusqlite::Result<Vec<KeyInfo>> {
    db.read(|c| {
        let mut st = c.prepare(
            "SELECT id, COALESCE(name, ''), COALESCE(scopes, ''), COALESCE(created_at, 0), last_used_at
             FROM api_keys ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(KeyInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                scope: r.get(2)?,
                created_at: r.get(3)?,
                last_used_at: r.get(4)?,
            })
        })?;
        rows.collect()
    })
}

/// Deletes a token by id or name. Returns how many were revoked.
pub fn revoke(db: &Db, id_or_name: &str) -> Result<usize, String> {
    let key = id_or_name.to_string();
    db.write(move |c| match key.parse::<i64>() {
        Ok(id) => c.execute("DELETE FROM api_keys WHERE id = ?1", [id]),
        Err(_) => c.execute("DELETE FROM api_keys WHERE name = ?1", [key]),
    })
    .map_err(|e| e.to_string())
}

/// Verifies bearer tokens and remembers when each was last used.
#[derive(Default)]
pub struct Verifier {
    last_used: Mutex<HashMap<i64, i64>>,
}

impl Verifier {
    pub fn verify(&self, db: &Db, token: &str) -> Option<Principal> {
        if !token.starts_with(PREFIX) || token.len() > 128 {
            return None;
        }
        let h = hash(token);
        let row: Option<(i64, String, String, String)> = db
            .read(|c| {
                c.prepare_cached(
                    "SELECT id, COALESCE(name, ''), COALESCE(key_hash, ''), COALESCE(scopes, '')
                     FROM api_keys WHERE key_hash = ?1",
                )?
                .query_row([&h], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()
            })
            .ok()
            .flatten();
        let (id, name, stored, scopes) = row?;
        if !constant_time_eq(stored.as_bytes(), h.as_bytes()) {
            return None;
        }
        // A Go-era row may list several scopes ("deploy,admin"): take the strongest.
        let scope = scopes.split([',', ' ']).filter_map(Scope::parse).max()?;
        if let Ok(mut m) = self.last_used.lock() {
            m.insert(id, now());
        }
        Some(Principal { id, name, scope })
    }

    /// Writes the remembered `last_used_at` values in one transaction.
    pub fn flush(&self, db: &Db) {
        let pending: Vec<(i64, i64)> = match self.last_used.lock() {
            Ok(mut m) => m.drain().collect(),
            Err(_) => return,
        };
        if pending.is_empty() {
            return;
        }
        let _ = db.write(move |c| -> rusqlite::Result<()> {
            let tx = c.transaction()?;
            for (id, t) in pending {
                tx.execute(
                    "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2",
                    [t, id],
                )?;
            }
            tx.commit()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shape() {
        let t = generate().unwrap();
        assert!(t.starts_with("fazt_"));
        assert_eq!(t.len(), 5 + 48);
        assert_ne!(t, generate().unwrap());
        assert_eq!(hash(&t).len(), 64);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
