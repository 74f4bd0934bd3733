//! Pieces shared by the subcommands: errors, `--db` resolution, logging set-up, and the
//! check that no unknown flag is left over.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pico_args::Arguments;

use crate::kernel::db::Db;

#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: 2,
            message: message.into(),
        }
    }
    pub fn fail(message: impl Into<String>) -> Self {
        CliError {
            code: 1,
            message: message.into(),
        }
    }
}

/// Prints `help` and returns true when `-h/--help` was given.
pub fn wants_help(args: &mut Arguments, help: impl std::fmt::Display) -> bool {
    if args.contains(["-h", "--help"]) {
        print!("{help}");
        true
    } else {
        false
    }
}

/// A command's `--help` text by name: `src/cli/help/NAME.txt`, which the binary carries
/// deflated (packed by `build.rs`; the texts are 12 KB, a third of that packed) and inflates
/// only when it is printed.
#[derive(Clone, Copy)]
pub struct Help(pub &'static str);

impl std::fmt::Display for Help {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/help.bin"));
        static INDEX: &[(&str, usize, usize)] =
            include!(concat!(env!("OUT_DIR"), "/help_index.rs"));
        let text = crate::kernel::compress::unpack(BLOB, INDEX, self.0).unwrap_or_default();
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

/// An optional string flag; a flag given without its value is a usage error.
pub fn opt(args: &mut Arguments, name: &'static str) -> Result<Option<String>, CliError> {
    args.opt_value_from_str(name)
        .map_err(|e| CliError::usage(format!("{name}: {e}")))
}

/// Refuses anything left after the known flags.
pub fn finish(args: Arguments, cmd: &str) -> Result<(), CliError> {
    let rest = args.finish();
    match rest.first() {
        None => Ok(()),
        Some(a) => Err(CliError::usage(format!(
            "unexpected argument '{}' for `fazt {cmd}` (see `fazt {cmd} --help`)",
            a.to_string_lossy()
        ))),
    }
}

/// `--db` beats `FAZT_DB` beats `./fazt.db`.
pub fn db_path(flag: Option<String>) -> PathBuf {
    flag.or_else(|| std::env::var("FAZT_DB").ok().filter(|s| !s.is_empty()))
        .map_or_else(|| PathBuf::from("fazt.db"), PathBuf::from)
}

pub fn open_db(flag: Option<String>) -> Result<Arc<Db>, CliError> {
    open_db_at(&db_path(flag))
}

pub fn open_db_at(path: &Path) -> Result<Arc<Db>, CliError> {
    crate::database::open(path)
        .map(Arc::new)
        .map_err(|e| CliError::fail(e.to_string()))
}

/// For commands that only read: the database must already exist (opening would create an
/// empty one). Returns it and its path.
pub fn open_existing_db(flag: Option<String>) -> Result<(Arc<Db>, PathBuf), CliError> {
    let path = db_path(flag.clone());
    if !path.exists() {
        return Err(CliError::fail(format!(
            "no database at {} (start `fazt serve` once, or pass --db)",
            path.display()
        )));
    }
    Ok((open_db(flag)?, path))
}

/// The processes serving `db` now: those holding a lock on it with `serve` in their
/// command line (the CLI's own commands hold it briefly too, but never serve).
pub fn servers_on(db: &Path) -> Vec<u32> {
    crate::kernel::process::lock_holders(db)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"serve"))
        })
        .collect()
}

/// Logs to stderr at `level`; under systemd (`JOURNAL_STREAM` set) without timestamps,
/// since journald adds its own.
pub fn init_logging(level: &str) -> Result<(), CliError> {
    let filter: log::LevelFilter = level.parse().map_err(|_| {
        CliError::usage(format!(
            "unknown log level '{level}' (error, warn, info, debug, trace)"
        ))
    })?;
    // rustls and may log every handshake and worker at `info`.
    crate::kernel::logger::init(
        filter,
        &[
            ("rustls", log::LevelFilter::Warn),
            ("may", log::LevelFilter::Warn),
        ],
    );
    Ok(())
}
