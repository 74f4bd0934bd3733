//! The cartridge database: opening one SQLite file with settings for a small board (WAL,
//! `busy_timeout` first, `synchronous=NORMAL`, small page cache, file mode 0600), applying the
//! caller's schema ([`migrate`]), a pool of read connections and the single writer; the EDD
//! checks a product runs from its own tests ([`edd`]).

pub mod edd;
mod error;
pub mod migrate;
pub mod writer;

pub use error::DbError;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

pub use writer::{Grouped, Writer};

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

/// One open database: the writer thread, pooled readers, the schema version applied.
pub struct Db {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
    schema_version: u32,
    reclaiming: AtomicBool,
    replicated: AtomicBool,
    /// A shared `flock` on the file for as long as this `Db` lives: a restore takes it
    /// exclusively, so it never swaps a file out from under an open database. Last, so it
    /// is released after every connection is closed.
    _lock: std::fs::File,
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

/// A shared `flock` on `path`, waiting while a restore holds it exclusively. The restore
/// renames a new file into place before it lets go, so the lock is taken again until it is
/// on the file the path names now.
fn lock_shared(path: &Path) -> std::io::Result<std::fs::File> {
    loop {
        let f = std::fs::File::open(path)?;
        f.lock_shared()?;
        if same_inode(&f, path) {
            return Ok(f);
        }
    }
}

#[cfg(unix)]
fn same_inode(f: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_f: &std::fs::File, _path: &Path) -> bool {
    true
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies `schema` (the
    /// product's schema text, steps as described in [`migrate`]).
    pub fn open(path: &Path, schema: &str) -> Result<Db, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                return Err(DbError::NoDirectory(dir.to_path_buf()));
            }
        }
        let failed = |what: &str, e: &dyn std::fmt::Display| DbError::Open {
            path: path.to_path_buf(),
            detail: format!("{what}{e}"),
        };
        let fresh = !path.exists() || std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
        create_private(path).map_err(|e| failed("cannot create: ", &e))?;
        let lock = lock_shared(path).map_err(|e| failed("cannot lock: ", &e))?;
        let mut conn = Connection::open(path).map_err(|e| failed("", &e))?;
        if fresh {
            // Only settable before the first table exists (older databases switch with
            // [`Db::vacuum`]): lets freed pages be given back without a full VACUUM.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(|e| failed("cannot configure: ", &e))?;
        }
        pragmas(&conn, true).map_err(|e| failed("cannot configure: ", &e))?;
        let schema_version = migrate::migrate(&mut conn, schema)?;
        // Every transaction of the writer takes the write lock at BEGIN. A deferred one that
        // read first and then wrote while another process (a backup command recording its run,
        // a CLI command) had committed meanwhile would fail at once with SQLITE_BUSY_SNAPSHOT,
        // without the busy timeout ever applying; at BEGIN the timeout waits for the lock.
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let writer = Writer::start(conn).map_err(|e| failed("cannot start the writer: ", &e))?;
        Ok(Db {
            path: path.to_path_buf(),
            readers: Mutex::new(Vec::new()),
            writer,
            schema_version,
            reclaiming: AtomicBool::new(false),
            replicated: AtomicBool::new(false),
            _lock: lock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The highest schema step applied to the file.
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

    /// Runs `f` on the single writer connection (in order with all other writes); its SQLite
    /// error and a stopped writer come back as one [`DbError`].
    pub fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.writer.run(f)?.map_err(DbError::Sqlite)
    }

    /// Like [`Db::write`] for a job with its own result type (e.g. a transaction that can
    /// fail for reasons of the caller's); only a stopped writer is an error here.
    pub fn write_job<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        self.writer.run(f)
    }

