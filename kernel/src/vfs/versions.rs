//! Versions of a site's files, kept by content: each version is a manifest (path, sha256,
//! size) under an id the product chooses, and switching a site to a version rewrites its live
//! rows in the caller's transaction, so readers see the old files or the new, never a mix.
//!
//! The live rows of the [`FileTable`] stay the one copy of what is served (a binary that
//! knows nothing of versions keeps serving them). A content is stored at most once outside
//! them: the blob table holds exactly the contents that some manifest names and no live row
//! holds. A switch keeps that true as it goes — a live row about to be overwritten or
//! deleted gives its content to the blob table first when a manifest names it and no other
//! row holds it — and [`collect`] drops what nothing names any more. Content that is
//! already stored (live anywhere, or a blob) is never sent or written twice.
//!
//! Tables (names are the product's; more columns are allowed):
//! ```sql
//! CREATE TABLE manifests (deployment_id INTEGER, path TEXT, hash TEXT, size_bytes INTEGER,
//!     PRIMARY KEY (deployment_id, path));
//! CREATE INDEX ... ON manifests (hash);
//! CREATE TABLE blobs (hash TEXT PRIMARY KEY, content BLOB, size_bytes INTEGER,
//!     gzip BLOB, gzip_size INTEGER, created_at INTEGER);
//! CREATE INDEX ... ON files (hash);
//! ```

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};

use super::{mime, now, put, FileTable, PreparedFile};

/// The three tables a versioned VFS keeps.
#[derive(Clone, Copy, Debug)]
pub struct VersionTables {
    /// The live rows ([`super::Vfs`]'s table).
    pub files: FileTable,
    /// Contents no live row holds, by sha256.
    pub blobs: FileTable,
    /// Each version's (path, sha256, size).
    pub manifests: FileTable,
}

/// One file of a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the site.
    pub path: String,
    /// sha256 of the content, lowercase hex.
    pub hash: String,
    /// Bytes of content.
    pub size: u64,
}

/// Which of `hashes` are stored nowhere (neither live nor as a blob), in their order, once.
pub fn missing<'a>(
    conn: &Connection,
    t: VersionTables,
    hashes: impl IntoIterator<Item = &'a str>,
) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE hash = ?1) OR EXISTS (SELECT 1 FROM {} WHERE hash = ?1)",
        t.files.name(),
        t.blobs.name()
    ))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for h in hashes {
        if seen.insert(h) && !st.query_row([h], |r| r.get::<_, bool>(0))? {
            out.push(h.to_string());
        }
    }
    Ok(out)
}

/// Records `entries` as version `id`'s manifest (inside the caller's transaction).
pub fn record(
    conn: &Connection,
    t: VersionTables,
    id: i64,
    entries: &[Entry],
) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {} (deployment_id, path, hash, size_bytes) VALUES (?1, ?2, ?3, ?4)",
        t.manifests.name()
    ))?;
    for e in entries {
        st.execute(params![id, e.path, e.hash, e.size as i64])?;
    }
    Ok(())
}

/// Records `site`'s live rows as version `id`'s manifest: adopts files written by a binary
/// that kept no versions, so they can be switched back to. Rows without a hash are left out.
pub fn adopt_live(
    conn: &Connection,
    t: VersionTables,
    site: &str,
    id: i64,
) -> rusqlite::Result<usize> {
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO {} (deployment_id, path, hash, size_bytes)
             SELECT ?2, path, hash, size_bytes FROM {} WHERE site_id = ?1 AND COALESCE(hash, '') <> ''",
            t.manifests.name(),
            t.files.name()
        ),
        params![site, id],
    )
}

/// Version `id`'s manifest, by path; empty when it has none.
pub fn entries(conn: &Connection, t: VersionTables, id: i64) -> rusqlite::Result<Vec<Entry>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT path, hash, size_bytes FROM {} WHERE deployment_id = ?1 ORDER BY path",
        t.manifests.name()
    ))?;
    let rows = st.query_map([id], |r| {
        Ok(Entry {
            path: r.get(0)?,
            hash: r.get(1)?,
            size: r.get::<_, i64>(2)?.max(0) as u64,
        })
    })?;
    rows.collect()
}

