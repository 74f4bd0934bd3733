//! fazt.db: opening the cartridge database with settings for a small board (WAL,
//! `busy_timeout` first, `synchronous=NORMAL`, small page cache, file mode 0600), applying the
//! embedded schema, a pool of read connections and the single writer.

pub mod migrate;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

pub use writer::Writer;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Bytes a reset WAL is truncated to (see `pragmas`).
const JOURNAL_SIZE_LIMIT: i64 = 8 << 20;
/// Free pages handed back to the filesystem per writer job by [`Db::reclaim_free_pages`]
/// (4 KiB pages: 16 MiB), so other writes interleave with a large reclaim.
const RECLAIM_STEP: i64 = 4096;

/// Readers kept open between uses; more may be opened briefly under load. Each keeps a
/// small page cache, so this bounds what a burst of concurrent reads leaves resident.
const MAX_IDLE_READERS: usize = 4;

pub struct Db {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
    schema_version: u32,
    reclaiming: AtomicBool,
}

fn pragmas(conn: &Connection, writer: bool) -> rusqlite::Result<()> {
    // busy_timeout first: every later statement may meet another process's lock.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // After a checkpoint resets the WAL, cut the file back to this size: one large
        // deploy must not leave a WAL as big as itself on the SD card for ever.
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    }
    // Page cache: 512 KiB for the writer, 128 KiB per reader (hot files live in the VFS
    // cache; SQLite's own cache mostly holds index pages).
    conn.execute_batch(if writer {
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -512; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF;"
    } else {
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -128; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF;"
    })
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies the schema.
    pub fn open(path: &Path) -> Result<Db, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                return Err(format!("directory {} does not exist", dir.display()));
            }
        }
        let fresh = !path.exists() || std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
        create_private(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut conn =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        if fresh {
            // Only settable before the first table exists (older databases switch with
            // `fazt vacuum`): lets freed pages be given back without a full VACUUM.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(|e| format!("cannot configure {}: {e}", path.display()))?;
        }
        pragmas(&conn, true).map_err(|e| format!("cannot configure {}: {e}", path.display()))?;
        let schema_version = migrate::migrate(&mut conn)?;
        let writer = Writer::start(conn).map_err(|e| format!("cannot start writer: {e}"))?;
        Ok(Db {
            path: path.to_path_buf(),
            readers: Mutex::new(Vec::new()),
            writer,
            schema_version,
            reclaiming: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    fn open_reader(&self) -> rusqlite::Result<Connection> {
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        pragmas(&c, false)?;
        Ok(c)
    }

    /// Runs `f` on a pooled read-only connection. Never waits for the writer (WAL).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let conn = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match conn {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        out
    }

    /// Runs `f` on the single writer connection (in order with all other writes).
    pub fn write<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        self.writer.run(f)
    }

    /// Size of the database file plus its WAL, in bytes.
    pub fn file_size(&self) -> u64 {
        let wal = PathBuf::from(format!("{}-wal", self.path.display()));
        [self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Whether the database answers a query (for `/health`).
    pub fn healthy(&self) -> bool {
        self.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
            .is_ok()
    }

    /// Folds the WAL back into the main file (at shutdown, so a copied fazt.db is complete).
    pub fn checkpoint(&self) {
        let _ = self.write(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"));
    }

    /// Gives free pages back to the filesystem in steps of 16 MiB (`RECLAIM_STEP`), each its own
    /// writer job, when the database is in incremental auto-vacuum mode (every database
    /// fazt created, and any after `fazt vacuum`); returns the pages reclaimed. Called by
    /// the server's housekeeping, so a replaced 1 GB site does not leave a 1 GB file.
    pub fn reclaim_free_pages(&self) -> u64 {
        // One reclaim at a time (housekeeping and the after-deploy one may meet).
        if self.reclaiming.swap(true, Ordering::AcqRel) {
            return 0;
        }
        let total = self.reclaim_steps();
        self.reclaiming.store(false, Ordering::Release);
        if total > 0 {
            // In WAL mode the file itself only shrinks when a checkpoint copies the
            // truncation back; a passive one never waits for readers or writers.
            let _ = self.write(|c| c.execute_batch("PRAGMA wal_checkpoint(PASSIVE);"));
            log::info!(
                "gave {total} free pages of {} back to the disk",
                self.path.display()
            );
        }
        total
    }

    /// [`Db::reclaim_free_pages`] on its own thread, for callers on the request path (after
    /// a deploy replaced or a delete removed a site).
    pub fn reclaim_in_background(self: &Arc<Self>) {
        let db = self.clone();
        let _ = std::thread::Builder::new()
            .name("fazt-db-reclaim".into())
            .stack_size(256 * 1024)
            .spawn(move || db.reclaim_free_pages());
    }

    fn reclaim_steps(&self) -> u64 {
        let mut total = 0u64;
        loop {
            let step = self.write(|c| -> rusqlite::Result<i64> {
                let mode: i64 = c.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
                let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
                if mode != 2 || free == 0 {
                    return Ok(0);
                }
                let n = free.min(RECLAIM_STEP);
                c.execute_batch(&format!("PRAGMA incremental_vacuum({n});"))?;
                Ok(n)
            });
            match step {
                Ok(Ok(n)) if n > 0 => total += n as u64,
                Ok(Err(e)) => {
                    log::warn!("reclaiming free pages of {}: {e}", self.path.display());
                    return total;
                }
                _ => return total,
            }
        }
    }

    /// `VACUUM`: rewrites the whole file without free pages and switches it to incremental
    /// auto-vacuum. Needs free disk of about the database's size; takes the write lock for
    /// its duration. Returns the file size (with WAL) before and after.
    pub fn vacuum(&self) -> Result<(u64, u64), String> {
        let before = self.file_size();
        self.write(|c| {
            c.execute_batch(
                "PRAGMA auto_vacuum = INCREMENTAL; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
            )
        })?
        .map_err(|e| format!("VACUUM of {} failed: {e}", self.path.display()))?;
        Ok((before, self.file_size()))
    }

    /// A stored setting from `configurations`.
    pub fn setting(&self, key: &str) -> Option<String> {
        self.read(|c| {
            c.query_row(
                "SELECT value FROM configurations WHERE key = ?1",
                [key],
                |r| r.get::<_, Option<String>>(0),
            )
        })
        .ok()
        .flatten()
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), String> {
        let (k, v) = (key.to_string(), value.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO configurations (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                rusqlite::params![k, v, now()],
            )
        })?
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}