    /// Queues a small write that may share one transaction with the others waiting beside
    /// it, without waiting for it (see [`Grouped`]): for a caller that hands the outcome on
    /// from `job.done` (a request's writes, answered once they are committed).
    pub fn write_grouped(&self, job: Grouped) -> Result<(), DbError> {
        self.writer.submit_grouped(job)
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

    /// Declares that a replicator streams this database's WAL (a `--replicated` setting):
    /// from then on [`Db::checkpoint`] and [`Db::vacuum`] leave the WAL's reset to it.
    pub fn set_replicated(&self, on: bool) {
        self.replicated.store(on, Ordering::Relaxed);
    }

    /// A replicator is attached: declared with [`Db::set_replicated`], or detected by the
    /// tables Litestream keeps in the database it replicates (`_litestream_seq`,
    /// `_litestream_lock`).
    pub fn replicated(&self) -> bool {
        self.replicated.load(Ordering::Relaxed)
            || self
                .read(|c| {
                    c.query_row(
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_litestream\\_%' ESCAPE '\\'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                })
                .is_ok_and(|n| n > 0)
    }

    /// The checkpoint this program may make: `TRUNCATE` folds the WAL back and empties it;
    /// with a replicator attached only `PASSIVE`, since Litestream must see every WAL frame
    /// before the WAL restarts, and it resets the WAL itself.
    fn own_checkpoint(&self) -> &'static str {
        if self.replicated() {
            "PRAGMA wal_checkpoint(PASSIVE);"
        } else {
            "PRAGMA wal_checkpoint(TRUNCATE);"
        }
    }

    /// Folds the WAL back into the main file (at shutdown, so a copied database file is
    /// complete); with a replicator attached ([`Db::replicated`]) a passive one that leaves
    /// the WAL to it.
    pub fn checkpoint(&self) {
        let sql = self.own_checkpoint();
        let _ = self.write(move |c| c.execute_batch(sql));
    }

    /// Gives free pages back to the filesystem in steps of 16 MiB (`RECLAIM_STEP`), each its own
    /// writer job, when the database is in incremental auto-vacuum mode (every database
    /// [`Db::open`] created, and any after [`Db::vacuum`]); returns the pages reclaimed.
    /// Meant for a server's housekeeping, so 1 GB of replaced rows does not leave a 1 GB file.
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
    /// a large replace or delete).
    pub fn reclaim_in_background(self: &Arc<Self>) {
        let db = self.clone();
        let _ = std::thread::Builder::new()
            .name("db-reclaim".into())
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
                Ok(n) if n > 0 => total += n as u64,
                Err(e) => {
                    log::warn!("reclaiming free pages of {}: {e}", self.path.display());
                    return total;
                }
                Ok(_) => return total,
            }
        }
    }

    /// `VACUUM`: rewrites the whole file without free pages and switches it to incremental
    /// auto-vacuum. Needs free disk of about the database's size; takes the write lock for
    /// its duration. Returns the file size (with WAL) before and after.
    pub fn vacuum(&self) -> Result<(u64, u64), DbError> {
        let before = self.file_size();
        let checkpoint = self.own_checkpoint();
        self.write(move |c| {
            c.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
            c.execute_batch(checkpoint)
        })?;
        Ok((before, self.file_size()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    const SCHEMA: &str = "-- step 1: t\nCREATE TABLE IF NOT EXISTS t (x);\n";

    fn wal_len(db: &Db) -> u64 {
        std::fs::metadata(format!("{}-wal", db.path().display())).map_or(0, |m| m.len())
    }

    /// Queues grouped inserts of `xs` (a job fails after inserting when its x is negative, and
    /// panics when it is 0) while the writer is held busy, so they gather into one group;
    /// each `done` reports its outcome and the rows another connection sees at that moment.
    fn grouped_inserts(db: &Db, xs: &[i64]) -> Vec<(Result<(), String>, Vec<i64>)> {
        let (hold, held) = std::sync::mpsc::channel::<()>();
        db.writer
            .submit(Box::new(move |_| {
                let _ = held.recv();
            }))
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for &x in xs {
            let (tx, path) = (tx.clone(), db.path().to_path_buf());
            db.write_grouped(Grouped {
                work: Box::new(move |c| {
                    c.execute("INSERT INTO t VALUES (?1)", [x.abs()])
                        .map_err(|e| e.to_string())?;
                    match x {
                        0 => panic!("a job that panics"),
                        x if x < 0 => Err(format!("refused {x}")),
                        _ => Ok(()),
                    }
                }),
                done: Box::new(move |r| {
                    let other = Connection::open(path).unwrap();
                    let mut st = other.prepare("SELECT x FROM t ORDER BY x").unwrap();
                    let seen = st.query_map([], |r| r.get(0)).unwrap();
                    let seen: Vec<i64> = seen.map(Result::unwrap).collect();
                    tx.send((x, r, seen)).unwrap();
                }),
            })
            .unwrap();
        }
        drop(hold);
        let mut got: Vec<_> = (0..xs.len()).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            xs,
            "told in the order queued"
        );
        got.drain(..).map(|(_, r, seen)| (r, seen)).collect()
    }

    #[test]
    fn grouped_writes_share_a_transaction_and_a_failing_one_leaves_the_others_in() {
        let d = TempDir::new("grouped");
        let db = Db::open(&d.join("a.db"), SCHEMA).unwrap();
        let got = grouped_inserts(&db, &[1, -2, 3, 0, 5]);
        let outcomes: Vec<_> = got.iter().map(|(r, _)| r.clone()).collect();
        assert_eq!(outcomes[0], Ok(()));
        assert_eq!(outcomes[1], Err("refused -2".to_string()));
        assert_eq!(outcomes[2], Ok(()));
        assert!(
            outcomes[3].is_err(),
            "a panicking job failed: {:?}",
            outcomes[3]
        );
        assert_eq!(outcomes[4], Ok(()));
        // The first job is told only after the whole group is committed: one transaction.
        for (_, seen) in &got {
            assert_eq!(seen, &[1, 3, 5]);
        }
        // Alone in its transaction, a failed job keeps nothing either; the writer goes on.
        let got = grouped_inserts(&db, &[-7]);
        assert_eq!(got[0].0, Err("refused -7".to_string()));
        assert_eq!(got[0].1, [1, 3, 5]);
        let got = grouped_inserts(&db, &[8]);
        assert_eq!(got[0], (Ok(()), vec![1, 3, 5, 8]));
        // Plain jobs queued after grouped ones run after them.
        let n = db
            .write(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)))
            .unwrap();
        assert_eq!(n, 4);
    }

    #[test]
    fn a_replicated_database_keeps_its_wal_at_checkpoints() {
        let d = TempDir::new("replicated");
        let db = Db::open(&d.join("a.db"), SCHEMA).unwrap();
        db.write(|c| c.execute("INSERT INTO t VALUES (1)", []))
            .unwrap();
        assert!(!db.replicated());
        db.checkpoint();
        assert_eq!(wal_len(&db), 0, "TRUNCATE empties the WAL");

        // Litestream's table appears: only passive checkpoints from now on.
        db.write(|c| {
            c.execute_batch("CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);")
        })
        .unwrap();
        assert!(db.replicated());
        db.checkpoint();
        assert!(wal_len(&db) > 0, "the WAL was reset under the replicator");

        // Declared by setting, without the tables.
        let b = Db::open(&d.join("b.db"), SCHEMA).unwrap();
        b.set_replicated(true);
        b.write(|c| c.execute("INSERT INTO t VALUES (1)", []))
            .unwrap();
        b.vacuum().unwrap();
        assert!(wal_len(&b) > 0);
    }

    #[test]
    fn a_transaction_waits_for_another_process_writer_instead_of_failing() {
        let d = TempDir::new("busy");
        let db = std::sync::Arc::new(Db::open(&d.join("a.db"), SCHEMA).unwrap());
        // Another process's write transaction, open while our job reads and then writes.
        let other = Connection::open(db.path()).unwrap();
        other
            .busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES ('theirs');")
            .unwrap();
        let db2 = db.clone();
        let job = std::thread::spawn(move || {
            db2.write(|c| {
                let tx = c.transaction()?;
                let n: i64 = tx.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
                tx.execute("INSERT INTO t VALUES (?1)", [n])?;
                tx.commit()
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        other.execute_batch("COMMIT;").unwrap();
        job.join().unwrap().expect("the job waited for the lock");
        let n: i64 = db
            .read(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn an_open_database_holds_a_shared_lock() {
        let d = TempDir::new("lock");
        let p = d.join("a.db");
        let db = Db::open(&p, SCHEMA).unwrap();
        // A second process-like holder can share it…
        let other = std::fs::File::open(&p).unwrap();
        assert!(other.try_lock_shared().is_ok());
        other.unlock().unwrap();
        // …but not take it exclusively while the Db lives.
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(db);
        assert!(other.try_lock().is_ok());
    }
}
