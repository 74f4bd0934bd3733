//! The VFS: every file of every site is a row of `files`, keyed by (site, path), with its
//! sha256, MIME type and a gzip variant computed once on write. Reads of small hot files come
//! from a bounded in-memory cache that every write to a site invalidates; large files are
//! streamed in chunks with SQLite incremental BLOB I/O and never sit whole in memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::compress;
use super::db::{migrate::hex, now, Db};
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

#[derive(Clone, Debug)]
pub struct FileMeta {
    pub path: String,
    pub size: u64,
    pub mime: String,
    pub hash: String,
    pub updated_at: i64,
    pub gzip_size: Option<u64>,
}

/// A small file held in memory: content and its gzip variant.
pub struct CachedFile {
    pub meta: FileMeta,
    pub content: Arc<[u8]>,
    pub gzip: Option<Arc<[u8]>>,
}

/// The result of looking a path up.
pub enum Lookup {
    Inline(Arc<CachedFile>),
    /// Too large to hold: stream it with [`Vfs::stream`].
    Large(FileMeta),
}

impl Lookup {
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

    fn invalidate_site(&mut self, site: &str) {
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

pub struct Vfs {
    db: Arc<Db>,
    cache: Mutex<HotCache>,
}

/// A file prepared for storage: hash and gzip computed (CPU work, done on the writer thread).
/// The content may be borrowed — a stored (uncompressed) ZIP entry is a slice of the upload —
/// so a deploy does not hold a second copy of every file.
pub struct PreparedFile<'a> {
    pub path: String,
    pub content: Cow<'a, [u8]>,
    pub mime: &'static str,
    pub hash: String,
    pub gzip: Option<Vec<u8>>,
}

impl<'a> PreparedFile<'a> {
    pub fn new(path: &str, content: impl Into<Cow<'a, [u8]>>) -> Self {
        let content = content.into();
        let mime = mime::for_path(path);
        let hash = hex(&Sha256::digest(&content));
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

/// Inserts or replaces one file row (inside whatever transaction `conn` is in).
pub fn put(conn: &Connection, site: &str, f: &PreparedFile) -> rusqlite::Result<()> {
    let t = now();
    conn.prepare_cached(
        "INSERT INTO files (site_id, path, content, size_bytes, mime_type, hash, created_at, updated_at, gzip, gzip_size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)
         ON CONFLICT(site_id, path) DO UPDATE SET content = excluded.content,
            size_bytes = excluded.size_bytes, mime_type = excluded.mime_type, hash = excluded.hash,
            updated_at = excluded.updated_at, gzip = excluded.gzip, gzip_size = excluded.gzip_size",
    )?
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

/// Deletes every file of `site` (inside the caller's transaction).
pub fn clear_site(conn: &Connection, site: &str) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM files WHERE site_id = ?1", [site])
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
    pub fn new(db: Arc<Db>, cache_budget: usize) -> Self {
        Vfs {
            db,
            cache: Mutex::new(HotCache {
                map: HashMap::new(),
                bytes: 0,
                budget: cache_budget,
            }),
        }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Looks up a file: from the hot cache, else from the database (caching small files).
    pub fn lookup(&self, site: &str, path: &str) -> rusqlite::Result<Option<Lookup>> {
        let k = key(site, path);
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.map.get(&k).cloned()) {
            return Ok(Some(Lookup::Inline(hit)));
        }
        let found = self.db.read(|c| {
            let meta = c
                .prepare_cached(&format!(
                    "SELECT {META_COLS} FROM files WHERE site_id = ?1 AND path = ?2"
                ))?
                .query_row(params![site, path], meta_row)
                .optional()?;
            let Some(meta) = meta else { return Ok(None) };
            if meta.size > INLINE_MAX {
                return Ok(Some(Lookup::Large(meta)));
            }
            let (content, gzip): (Option<Vec<u8>>, Option<Vec<u8>>) = c
                .prepare_cached("SELECT content, gzip FROM files WHERE site_id = ?1 AND path = ?2")?
                .query_row(params![site, path], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(Some(Lookup::Inline(Arc::new(CachedFile {
                meta,
                content: content.unwrap_or_default().into(),
                gzip: gzip.map(Into::into),
            }))))
        })?;
        if let Some(Lookup::Inline(f)) = &found {
            if let Ok(mut c) = self.cache.lock() {
                c.insert(k, f.clone());
            }
        }
        Ok(found)
    }

    /// Metadata of every file of a site, sorted by path.
    pub fn list(&self, site: &str) -> rusqlite::Result<Vec<FileMeta>> {
        self.db.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {META_COLS} FROM files WHERE site_id = ?1 ORDER BY path"
            ))?;
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
        Box::new(move |out: &mut dyn BodySink| {
            let mut buf = vec![0u8; STREAM_CHUNK];
            // Bytes read inside a transaction, written after it.
            let mut carry: Vec<u8> = Vec::new();
            let (mut pos, end) = (offset, offset.saturating_add(len));
            while pos < end {
                let window = db.read(|c| {
                    let rowid: i64 = c
                        .prepare_cached(
                            "SELECT rowid FROM files WHERE site_id = ?1 AND path = ?2 AND hash = ?3",
                        )?
                        .query_row(params![site, path, hash], |r| r.get(0))?;
                    let blob = c.blob_open(rusqlite::MAIN_DB, "files", column, rowid, true)?;
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
    pub fn write_file(&self, site: &str, path: &str, content: Vec<u8>) -> Result<(), String> {
        let (s, p) = (site.to_string(), path.to_string());
        self.db
            .write(move |c| put(c, &s, &PreparedFile::new(&p, content)))?
            .map_err(|e| e.to_string())?;
        self.invalidate(site);
        Ok(())
    }

    /// Drops cached entries of a site; called after any write to it.
    pub fn invalidate(&self, site: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.invalidate_site(site);
        }
    }

    pub fn cache_bytes(&self) -> usize {
        self.cache.lock().map(|c| c.bytes).unwrap_or(0)
    }

    /// Total bytes stored in the VFS, and the number of files.
    pub fn usage(&self) -> rusqlite::Result<(u64, u64)> {
        self.db.read(|c| {
            c.query_row(
                "SELECT COALESCE(SUM(size_bytes), 0), COUNT(*) FROM files",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?.max(0) as u64,
                        r.get::<_, i64>(1)?.max(0) as u64,
                    ))
                },
            )
        })
    }
}
