//! Restore: a snapshot checked against the product's schema history ([`inspect`]), then
//! swapped in for the live database ([`restore`]) while no process has it open, with the
//! database it replaces kept beside it under a name the caller prints.
//!
//! "No process has it open" is an advisory lock: every [`crate::db::Db`] holds a shared
//! `flock` on its file for as long as it is open, and restore takes it exclusively without
//! waiting, so it refuses while a server or any command runs on the database. A replicator
//! that holds the file without that lock (Litestream) is caught by the checkpoint restore
//! makes first: it cannot complete while another reader pins the WAL.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::files::{self, Temp};
use super::snapshot::{integrity, schema_version};
use super::BackupError;
use crate::db::migrate::parse_steps;

/// What a file is, measured against the product's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// Its size in bytes.
    pub bytes: u64,
    /// The highest schema step recorded in it.
    pub schema_version: u32,
    /// The last step of the product's schema (this binary's).
    pub known_version: u32,
}

impl Inspection {
    /// Written by a newer program: it has steps this binary does not know. Evolutionary
    /// Database Design makes such a file safe to run on (steps only add tables and columns,
    /// and the code names the columns it reads).
    pub fn newer(&self) -> bool {
        self.schema_version > self.known_version
    }

    /// Written by an older program: the missing steps are applied when it is next opened.
    pub fn older(&self) -> bool {
        self.schema_version < self.known_version
    }
}

/// A restore done.
#[derive(Debug)]
pub struct Restored {
    /// The file restored, as inspected.
    pub inspection: Inspection,
    /// Where the database it replaced was kept (`None`: there was none, or it was empty).
    pub kept: Option<PathBuf>,
}

/// Checks that `file` is a healthy database of the product whose schema text is `schema`:
/// SQLite, `integrity_check` ok, a `schema_steps` history whose every step this program also
/// has carries the same hash. Reads it without changing it or creating anything beside it.
pub fn inspect(file: &Path, schema: &str) -> Result<Inspection, BackupError> {
    let shown = file.display();
    let mut head = [0u8; 16];
    let read = File::open(file)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(BackupError::io(format!("cannot read {shown}")))?;
    if read < 16 || &head != b"SQLite format 3\0" {
        return Err(BackupError::NotOurs(format!(
            "{shown} is not an SQLite database"
        )));
    }
    let wal = PathBuf::from(format!("{shown}-wal"));
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(BackupError::Invalid(format!(
            "{shown} has a write-ahead log beside it ({}): it is a live or torn copy, not a \
             snapshot; take one with the backup command instead",
            wal.display()
        )));
    }
    let c = open_immutable(file).map_err(BackupError::sql(format!("cannot open {shown}")))?;
    let found = integrity(&c).map_err(BackupError::sql(format!("checking {shown}")))?;
    if found != "ok" {
        return Err(BackupError::Damaged(format!(
            "{shown} failed integrity_check: {found}"
        )));
    }
    let steps = parse_steps(schema)
        .map_err(|e| BackupError::Invalid(format!("this program's schema: {e}")))?;
    let recorded = recorded_steps(&c).map_err(|_| {
        BackupError::NotOurs(format!(
            "{shown} is an SQLite database but not one of this program's (no schema history)"
        ))
    })?;
    let hash_of = |n: u32| recorded.iter().find(|(s, _)| *s == n).map(|(_, h)| h);
    if steps
        .first()
        .is_some_and(|s1| hash_of(1) != Some(&s1.hash()))
    {
        return Err(BackupError::NotOurs(format!(
            "{shown} is an SQLite database but not one of this program's (its first schema step differs)"
        )));
    }
    for s in &steps {
        if let Some(h) = hash_of(s.number) {
            if *h != s.hash() {
                return Err(BackupError::Incompatible(format!(
                    "{shown}: its schema step {} ({}) differs from this program's; it was \
                     written by another program's history and cannot be run on",
                    s.number, s.name
                )));
            }
        }
    }
    Ok(Inspection {
        bytes: std::fs::metadata(file).map_or(0, |m| m.len()),
        schema_version: schema_version(&c).unwrap_or(0),
        known_version: steps.last().map_or(0, |s| s.number),
    })
}

