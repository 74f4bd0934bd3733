//! The VFS: every file of every site is a row of one table (its name is the caller's, see
//! [`FileTable`]), keyed by (site, path), with its sha256, MIME type and a gzip variant
//! computed once on write. Reads of small hot files come from a bounded in-memory cache that
//! every write to a site invalidates; large files are streamed in chunks with SQLite
//! incremental BLOB I/O and never sit whole in memory. The VFS is the one owner of its
//! table: other code asks it (usage per site, existence) instead of querying the table.
//!
//! The table needs these columns (more are allowed):
//! ```sql
//! CREATE TABLE IF NOT EXISTS site_files (
//!     id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT, path TEXT, content BLOB,
//!     size_bytes INTEGER, mime_type TEXT, hash TEXT, created_at INTEGER, updated_at INTEGER,
//!     gzip BLOB, gzip_size INTEGER, UNIQUE(site_id, path)
//! );
//! ```
//!
//! [`versions`] keeps earlier versions of a site by content, beside these live rows.

pub mod versions;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::compress;
use super::db::{migrate::hex, now, Db, DbError};
use super::http::response::{BodySink, Producer};
use super::mime;

/// Files up to this size are read whole (and cached); larger ones are streamed.
pub const INLINE_MAX: u64 = 256 * 1024;
/// Bytes read from SQLite per write to the client while streaming.
const STREAM_CHUNK: usize = 64 * 1024;
/// Longest a download keeps one read transaction open (see [`Vfs::stream`]).
const HOLD_READ: Duration = Duration::from_secs(1);
/// Bytes copied out per read transaction for a transport that cannot write without
/// waiting (see [`Vfs::stream`]).
const COPY_WINDOW: usize = 1024 * 1024;

/// The name of the table the VFS keeps its rows in: a constant of the product (a plain SQL
/// identifier, never user input), with the columns listed in the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileTable(&'static str);

impl FileTable {
    /// The table called `name`.
    ///
    /// # Panics
    /// When `name` is not a plain identifier (ASCII letters, digits, `_`): it is spliced
    /// into SQL, so this is checked once, where the product names its table.
    pub const fn named(name: &'static str) -> FileTable {
        let b = name.as_bytes();
        assert!(!b.is_empty(), "empty table name");
        let mut i = 0;
        while i < b.len() {
            assert!(
                b[i].is_ascii_alphanumeric() || b[i] == b'_',
                "a table name is a plain identifier"
            );
            i += 1;
        }
        FileTable(name)
    }

    /// The table's name.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

/// What the VFS knows of a stored file without reading its content.
#[derive(Clone, Debug)]
pub struct FileMeta {
    /// The file's path inside its site (no leading `/`).
    pub path: String,
    /// Bytes of content.
    pub size: u64,
    /// MIME type chosen from the path on write.
    pub mime: String,
    /// sha256 of the content, hex.
    pub hash: String,
    /// Unix seconds of the last write.
    pub updated_at: i64,
    /// Bytes of the stored gzip variant, when one was worth keeping.
    pub gzip_size: Option<u64>,
}

/// Files and bytes stored for one site.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Number of files.
    pub files: u64,
    /// Bytes of content.
    pub bytes: u64,
}

/// A small file held in memory: content and its gzip variant.
pub struct CachedFile {
    /// Its metadata.
    pub meta: FileMeta,
    /// The whole content.
    pub content: Arc<[u8]>,
    /// The stored gzip variant, if any.
    pub gzip: Option<Arc<[u8]>>,
}

/// The result of looking a path up.
pub enum Lookup {
    /// Small enough to hold: here it is, whole.
    Inline(Arc<CachedFile>),
    /// Too large to hold: stream it with [`Vfs::stream`].
    Large(FileMeta),
}

impl Lookup {
    /// The file's metadata, either way.
    pub fn meta(&self) -> &FileMeta {
        match self {
            Lookup::Inline(c) => &c.meta,
            Lookup::Large(m) => m,
        }
    }
}

struct HotCache {
    map: HashMap<String, Arc<CachedFile>>,
    bytes: usize,
    budget: usize,
    /// Bumped by every invalidation: a file read from the database before a write to its
    /// site and cached after that write's invalidation would be stale until the next one.
    generation: u64,
}

fn key(site: &str, path: &str) -> String {
    let mut k = String::with_capacity(site.len() + path.len() + 1);
    k.push_str(site);
    k.push('\0');
    k.push_str(path);
    k
}

