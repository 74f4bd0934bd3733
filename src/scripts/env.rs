//! A site's environment variables (`env_vars`), the one owner of that table: the API sets,
//! lists and deletes them (never showing values), scripts and `fazt run` read the values.

use rusqlite::{Connection, OptionalExtension};

use crate::database::Merge;
use crate::kernel::db::{now, Db, DbError};

/// Names and last-change times of a site's variables, by name (never the values).
pub fn names(db: &Db, site: &str) -> rusqlite::Result<Vec<(String, i64)>> {
    db.read(|c| {
        let mut st = c.prepare(
            "SELECT name, COALESCE(updated_at, 0) FROM env_vars WHERE site_id = ?1 ORDER BY name",
        )?;
        let rows = st.query_map([site], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    })
}

/// When `name` was last set for `site`, if it is set.
pub fn updated_at(db: &Db, site: &str, name: &str) -> rusqlite::Result<Option<i64>> {
    db.read(|c| {
        c.query_row(
            "SELECT COALESCE(updated_at, 0) FROM env_vars WHERE site_id = ?1 AND name = ?2",
            [site, name],
            |r| r.get(0),
        )
        .optional()
    })
}

/// A site's variables with their values, by name: what its scripts see as `process.env`.
pub fn values(db: &Db, site: &str) -> rusqlite::Result<Vec<(String, String)>> {
    db.read(|c| {
        let mut st = c.prepare_cached(
            "SELECT name, COALESCE(value, '') FROM env_vars WHERE site_id = ?1 ORDER BY name",
        )?;
        let rows = st.query_map([site], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    })
}

/// Sets (or replaces) one variable.
pub fn set(db: &Db, site: &str, name: &str, value: String) -> Result<(), DbError> {
    let (s, n) = (site.to_string(), name.to_string());
    db.write(move |c| {
        c.execute(
            "INSERT INTO env_vars (site_id, name, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT(site_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            rusqlite::params![s, n, value, now()],
        )
    })
    .map(|_| ())
}

/// Removes one variable; returns whether it was set.
pub fn delete(db: &Db, site: &str, name: &str) -> Result<bool, DbError> {
    let (s, n) = (site.to_string(), name.to_string());
    db.write(move |c| {
        c.execute(
            "DELETE FROM env_vars WHERE site_id = ?1 AND name = ?2",
            [s, n],
        )
    })
    .map(|n| n > 0)
}

/// Removes every variable of `site` (inside the caller's transaction).
pub fn clear_site(conn: &Connection, site: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM env_vars WHERE site_id = ?1", [site])
}

/// Adds an imported variable unless `name` is set already (see [`Merge`]).
pub fn import(
    c: &Connection,
    site: &str,
    name: &str,
    value: &str,
    created: i64,
) -> rusqlite::Result<Merge> {
    let existing: Option<String> = c
        .query_row(
            "SELECT COALESCE(value, '') FROM env_vars WHERE site_id = ?1 AND name = ?2",
            [site, name],
            |r| r.get(0),
        )
        .optional()?;
    let m = Merge::of(existing, &value.to_string());
    if m == Merge::Added {
        c.execute(
            "INSERT INTO env_vars (site_id, name, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            rusqlite::params![site, name, value, created],
        )?;
    }
    Ok(m)
}
