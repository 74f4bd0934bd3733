//! File plumbing shared by snapshot and restore: private temporary files that vanish unless
//! kept, durable renames (fsync of the file, then of its directory), and the directory a
//! path lives in.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The last component of `path`, for messages and derived names.
pub(crate) fn name_of(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "db".into(), |n| n.to_string_lossy().into_owned())
}

/// A temporary file removed on drop unless [`Temp::keep`] was called.
pub(crate) struct Temp {
    pub path: PathBuf,
    kept: bool,
}

impl Temp {
    /// Creates `dir/.<base>.<pid>-<n>.<suffix>`, empty, mode 0600. Hidden and named by
    /// process so two snapshots at once never share one; a crash leaves it behind, never
    /// under a name anyone reads.
    pub fn create(dir: &Path, base: &str, suffix: &str) -> io::Result<Temp> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{base}.{}-{n}.{suffix}", std::process::id()));
        // A leftover of an earlier process with our pid and counter.
        let _ = std::fs::remove_file(&path);
        create_private(&path)?;
        Ok(Temp { path, kept: false })
    }

    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
            // SQLite's own companions, if a connection to it was left unclean.
            for ext in ["-journal", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", self.path.display()));
            }
        }
    }
}

/// Creates `path` empty with mode 0600; fails if it exists.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// fsyncs the file at `path`.
pub(crate) fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Renames `from` to `to` (same directory, atomically replacing `to`) and fsyncs the
/// directory so the new name survives a power cut.
pub(crate) fn durable_rename(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    sync_dir(&dir_of(to))
}

/// fsyncs a directory (its entries), where the platform allows it.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// `path` as UTF-8 for SQL (`VACUUM INTO ?1`), or an error naming it.
pub(crate) fn utf8(path: &Path) -> Result<&str, super::BackupError> {
    path.to_str().ok_or_else(|| {
        super::BackupError::Invalid(format!("{} is not a UTF-8 path", path.display()))
    })
}

/// Two paths name the same file (same device and inode; a missing one names none).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        a.canonicalize()
            .ok()
            .is_some_and(|x| b.canonicalize().ok() == Some(x))
    }
}
