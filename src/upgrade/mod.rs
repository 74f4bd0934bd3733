//! Signed self-upgrade with automatic rollback: the upgrade half of the lifecycle, built on
//! the kernel's [`release`](crate::kernel::release) module.
//!
//! An upgrade fetches a release from the configured source (or takes a local file), which
//! the kernel verifies (signature with a trusted key, product, target, size, sha256); then
//! refuses a downgrade unless asked; keeps it in the release directory beside the database;
//! runs it against a **copy** of the database (`fazt selftest`); and only then makes it
//! current. A running server then hands its listening sockets to the new binary
//! ([`handover`]), which must report ready within a deadline or is stopped and rolled back;
//! a start that finds a trial which never reported ready rolls back too ([`launch`]).
//!
//! - [`keys`]: the trusted keys (built in + configured).
//! - [`handover`]: the zero-downtime restart.
//! - [`launch`]: what every `fazt serve` start runs.
//! - [`api`]: `GET`/`POST /api/system/upgrade`.
//! - [`auto`]: `--auto-upgrade`, the daily check inside a window.

pub mod api;
pub mod auto;
pub mod handover;
pub mod keys;
pub mod launch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::kernel::release::{Installed, Releases, Source, Verified, Version};

/// The product name releases are made for.
pub const PRODUCT: &str = "fazt";
/// The target triple this binary was built for.
pub const TARGET: &str = env!("FAZT_TARGET");
/// The largest release binary accepted. A shipped build is about 4 MiB and the size is
/// signed, so this only bounds the memory a download takes; an unstripped debug build
/// (tests) is about 85 MB.
pub const MAX_BINARY: u64 = 128 * 1024 * 1024;
/// How long a self-test may run before it counts as failed.
const SELFTEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The environment variable naming the release a process runs as (set when one is
/// launched; also what stops a launched release from launching again).
pub const RELEASE_ENV: &str = "FAZT_RELEASE";

/// The configured upgrade options (see `config::upgrade`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub source: Option<String>,
    pub trust_key: Option<String>,
    pub ca_root: Option<PathBuf>,
}

/// The version this process runs as: the release it was launched as, else its own.
pub fn running_version() -> Version {
    Version::parse(&crate::version::running()).unwrap_or_else(|_| own_version())
}

/// The version compiled into this binary.
pub fn own_version() -> Version {
    Version::parse(crate::version::VERSION).unwrap_or(Version {
        core: [0, 0, 0],
        pre: Vec::new(),
    })
}

/// What an upgrade is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// A version instead of the newest.
    pub to: Option<Version>,
    /// A local release file instead of the source.
    pub from: Option<PathBuf>,
    pub allow_downgrade: bool,
}

/// Why an upgrade did not happen: `Refused` changed nothing (a bad release, a downgrade);
/// `Failed` could not complete (the source is unreachable, the self-test failed).
#[derive(Debug)]
pub enum UpgradeError {
    /// The request or the configuration is wrong (400 on the API).
    Usage(String),
    /// The release was refused (409 / 422 on the API); nothing changed.
    Refused(String),
    /// It could not be done (502 / 500 on the API); nothing changed.
    Failed(String),
    /// Already at the version asked for.
    Current(Version),
}

impl std::fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpgradeError::Usage(m) | UpgradeError::Refused(m) | UpgradeError::Failed(m) => {
                f.write_str(m)
            }
            UpgradeError::Current(v) => write!(f, "fazt {v} is already running"),
        }
    }
}

fn refused(e: crate::kernel::release::ReleaseError) -> UpgradeError {
    use crate::kernel::release::ReleaseError as E;
    match e {
        E::Source(m) => UpgradeError::Failed(format!("release source: {m}")),
        E::Io(..) => UpgradeError::Failed(e.to_string()),
        other => UpgradeError::Refused(format!("refused: {other}")),
    }
}

/// The configured source and keys of one database's server.
pub struct Upgrader {
    pub db: PathBuf,
    pub settings: Settings,
    /// Show download progress on stderr (`fazt upgrade` on a terminal).
    pub progress: bool,
}

impl Upgrader {
    pub fn new(db: &Path, settings: Settings) -> Upgrader {
        Upgrader {
            db: db.to_path_buf(),
            settings,
            progress: false,
        }
    }

    pub fn releases(&self) -> Releases {
        Releases::beside(&self.db)
    }

