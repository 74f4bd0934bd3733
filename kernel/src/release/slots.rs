//! The release directory: verified binaries kept by version, with `current` and `previous`
//! as symlinks, so switching between releases is one `rename` of a symlink and a crash at
//! any point leaves either the old or the new link, never a half-written binary.
//!
//! ```text
//! app.db.bin/
//!   1.3.0/app-x86_64-unknown-linux-musl  manifest  manifest.sig
//!   1.4.0/…
//!   current  -> 1.4.0     what the launcher runs
//!   previous -> 1.3.0     what a rollback returns to
//!   trial                 "pending 1.4.0" / "started 1.4.0" until 1.4.0 reported ready
//!   lock                  flock: one installer or rollback at a time
//! ```
//!
//! It lives beside the database because that is the one directory a hardened service can
//! write (`ProtectSystem=strict` keeps `/usr/local/bin` read-only). It is not state: removing
//! it returns to the installed binary. The installed binary stays the floor: a release no
//! newer than the running binary is never launched, so installing a newer binary by hand
//! wins over an old upgrade.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Manifest, ReleaseError, Version};

/// A release directory (see the module docs).
#[derive(Debug, Clone)]
pub struct Releases {
    dir: PathBuf,
}

/// A release kept in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The executable.
    pub binary: PathBuf,
    /// Its verified manifest.
    pub manifest: Manifest,
}

/// Where an upgrade stands between installing a release and that release reporting ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trial {
    /// Installed; the next start runs it for the first time.
    Pending(String),
    /// Started once and not yet reported ready: a start that finds this rolls back.
    Started(String),
}

/// What [`Releases::rollback`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolledBack {
    /// `current` now names this earlier release.
    To(String),
    /// There was no earlier release: `current` is gone and the installed binary runs.
    ToInstalled,
}

/// An exclusive lock on the directory, released on drop.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] fs::File);

