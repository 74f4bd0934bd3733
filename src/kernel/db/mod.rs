//! fazt.db: opening the cartridge database with settings for a small board (WAL,
//! `busy_timeout` first, `synchronous=NORMAL`, small page cache, file mode 0600), applying the
//! embedded schema, a pool of read connections and the single writer.

pub mod migrate;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

pub use writer::Writer;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Readers kept open between uses; more may be opened briefly under load. Each keeps a
/// small page cache, so this bounds what a burst of concurrent reads leaves resident.
const MAX_IDLE_READERS: usize = 4;

pub struct Db {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
    schema_version: u32,
}

fn pragmas(conn: &Connection, writer: bool) -> rusqlite::Result<()> {
    // busy_timeout first: every later statement may meet another process's lock.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
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
        create_private(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let mut conn =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        pragmas(&conn, true).map_err(|e| format!("cannot configure {}: {e}", path.display()))?;
        let schema_version = migrate::migrate(&mut conn)?;
        let writer = Writer::start(conn).map_err(|e| format!("cannot start writer: {e}"))?;
        Ok(Db {
            path: path.to_path_buf(),
            readers: Mutex::new(Vec::new()),
            writer,
            schema_version,
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
