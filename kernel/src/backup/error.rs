//! What can go wrong backing up or restoring, each with the file it concerns in its message.

use std::fmt;

/// A failed snapshot, inspection or restore. Nothing was renamed into place or replaced.
#[derive(Debug)]
pub enum BackupError {
    /// A file or directory operation failed: what was being done, and the OS error.
    Io(String, std::io::Error),
    /// SQLite refused: what was being done, and its error.
    Sqlite(String, rusqlite::Error),
    /// The file is not a database of this product (not SQLite, or another schema history).
    NotOurs(String),
    /// `PRAGMA integrity_check` found damage: the file and the check's first findings.
    Damaged(String),
    /// The file's schema history and this program's disagree on a step both know.
    Incompatible(String),
    /// Another process has the database open (a server, a command, a replicator).
    InUse(String),
    /// The request itself makes no sense (restoring a file onto itself, a path that is not
    /// UTF-8…).
    Invalid(String),
}

impl BackupError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
        let what = what.into();
        move |e| BackupError::Io(what, e)
    }

    pub(crate) fn sql(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BackupError {
        let what = what.into();
        move |e| BackupError::Sqlite(what, e)
    }
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupError::Io(what, e) => write!(f, "{what}: {e}"),
            BackupError::Sqlite(what, e) => write!(f, "{what}: {e}"),
            BackupError::NotOurs(m)
            | BackupError::Damaged(m)
            | BackupError::Incompatible(m)
            | BackupError::InUse(m)
            | BackupError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BackupError {}