impl Releases {
    /// The release directory of the database at `db`: `<db>.bin` beside it.
    pub fn beside(db: &Path) -> Releases {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".bin");
        // Absolute: the binaries in it are executed, and a relative path would depend on
        // the working directory of whoever runs them.
        let db = std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf());
        Releases {
            dir: db.with_file_name(name),
        }
    }

    /// A release directory at `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Releases {
        Releases { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, what: &str, e: std::io::Error) -> ReleaseError {
        ReleaseError::io(format!("{what} in {}", self.dir.display()), e)
    }

    /// Takes the directory's lock (creating the directory, 0700), waiting for another holder.
    pub fn lock(&self) -> Result<Lock, ReleaseError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| self.io("creating the release directory", e))?;
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.dir.join("lock"))
            .map_err(|e| self.io("opening the lock", e))?;
        f.lock().map_err(|e| self.io("locking", e))?;
        Ok(Lock(f))
    }

    /// The release `current` names, if any (a broken link or manifest counts as none).
    pub fn current(&self) -> Option<Installed> {
        self.slot("current")
    }

    /// The release `previous` names, if any.
    pub fn previous(&self) -> Option<Installed> {
        self.slot("previous")
    }

    fn slot(&self, name: &str) -> Option<Installed> {
        let version = fs::read_link(self.dir.join(name)).ok()?;
        let vdir = self.dir.join(version);
        let text = fs::read_to_string(vdir.join("manifest")).ok()?;
        let manifest = Manifest::parse(&text).ok()?;
        let binary = vdir.join(&manifest.file);
        binary.is_file().then_some(Installed { binary, manifest })
    }

    /// Keeps a verified release: its binary (already checked against `manifest`), the
    /// manifest and its signature go to `<version>/`, written under a temporary name, fsynced
    /// and renamed into place. `current` is not changed (see [`Releases::activate`]).
    pub fn keep(
        &self,
        _lock: &Lock,
        binary: &[u8],
        manifest: &Manifest,
        manifest_text: &str,
        signature: &str,
    ) -> Result<Installed, ReleaseError> {
        let version = manifest.version.to_string();
        let stage = self
            .dir
            .join(format!(".{version}.partial-{}", std::process::id()));
        let _ = fs::remove_dir_all(&stage);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&stage)
            .map_err(|e| self.io("creating a staging directory", e))?;
        let write = |name: &str, data: &[u8], mode: u32| -> Result<(), ReleaseError> {
            let mut f = fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(mode)
                .open(stage.join(name))
                .map_err(|e| self.io(&format!("writing {name}"), e))?;
            f.write_all(data)
                .and_then(|()| f.sync_all())
                .map_err(|e| self.io(&format!("writing {name}"), e))
        };
        let result = write(&manifest.file, binary, 0o700)
            .and_then(|()| write("manifest", manifest_text.as_bytes(), 0o600))
            .and_then(|()| write("manifest.sig", signature.as_bytes(), 0o600))
            .and_then(|()| {
                let dest = self.dir.join(&version);
                if self.points_at("current", &version) {
                    return Err(ReleaseError::Mismatch(format!(
                        "release {version} is already the current one"
                    )));
                }
                let _ = fs::remove_dir_all(&dest);
                fs::rename(&stage, &dest).map_err(|e| self.io("moving the release in", e))?;
                sync_dir(&self.dir).map_err(|e| self.io("syncing", e))?;
                Ok(Installed {
                    binary: dest.join(&manifest.file),
                    manifest: manifest.clone(),
                })
            });
        if result.is_err() {
            let _ = fs::remove_dir_all(&stage);
        }
        result
    }

    fn points_at(&self, link: &str, version: &str) -> bool {
        fs::read_link(self.dir.join(link)).is_ok_and(|t| t == Path::new(version))
    }

    /// Makes `version` current, the old current becoming `previous`, and records the trial;
    /// older releases nothing names are removed.
    pub fn activate(&self, _lock: &Lock, version: &Version) -> Result<(), ReleaseError> {
        let v = version.to_string();
        if !self.dir.join(&v).is_dir() {
            return Err(ReleaseError::Mismatch(format!(
                "release {v} is not kept here"
            )));
        }
        if let Ok(old) = fs::read_link(self.dir.join("current")) {
            self.relink("previous", &old)?;
        }
        self.set_trial(&Trial::Pending(v.clone()))?;
        self.relink("current", Path::new(&v))?;
        self.prune();
        Ok(())
    }

    /// Points `current` back at `previous` (or removes it when there is none), clears the
    /// trial and returns what runs now.
    pub fn rollback(&self, _lock: &Lock) -> Result<RolledBack, ReleaseError> {
        let out = match fs::read_link(self.dir.join("previous")) {
            Ok(prev) => {
                self.relink("current", &prev)?;
                fs::remove_file(self.dir.join("previous"))
                    .map_err(|e| self.io("removing previous", e))?;
                RolledBack::To(prev.to_string_lossy().into_owned())
            }
            Err(_) => {
                match fs::remove_file(self.dir.join("current")) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.io("removing current", e)),
                }
                RolledBack::ToInstalled
            }
        };
        self.clear_trial()?;
        sync_dir(&self.dir).map_err(|e| self.io("syncing", e))?;
        self.prune();
        Ok(out)
    }

    /// Replaces the symlink `name` atomically.
    fn relink(&self, name: &str, target: &Path) -> Result<(), ReleaseError> {
        let tmp = self.dir.join(format!(".{name}.new-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        symlink(target, &tmp).map_err(|e| self.io(&format!("linking {name}"), e))?;
        fs::rename(&tmp, self.dir.join(name))
            .map_err(|e| self.io(&format!("switching {name}"), e))?;
        sync_dir(&self.dir).map_err(|e| self.io("syncing", e))
    }

    /// Removes version directories neither `current` nor `previous` names, and leftovers of
    /// interrupted installs. Best effort: a leftover costs disk, never correctness.
    fn prune(&self) {
        let keep: Vec<PathBuf> = ["current", "previous"]
            .iter()
            .filter_map(|l| fs::read_link(self.dir.join(l)).ok())
            .collect();
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = PathBuf::from(e.file_name());
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && !keep.contains(&name) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }

    /// The trial in progress, if any.
    pub fn trial(&self) -> Option<Trial> {
        let text = fs::read_to_string(self.dir.join("trial")).ok()?;
        let (state, v) = text.trim().split_once(' ')?;
        match state {
            "pending" => Some(Trial::Pending(v.into())),
            "started" => Some(Trial::Started(v.into())),
            _ => None,
        }
    }

    /// Records the trial state (written beside, fsynced, renamed).
    pub fn set_trial(&self, trial: &Trial) -> Result<(), ReleaseError> {
        let text = match trial {
            Trial::Pending(v) => format!("pending {v}\n"),
            Trial::Started(v) => format!("started {v}\n"),
        };
        let tmp = self.dir.join(format!(".trial.new-{}", std::process::id()));
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io("writing the trial", e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| fs::rename(&tmp, self.dir.join("trial")))
            .and_then(|()| sync_dir(&self.dir))
            .map_err(|e| self.io("writing the trial", e))
    }

    /// Ends the trial: the release it names reported ready (or was rolled back).
    pub fn clear_trial(&self) -> Result<(), ReleaseError> {
        match fs::remove_file(self.dir.join("trial")) {
            Ok(()) => sync_dir(&self.dir).map_err(|e| self.io("syncing", e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io("clearing the trial", e)),
        }
    }
}

/// Makes `path` executable by its owner only (a staged binary from a download).
pub fn make_executable(path: &Path) -> std::io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    fn manifest(v: &str) -> Manifest {
        Manifest {
            product: "app".into(),
            version: Version::parse(v).unwrap(),
            target: "t".into(),
            file: "app-t".into(),
            size: 3,
            sha256: [0; 32],
        }
    }

    fn keep(r: &Releases, v: &str, body: &[u8]) {
        let l = r.lock().unwrap();
        let m = manifest(v);
        r.keep(&l, body, &m, &m.render(), "sig").unwrap();
    }

    #[test]
    fn activate_rollback_and_prune() {
        let t = TempDir::new("releases");
        let r = Releases::beside(&t.path().join("app.db"));
        assert_eq!(r.dir(), t.path().join("app.db.bin"));
        assert!(r.current().is_none() && r.trial().is_none());
        keep(&r, "1.0.0", b"one");
        assert!(r.current().is_none(), "keeping does not activate");
        let l = r.lock().unwrap();
        r.activate(&l, &Version::parse("1.0.0").unwrap()).unwrap();
        let cur = r.current().unwrap();
        assert_eq!(fs::read(&cur.binary).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&cur.binary).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(r.trial(), Some(Trial::Pending("1.0.0".into())));
        r.set_trial(&Trial::Started("1.0.0".into())).unwrap();
        assert_eq!(r.trial(), Some(Trial::Started("1.0.0".into())));
        r.clear_trial().unwrap();
        drop(l);

        for (v, body) in [("1.1.0", &b"two"[..]), ("1.2.0", &b"three"[..])] {
            keep(&r, v, body);
            let l = r.lock().unwrap();
            r.activate(&l, &Version::parse(v).unwrap()).unwrap();
        }
        let l = r.lock().unwrap();
        assert_eq!(r.previous().unwrap().manifest.version.to_string(), "1.1.0");
        assert!(
            !r.dir().join("1.0.0").exists(),
            "unreferenced releases are pruned"
        );
        // The current release cannot be overwritten in place.
        let m = manifest("1.2.0");
        assert!(r.keep(&l, b"x", &m, &m.render(), "s").is_err());
        assert_eq!(fs::read(r.current().unwrap().binary).unwrap(), b"three");

        assert_eq!(r.rollback(&l).unwrap(), RolledBack::To("1.1.0".into()));
        assert_eq!(fs::read(r.current().unwrap().binary).unwrap(), b"two");
        assert!(r.trial().is_none() && r.previous().is_none());
        assert!(!r.dir().join("1.2.0").exists());
        assert_eq!(r.rollback(&l).unwrap(), RolledBack::ToInstalled);
        assert!(r.current().is_none());
        assert_eq!(
            r.rollback(&l).unwrap(),
            RolledBack::ToInstalled,
            "idempotent"
        );
    }

    #[test]
    fn a_broken_slot_reads_as_none() {
        let t = TempDir::new("releases-broken");
        let r = Releases::at(t.path().join("bin"));
        keep(&r, "1.0.0", b"one");
        let l = r.lock().unwrap();
        r.activate(&l, &Version::parse("1.0.0").unwrap()).unwrap();
        fs::write(r.dir().join("1.0.0/manifest"), "garbage").unwrap();
        assert!(r.current().is_none());
        fs::write(r.dir().join("trial"), "weird 1.0.0").unwrap();
        assert!(r.trial().is_none());
    }
}
