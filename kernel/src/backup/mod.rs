//! The backup agent: consistent online snapshots of a live database ([`snapshot`]), scheduled
//! snapshots with rotation ([`Schedule`]), and restore: a file inspected against the
//! product's schema history, then swapped in atomically with the database it replaces kept
//! ([`restore`]).
//!
//! A snapshot is `VACUUM INTO` on a read-only connection: it runs in any process (the CLI
//! while the server serves), takes no write lock (WAL: writers go on), and writes a compact
//! copy. Measured against SQLite's online backup API driven by the single writer in
//! `kernel/examples/snapshot_methods.rs`. Every snapshot is written under a temporary name,
//! `integrity_check`ed, fsynced and only then renamed into place with mode 0600, so a name
//! never points at a partial or damaged file.

mod error;
mod files;
mod restore;
mod schedule;
mod snapshot;

pub use error::BackupError;
pub use files::same_file;
pub use restore::{inspect, restore, Inspection, Restored};
pub use schedule::{Outcome, Schedule};
pub use snapshot::{snapshot, snapshot_file, Snapshot};

/// Where a snapshot of the database at `db` is written before it is streamed: the
/// database's own directory, the one place a server can always write (a scratch image has
/// no `/tmp`, a hardened unit may see only its state directory).
pub fn scratch_dir(db: &std::path::Path) -> std::path::PathBuf {
    files::dir_of(db)
}
