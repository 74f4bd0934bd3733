//! `fazt backup`: a consistent snapshot of fazt.db, safe while `serve` runs and takes
//! writes (the kernel's `VACUUM INTO` on a read-only connection), to a file, into a
//! directory under a timestamped name, or to stdout.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use pico_args::Arguments;

use super::common::{db_path, finish, opt, wants_help, CliError, Help};
use super::status::human;
use crate::kernel::backup::{self, Snapshot};

const HELP: Help = Help("backup");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    let to = opt(&mut args, "--to")?.unwrap_or_else(|| ".".into());
    finish(args, "backup")?;
    let db = db_path(db_flag);
    if !db.is_file() {
        return Err(CliError::fail(format!(
            "no database at {} (pass --db, or set FAZT_DB)",
            db.display()
        )));
    }
    // Serving goes first: the snapshot takes a core for its duration on a small board.
    crate::kernel::priority::lower_this_thread(crate::kernel::priority::BACKGROUND_NICE);
    let started = crate::kernel::db::now();
    let result = if to == "-" {
        to_stdout(&db)
    } else {
        let dest = destination(&db, Path::new(&to), started)?;
        backup::snapshot(&db, &dest)
    };
    record(&db, started, &result);
    let snap = result.map_err(|e| CliError::fail(format!("backup failed: {e}")))?;
    let secs = snap.took.as_secs_f64().max(0.001);
    // To stderr when stdout carries the snapshot.
    let line = format!(
        "backup: {} — {}, schema version {}, {:.2} s ({:.1} MB/s)",
        snap.path
            .as_deref()
            .map_or_else(|| "stdout".into(), |p| p.display().to_string()),
        human(snap.bytes),
        snap.schema_version,
        secs,
        snap.bytes as f64 / 1e6 / secs
    );
    if to == "-" {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(())
}

/// `--to` as a file path: a directory gets a timestamped name, a file path must not be the
/// database, and its directory must exist.
fn destination(db: &Path, to: &Path, now: i64) -> Result<PathBuf, CliError> {
    if to.is_dir() {
        return Ok(
            crate::backup::Policy::schedule(to.to_path_buf(), Default::default(), 1).next_path(now),
        );
    }
    // `--to DIR/` names a directory: one that is missing is an error, not a file name.
    if to.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(CliError::fail(format!(
            "--to {}: no such directory (create it first)",
            to.display()
        )));
    }
    let dir = to
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(CliError::fail(format!(
            "--to {}: no directory {}",
            to.display(),
            dir.display()
        )));
    }
    if backup::same_file(db, to) {
        return Err(CliError::fail(format!(
            "--to {} is the database itself",
            to.display()
        )));
    }
    Ok(to.to_path_buf())
}

/// The snapshot written to stdout (refused on a terminal: it is binary).
fn to_stdout(db: &Path) -> Result<Snapshot, backup::BackupError> {
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        return Err(backup::BackupError::Invalid(
            "stdout is a terminal; redirect it (--to - > file, or | ssh …)".into(),
        ));
    }
    let (mut file, snap) = backup::snapshot_file(db, &backup::scratch_dir(db))?;
    std::io::copy(&mut file, &mut out)
        .and_then(|_| out.flush())
        .map_err(|e| backup::BackupError::Io("writing the snapshot to stdout".into(), e))?;
    Ok(snap)
}

/// Records the run in the database (when it opens: a backup of a database this binary
/// cannot open for writing still stands).
fn record(db: &Path, started: i64, result: &Result<Snapshot, backup::BackupError>) {
    match crate::database::open(db) {
        Ok(d) => crate::backup::record::add(&d, "cli", started, result.as_ref()),
        Err(e) => eprintln!(
            "fazt: warning: could not record the backup in {}: {e}",
            db.display()
        ),
    }
}
