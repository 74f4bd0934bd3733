//! The `backups` table and its one owner: a row for every snapshot taken (scheduled, by
//! `fazt backup`, or downloaded from the API), read back for `/api/system/health` and
//! `fazt status`.

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::kernel::backup::{BackupError, Snapshot};
use crate::kernel::db::{now, Db};

/// Rows kept: the newest, older ones are trimmed as new ones are added.
const KEEP_ROWS: i64 = 500;

/// One recorded snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub started_at: i64,
    pub finished_at: i64,
    /// `schedule`, `cli` or `api`.
    pub kind: String,
    pub ok: bool,
    pub path: Option<String>,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
}

impl Run {
    /// For `/api/system/health`: the run with its age.
    pub fn to_json(&self) -> Value {
        json!({
            "at": self.finished_at,
            "age_seconds": (now() - self.finished_at).max(0),
            "kind": self.kind,
            "ok": self.ok,
            "path": self.path,
            "size_bytes": self.size_bytes,
            "error": self.error,
        })
    }
}

/// Records one snapshot (a failure to record is logged: the snapshot itself stands).
pub fn add(db: &Db, kind: &str, started: i64, result: Result<&Snapshot, &BackupError>) {
    let kind = kind.to_string();
    let (ok, path, size, version, error) = match result {
        Ok(s) => (
            1,
            s.path.as_ref().map(|p| p.display().to_string()),
            Some(s.bytes as i64),
            Some(s.schema_version),
            None,
        ),
        Err(e) => (0, None, None, None, Some(e.to_string())),
    };
    let r = db.write(move |c| {
        c.execute(
            "INSERT INTO backups (started_at, finished_at, kind, ok, path, size_bytes, schema_version, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![started, now(), kind, ok, path, size, version, error],
        )?;
        c.execute(
            "DELETE FROM backups WHERE id <= (SELECT MAX(id) FROM backups) - ?1",
            [KEEP_ROWS],
        )
    });
    if let Err(e) = r {
        log::warn!("could not record the backup in the database: {e}");
    }
}

/// The newest run, and the newest successful one.
pub fn latest(db: &Db) -> rusqlite::Result<(Option<Run>, Option<Run>)> {
    db.read(|c| {
        let one = |filter: &str| {
            c.query_row(
                &format!(
                    "SELECT started_at, finished_at, kind, ok, path, size_bytes, error FROM backups
                     {filter} ORDER BY id DESC LIMIT 1"
                ),
                [],
                |r| {
                    Ok(Run {
                        started_at: r.get(0)?,
                        finished_at: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                        kind: r.get(2)?,
                        ok: r.get::<_, i64>(3)? != 0,
                        path: r.get(4)?,
                        size_bytes: r.get(5)?,
                        error: r.get(6)?,
                    })
                },
            )
            .optional()
        };
        Ok((one("")?, one("WHERE ok = 1")?))
    })
}

/// `3 h ago`: the age of a Unix time, in its largest whole unit.
pub fn ago(at: i64) -> String {
    let s = (now() - at).max(0);
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        7200..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// One line on the newest snapshot for `fazt status`.
pub fn summary(db: &Db) -> String {
    match latest(db) {
        Ok((None, _)) => "none recorded".into(),
        Ok((Some(last), _)) if last.ok => format!(
            "{}, {} ({}, {} bytes)",
            ago(last.finished_at),
            last.path.as_deref().unwrap_or("downloaded"),
            last.kind,
            last.size_bytes.unwrap_or(0)
        ),
        Ok((Some(last), good)) => format!(
            "FAILED {} ({}): {}; last good: {}",
            ago(last.finished_at),
            last.kind,
            last.error.as_deref().unwrap_or("?"),
            good.map_or_else(|| "none".into(), |g| ago(g.finished_at))
        ),
        Err(e) => format!("unknown ({e})"),
    }
}
