//! A site's key-value rows (`kv_store`), the one owner of that table: the SQL behind a
//! script's `db.get`/`db.set`/`db.delete` (called by `scripts::host` with `js`, which adds
//! the quota) and removing a deleted site's rows (every build).

use rusqlite::{Connection, OptionalExtension};

use crate::database::Merge;
use crate::kernel::db::now;

/// The value stored under `key`, if any.
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub fn get(c: &Connection, site: &str, key: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT value FROM kv_store WHERE site_id = ?1 AND key = ?2")?
        .query_row([site, key], |r| r.get::<_, Option<String>>(0))
        .optional()
        .map(Option::flatten)
}

/// Stores `value` under `key`, replacing any previous one.
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub fn put(c: &Connection, site: &str, key: &str, value: &str) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO kv_store (site_id, key, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT(site_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute(rusqlite::params![site, key, value, now()])?;
    Ok(())
}

/// Removes `key`; returns whether it was there.
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub fn delete(c: &Connection, site: &str, key: &str) -> rusqlite::Result<bool> {
    Ok(
        c.prepare_cached("DELETE FROM kv_store WHERE site_id = ?1 AND key = ?2")?
            .execute([site, key])?
            > 0,
    )
}

/// Bytes a site's rows hold (keys and values), summed: the quota's slow path.
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub fn site_bytes(c: &Connection, site: &str) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + COALESCE(length(CAST(value AS BLOB)), 0)), 0)
         FROM kv_store WHERE site_id = ?1",
    )?
    .query_row([site], |r| r.get(0))
}

/// Bytes one row holds, 0 when it does not exist.
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub fn row_bytes(c: &Connection, site: &str, key: &str) -> rusqlite::Result<i64> {
    c.prepare_cached(
        "SELECT length(CAST(key AS BLOB)) + COALESCE(length(CAST(value AS BLOB)), 0)
         FROM kv_store WHERE site_id = ?1 AND key = ?2",
    )?
    .query_row([site, key], |r| r.get(0))
    .optional()
    .map(Option::unwrap_or_default)
}

/// Removes every row of `site` (inside the caller's transaction).
pub fn clear_site(c: &Connection, site: &str) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM kv_store WHERE site_id = ?1", [site])
}

/// Adds an imported row unless `key` is set already (see [`Merge`]).
pub fn import(
    c: &Connection,
    site: &str,
    key: &str,
    value: &str,
    created: i64,
    updated: i64,
) -> rusqlite::Result<Merge> {
    let m = Merge::of(get(c, site, key)?, &value.to_string());
    if m == Merge::Added {
        c.prepare_cached(
            "INSERT INTO kv_store (site_id, key, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(rusqlite::params![site, key, value, created, updated])?;
    }
    Ok(m)
}
