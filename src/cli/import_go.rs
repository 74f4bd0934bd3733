//! `fazt import-go PATH/data.db`: moves a Go fazt server's database into fazt.db (see
//! [`crate::import_go`]) and prints what came over, what was already here and what was
//! skipped, with the reason.

use std::path::PathBuf;

use pico_args::Arguments;

use super::common::{db_path, finish, open_db, opt, servers_on, wants_help, CliError, Help};
use crate::import_go::{import, Options};

const HELP: Help = Help("import_go");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    let opts = Options {
        dry_run: args.contains("--dry-run"),
        keep_addresses: args.contains("--keep-addresses"),
    };
    let source: PathBuf = args
        .opt_free_from_str()
        .map_err(|e| CliError::usage(format!("import-go: {e}")))?
        .ok_or_else(|| {
            CliError::usage("import-go needs the Go database: fazt import-go PATH/data.db")
        })?;
    finish(args, "import-go")?;
    let target = db_path(db_flag.clone());
    if target.exists() {
        if crate::kernel::backup::same_file(&source, &target) {
            return Err(CliError::usage(format!(
                "{} is the database to import into: give the Go database and --db the fazt one",
                source.display()
            )));
        }
        if let Some(pid) = servers_on(&target).first() {
            return Err(CliError::fail(format!(
                "a server (pid {pid}) is serving {}: stop it first (`fazt service stop`), import, then start it",
                target.display()
            )));
        }
    }
    // A dry run into a database that does not exist yet must not create it: it runs on a
    // scratch one that is removed afterwards.
    let scratch = (opts.dry_run && !target.exists()).then(|| {
        std::env::temp_dir().join(format!("fazt-import-dry-run-{}.db", std::process::id()))
    });
    let db = match &scratch {
        Some(p) => super::common::open_db_at(p)?,
        None => open_db(db_flag)?,
    };
    let result = import(&source, &db, opts);
    drop(db);
    if let Some(p) = &scratch {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
        }
    }
    let s = result.map_err(|e| CliError::fail(e.to_string()))?;
    println!(
        "{} {} (Go schema {}) into {}{}",
        if s.dry_run {
            "would import"
        } else {
            "imported"
        },
        source.display(),
        s.go_version,
        target.display(),
        if s.dry_run {
            " — dry run, nothing changed"
        } else {
            ""
        }
    );
    println!(
        "  {:<14} {:>8} {:>10} {:>6} {:>8}",
        "", "added", "unchanged", "kept", "skipped"
    );
    for t in &s.tallies {
        println!(
            "  {:<14} {:>8} {:>10} {:>6} {:>8}",
            t.kind, t.added, t.same, t.kept, t.skipped
        );
    }
    for n in &s.notes {
        println!("  - {n}");
    }
    if !s.changed() && !s.dry_run {
        println!("nothing new: fazt.db already has everything this Go database holds");
    }
    Ok(())
}