/// Which of `ids` have a manifest.
pub fn with_manifest(
    conn: &Connection,
    t: VersionTables,
    ids: &[i64],
) -> rusqlite::Result<HashSet<i64>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT 1 FROM {} WHERE deployment_id = ?1 LIMIT 1",
        t.manifests.name()
    ))?;
    let mut out = HashSet::new();
    for &id in ids {
        if st.exists([id])? {
            out.insert(id);
        }
    }
    Ok(out)
}

/// Deletes the manifests of `ids` (their contents go at the next [`collect`]).
pub fn forget(conn: &Connection, t: VersionTables, ids: &[i64]) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(&format!(
        "DELETE FROM {} WHERE deployment_id = ?1",
        t.manifests.name()
    ))?;
    for &id in ids {
        st.execute([id])?;
    }
    Ok(())
}

/// Drops blobs that a live row holds again or that no manifest names; returns how many.
pub fn collect(conn: &Connection, t: VersionTables) -> rusqlite::Result<usize> {
    conn.execute(
        &format!(
            "DELETE FROM {b} WHERE hash IN (SELECT hash FROM {f})
                OR NOT EXISTS (SELECT 1 FROM {m} WHERE {m}.hash = {b}.hash)",
            b = t.blobs.name(),
            f = t.files.name(),
            m = t.manifests.name()
        ),
        [],
    )
}

/// A content a switch needed that is stored nowhere.
#[derive(Debug)]
pub enum SwitchError {
    /// The path whose content (this sha256) is not stored.
    Missing(String, String),
    /// The database failed.
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for SwitchError {
    fn from(e: rusqlite::Error) -> Self {
        SwitchError::Db(e)
    }
}

impl std::fmt::Display for SwitchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwitchError::Missing(path, hash) => {
                write!(f, "the content of {path} (sha256 {hash}) is not stored")
            }
            SwitchError::Db(e) => e.fmt(f),
        }
    }
}

/// Rewrites one site's live rows into a new version, inside the caller's transaction:
/// [`keep`](Switch::keep) what is unchanged, [`put`](Switch::put) uploaded content,
/// [`put_stored`](Switch::put_stored) content already stored, then [`finish`](Switch::finish)
/// deletes every other live row. Dropping the transaction instead undoes it all.
pub struct Switch<'c> {
    conn: &'c Connection,
    t: VersionTables,
    site: String,
    /// The live rows before the switch: path → sha256.
    old: HashMap<String, String>,
    entries: Vec<Entry>,
    done: HashSet<String>,
}

impl<'c> Switch<'c> {
    /// Starts switching `site` (reads its live rows' hashes).
    pub fn begin(conn: &'c Connection, t: VersionTables, site: &str) -> rusqlite::Result<Self> {
        let old = super::hashes(conn, t.files, site)?.into_iter().collect();
        Ok(Switch {
            conn,
            t,
            site: site.to_string(),
            old,
            entries: Vec::new(),
            done: HashSet::new(),
        })
    }

    /// How many live rows the site had when the switch began.
    pub fn live_files(&self) -> usize {
        self.old.len()
    }

    /// The site being switched.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// When the live row at `path` already holds `hash`, keeps it and returns true: nothing
    /// is written (nor compressed) for an unchanged file.
    pub fn keep(&mut self, path: &str, hash: &str, size: u64) -> bool {
        if self.old.get(path).map(String::as_str) != Some(hash) || !self.done.insert(path.into()) {
            return false;
        }
        self.entries.push(Entry {
            path: path.into(),
            hash: hash.into(),
            size,
        });
        true
    }

    /// Writes uploaded content at its path.
    pub fn put(&mut self, f: &PreparedFile<'_>) -> rusqlite::Result<()> {
        self.retire(&f.path)?;
        put(self.conn, self.t.files, &self.site, f)?;
        self.wrote(&f.path, &f.hash, f.content.len() as u64);
        Ok(())
    }

