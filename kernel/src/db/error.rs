//! The one error type of the database layer: opening the file, applying the schema, and
//! running a read or a write. Startup errors (the first three variants) name the file or
//! the schema step; request-time errors carry SQLite's own error.

use std::fmt;
use std::path::PathBuf;

/// What went wrong in [`Db`](super::Db) or the schema migration.
#[derive(Debug)]
pub enum DbError {
    /// The directory the database file should live in does not exist.
    NoDirectory(PathBuf),
    /// The file could not be created, opened or configured.
    Open {
        /// The database file.
        path: PathBuf,
        /// What the operating system or SQLite said.
        detail: String,
    },
    /// The schema text is malformed (a step header out of order, an unparsable number).
    BadSchema(String),
    /// A schema step failed to apply; nothing of it was kept.
    Step {
        /// The step's number.
        number: u32,
        /// The step's name.
        name: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A query or statement failed.
    Sqlite(rusqlite::Error),
    /// The writer thread is gone (the database is shutting down) or the job was aborted.
    WriterStopped,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::NoDirectory(d) => write!(f, "directory {} does not exist", d.display()),
            DbError::Open { path, detail } => write!(f, "cannot open {}: {detail}", path.display()),
            DbError::BadSchema(m) => write!(f, "schema: {m}"),
            DbError::Step {
                number,
                name,
                source,
            } => write!(f, "schema step {number} ({name}): {source}"),
            DbError::Sqlite(e) => e.fmt(f),
            DbError::WriterStopped => f.write_str("database writer has stopped"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Step { source, .. } | DbError::Sqlite(source) => Some(source),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}
