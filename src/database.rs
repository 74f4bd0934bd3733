//! `fazt.db` as fazt lays it out: the schema compiled into the binary (repository
//! `schema.sql`, append-only, hashes pinned in `tests/schema.lock`), the name of the table
//! the kernel's VFS keeps site files in, and opening the file with both.

use std::path::Path;

use crate::kernel::db::{Db, DbError};
use crate::kernel::vfs::FileTable;

/// fazt's schema, every step since the first release.
pub const SCHEMA_SQL: &str = include_str!("../schema.sql");

/// The table of site files (named by fazt's Go version).
pub const FILES: FileTable = FileTable::named("files");

/// Opens (creating if needed) `fazt.db` at `path` and brings its schema up to date.
pub fn open(path: &Path) -> Result<Db, DbError> {
    Db::open(path, SCHEMA_SQL)
}