/// Replaces the database at `db` with a copy of `file` after [`inspect`]ing it. Refuses while
/// any process has `db` open; keeps the database it replaces as `<db>.before-restore-<UTC
/// stamp>` (hard link, else copy), its write-ahead log folded in first. The new file appears
/// under `db`'s name in one rename, mode 0600.
pub fn restore(file: &Path, db: &Path, schema: &str) -> Result<Restored, BackupError> {
    if files::same_file(file, db) {
        return Err(BackupError::Invalid(format!(
            "{} is the database itself",
            file.display()
        )));
    }
    let inspection = inspect(file, schema)?;
    let dir = files::dir_of(db);
    if !dir.is_dir() {
        return Err(BackupError::Invalid(format!(
            "no directory {} to restore into",
            dir.display()
        )));
    }
    // Hold the database exclusively from here to the rename (creating it if there is none,
    // so a server starting meanwhile waits for the restored file instead of making its own).
    let lock = lock_exclusive(db)?;
    let kept = if lock.metadata().is_ok_and(|m| m.len() > 0) {
        Some(keep_current(db)?)
    } else {
        None
    };
    let name = files::name_of(db);
    let tmp = Temp::create(&dir, &name, "restoring").map_err(BackupError::io(format!(
        "cannot create a file in {}",
        dir.display()
    )))?;
    std::fs::copy(file, &tmp.path)
        .and_then(|_| files::sync_file(&tmp.path))
        .map_err(BackupError::io(format!(
            "cannot copy {} to {}",
            file.display(),
            tmp.path.display()
        )))?;
    // The old database's shared-memory index must not be read against the new file.
    let _ = std::fs::remove_file(format!("{}-shm", db.display()));
    files::durable_rename(&tmp.path, db).map_err(BackupError::io(format!(
        "cannot rename into {}",
        db.display()
    )))?;
    tmp.keep();
    drop(lock);
    Ok(Restored { inspection, kept })
}

/// `flock(LOCK_EX | LOCK_NB)` on `db` (created empty, 0600, when missing).
fn lock_exclusive(db: &Path) -> Result<File, BackupError> {
    if !db.exists() {
        let _ = files::create_private(db);
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .open(db)
        .map_err(BackupError::io(format!("cannot open {}", db.display())))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::InUse(format!(
            "{} is open in another process (a running server or command); stop it first",
            db.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(BackupError::Io(format!("cannot lock {}", db.display()), e))
        }
    }
}

/// Folds the live database's WAL into it (refusing if a reader holds the WAL), then keeps it
/// under a stamped name; returns that name.
fn keep_current(db: &Path) -> Result<PathBuf, BackupError> {
    let shown = db.display();
    {
        let c = Connection::open(db).map_err(BackupError::sql(format!("cannot open {shown}")))?;
        let busy: i64 = c
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(BackupError::sql(format!("cannot checkpoint {shown}")))?;
        if busy != 0 {
            return Err(BackupError::InUse(format!(
                "{shown} is being read by another program (a replicator such as Litestream?); \
                 stop it first"
            )));
        }
    }
    let stamp = crate::civil::compact_utc(crate::db::now());
    let mut kept = PathBuf::from(format!("{shown}.before-restore-{stamp}"));
    let mut n = 1;
    while kept.exists() {
        n += 1;
        kept = PathBuf::from(format!("{shown}.before-restore-{stamp}-{n}"));
    }
    if std::fs::hard_link(db, &kept).is_err() {
        std::fs::copy(db, &kept)
            .and_then(|_| files::sync_file(&kept))
            .map_err(BackupError::io(format!(
                "cannot keep {shown} as {}",
                kept.display()
            )))?;
    }
    // A WAL the checkpoint could not remove goes with the copy it belongs to.
    let wal = PathBuf::from(format!("{shown}-wal"));
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        std::fs::rename(&wal, format!("{}-wal", kept.display()))
            .map_err(BackupError::io(format!("cannot move {}", wal.display())))?;
    }
    files::sync_dir(&files::dir_of(db)).map_err(BackupError::io(format!(
        "cannot fsync the directory of {shown}"
    )))?;
    Ok(kept)
}