    /// Writes `e` from content already stored (a live row anywhere, else a blob).
    pub fn put_stored(&mut self, e: &Entry) -> Result<(), SwitchError> {
        if self.keep(&e.path, &e.hash, e.size) {
            return Ok(());
        }
        self.retire(&e.path)?;
        let (f, b) = (self.t.files.name(), self.t.blobs.name());
        let cols = "site_id, path, content, size_bytes, mime_type, hash, created_at, updated_at, gzip, gzip_size";
        let upsert = "ON CONFLICT(site_id, path) DO UPDATE SET content = excluded.content,
            size_bytes = excluded.size_bytes, mime_type = excluded.mime_type, hash = excluded.hash,
            updated_at = excluded.updated_at, gzip = excluded.gzip, gzip_size = excluded.gzip_size";
        let args = params![self.site, e.path, mime::for_path(&e.path), now(), e.hash];
        // `WHERE true` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
        let from_live = format!(
            "INSERT INTO {f} ({cols}) SELECT ?1, ?2, content, size_bytes, ?3, hash, ?4, ?4, gzip, gzip_size
             FROM {f} WHERE hash = ?5 AND NOT (site_id = ?1 AND path = ?2) LIMIT 1 {upsert}"
        );
        let mut n = self.conn.prepare_cached(&from_live)?.execute(args)?;
        if n == 0 {
            let from_blob = format!(
                "INSERT INTO {f} ({cols}) SELECT ?1, ?2, content, size_bytes, ?3, hash, ?4, ?4, gzip, gzip_size
                 FROM {b} WHERE hash = ?5 AND true {upsert}"
            );
            n = self.conn.prepare_cached(&from_blob)?.execute(args)?;
        }
        if n == 0 {
            return Err(SwitchError::Missing(e.path.clone(), e.hash.clone()));
        }
        self.wrote(&e.path, &e.hash, e.size);
        Ok(())
    }

    /// Deletes the live rows the new version does not have; returns its entries, by path.
    pub fn finish(mut self) -> rusqlite::Result<Vec<Entry>> {
        let gone: Vec<String> = self
            .old
            .keys()
            .filter(|p| !self.done.contains(*p))
            .cloned()
            .collect();
        let mut del = self.conn.prepare_cached(&format!(
            "DELETE FROM {} WHERE site_id = ?1 AND path = ?2",
            self.t.files.name()
        ))?;
        for path in gone {
            self.retire(&path)?;
            del.execute(params![self.site, path])?;
        }
        self.entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(std::mem::take(&mut self.entries))
    }

    fn wrote(&mut self, path: &str, hash: &str, size: u64) {
        self.done.insert(path.to_string());
        self.old.remove(path);
        self.entries.push(Entry {
            path: path.into(),
            hash: hash.into(),
            size,
        });
    }

    /// Before the live row at `path` is replaced or deleted: its content goes to the blob
    /// table when a manifest names it and nothing else holds it.
    fn retire(&self, path: &str) -> rusqlite::Result<()> {
        if !self.old.contains_key(path) {
            return Ok(());
        }
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO {b} (hash, content, size_bytes, gzip, gzip_size, created_at)
                 SELECT x.hash, x.content, x.size_bytes, x.gzip, x.gzip_size, ?3 FROM {f} x
                 WHERE x.site_id = ?1 AND x.path = ?2 AND COALESCE(x.hash, '') <> ''
                   AND EXISTS (SELECT 1 FROM {m} WHERE {m}.hash = x.hash)
                   AND NOT EXISTS (SELECT 1 FROM {b} WHERE {b}.hash = x.hash)
                   AND NOT EXISTS (SELECT 1 FROM {f} o WHERE o.hash = x.hash
                                   AND NOT (o.site_id = ?1 AND o.path = ?2))",
                b = self.t.blobs.name(),
                f = self.t.files.name(),
                m = self.t.manifests.name()
            ))?
            .execute(params![self.site, path, now()])?;
        Ok(())
    }
}

/// Whether the blob table holds `hash` (for tests and diagnostics).
pub fn has_blob(conn: &Connection, t: VersionTables, hash: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        &format!("SELECT 1 FROM {} WHERE hash = ?1", t.blobs.name()),
        [hash],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
}
