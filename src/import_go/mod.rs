//! `fazt import-go`: brings a Go fazt `data.db` (schema v0.5 through v0.29) into fazt.db, in
//! ONE transaction on fazt.db — a failure, or `--dry-run`, leaves it unchanged — reading the
//! Go file read-only ([`go_db`]).
//!
//! What is imported, and how a second run changes nothing:
//! - sites and their files, KV rows, env vars, short links (with click counts), webhooks
//!   (with secrets), tokens and certificate-store rows are keyed: a key already present here
//!   is never overwritten ([`Merge`]) — the same row counts as unchanged, a different one is
//!   kept and reported. A site is compared by its files' sha256s; a system site fazt seeded
//!   and nobody deployed is replaced by Go's.
//! - events, site log lines and deployments are append-only: the highest Go id imported is
//!   kept per Go database (`imports`), so a re-run adds only what Go wrote since.
//! - Go tokens are bcrypt hashes: they are listed with scope `rotate` and never authenticate
//!   (see [`crate::access::tokens::import_legacy`] for why).
//! - Go's own dashboard site (`admin`), user-scoped and expired KV rows, and Go's server
//!   settings are skipped, each with its reason in the summary.
//!
//! The importer writes through each table's owner ([`crate::scripts::kv`],
//! `analytics::import`, …), as every other writer does.

pub mod go_db;
mod progress;
mod rows;

use std::path::Path;
use std::sync::Arc;

use crate::database::Merge;
use crate::kernel::db::Db;
use go_db::GoDb;

/// How to import.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Do everything, report it, then roll back.
    pub dry_run: bool,
    /// Keep the raw IP addresses, user agents and referrers of Go's events (off: only the
    /// salted visitor hash, the UA class and the referrer's host, as fazt records them).
    pub keep_addresses: bool,
}

#[derive(Debug)]
pub enum ImportError {
    /// The Go database cannot be read, or is not one.
    Source(String),
    /// Writing fazt.db failed; nothing was changed.
    Db(String),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Source(m) => write!(f, "{m}"),
            ImportError::Db(m) => write!(f, "writing fazt.db: {m} (nothing was changed)"),
        }
    }
}

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> Self {
        ImportError::Db(e.to_string())
    }
}

/// Counts for one kind of row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub kind: &'static str,
    pub added: u64,
    pub same: u64,
    /// Present here with other content: kept, Go's skipped.
    pub kept: u64,
    pub skipped: u64,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Default)]
pub struct Summary {
    /// Go's highest applied migration.
    pub go_version: i64,
    pub tallies: Vec<Tally>,
    /// One line per thing not imported, with the reason.
    pub notes: Vec<String>,
    pub dry_run: bool,
}

impl Summary {
    fn tally(&mut self, kind: &'static str) -> &mut Tally {
        if let Some(i) = self.tallies.iter().position(|t| t.kind == kind) {
            return &mut self.tallies[i];
        }
        self.tallies.push(Tally {
            kind,
            ..Tally::default()
        });
        self.tallies.last_mut().expect("just pushed")
    }

    fn count(&mut self, kind: &'static str, m: Merge) {
        let t = self.tally(kind);
        match m {
            Merge::Added => t.added += 1,
            Merge::Same => t.same += 1,
            Merge::Kept => t.kept += 1,
        }
    }

    fn skip(&mut self, kind: &'static str, why: String) {
        self.tally(kind).skipped += 1;
        self.notes.push(why);
    }

    /// The tally of `kind` (zeros when nothing of it was seen).
    pub fn of(&self, kind: &str) -> Tally {
        self.tallies
            .iter()
            .find(|t| t.kind == kind)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the import added anything.
    pub fn changed(&self) -> bool {
        self.tallies.iter().any(|t| t.added > 0)
    }
}

/// Imports the Go database at `go_path` into `db`.
pub fn import(go_path: &Path, db: &Arc<Db>, opts: Options) -> Result<Summary, ImportError> {
    let go = GoDb::open(go_path)?;
    db.write_job(move |conn| -> Result<Summary, ImportError> {
        let tx = conn.transaction()?;
        let mut s = Summary {
            go_version: go.version,
            dry_run: opts.dry_run,
            ..Summary::default()
        };
        let sites = rows::sites(&go, &tx, &mut s)?;
        rows::site_rows(&go, &tx, &sites, &mut s)?;
        rows::analytics(&go, &tx, &sites, opts, &mut s)?;
        rows::tokens(&go, &tx, &mut s)?;
        rows::certificates(&go, &tx, &mut s)?;
        rows::settings(&go, &mut s)?;
        if !opts.dry_run {
            tx.commit()?;
        }
        Ok(s)
    })
    .map_err(|e| ImportError::Db(e.to_string()))?
}