    fn source(&self) -> Result<Source, UpgradeError> {
        let raw = self.settings.source.as_deref().ok_or_else(|| {
            UpgradeError::Usage(
                "no release source is configured: set one with `fazt config set \
                 release_source URL|DIR` (README: Upgrading)"
                    .into(),
            )
        })?;
        Source::parse(raw).map_err(|e| UpgradeError::Usage(e.to_string()))
    }

    fn keys(&self) -> Result<Vec<crate::kernel::release::PublicKey>, UpgradeError> {
        keys::trusted(self.settings.trust_key.as_deref()).map_err(UpgradeError::Usage)
    }

    /// The newest version the source offers.
    pub fn available(&self) -> Result<Version, UpgradeError> {
        let src = self.source()?;
        src.latest(&|s, h| self.wrap(s, h), USER_AGENT)
            .map_err(refused)
    }

    /// Fetches (or reads) and verifies the release a request asks for, refusing a downgrade
    /// unless allowed and the running version itself.
    pub fn fetch(&self, req: &Request) -> Result<Verified, UpgradeError> {
        let verified = match &req.from {
            Some(file) => {
                let keys = self.keys()?;
                Verified::from_files(file, &keys, PRODUCT, TARGET, MAX_BINARY)
            }
            None => {
                let src = self.source()?;
                let keys = self.keys()?;
                let wrap = |s, h: &str| self.wrap(s, h);
                let version = match &req.to {
                    Some(v) => v.clone(),
                    None => src.latest(&wrap, USER_AGENT).map_err(refused)?,
                };
                check_direction(&version, req.allow_downgrade)?;
                src.fetch(
                    PRODUCT, TARGET, &version, &keys, MAX_BINARY, &wrap, USER_AGENT,
                )
            }
        }
        .map_err(refused)?;
        check_direction(&verified.manifest.version, req.allow_downgrade)?;
        Ok(verified)
    }

    /// Keeps a verified release, self-tests it on a copy of the database, then makes it
    /// current (with a pending trial). Nothing is current-changed when the test fails.
    pub fn install(&self, v: &Verified) -> Result<Installed, UpgradeError> {
        let releases = self.releases();
        let fail = |e: crate::kernel::release::ReleaseError| UpgradeError::Failed(e.to_string());
        let lock = releases.lock().map_err(fail)?;
        let kept = releases
            .keep(
                &lock,
                &v.binary,
                &v.manifest,
                &v.manifest_text,
                &v.signature,
            )
            .map_err(refused)?;
        // As root on a service's database: the self-test runs as the service's user, who
        // must reach the copy and the binary.
        match_owner(releases.dir(), &self.db);
        if let Err(e) = selftest(&kept.binary, &self.db, releases.dir()) {
            let _ = std::fs::remove_dir_all(kept.binary.parent().unwrap_or(releases.dir()));
            return Err(UpgradeError::Refused(format!(
                "refused: release {} failed its self-test on a copy of the database: {e}",
                v.manifest.version
            )));
        }
        releases
            .activate(&lock, &v.manifest.version)
            .map_err(fail)?;
        // The links and the trial `activate` wrote, too.
        match_owner(releases.dir(), &self.db);
        log::info!(
            "upgrade: release {} installed in {}",
            v.manifest.version,
            releases.dir().display()
        );
        Ok(kept)
    }

    /// Connects `https://` sources: the compiled-in roots plus the configured extra root.
    fn wrap(
        &self,
        sock: std::net::TcpStream,
        host: &str,
    ) -> Result<Box<dyn crate::kernel::http_client::Stream>, crate::kernel::http_client::ClientError>
    {
        #[cfg(feature = "acme")]
        return crate::client::tls::wrap_with_root(sock, host, self.settings.ca_root.as_deref())
            .map(|s| -> Box<dyn crate::kernel::http_client::Stream> {
                if self.progress {
                    Box::new(Progress {
                        inner: s,
                        read: 0,
                        shown: 0,
                    })
                } else {
                    s
                }
            });
        #[cfg(not(feature = "acme"))]
        {
            let _ = (sock, host);
            Err(crate::kernel::http_client::ClientError::Invalid(
                "this fazt was built without TLS (feature `acme`): use an http:// or a \
                 directory release source"
                    .into(),
            ))
        }
    }
}

const USER_AGENT: &str = concat!("fazt/", env!("CARGO_PKG_VERSION"));

