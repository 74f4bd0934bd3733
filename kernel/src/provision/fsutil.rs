//! Small file-system helpers for the installer: atomic "write if different",
//! directory creation with a mode, idempotent removal, ownership repair.
//!
//! Every write goes to a temporary file in the same directory and is renamed
//! over the target, so a crash never leaves half a binary or unit behind and
//! replacing the installed binary works while that very binary is running
//! (writing into a running executable fails with ETXTBSY; renaming over it
//! does not).

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::ProvisionError;

/// Writes `content` to `path` with permission bits `mode` unless the file
/// already has exactly that content and mode. Returns whether it wrote.
pub(crate) fn write_if_changed(
    path: &Path,
    content: &[u8],
    mode: u32,
) -> Result<bool, ProvisionError> {
    if let Ok(meta) = fs::metadata(path) {
        if meta.is_file()
            && meta.len() == content.len() as u64
            && meta.mode() & 0o7777 == mode
            && fs::read(path).map_err(|e| ProvisionError::io("read", path, e))? == content
        {
            return Ok(false);
        }
    }
    write_atomic(path, content, mode)?;
    Ok(true)
}

fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<(), ProvisionError> {
    let tmp = temp_sibling(path);
    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(content)?;
        // The umask may have narrowed `mode` at creation: set it exactly.
        f.set_permissions(Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ProvisionError::io("write", path, e));
    }
    // Make the rename itself durable; failing to sync a directory is not fatal.
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Creates `dir` and its missing parents; the directories this call creates
/// get `mode`, existing ones are left as they are.
pub(crate) fn create_dirs(dir: &Path, mode: u32) -> Result<(), ProvisionError> {
    DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| ProvisionError::io("create directory", dir, e))
}

/// Removes a file or symlink; a missing one is fine. Returns whether it existed.
pub(crate) fn remove_file(path: &Path) -> Result<bool, ProvisionError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ProvisionError::io("remove", path, e)),
    }
}

/// Removes a directory tree, or just the link if `path` is a symlink; a
/// missing path is fine. Returns whether it existed.
pub(crate) fn remove_tree(path: &Path) -> Result<bool, ProvisionError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ProvisionError::io("inspect", path, e)),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path)
            .map(|()| true)
            .map_err(|e| ProvisionError::io("remove directory", path, e)),
        Ok(_) => remove_file(path),
    }
}

/// Gives every entry directly inside `dir` the owner and group of `dir`.
///
/// The installer runs as root and may create the database inside a state
/// directory that systemd already handed to the service's dynamic user;
/// systemd only re-owns the tree when the directory itself has the wrong
/// owner, so root-owned files left in it would lock the service out.
pub(crate) fn match_dir_owner(dir: &Path) -> Result<(), ProvisionError> {
    let meta = fs::metadata(dir).map_err(|e| ProvisionError::io("inspect", dir, e))?;
    let (uid, gid) = (meta.uid(), meta.gid());
    let entries = fs::read_dir(dir).map_err(|e| ProvisionError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ProvisionError::io("list", dir, e))?;
        let path = entry.path();
        // SQLite removes its -wal/-shm files when the last connection closes: an entry
        // that vanished since the listing needs no owner.
        let m = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ProvisionError::io("inspect", &path, e)),
        };
        if m.uid() != uid || m.gid() != gid {
            match std::os::unix::fs::lchown(&path, Some(uid), Some(gid)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ProvisionError::io("change owner of", &path, e)),
            }
        }
    }
    Ok(())
}

/// The effective uid of this process, from `/proc/self/status` (std has no
/// `geteuid`, and this keeps `libc` out of the dependency list).
pub(crate) fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // "Uid:\treal\teffective\tsaved\tfs"
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::testutil::TempDir;

    #[test]
    fn write_if_changed_writes_once_and_fixes_mode() {
        let t = TempDir::new("fs");
        let p = t.path().join("f");
        assert!(write_if_changed(&p, b"abc", 0o644).unwrap());
        assert!(!write_if_changed(&p, b"abc", 0o644).unwrap());
        assert!(
            write_if_changed(&p, b"abc", 0o600).unwrap(),
            "mode change rewrites"
        );
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o7777, 0o600);
        assert!(
            write_if_changed(&p, b"abd", 0o600).unwrap(),
            "content change rewrites"
        );
        assert_eq!(fs::read(&p).unwrap(), b"abd");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_into_missing_directory_names_the_path() {
        let t = TempDir::new("fs");
        let p = t.path().join("missing/f");
        let err = write_if_changed(&p, b"x", 0o644).unwrap_err().to_string();
        assert!(err.contains("missing/f"), "{err}");
    }

    #[test]
    fn removal_is_idempotent_and_does_not_follow_links() {
        let t = TempDir::new("fs");
        let target = t.path().join("target");
        create_dirs(&target.join("sub"), 0o700).unwrap();
        fs::write(target.join("sub/keep"), b"x").unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(remove_tree(&link).unwrap());
        assert!(
            target.join("sub/keep").exists(),
            "link removal kept the target"
        );
        assert!(!remove_tree(&link).unwrap());
        assert!(remove_tree(&target).unwrap());
        assert!(!target.exists());
        assert!(!remove_file(&t.path().join("nope")).unwrap());
    }

    #[test]
    fn effective_uid_is_readable() {
        assert!(effective_uid().is_some());
    }
}
