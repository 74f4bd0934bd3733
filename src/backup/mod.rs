//! Backups of fazt.db, on top of the kernel's backup agent ([`crate::kernel::backup`]): the
//! record of every snapshot taken ([`record`], table `backups`), the scheduled snapshots of
//! a running server ([`start_schedule`]), and the download of a snapshot from the API
//! ([`download`]). The `backup` and `restore` commands are in `cli`.

mod download;
pub mod record;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::kernel::backup::{Outcome, Schedule};
use crate::kernel::db::Db;

pub use download::download;

/// How a server backs itself up: scheduled snapshots (when a directory is set) and whether a
/// replicator streams its WAL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Scheduled snapshots, `None` without `--backup-dir`.
    pub schedule: Option<Schedule>,
    /// `--replicated`: a replicator (Litestream) is attached even before its tables show.
    pub replicated: bool,
}

impl Policy {
    /// The snapshot schedule for `dir`, every `every`, keeping `keep`.
    pub fn schedule(dir: PathBuf, every: Duration, keep: usize) -> Schedule {
        Schedule {
            dir,
            every,
            keep,
            prefix: "fazt".into(),
        }
    }
}

/// Starts the scheduled snapshots of `db`: one log line and one `backups` row per run.
pub fn start_schedule(db: &Arc<Db>, schedule: Schedule) -> std::io::Result<()> {
    let db2 = db.clone();
    log::info!(
        "backups: a snapshot every {} s into {} (keeping {}); next in {} s",
        schedule.every.as_secs(),
        schedule.dir.display(),
        schedule.keep,
        schedule.due_in(crate::kernel::db::now())
    );
    schedule.start(db.path().to_path_buf(), move |o: &Outcome| {
        match &o.result {
            Ok(s) => log::info!(
                "backup: {} ({} bytes, schema {}) in {} ms{}",
                s.path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                s.bytes,
                s.schema_version,
                s.took.as_millis(),
                if o.pruned.is_empty() {
                    String::new()
                } else {
                    format!("; removed {} older", o.pruned.len())
                }
            ),
            Err(e) => log::error!("backup failed (older snapshots kept): {e}"),
        }
        record::add(&db2, "schedule", o.started, o.result.as_ref());
    })
}