/// Refuses the running version itself, and a downgrade unless allowed.
fn check_direction(v: &Version, allow_downgrade: bool) -> Result<(), UpgradeError> {
    let running = running_version();
    if *v == running {
        return Err(UpgradeError::Current(running));
    }
    if *v < running && !allow_downgrade {
        return Err(UpgradeError::Refused(format!(
            "refused: {v} is older than the running {running} (a downgrade needs \
             --allow-downgrade)"
        )));
    }
    Ok(())
}

/// Runs `binary selftest --db COPY` on a fresh snapshot of the database at `db`, made in
/// `scratch`; the copy is removed afterwards. When run as root on a database another user
/// owns (a service's), the test runs as that user, as the service will.
pub fn selftest(binary: &Path, db: &Path, scratch: &Path) -> Result<(), String> {
    let copy = scratch.join(format!(".selftest-{}.db", std::process::id()));
    let cleanup = |p: &Path| {
        for ext in ["", "-wal", "-shm"] {
            let mut s = p.as_os_str().to_os_string();
            s.push(ext);
            let _ = std::fs::remove_file(PathBuf::from(s));
        }
    };
    cleanup(&copy);
    let result = (|| {
        if db.exists() {
            crate::kernel::backup::snapshot(db, &copy)
                .map_err(|e| format!("cannot copy the database: {e}"))?;
            match_owner(&copy, db);
        }
        let command = || {
            let mut cmd = std::process::Command::new(binary);
            cmd.arg("selftest")
                .arg("--db")
                .arg(&copy)
                .env_remove(RELEASE_ENV)
                .env_remove(handover::FDS_ENV)
                .env_remove(handover::READY_ENV)
                .env_remove("NOTIFY_SOCKET")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            cmd
        };
        let mut cmd = command();
        let dropped = as_owner_of(&mut cmd, db);
        let spawned = match cmd.spawn() {
            // The owner may not reach the release directory from outside its service:
            // `DynamicUser=` state lives under /var/lib/private, which only root and the
            // service's own mount namespace can enter. Then the test runs as root.
            Err(e) if dropped && e.kind() == std::io::ErrorKind::PermissionDenied => {
                log::info!(
                    "selftest: the database's owner cannot reach {}; running it as root",
                    binary.display()
                );
                command().spawn()
            }
            other => other,
        };
        let mut child = spawned.map_err(|e| format!("cannot run it: {e}"))?;
        let start = std::time::Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = (&mut e).take(64 * 1024).read_to_string(&mut err);
                    }
                    if status.success() {
                        return Ok(());
                    }
                    let last = err
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("");
                    return Err(format!("it exited with {status}: {last}"));
                }
                Ok(None) if start.elapsed() > SELFTEST_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("no answer within {} s", SELFTEST_TIMEOUT.as_secs()));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for it: {e}")),
            }
        }
    })();
    cleanup(&copy);
    result
}

/// As root, runs `cmd` as the owner of `db` when that is another user.
/// Returns whether it did.
fn as_owner_of(cmd: &mut std::process::Command, db: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if let (true, Ok(m)) = (root, std::fs::metadata(db)) {
        if m.uid() != 0 {
            cmd.uid(m.uid()).gid(m.gid());
            return true;
        }
    }
    false
}

/// As root, gives everything under `dir` to the owner of `db` (a service's database): the
/// release directory must stay the service's, or it could neither run nor replace its
/// releases. Best effort; nothing to do for a non-root caller.
pub fn match_owner(dir: &Path, db: &Path) {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let Ok(owner) = std::fs::metadata(db) else {
        return;
    };
    if !root || owner.uid() == 0 {
        return;
    }
    fn walk(p: &Path, uid: u32, gid: u32) {
        let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
        if p.is_dir() && !p.is_symlink() {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    walk(&e.path(), uid, gid);
                }
            }
        }
    }
    walk(dir, owner.uid(), owner.gid());
}

/// Counts what a download reads and shows it on stderr every 512 KB (so the small files of
/// a release, its manifest and signature, show nothing).
#[cfg(feature = "acme")]
struct Progress {
    inner: Box<dyn crate::kernel::http_client::Stream>,
    read: u64,
    shown: u64,
}

#[cfg(feature = "acme")]
impl std::io::Read for Progress {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.shown >= 512 * 1024 {
            self.shown = self.read;
            eprint!("\rdownloading… {:.1} MB", self.read as f64 / 1e6);
        }
        Ok(n)
    }
}

#[cfg(feature = "acme")]
impl std::io::Write for Progress {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(feature = "acme")]
impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown > 0 {
            eprintln!("\rdownloaded {:.1} MB   ", self.read as f64 / 1e6);
        }
    }
}
