//! `fazt.db` as fazt lays it out: the schema compiled into the binary (repository
//! `schema.sql`, append-only, hashes pinned in `tests/schema.lock`), the name of the table
//! the kernel's VFS keeps site files (and their history) in, and opening the file with both.

use std::path::Path;

use crate::kernel::db::{Db, DbError};
use crate::kernel::vfs::versions::VersionTables;
use crate::kernel::vfs::FileTable;

/// fazt's schema, every step since the first release.
pub const SCHEMA_SQL: &str = include_str!("../schema.sql");

/// The table of site files (named by fazt's Go version).
pub const FILES: FileTable = FileTable::named("files");

/// The VFS's live files, with the deployment history kept by content beside them.
pub const VERSIONS: VersionTables = VersionTables {
    files: FILES,
    blobs: FileTable::named("file_blobs"),
    manifests: FileTable::named("deployment_files"),
};

/// Opens (creating if needed) `fazt.db` at `path` and brings its schema up to date.
pub fn open(path: &Path) -> Result<Db, DbError> {
    Db::open(path, SCHEMA_SQL)
}

/// What writing one imported row did (`fazt import-go`): rows already present are never
/// overwritten, so a second import changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The row was new and is added.
    Added,
    /// The same row is here already.
    Same,
    /// A different row with the same key is here: it is kept, the import's is skipped.
    Kept,
}

impl Merge {
    /// `Same` when `existing` equals `new`, `Kept` when it differs, `Added` when absent
    /// (the caller then inserts).
    pub fn of<T: PartialEq>(existing: Option<T>, new: &T) -> Merge {
        match existing {
            None => Merge::Added,
            Some(e) if &e == new => Merge::Same,
            Some(_) => Merge::Kept,
        }
    }
}
