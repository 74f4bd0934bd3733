//! The record of deployments (`deployments`), the one owner of that table: [`super::deploy`]
//! appends a row in the deploy's own transaction; the API reads the history here. Each row's
//! files, when still kept, are its manifest in the kernel's versioned VFS under the row's id.

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
    /// What the deployer said of it (`fazt deploy -m`); empty when nothing.
    pub message: String,
}

const COLS: &str = "id, COALESCE(site_id, ''), COALESCE(file_count, 0), COALESCE(size_bytes, 0),
    COALESCE(deployed_by, ''), COALESCE(created_at, 0), COALESCE(message, '')";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: r.get(0)?,
        site: r.get(1)?,
        file_count: r.get(2)?,
        size_bytes: r.get(3)?,
        deployed_by: r.get(4)?,
        created_at: r.get(5)?,
        message: r.get(6)?,
    })
}

/// Records a deployment (inside the deploy's transaction); returns its id.
pub fn record(
    tx: &Connection,
    site: &str,
    size_bytes: u64,
    file_count: u64,
    actor: &str,
    from: &str,
    message: &str,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO deployments (site_id, size_bytes, file_count, deployed_by, created_at, deployed_from, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULLIF(?7, ''))",
        rusqlite::params![site, size_bytes as i64, file_count as i64, actor, now(), from, message],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The newest `limit` deployments of every site, newest first.
pub fn recent(db: &Db, limit: i64) -> rusqlite::Result<Vec<Deployment>> {
    db.read(|c| {
        let mut st = c.prepare(&format!(
            "SELECT {COLS} FROM deployments ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = st.query_map([limit], row)?;
        rows.collect()
    })
}

/// `site`'s newest `limit` deployments, newest first (on the caller's connection).
pub fn of_site(c: &Connection, site: &str, limit: i64) -> rusqlite::Result<Vec<Deployment>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM deployments WHERE site_id = ?1 ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = st.query_map(rusqlite::params![site, limit], row)?;
    rows.collect()
}

/// The site deployment `id` was of, if there is such a deployment.
pub fn site_of(c: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT COALESCE(site_id, '') FROM deployments WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()
}

/// The ids of `site`'s deployments, newest first.
pub fn ids_of(c: &Connection, site: &str) -> rusqlite::Result<Vec<i64>> {
    let mut st =
        c.prepare_cached("SELECT id FROM deployments WHERE site_id = ?1 ORDER BY id DESC")?;
    let rows = st.query_map([site], |r| r.get(0))?;
    rows.collect()
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
