//! The `imports` table: per Go database and kind of append-only row (events, log lines,
//! deployments), the highest Go row id already imported, so a second run adds only rows Go
//! wrote since.

use rusqlite::{params, Connection, OptionalExtension};

use crate::kernel::db::now;

/// The last Go id of `kind` imported from `source` (0 when none).
pub fn last_id(c: &Connection, source: &str, kind: &str) -> rusqlite::Result<i64> {
    Ok(c.query_row(
        "SELECT last_id FROM imports WHERE source = ?1 AND kind = ?2",
        [source, kind],
        |r| r.get(0),
    )
    .optional()?
    .unwrap_or(0))
}

/// How many rows of `kind` earlier runs imported from `source`.
pub fn rows(c: &Connection, source: &str, kind: &str) -> rusqlite::Result<u64> {
    let n: Option<i64> = c
        .query_row(
            "SELECT rows FROM imports WHERE source = ?1 AND kind = ?2",
            [source, kind],
            |r| r.get(0),
        )
        .optional()?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// Records that rows of `kind` up to Go id `last` were imported, `added` more of them.
pub fn advance(
    c: &Connection,
    source: &str,
    kind: &str,
    last: i64,
    added: u64,
) -> rusqlite::Result<()> {
    if added == 0 && last <= last_id(c, source, kind)? {
        // Nothing new: a re-run writes nothing at all.
        return Ok(());
    }
    c.execute(
        "INSERT INTO imports (source, kind, last_id, rows, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(source, kind) DO UPDATE SET last_id = MAX(last_id, excluded.last_id),
            rows = rows + excluded.rows, updated_at = excluded.updated_at",
        params![source, kind, last, added as i64, now()],
    )?;
    Ok(())
}