impl HotCache {
    fn insert(&mut self, k: String, f: Arc<CachedFile>) {
        let cost = f.content.len() + f.gzip.as_ref().map_or(0, |g| g.len()) + k.len() + 128;
        if cost > self.budget / 4 {
            return;
        }
        // Evict until it fits. HashMap order is arbitrary, which is random eviction: good
        // enough to keep memory flat, and free of per-hit bookkeeping.
        while self.bytes + cost > self.budget {
            let Some(victim) = self.map.keys().next().cloned() else {
                break;
            };
            if let Some(old) = self.map.remove(&victim) {
                self.bytes = self.bytes.saturating_sub(
                    old.content.len()
                        + old.gzip.as_ref().map_or(0, |g| g.len())
                        + victim.len()
                        + 128,
                );
            }
        }
        if let Some(old) = self.map.insert(k.clone(), f) {
            self.bytes = self.bytes.saturating_sub(
                old.content.len() + old.gzip.as_ref().map_or(0, |g| g.len()) + k.len() + 128,
            );
        }
        self.bytes += cost;
    }

    /// Caches `f` unless an invalidation happened since `generation` was read (before `f`
    /// was read from the database).
    fn fill(&mut self, k: String, f: Arc<CachedFile>, generation: u64) {
        if generation == self.generation {
            self.insert(k, f);
        }
    }