/// Opens `file` read-only as immutable: no `-wal`/`-shm` is read or created beside it.
fn open_immutable(file: &Path) -> rusqlite::Result<Connection> {
    let raw = file
        .to_str()
        .ok_or_else(|| rusqlite::Error::InvalidPath(file.to_path_buf()))?;
    let mut uri = String::from("file:");
    for ch in raw.chars() {
        match ch {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// (step, hash) of every recorded step; an error when there is no history table.
fn recorded_steps(c: &Connection) -> rusqlite::Result<Vec<(u32, String)>> {
    c.prepare("SELECT step, COALESCE(hash, '') FROM schema_steps ORDER BY step")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::snapshot;
    use crate::backup::snapshot::tests::notes as bodies;
    use crate::db::Db;
    use crate::testdir::TempDir;

    const V2: &str = "-- step 1: notes\nCREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);\n-- step 2: tags\nALTER TABLE notes ADD COLUMN tag TEXT;\n";
    const V1: &str =
        "-- step 1: notes\nCREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);\n";
    const V3: &str = "-- step 1: notes\nCREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);\n-- step 2: tags\nALTER TABLE notes ADD COLUMN tag TEXT;\n-- step 3: more\nCREATE TABLE IF NOT EXISTS more (x);\n";

    fn add(db: &Db, body: &'static str) {
        db.write(move |c| c.execute("INSERT INTO notes (body) VALUES (?1)", [body]))
            .unwrap();
    }

    #[test]
    fn restore_swaps_in_the_snapshot_and_keeps_the_replaced_database() {
        let d = TempDir::new("restore");
        let live = d.join("live.db");
        let snap = d.join("snap.db");
        {
            let db = Db::open(&live, V2).unwrap();
            add(&db, "before");
            snapshot(&live, &snap).unwrap();
            add(&db, "after");
            // While it is open, restore refuses and changes nothing.
            match restore(&snap, &live, V2) {
                Err(BackupError::InUse(m)) => assert!(m.contains("stop it first"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        let r = restore(&snap, &live, V2).unwrap();
        assert_eq!(r.inspection.schema_version, 2);
        assert!(!r.inspection.newer() && !r.inspection.older());
        assert_eq!(bodies(&live), ["before"]);
        let kept = r.kept.unwrap();
        assert!(kept.to_string_lossy().contains("live.db.before-restore-"));
        assert_eq!(
            bodies(&kept),
            ["before", "after"],
            "the replaced database is whole"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&live).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The restored file opens as a database of the product again.
        let db = Db::open(&live, V2).unwrap();
        add(&db, "next");
        drop(db);
        assert_eq!(bodies(&live), ["before", "next"]);
        // Onto a database that does not exist yet: nothing to keep.
        let fresh = d.join("fresh.db");
        assert!(restore(&snap, &fresh, V2).unwrap().kept.is_none());
        assert_eq!(bodies(&fresh), ["before"]);
        // Onto itself: refused.
        assert!(matches!(
            restore(&live, &live, V2),
            Err(BackupError::Invalid(_))
        ));
    }

    #[test]
    fn inspect_refuses_what_cannot_be_run_on() {
        let d = TempDir::new("inspect");
        let junk = d.join("junk.db");
        std::fs::write(&junk, b"PK\x03\x04 not a database at all, a zip perhaps").unwrap();
        assert!(matches!(inspect(&junk, V2), Err(BackupError::NotOurs(_))));

        let plain = d.join("plain.db");
        Connection::open(&plain)
            .unwrap()
            .execute_batch("CREATE TABLE x (y);")
            .unwrap();
        match inspect(&plain, V2) {
            Err(BackupError::NotOurs(m)) => assert!(m.contains("no schema history"), "{m}"),
            other => panic!("{other:?}"),
        }

        let other = d.join("other.db");
        drop(
            Db::open(
                &other,
                "-- step 1: else\nCREATE TABLE IF NOT EXISTS other (z);\n",
            )
            .unwrap(),
        );
        assert!(matches!(inspect(&other, V2), Err(BackupError::NotOurs(_))));

        // Same first step, a different second one: another history.
        let fork = d.join("fork.db");
        drop(Db::open(&fork, "-- step 1: notes\nCREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);\n-- step 2: forked\nCREATE TABLE IF NOT EXISTS forked (q);\n").unwrap());
        match inspect(&fork, V2) {
            Err(BackupError::Incompatible(m)) => assert!(m.contains("step 2 (tags)"), "{m}"),
            other => panic!("{other:?}"),
        }

        // Older and newer histories are both fine.
        let old = d.join("old.db");
        drop(Db::open(&old, V1).unwrap());
        assert!(inspect(&old, V2).unwrap().older());
        let new = d.join("new.db");
        drop(Db::open(&new, V3).unwrap());
        let i = inspect(&new, V2).unwrap();
        assert!(i.newer() && i.schema_version == 3 && i.known_version == 2);

        // A live copy with its WAL beside it is not a snapshot.
        std::fs::write(d.join("new.db-wal"), b"frames").unwrap();
        assert!(matches!(inspect(&new, V2), Err(BackupError::Invalid(_))));
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let d = TempDir::new("damaged");
        let p = d.join("d.db");
        {
            let db = Db::open(&p, V2).unwrap();
            for _ in 0..200 {
                add(
                    &db,
                    "some text long enough to fill several pages of the table's b-tree",
                );
            }
        }
        let root: i64 = Connection::open(&p)
            .unwrap()
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'notes'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        // Scribble over the table's root page (its b-tree header and cell pointers).
        let at = (root as usize - 1) * 4096;
        for b in &mut bytes[at..at + 64] {
            *b = 0x5a;
        }
        std::fs::write(&p, &bytes).unwrap();
        match inspect(&p, V2) {
            Err(BackupError::Damaged(_)) | Err(BackupError::Sqlite(..)) => {}
            other => panic!("{other:?}"),
        }
        let live = d.join("live.db");
        std::fs::write(&live, b"").unwrap();
        assert!(restore(&p, &live, V2).is_err());
        assert_eq!(
            std::fs::metadata(&live).unwrap().len(),
            0,
            "nothing replaced"
        );
    }
}
