//! One consistent copy of a live database: `VACUUM INTO` a private temporary file from a
//! read-only connection (one read transaction: the copy is the database as of its start,
//! while writers go on), then the copy is checked and made durable before anyone sees it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::files::{self, Temp};
use super::BackupError;

/// A snapshot written and checked.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Where it is (`None` for one handed over as an open, unlinked file).
    pub path: Option<PathBuf>,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long writing and checking it took.
    pub took: Duration,
    /// The highest schema step recorded in it (`schema_steps`), 0 without that table.
    pub schema_version: u32,
}

/// Writes a snapshot of the database at `src` to `dest` (a file path; replaced if it
/// exists, only once the new copy is complete and checked).
pub fn snapshot(src: &Path, dest: &Path) -> Result<Snapshot, BackupError> {
    let t0 = Instant::now();
    let dir = files::dir_of(dest);
    let tmp = Temp::create(&dir, &files::name_of(dest), "partial").map_err(BackupError::io(
        format!("cannot create a file in {}", dir.display()),
    ))?;
    let (bytes, schema_version) = write_checked(src, &tmp.path)?;
    files::durable_rename(&tmp.path, dest).map_err(BackupError::io(format!(
        "cannot rename the snapshot to {}",
        dest.display()
    )))?;
    tmp.keep();
    Ok(Snapshot {
        path: Some(dest.to_path_buf()),
        bytes,
        took: t0.elapsed(),
        schema_version,
    })
}

/// A snapshot of `src` as an open file at offset 0, already unlinked from `scratch` (where
/// it was written; the database's own directory is one a server can always write to): for
/// streaming to stdout or a download, leaving nothing behind however the reader ends.
pub fn snapshot_file(src: &Path, scratch: &Path) -> Result<(File, Snapshot), BackupError> {
    let t0 = Instant::now();
    let tmp = Temp::create(scratch, &files::name_of(src), "snapshot").map_err(BackupError::io(
        format!("cannot create a scratch file in {}", scratch.display()),
    ))?;
    let (bytes, schema_version) = write_checked(src, &tmp.path)?;
    let file = File::open(&tmp.path).map_err(BackupError::io(format!(
        "cannot reopen {}",
        tmp.path.display()
    )))?;
    drop(tmp); // unlinks; the open file stays readable
    Ok((
        file,
        Snapshot {
            path: None,
            bytes,
            took: t0.elapsed(),
            schema_version,
        },
    ))
}

/// `VACUUM INTO out`, then on the copy: the replicator's bookkeeping dropped,
/// `integrity_check`, fsync. Returns its size and schema version.
fn write_checked(src: &Path, out: &Path) -> Result<(u64, u32), BackupError> {
    if !src.is_file() {
        return Err(BackupError::Invalid(format!(
            "no database at {}",
            src.display()
        )));
    }
    let conn = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(BackupError::sql(format!("cannot open {}", src.display())))?;
    let what = format!("snapshot of {} into {}", src.display(), out.display());
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(BackupError::sql(what.clone()))?;
    conn.execute("VACUUM INTO ?1", [files::utf8(out)?])
        .map_err(BackupError::sql(what))?;
    drop(conn);

    let copy = Connection::open(out).map_err(BackupError::sql(format!(
        "cannot open the copy {}",
        out.display()
    )))?;
    drop_replicator_tables(&copy).map_err(BackupError::sql(format!(
        "cleaning the copy {}",
        out.display()
    )))?;
    let found = integrity(&copy).map_err(BackupError::sql(format!(
        "checking the copy {}",
        out.display()
    )))?;
    if found != "ok" {
        return Err(BackupError::Damaged(format!(
            "the copy of {} failed integrity_check: {found}",
            src.display()
        )));
    }
    let version = schema_version(&copy).unwrap_or(0);
    drop(copy);
    files::sync_file(out).map_err(BackupError::io(format!("cannot fsync {}", out.display())))?;
    let bytes = std::fs::metadata(out).map_or(0, |m| m.len());
    Ok((bytes, version))
}

/// Litestream's `_litestream_*` tables describe the source's WAL position, which means
/// nothing in a copy (and would make a server restored from it think a replicator is
/// attached).
fn drop_replicator_tables(c: &Connection) -> rusqlite::Result<()> {
    let names: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_litestream\\_%' ESCAPE '\\'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for n in names {
        c.execute_batch(&format!("DROP TABLE \"{}\";", n.replace('"', "\"\"")))?;
    }
    Ok(())
}

/// `PRAGMA integrity_check`: `ok`, or its first findings joined on one line (SQLite puts
/// several lines in one finding; an error message stays one line).
pub(crate) fn integrity(c: &Connection) -> rusqlite::Result<String> {
    let mut stmt = c.prepare("PRAGMA integrity_check(5)")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let lines: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Ok(lines.join("; "))
}

/// The highest step in `schema_steps`.
pub(crate) fn schema_version(c: &Connection) -> rusqlite::Result<u32> {
    c.query_row("SELECT COALESCE(MAX(step), 0) FROM schema_steps", [], |r| {
        r.get(0)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::db::Db;
    use crate::testdir::TempDir;

    const SCHEMA: &str =
        "-- step 1: notes\nCREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);\n";

    /// The `body` column of a test database's `notes`, in order.
    pub(crate) fn notes(path: &Path) -> Vec<String> {
        let c = Connection::open(path).unwrap();
        let mut s = c.prepare("SELECT body FROM notes ORDER BY id").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_snapshot_is_complete_private_and_checked() {
        let dir = TempDir::new("snap");
        let db = Db::open(&dir.join("live.db"), SCHEMA).unwrap();
        for i in 0..50 {
            db.write(move |c| c.execute("INSERT INTO notes (body) VALUES (?1)", [format!("n{i}")]))
                .unwrap();
        }
        let out = dir.join("copy.db");
        let s = snapshot(db.path(), &out).unwrap();
        assert_eq!(s.schema_version, 1);
        assert_eq!(s.bytes, std::fs::metadata(&out).unwrap().len());
        assert_eq!(notes(&out).len(), 50, "the WAL's rows are in the copy");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing but the copy was left in the directory.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("live.db"))
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["copy.db"]);
    }

    #[test]
    fn a_failed_snapshot_keeps_the_older_file() {
        let dir = TempDir::new("snapfail");
        let out = dir.join("copy.db");
        std::fs::write(&out, b"the previous good snapshot").unwrap();
        let e = snapshot(&dir.join("missing.db"), &out).unwrap_err();
        assert!(e.to_string().contains("no database at"), "{e}");
        // Not a database at all: refused by SQLite, old file kept.
        std::fs::write(dir.join("junk.db"), vec![7u8; 8192]).unwrap();
        assert!(snapshot(&dir.join("junk.db"), &out).is_err());
        assert_eq!(std::fs::read(&out).unwrap(), b"the previous good snapshot");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_streamed_snapshot_leaves_no_file() {
        let dir = TempDir::new("snapfile");
        let db = Db::open(&dir.join("live.db"), SCHEMA).unwrap();
        db.write(|c| c.execute("INSERT INTO notes (body) VALUES ('x')", []))
            .unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);")
        })
        .unwrap();
        let (mut f, s) = snapshot_file(db.path(), dir.path()).unwrap();
        assert!(s.path.is_none());
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, s.bytes);
        assert!(bytes.starts_with(b"SQLite format 3\0"));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("live.db"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        // The replicator's table is not in the copy.
        let out = dir.join("check.db");
        std::fs::write(&out, &bytes).unwrap();
        let c = Connection::open(&out).unwrap();
        let n: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '_litestream%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }
}