    fn invalidate_site(&mut self, site: &str) {
        self.generation += 1;
        let prefix = key(site, "");
        let mut freed = 0;
        self.map.retain(|k, f| {
            let keep = !k.starts_with(&prefix);
            if !keep {
                freed += f.content.len() + f.gzip.as_ref().map_or(0, |g| g.len()) + k.len() + 128;
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
    }
}

/// The files of every site, over one [`Db`], with the hot cache.
pub struct Vfs {
    db: Arc<Db>,
    table: FileTable,
    sql: Queries,
    cache: Mutex<HotCache>,
}

/// The read queries, spelled once for the table (the request path does not format SQL).
struct Queries {
    meta: String,
    content: String,
    list: String,
    rowid: String,
}

impl Queries {
    fn new(t: &str) -> Self {
        Queries {
            meta: format!("SELECT {META_COLS} FROM {t} WHERE site_id = ?1 AND path = ?2"),
            content: format!("SELECT content, gzip FROM {t} WHERE site_id = ?1 AND path = ?2"),
            list: format!("SELECT {META_COLS} FROM {t} WHERE site_id = ?1 ORDER BY path"),
            rowid: format!("SELECT rowid FROM {t} WHERE site_id = ?1 AND path = ?2 AND hash = ?3"),
        }
    }
}

/// A file prepared for storage: hash and gzip computed (CPU work, done on the writer thread).
/// The content may be borrowed — a stored (uncompressed) ZIP entry is a slice of the upload —
/// so a deploy does not hold a second copy of every file.
pub struct PreparedFile<'a> {
    /// Path inside the site.
    pub path: String,
    /// The content, owned or borrowed.
    pub content: Cow<'a, [u8]>,
    /// MIME type from the path.
    pub mime: &'static str,
    /// sha256 of the content, hex.
    pub hash: String,
    /// The gzip variant, when smaller enough to be worth storing.
    pub gzip: Option<Vec<u8>>,
}

impl<'a> PreparedFile<'a> {
    /// Hashes and compresses `content` for storage at `path`.
    pub fn new(path: &str, content: impl Into<Cow<'a, [u8]>>) -> Self {
        let content = content.into();
        let hash = content_hash(&content);
        Self::hashed(path, content, hash)
    }

    /// [`PreparedFile::new`] for content whose [`content_hash`] the caller already has
    /// (a deploy hashes each file first to see whether it changed).
    pub fn hashed(path: &str, content: Cow<'a, [u8]>, hash: String) -> Self {
        let mime = mime::for_path(path);
        let gzip = compress::gzip_if_smaller(&content, mime);
        PreparedFile {
            path: path.to_string(),
            content,
            mime,
            hash,
            gzip,
        }
    }
}

/// The sha256 of `content`, lowercase hex: how the VFS names a content.
pub fn content_hash(content: &[u8]) -> String {
    hex(&Sha256::digest(content))
}

/// Inserts or replaces one file row (inside whatever transaction `conn` is in).
pub fn put(
    conn: &Connection,
    table: FileTable,
    site: &str,
    f: &PreparedFile,
) -> rusqlite::Result<()> {
    let t = now();
    conn.prepare_cached(&format!(
        "INSERT INTO {} (site_id, path, content, size_bytes, mime_type, hash, created_at, updated_at, gzip, gzip_size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)
         ON CONFLICT(site_id, path) DO UPDATE SET content = excluded.content,
            size_bytes = excluded.size_bytes, mime_type = excluded.mime_type, hash = excluded.hash,
            updated_at = excluded.updated_at, gzip = excluded.gzip, gzip_size = excluded.gzip_size",
        table.0
    ))?
    .execute(params![
        site,
        f.path,
        f.content.as_ref(),
        f.content.len() as i64,
        f.mime,
        f.hash,
        t,
        f.gzip,
        f.gzip.as_ref().map(|g| g.len() as i64),
    ])?;
    Ok(())
}

/// Deletes every file of `site` (inside the caller's transaction); returns how many.
pub fn clear_site(conn: &Connection, table: FileTable, site: &str) -> rusqlite::Result<usize> {
    conn.execute(
        &format!("DELETE FROM {} WHERE site_id = ?1", table.0),
        [site],
    )
}

/// Whether `site` has a file at `path` (on the caller's connection: one read that asks
/// several things).
pub fn file_exists(
    conn: &Connection,
    table: FileTable,
    site: &str,
    path: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(&format!(
        "SELECT 1 FROM {} WHERE site_id = ?1 AND path = ?2",
        table.0
    ))?
    .exists([site, path])
}

/// (path, sha256) of every file of `site`, by path (on the caller's connection).
pub fn hashes(
    conn: &Connection,
    table: FileTable,
    site: &str,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut st = conn.prepare(&format!(
        "SELECT path, COALESCE(hash, '') FROM {} WHERE site_id = ?1 ORDER BY path",
        table.0
    ))?;
    let rows = st.query_map([site], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The content of `site`'s file at `path` when it exists and is at most `max` bytes (on the
/// caller's connection): for small files the caller parses, such as a site's own rules.
pub fn read_small(
    conn: &Connection,
    table: FileTable,
    site: &str,
    path: &str,
    max: usize,
) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached(&format!(
        "SELECT content FROM {} WHERE site_id = ?1 AND path = ?2 AND size_bytes <= ?3",
        table.0
    ))?
    .query_row(params![site, path, max as i64], |r| {
        r.get::<_, Option<Vec<u8>>>(0)
    })
    .optional()
    .map(Option::flatten)
}

/// Whether `site` has any file (inside the caller's transaction).
pub fn has_files(conn: &Connection, table: FileTable, site: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(&format!(
        "SELECT 1 FROM {} WHERE site_id = ?1 LIMIT 1",
        table.0
    ))?
    .exists([site])
}

const META_COLS: &str = "path, size_bytes, COALESCE(mime_type, 'application/octet-stream'), COALESCE(hash, ''), COALESCE(updated_at, 0), gzip_size";

fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileMeta> {
    Ok(FileMeta {
        path: r.get(0)?,
        size: r.get::<_, i64>(1)?.max(0) as u64,
        mime: r.get(2)?,
        hash: r.get(3)?,
        updated_at: r.get(4)?,
        gzip_size: r.get::<_, Option<i64>>(5)?.map(|g| g.max(0) as u64),
    })
}

impl Vfs {
    /// The VFS over `table` of `db`, caching up to `cache_budget` bytes of small files.
    pub fn new(db: Arc<Db>, table: FileTable, cache_budget: usize) -> Self {
        Vfs {
            db,
            table,
            sql: Queries::new(table.0),
            cache: Mutex::new(HotCache {
                map: HashMap::new(),
                bytes: 0,
                budget: cache_budget,
                generation: 0,
            }),
        }
    }

    /// The database under it.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The table it keeps files in (for [`put`] and [`clear_site`] in a caller's transaction).
    pub fn table(&self) -> FileTable {
        self.table
    }

    /// Looks up a file: from the hot cache, else from the database (caching small files).
    pub fn lookup(&self, site: &str, path: &str) -> rusqlite::Result<Option<Lookup>> {
        let k = key(site, path);
        let mut generation = 0;
        if let Ok(c) = self.cache.lock() {
            if let Some(hit) = c.map.get(&k) {
                return Ok(Some(Lookup::Inline(hit.clone())));
            }
            generation = c.generation;
        }
        let found = self.db.read(|c| {
            let meta = c
                .prepare_cached(&self.sql.meta)?
                .query_row(params![site, path], meta_row)
                .optional()?;
            let Some(meta) = meta else { return Ok(None) };
            if meta.size > INLINE_MAX {
                return Ok(Some(Lookup::Large(meta)));
            }
            let (content, gzip): (Option<Vec<u8>>, Option<Vec<u8>>) = c
                .prepare_cached(&self.sql.content)?
                .query_row(params![site, path], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(Some(Lookup::Inline(Arc::new(CachedFile {
                meta,
                content: content.unwrap_or_default().into(),
                gzip: gzip.map(Into::into),
            }))))
        })?;
        if let Some(Lookup::Inline(f)) = &found {
            if let Ok(mut c) = self.cache.lock() {
                c.fill(k, f.clone(), generation);
            }
        }
        Ok(found)
    }

    /// Metadata of every file of a site, sorted by path.
    pub fn list(&self, site: &str) -> rusqlite::Result<Vec<FileMeta>> {
        self.db.read(|c| {
            let mut st = c.prepare(&self.sql.list)?;
            let rows = st.query_map([site], meta_row)?;
            rows.collect()
        })
    }

    /// Pushes `len` bytes of the file (or its gzip variant) from `offset` into the
    /// connection, 64 KiB at a time. Fails rather than mixing versions: the row is found by
    /// its hash (again after every pause, so a file replaced meanwhile ends the download).
    ///
    /// Two costs pull against each other here. SQLite walks a BLOB's overflow chain from
    /// the start every time a handle is opened, so reopening per chunk made downloads
    /// quadratic (10 MiB at 14 MiB/s); but an open handle is a read transaction, and one
    /// held while a slow client drains the file keeps the WAL from being reset (20 slow
    /// readers + 8 deploys: 8.7 → 16.5 MB of WAL that stayed). So inside a transaction
    /// chunks are only written with [`BodySink::write_now`], which never waits: a fast
    /// client gets the whole file through one handle, and once the client's socket is full
    /// the rest of the chunk is written after the transaction has ended. A transport that
    /// cannot write without waiting (TLS) gets windows of 1 MiB copied out per
    /// transaction instead. Either way no transaction lasts longer than a second (`HOLD_READ`).
    pub fn stream(
        &self,
        site: &str,
        meta: &FileMeta,
        gzip: bool,
        offset: u64,
        len: u64,
    ) -> Producer {
        let db = self.db.clone();
        let (site, path, hash) = (site.to_string(), meta.path.clone(), meta.hash.clone());
        let column = if gzip { "gzip" } else { "content" };
        let (table, find) = (self.table.0, self.sql.rowid.clone());
        Box::new(move |out: &mut dyn BodySink| {
            let mut buf = vec![0u8; STREAM_CHUNK];
            // Bytes read inside a transaction, written after it.
            let mut carry: Vec<u8> = Vec::new();
            let (mut pos, end) = (offset, offset.saturating_add(len));
            while pos < end {
                let window = db.read(|c| {
                    let rowid: i64 = c
                        .prepare_cached(&find)?
                        .query_row(params![site, path, hash], |r| r.get(0))?;
                    let blob = c.blob_open(rusqlite::MAIN_DB, table, column, rowid, true)?;
                    let opened = Instant::now();
                    // `pos` counts bytes handed on: written, or kept in `carry`.
                    while pos < end && opened.elapsed() < HOLD_READ {
                        let want = (end - pos).min(STREAM_CHUNK as u64) as usize;
                        let at = usize::try_from(pos).unwrap_or(usize::MAX);
                        let n = blob.read_at(&mut buf[..want], at)?;
                        if n == 0 {
                            return Ok(Err(std::io::Error::other("file shorter than expected")));
                        }
                        pos += n as u64;
                        match out.write_now(&buf[..n]) {
                            Err(e) => return Ok(Err(e)),
                            Ok(Some(w)) if w == n => {}
                            Ok(Some(w)) => {
                                // The client's socket is full: finish outside.
                                carry.extend_from_slice(&buf[w..n]);
                                return Ok(Ok(()));
                            }
                            Ok(None) => {
                                carry.extend_from_slice(&buf[..n]);
                                if carry.len() >= COPY_WINDOW {
                                    return Ok(Ok(()));
                                }
                            }
                        }
                    }
                    Ok(Ok(()))
                });
                window.map_err(|e| {
                    std::io::Error::other(format!("file changed or vanished: {e}"))
                })??;
                if !carry.is_empty() {
                    out.write_all(&carry)?;
                    carry.clear();
                    if carry.capacity() > COPY_WINDOW + STREAM_CHUNK {
                        carry.shrink_to(COPY_WINDOW);
                    }
                }
            }
            Ok(())
        })
    }

    /// The whole content of a (possibly large) file.
    pub fn read_all(&self, site: &str, meta: &FileMeta) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(meta.size.min(64 << 20) as usize);
        (self.stream(site, meta, false, 0, meta.size))(&mut out)?;
        Ok(out)
    }

    /// Writes one file (a single-row transaction) and invalidates the site's cache.
    pub fn write_file(&self, site: &str, path: &str, content: Vec<u8>) -> Result<(), DbError> {
        let (s, p, t) = (site.to_string(), path.to_string(), self.table);
        self.db
            .write(move |c| put(c, t, &s, &PreparedFile::new(&p, content)))?;
        self.invalidate(site);
        Ok(())
    }

    /// Files and bytes stored for `site`.
    pub fn site_usage(&self, site: &str) -> rusqlite::Result<Usage> {
        self.db.read(|c| {
            c.query_row(
                &format!(
                    "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM {} WHERE site_id = ?1",
                    self.table.0
                ),
                [site],
                usage_row,
            )
        })
    }

    /// Files and bytes stored per site, sorted by site.
    pub fn usage_by_site(&self) -> rusqlite::Result<Vec<(String, Usage)>> {
        self.db.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT site_id, COUNT(*), COALESCE(SUM(size_bytes), 0) FROM {}
                 GROUP BY site_id ORDER BY site_id",
                self.table.0
            ))?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Usage {
                        files: r.get::<_, i64>(1)?.max(0) as u64,
                        bytes: r.get::<_, i64>(2)?.max(0) as u64,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// Drops cached entries of a site; called after any write to it.
    pub fn invalidate(&self, site: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.invalidate_site(site);
        }
    }

    /// Files the hot cache holds now, their bytes, and its budget.
    pub fn cache_stats(&self) -> (usize, usize, usize) {
        self.cache
            .lock()
            .map(|c| (c.map.len(), c.bytes, c.budget))
            .unwrap_or((0, 0, 0))
    }

    /// Bytes the hot cache holds now.
    pub fn cache_bytes(&self) -> usize {
        self.cache.lock().map(|c| c.bytes).unwrap_or(0)
    }

    /// Total bytes stored in the VFS, and the number of files.
    pub fn usage(&self) -> rusqlite::Result<(u64, u64)> {
        self.db
            .read(|c| {
                c.query_row(
                    &format!(
                        "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM {}",
                        self.table.0
                    ),
                    [],
                    usage_row,
                )
            })
            .map(|u| (u.bytes, u.files))
    }
}

fn usage_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Usage> {
    Ok(Usage {
        files: r.get::<_, i64>(0)?.max(0) as u64,
        bytes: r.get::<_, i64>(1)?.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &[u8]) -> Arc<CachedFile> {
        Arc::new(CachedFile {
            meta: FileMeta {
                path: "index.html".into(),
                size: body.len() as u64,
                mime: "text/html".into(),
                hash: content_hash(body),
                updated_at: 0,
                gzip_size: None,
            },
            content: body.into(),
            gzip: None,
        })
    }

    #[test]
    fn a_read_that_races_a_write_is_not_cached() {
        let mut c = HotCache {
            map: HashMap::new(),
            bytes: 0,
            budget: 1 << 20,
            generation: 0,
        };
        // A reader takes the generation, reads the old row; meanwhile a deploy commits and
        // invalidates the site; the reader's old row must not enter the cache.
        let before = c.generation;
        c.invalidate_site("blog");
        c.fill(key("blog", "index.html"), file(b"old"), before);
        assert!(c.map.is_empty());
        // A read that began after the invalidation is cached.
        let now = c.generation;
        c.fill(key("blog", "index.html"), file(b"new"), now);
        assert_eq!(&*c.map[&key("blog", "index.html")].content, b"new");
    }
}
