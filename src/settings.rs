//! The `configurations` table (`key`, `value`, `updated_at`), and its one owner: every other
//! module reads and writes stored settings through these functions. It holds the server
//! options stored with `fazt config set` (the `config` module, above it) and a few values fazt keeps
//! for itself between runs (the analytics visitor salt and rollup watermark).
//!
//! [`get`], [`set`], [`unset`] and [`list`] go through the database; [`read`] and [`write()`]
//! take a connection, for callers that must read or write a setting inside their own
//! transaction (a rollup and its watermark commit together).

use rusqlite::{Connection, OptionalExtension};

use crate::kernel::db::{now, Db, DbError};

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    /// Unix seconds of the last `set`.
    pub updated_at: i64,
}

/// The value stored under `key` on connection `c` (a NULL value counts as none).
pub fn read(c: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    let v: Option<Option<String>> = c
        .query_row(
            "SELECT value FROM configurations WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.flatten())
}

/// Stores `value` under `key` on connection `c` (inside the caller's transaction, if any).
pub fn write(c: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO configurations (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        rusqlite::params![key, value, now()],
    )
    .map(|_| ())
}

/// The value stored under `key`, on a reader connection.
pub fn get(db: &Db, key: &str) -> Result<Option<String>, DbError> {
    db.read(|c| read(c, key)).map_err(DbError::Sqlite)
}

/// Stores `value` under `key` (replacing any earlier value).
pub fn set(db: &Db, key: &str, value: &str) -> Result<(), DbError> {
    let (k, v) = (key.to_string(), value.to_string());
    db.write(move |c| write(c, &k, &v))
}

/// Removes `key`; returns whether it was stored.
pub fn unset(db: &Db, key: &str) -> Result<bool, DbError> {
    let k = key.to_string();
    db.write(move |c| c.execute("DELETE FROM configurations WHERE key = ?1", [k]))
        .map(|n| n > 0)
}

/// Every stored setting with a value, by key.
pub fn list(db: &Db) -> Result<Vec<Setting>, DbError> {
    db.read(|c| {
        let mut st = c.prepare(
            "SELECT key, value, updated_at FROM configurations
             WHERE key IS NOT NULL AND value IS NOT NULL ORDER BY key",
        )?;
        let rows = st.query_map([], |r| {
            Ok(Setting {
                key: r.get(0)?,
                value: r.get(1)?,
                updated_at: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
            })
        })?;
        rows.collect()
    })
    .map_err(DbError::Sqlite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (std::path::PathBuf, Db) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fazt-settings-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = crate::database::open(&dir.join("fazt.db")).unwrap();
        (dir, db)
    }

    #[test]
    fn set_get_list_unset() {
        let (dir, db) = db();
        assert_eq!(get(&db, "domain").unwrap(), None);
        set(&db, "domain", "a.example").unwrap();
        set(&db, "domain", "b.example").unwrap();
        set(&db, "cache_mb", "8").unwrap();
        assert_eq!(get(&db, "domain").unwrap().as_deref(), Some("b.example"));
        let all = list(&db).unwrap();
        let keys: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["cache_mb", "domain"]);
        assert!(all.iter().all(|s| s.updated_at > 0));
        assert!(unset(&db, "domain").unwrap());
        assert!(!unset(&db, "domain").unwrap());
        assert_eq!(get(&db, "domain").unwrap(), None);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn write_joins_the_callers_transaction() {
        let (dir, db) = db();
        let r = db.write(|c| -> rusqlite::Result<()> {
            let tx = c.transaction()?;
            write(&tx, "k", "v")?;
            assert_eq!(read(&tx, "k")?.as_deref(), Some("v"));
            // Dropped without commit: rolled back with the transaction.
            Ok(())
        });
        r.unwrap();
        assert_eq!(get(&db, "k").unwrap(), None);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
