//! A site's log lines (`site_logs`: its scripts' `console.log`), the one owner of that table:
//! scripts append, the API and `fazt logs` read, housekeeping trims.

use rusqlite::Connection;

use crate::kernel::db::{now, Db};

/// One stored line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Row id, increasing: `fazt logs -f` asks for lines after the last it printed.
    pub id: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// `log`, `info`, `warn`, `error`, …
    pub level: String,
    /// The text logged.
    pub message: String,
}

impl Line {
    /// As the API answers it: `{"id", "level", "message", "created_at"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"id": self.id, "level": self.level, "message": self.message,
                           "created_at": self.created_at})
    }
}

/// The newest `limit` lines of `site` with an id above `after`, oldest first.
pub fn recent(db: &Db, site: &str, after: i64, limit: i64) -> rusqlite::Result<Vec<Line>> {
    let mut rows = db.read(|c| {
        let mut st = c.prepare(
            "SELECT id, COALESCE(created_at, 0), COALESCE(level, ''), COALESCE(message, '') FROM site_logs
             WHERE site_id = ?1 AND id > ?2 ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = st.query_map(rusqlite::params![site, after, limit], |r| {
            Ok(Line {
                id: r.get(0)?,
                created_at: r.get(1)?,
                level: r.get(2)?,
                message: r.get(3)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<Line>>>()
    })?;
    rows.reverse();
    Ok(rows)
}

/// Appends a line; a failure is logged, never the script's problem.
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub fn append(db: &Db, site: &str, level: &str, message: &str) {
    let (s, l, m) = (site.to_string(), level.to_string(), message.to_string());
    let r = db.write(move |c| {
        c.execute(
            "INSERT INTO site_logs (site_id, level, message, created_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![s, l, m, now()],
        )
    });
    if r.is_err() {
        log::warn!("could not store a log line of site {site}");
    }
}

/// Keeps each site's newest `keep` lines (the table grows with every `console.log`).
pub fn trim(db: &Db, keep: i64) {
    let _ = db.write(move |c| {
        c.execute(
            "DELETE FROM site_logs WHERE id IN (
                SELECT id FROM (
                    SELECT id, ROW_NUMBER() OVER (PARTITION BY site_id ORDER BY id DESC) AS n FROM site_logs
                ) WHERE n > ?1 LIMIT 10000)",
            [keep],
        )
    });
}

/// Removes every line of `site` (inside the caller's transaction).
pub fn clear_site(conn: &Connection, site: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM site_logs WHERE site_id = ?1", [site])
}

/// Adds an imported line with its original time (inside the import's transaction).
pub fn import(
    c: &Connection,
    site: &str,
    level: &str,
    message: &str,
    created: i64,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO site_logs (site_id, level, message, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(rusqlite::params![site, level, message, created])?;
    Ok(())
}
