//! The record of deployments (`deployments`), the one owner of that table: [`super::deploy`]
//! appends a row in the deploy's own transaction; the API reads the history here.

use rusqlite::{Connection, OptionalExtension};

use crate::kernel::db::{now, Db};

/// One deployment as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Row id (increasing).
    pub id: i64,
    /// The site deployed.
    pub site: String,
    /// Files in the deployed site.
    pub file_count: i64,
    /// Bytes of those files.
    pub size_bytes: i64,
    /// The token name that deployed it.
    pub deployed_by: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Records a deployment (inside the deploy's transaction); returns its id.
pub fn record(
    tx: &Connection,
    site: &str,
    size_bytes: u64,
    file_count: u64,
    actor: &str,
    from: &str,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO deployments (site_id, size_bytes, file_count, deployed_by, created_at, deployed_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![site, size_bytes as i64, file_count as i64, actor, now(), from],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The newest `limit` deployments of every site, newest first.
pub fn recent(db: &Db, limit: i64) -> rusqlite::Result<Vec<Deployment>> {
    db.read(|c| {
        let mut st = c.prepare(
            "SELECT id, COALESCE(site_id, ''), COALESCE(file_count, 0), COALESCE(size_bytes, 0),
                    COALESCE(deployed_by, ''), COALESCE(created_at, 0)
             FROM deployments ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit], |r| {
            Ok(Deployment {
                id: r.get(0)?,
                site: r.get(1)?,
                file_count: r.get(2)?,
                size_bytes: r.get(3)?,
                deployed_by: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        rows.collect()
    })
}

/// The id and time of `site`'s latest deployment, if it has one.
pub fn last(db: &Db, site: &str) -> rusqlite::Result<Option<(i64, i64)>> {
    db.read(|c| {
        c.query_row(
            "SELECT id, COALESCE(created_at, 0) FROM deployments WHERE site_id = ?1 ORDER BY id DESC LIMIT 1",
            [site],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })
}

/// Adds an imported deployment with its original time (inside the import's transaction).
pub fn import(
    c: &Connection,
    site: &str,
    size_bytes: i64,
    file_count: i64,
    actor: &str,
    created: i64,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO deployments (site_id, size_bytes, file_count, deployed_by, created_at, deployed_from)
         VALUES (?1, ?2, ?3, ?4, ?5, 'import-go')",
    )?
    .execute(rusqlite::params![site, size_bytes, file_count, actor, created])?;
    Ok(())
}
