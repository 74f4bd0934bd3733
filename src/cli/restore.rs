//! `fazt restore FILE`: puts a snapshot in place of fazt.db. The file is checked first (an
//! SQLite file, `integrity_check` ok, fazt's schema history); the server must be stopped
//! (the kernel refuses while any process has the database open); the swap is one rename,
//! and the database it replaces is kept under a name printed here.

use std::path::PathBuf;

use pico_args::Arguments;

use super::common::{db_path, finish, opt, wants_help, CliError, Help};
use super::status::human;
use crate::kernel::backup::{self, BackupError};

const HELP: Help = Help("restore");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    let file: Option<PathBuf> = args
        .opt_free_from_str()
        .map_err(|e| CliError::usage(e.to_string()))?;
    finish(args, "restore")?;
    let file = file.ok_or_else(|| CliError::usage("usage: fazt restore FILE [--db PATH]"))?;
    if !file.is_file() {
        return Err(CliError::fail(format!("no file at {}", file.display())));
    }
    let db = db_path(db_flag);
    let done = backup::restore(&file, &db, crate::database::SCHEMA_SQL).map_err(|e| match e {
        BackupError::NotOurs(m) => CliError::fail(format!("refused: {m} (not a fazt database)")),
        BackupError::InUse(m) => CliError::fail(format!("refused: {m} (systemctl stop fazt)")),
        other => CliError::fail(format!("refused: {other}")),
    })?;
    let i = &done.inspection;
    println!(
        "restored {} ({}, schema version {}) into {}",
        file.display(),
        human(i.bytes),
        i.schema_version,
        db.display()
    );
    if i.newer() {
        println!(
            "note: written by a newer fazt (schema {} > {} here); this binary runs on it, since \
             schema steps only add tables and columns — upgrade fazt to use what they added",
            i.schema_version, i.known_version
        );
    }
    match &done.kept {
        Some(k) => println!("the database it replaced is kept as {}", k.display()),
        None => println!("there was no database at {} before", db.display()),
    }
    // Open it once now: an older snapshot gets this binary's schema steps, and anything
    // this binary cannot open is reported here rather than at the next start.
    let opened = crate::database::open(&db)
        .map_err(|e| CliError::fail(format!("restored, but it does not open: {e}")))?;
    if i.older() {
        println!(
            "upgraded its schema from version {} to {}",
            i.schema_version,
            opened.schema_version()
        );
    }
    Ok(())
}
