//! Installing and uninstalling a [`Product`]: putting the binary, the systemd
//! unit and the database where the unit expects them, idempotently.
//!
//! Everything is written under a root directory: `/` for the live system,
//! or any directory (an SD-card image being prepared, a test) — then no
//! service manager is touched. Running install twice gives the same tree;
//! the second run changes nothing and never re-creates the database.
//!
//! For a product named `app`, the database lives where systemd keeps a
//! `DynamicUser=` service's `StateDirectory=`: `/var/lib/private/app`,
//! reached through the symlink `/var/lib/app -> private/app` (a path such as
//! `/var/lib/app/app.db` in the unit resolves through it). We create exactly that layout so systemd adopts it
//! on first start (and re-owns it to the dynamic user) instead of migrating
//! a plain directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::ProvisionError;
use super::fsutil::{
    create_dirs, effective_uid, match_dir_owner, remove_file, remove_tree, write_if_changed,
};
use super::product::Product;
use super::systemctl::run_ok;
use super::unit::render_unit;

/// The database hook: creates the database at the given path (the caller
/// owns schema and migrations) and returns the admin token it minted, if any,
/// for the installer to print once. Called only when no database exists yet.
pub type CreateDb<'a> = &'a dyn Fn(&Path) -> Result<Option<String>, HookError>;

/// Why the caller's database hook failed (its own error, shown to the user as is).
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// What to install.
#[derive(Debug, Clone)]
pub struct InstallPlan {
    /// `/` for the live system, any other directory to stage files only.
    pub root: PathBuf,
    /// The executable to install (normally [`std::env::current_exe`]).
    pub binary: PathBuf,
    /// What is installed: names, database file, unit template.
    pub product: Product,
    /// The arguments after the binary on the unit's `ExecStart=` line; each
    /// must pass [`validate_arg`](super::validate_arg).
    pub args: Vec<String>,
    /// Directories outside the state directory the service writes to (a backup disk):
    /// created 0700 if missing, `ReadWritePaths=` in the unit, handed to the service's
    /// dynamic user at each start (see [`render_unit`](super::render_unit)).
    pub writable_dirs: Vec<PathBuf>,
}

impl InstallPlan {
    /// A plan installing the running executable of `product` under `root`,
    /// started with `args`.
    pub fn new(
        root: impl Into<PathBuf>,
        product: Product,
        args: Vec<String>,
    ) -> Result<Self, ProvisionError> {
        let binary = std::env::current_exe().map_err(|e| {
            ProvisionError::io("locate the running executable", "/proc/self/exe", e)
        })?;
        Ok(InstallPlan {
            root: root.into(),
            binary,
            product,
            args,
            writable_dirs: Vec::new(),
        })
    }
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    /// Installed binary (under the root).
    pub binary: PathBuf,
    /// Installed unit file (under the root).
    pub unit: PathBuf,
    /// Database file (under the root).
    pub db: PathBuf,
    /// The binary was missing or differed and was (re)written.
    pub binary_changed: bool,
    /// The unit file was missing or differed and was (re)written.
    pub unit_changed: bool,
    /// The database did not exist and the hook created it.
    pub db_created: bool,
    /// The hook's admin token, only when it created the database.
    pub admin_token: Option<String>,
    /// systemctl was run (live root only): daemon-reload, enable, start/restart.
    pub service_started: bool,
}

/// What to remove.
#[derive(Debug, Clone)]
pub struct UninstallPlan {
    /// `/` for the live system, any other directory for a staged tree.
    pub root: PathBuf,
    /// What is removed: the same description it was installed with.
    pub product: Product,
    /// Also delete the state directory with the database.
    pub purge: bool,
}

/// What [`uninstall`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UninstallReport {
    /// Paths that existed and were removed.
    pub removed: Vec<PathBuf>,
    /// The state directory left in place (no `--purge`), if it exists.
    pub kept_data: Option<PathBuf>,
}

/// The installed paths under one root.
struct Layout {
    bin: PathBuf,
    unit: PathBuf,
    /// `var/lib/<name>`: the name in the unit (a symlink under DynamicUser).
    state_link: PathBuf,
    /// `private/<name>`: what that symlink points to, relative to `var/lib`.
    state_link_target: PathBuf,
    /// `var/lib/private`: systemd requires it root-only (0700).
    private: PathBuf,
    /// `var/lib/private/<name>`: the real state directory.
    state: PathBuf,
    /// `<name>.service`, for systemctl.
    unit_name: String,
}

impl Layout {
    /// The paths of `product` under `root`; the product is checked first, so
    /// its name is one plain path segment.
    fn new(root: &Path, product: &Product) -> Result<Self, ProvisionError> {
        product.check()?;
        let name = product.name;
        let unit_name = product.unit_name();
        let private = root.join("var/lib/private");
        Ok(Layout {
            bin: root.join("usr/local/bin").join(name),
            unit: root.join("etc/systemd/system").join(&unit_name),
            state_link: root.join("var/lib").join(name),
            state_link_target: Path::new("private").join(name),
            state: private.join(name),
            private,
            unit_name,
        })
    }
}

/// Installs binary, unit and database under `plan.root`; on the live root
/// also reloads systemd, enables the unit and starts it (restarts it when the
/// binary or unit changed).
pub fn install(
    plan: &InstallPlan,
    create_db: CreateDb<'_>,
) -> Result<InstallReport, ProvisionError> {
    // Bad input is reported before a missing privilege: sudo would not fix it.
    let layout = Layout::new(&plan.root, &plan.product)?;
    let unit_text = render_unit(&plan.product, &plan.args, &plan.writable_dirs)?;
    let live = is_live_root(&plan.root)?;
    if live {
        require_root()?;
    }

    for file in [&layout.bin, &layout.unit] {
        if let Some(parent) = file.parent() {
            create_dirs(parent, 0o755)?;
        }
    }
    for dir in &plan.writable_dirs {
        create_dirs(&plan.root.join(dir.strip_prefix("/").unwrap_or(dir)), 0o700)?;
    }
    let binary_changed = install_binary(&plan.binary, &layout.bin)?;
    let unit_changed = write_if_changed(&layout.unit, unit_text.as_bytes(), 0o644)?;

    let state = state_dir(&layout)?;
    let db = state.join(plan.product.db_file);
    let (db_created, admin_token) = if exists(&db)? {
        (false, None)
    } else {
        let token = match create_db(&db) {
            Ok(token) => token,
            Err(message) => {
                // It did not exist before the call: whatever the failed hook left
                // is half a database. Remove it so the next install retries.
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut p = db.clone().into_os_string();
                    p.push(suffix);
                    let _ = remove_file(Path::new(&p));
                }
                return Err(ProvisionError::CreateDb {
                    path: db,
                    message: message.to_string(),
                });
            }
        };
        if !exists(&db)? {
            return Err(ProvisionError::CreateDb {
                path: db,
                message: "the database hook succeeded but created no file".into(),
            });
        }
        match_dir_owner(&state)?;
        (true, token)
    };

    if live {
        run_ok("systemctl", &["daemon-reload"])?;
        run_ok("systemctl", &["enable", &layout.unit_name])?;
        // `start` is a no-op for a running service; a new binary or unit
        // only takes effect on restart. Type=notify makes both wait for READY=1.
        let verb = if binary_changed || unit_changed {
            "restart"
        } else {
            "start"
        };
        run_ok("systemctl", &[verb, &layout.unit_name])?;
    }

    Ok(InstallReport {
        binary: layout.bin,
        unit: layout.unit,
        db,
        binary_changed,
        unit_changed,
        db_created,
        admin_token,
        service_started: live,
    })
}

/// Stops and removes the service, binary and unit; the database stays unless
/// `plan.purge`. Missing pieces are skipped, so uninstall is idempotent.
pub fn uninstall(plan: &UninstallPlan) -> Result<UninstallReport, ProvisionError> {
    let layout = Layout::new(&plan.root, &plan.product)?;
    let live = is_live_root(&plan.root)?;
    if live {
        require_root()?;
    }
    let mut removed = Vec::new();

    if live && exists(&layout.unit)? {
        run_ok("systemctl", &["disable", "--now", &layout.unit_name])?;
    }
    if remove_file(&layout.unit)? {
        removed.push(layout.unit.clone());
        if live {
            run_ok("systemctl", &["daemon-reload"])?;
        }
    }
    if remove_file(&layout.bin)? {
        removed.push(layout.bin.clone());
    }

    let mut kept_data = None;
    if plan.purge {
        for p in [&layout.state_link, &layout.state] {
            if remove_tree(p)? {
                removed.push(p.clone());
            }
        }
    } else if exists(&layout.state_link)? || exists(&layout.state)? {
        kept_data = Some(layout.state_link.clone());
    }
    Ok(UninstallReport { removed, kept_data })
}

/// Copies `src` to `dest` (mode 0755) unless `dest` already is that file or
/// has the same bytes.
fn install_binary(src: &Path, dest: &Path) -> Result<bool, ProvisionError> {
    if crate::backup::same_file(src, dest) {
        return Ok(false);
    }
    let content = fs::read(src).map_err(|e| ProvisionError::io("read executable", src, e))?;
    write_if_changed(dest, &content, 0o755)
}

/// Returns the directory the database goes in, creating systemd's
/// DynamicUser layout when nothing is there yet.
fn state_dir(layout: &Layout) -> Result<PathBuf, ProvisionError> {
    match fs::symlink_metadata(&layout.state_link) {
        // A plain directory (made by hand, or for a unit without DynamicUser):
        // use it; systemd moves it under private/ itself on first start.
        Ok(m) if m.is_dir() => Ok(layout.state_link.clone()),
        Ok(m) if m.file_type().is_symlink() => {
            create_dirs(&layout.state, 0o700)?;
            Ok(layout.state.clone())
        }
        Ok(_) => Err(ProvisionError::io(
            "use as state directory",
            &layout.state_link,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a directory",
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_dirs(&layout.private, 0o700)?;
            create_dirs(&layout.state, 0o700)?;
            std::os::unix::fs::symlink(&layout.state_link_target, &layout.state_link)
                .map_err(|e| ProvisionError::io("create symlink", &layout.state_link, e))?;
            Ok(layout.state.clone())
        }
        Err(e) => Err(ProvisionError::io("inspect", &layout.state_link, e)),
    }
}

fn exists(path: &Path) -> Result<bool, ProvisionError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ProvisionError::io("inspect", path, e)),
    }
}

/// Whether `root` is the running system's `/` (then systemctl is used).
fn is_live_root(root: &Path) -> Result<bool, ProvisionError> {
    let canon = fs::canonicalize(root).map_err(|e| ProvisionError::io("resolve root", root, e))?;
    Ok(canon == Path::new("/"))
}

fn require_root() -> Result<(), ProvisionError> {
    match effective_uid() {
        Some(0) | None => Ok(()),
        Some(euid) => Err(ProvisionError::NotRoot { euid }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::testutil::{args, snapshot, TempDir, DEMO};
    use std::cell::Cell;
    use std::os::unix::fs::MetadataExt;

    fn run_args(domain: &str) -> Vec<String> {
        args(&["run", "--domain", domain])
    }

    /// A fake executable and a staging root in one temp dir.
    fn setup() -> (TempDir, InstallPlan) {
        let t = TempDir::new("install");
        let bin = t.path().join("demo-src");
        fs::write(&bin, b"\x7fELF fake demo v1").unwrap();
        let root = t.path().join("root");
        fs::create_dir(&root).unwrap();
        let plan = InstallPlan {
            root,
            binary: bin,
            product: DEMO,
            args: run_args("example.com"),
            writable_dirs: Vec::new(),
        };
        (t, plan)
    }

    fn fake_db(calls: &Cell<u32>) -> impl Fn(&Path) -> Result<Option<String>, HookError> + '_ {
        move |p: &Path| {
            calls.set(calls.get() + 1);
            fs::write(p, b"SQLite format 3\0").map_err(|e| e.to_string())?;
            Ok(Some(format!("token-{}", calls.get())))
        }
    }

    #[test]
    fn install_twice_gives_the_same_tree() {
        let (_t, plan) = setup();
        let calls = Cell::new(0);
        let hook = fake_db(&calls);

        let first = install(&plan, &hook).unwrap();
        assert!(first.binary_changed && first.unit_changed && first.db_created);
        assert_eq!(first.admin_token.as_deref(), Some("token-1"));
        assert!(
            !first.service_started,
            "a staging root never touches systemd"
        );
        let tree1 = snapshot(&plan.root);

        let second = install(&plan, &hook).unwrap();
        assert!(!second.binary_changed && !second.unit_changed && !second.db_created);
        assert_eq!(second.admin_token, None);
        assert_eq!(calls.get(), 1, "the database is created once");
        assert_eq!(tree1, snapshot(&plan.root));

        // The layout systemd expects.
        let r = &plan.root;
        assert_eq!(first.binary, r.join("usr/local/bin/demo"));
        assert_eq!(fs::read(&first.binary).unwrap(), b"\x7fELF fake demo v1");
        assert_eq!(fs::metadata(&first.binary).unwrap().mode() & 0o7777, 0o755);
        assert_eq!(first.unit, r.join("etc/systemd/system/demo.service"));
        assert_eq!(
            fs::read_to_string(&first.unit).unwrap(),
            super::super::render(&plan.product, &plan.args).unwrap()
        );
        assert_eq!(fs::metadata(&first.unit).unwrap().mode() & 0o7777, 0o644);
        assert_eq!(first.db, r.join("var/lib/private/demo/demo.db"));
        assert_eq!(
            fs::read_link(r.join("var/lib/demo")).unwrap(),
            Path::new("private/demo")
        );
        assert!(r.join("var/lib/demo/demo.db").exists(), "DEMO_DB resolves");
        for d in ["var/lib/private", "var/lib/private/demo"] {
            assert_eq!(
                fs::metadata(r.join(d)).unwrap().mode() & 0o777,
                0o700,
                "{d}"
            );
        }
    }

    #[test]
    fn changes_are_detected_and_applied() {
        let (_t, mut plan) = setup();
        let calls = Cell::new(0);
        install(&plan, &fake_db(&calls)).unwrap();

        plan.args = run_args("other.example");
        let r = install(&plan, &fake_db(&calls)).unwrap();
        assert!(r.unit_changed && !r.binary_changed && !r.db_created);
        assert!(fs::read_to_string(&r.unit)
            .unwrap()
            .contains("--domain other.example"));

        fs::write(&plan.binary, b"\x7fELF fake demo v2").unwrap();
        let r = install(&plan, &fake_db(&calls)).unwrap();
        assert!(r.binary_changed && !r.unit_changed);
        assert_eq!(fs::read(&r.binary).unwrap(), b"\x7fELF fake demo v2");

        // Installing the installed binary onto itself is a no-op.
        plan.binary = r.binary.clone();
        assert!(!install(&plan, &fake_db(&calls)).unwrap().binary_changed);
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn a_plain_state_directory_is_used_as_is() {
        let (_t, plan) = setup();
        fs::create_dir_all(plan.root.join("var/lib/demo")).unwrap();
        let calls = Cell::new(0);
        let r = install(&plan, &fake_db(&calls)).unwrap();
        assert_eq!(r.db, plan.root.join("var/lib/demo/demo.db"));
        assert!(!plan.root.join("var/lib/private").exists());
    }

    #[test]
    fn database_hook_failures_are_reported() {
        let (_t, plan) = setup();
        let half = |p: &Path| -> Result<Option<String>, HookError> {
            fs::write(p, b"half").map_err(|e| e.to_string())?;
            Err("disk full".into())
        };
        let err = install(&plan, &half).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("disk full") && msg.contains("demo.db"),
            "{msg}"
        );
        assert!(
            !plan.root.join("var/lib/private/demo/demo.db").exists(),
            "half db removed"
        );

        let err = install(&plan, &|_: &Path| Ok(None)).unwrap_err();
        assert!(err.to_string().contains("created no file"), "{err}");

        // A later successful run completes the install.
        let calls = Cell::new(0);
        assert!(install(&plan, &fake_db(&calls)).unwrap().db_created);
    }

    #[test]
    fn uninstall_keeps_data_unless_purged() {
        let (_t, plan) = setup();
        let calls = Cell::new(0);
        let inst = install(&plan, &fake_db(&calls)).unwrap();
        let un = UninstallPlan {
            root: plan.root.clone(),
            product: DEMO,
            purge: false,
        };

        let r = uninstall(&un).unwrap();
        assert_eq!(r.removed, vec![inst.unit.clone(), inst.binary.clone()]);
        assert_eq!(r.kept_data, Some(plan.root.join("var/lib/demo")));
        assert!(inst.db.exists());
        assert!(!inst.unit.exists() && !inst.binary.exists());

        let again = uninstall(&un).unwrap();
        assert!(again.removed.is_empty(), "idempotent: {:?}", again.removed);
        assert!(inst.db.exists());

        // Reinstalling keeps the existing database.
        assert!(!install(&plan, &fake_db(&calls)).unwrap().db_created);

        let purge = UninstallPlan {
            root: plan.root.clone(),
            product: DEMO,
            purge: true,
        };
        let r = uninstall(&purge).unwrap();
        assert_eq!(r.kept_data, None);
        assert!(r.removed.contains(&plan.root.join("var/lib/private/demo")));
        assert!(!inst.db.exists());
        assert!(fs::symlink_metadata(plan.root.join("var/lib/demo")).is_err());
        assert!(
            plan.root.join("var/lib/private").exists(),
            "systemd's dir stays"
        );
        assert!(uninstall(&purge).unwrap().removed.is_empty());
    }

    #[test]
    fn database_created_as_root_gets_the_state_directory_owner() {
        if effective_uid() != Some(0) {
            return; // chown needs root; CI and the dev machines run as root
        }
        let (_t, plan) = setup();
        let state = plan.root.join("var/lib/private/demo");
        fs::create_dir_all(&state).unwrap();
        std::os::unix::fs::symlink("private/demo", plan.root.join("var/lib/demo")).unwrap();
        // As if systemd had already handed the directory to a dynamic user.
        std::os::unix::fs::chown(&state, Some(61_234), Some(61_234)).unwrap();
        let calls = Cell::new(0);
        let r = install(&plan, &|p: &Path| {
            fake_db(&calls)(p)?;
            fs::write(p.with_extension("db-wal"), b"").map_err(|e| e.to_string())?;
            Ok(None)
        })
        .unwrap();
        for f in [r.db.clone(), r.db.with_extension("db-wal")] {
            let m = fs::metadata(&f).unwrap();
            assert_eq!((m.uid(), m.gid()), (61_234, 61_234), "{}", f.display());
        }
    }

    #[test]
    fn a_bad_product_or_argument_writes_nothing() {
        let (_t, mut plan) = setup();
        let calls = Cell::new(0);
        plan.product = Product { name: "..", ..DEMO };
        let err = install(&plan, &fake_db(&calls)).unwrap_err();
        assert!(
            matches!(err, ProvisionError::InvalidProduct { .. }),
            "{err}"
        );
        let un = UninstallPlan {
            root: plan.root.clone(),
            product: plan.product,
            purge: true,
        };
        assert!(matches!(
            uninstall(&un),
            Err(ProvisionError::InvalidProduct { .. })
        ));
        plan.product = DEMO;
        plan.args = args(&["run", "--domain", "$HOME"]);
        let err = install(&plan, &fake_db(&calls)).unwrap_err();
        assert!(
            matches!(err, ProvisionError::InvalidArgument { .. }),
            "{err}"
        );
        assert_eq!(calls.get(), 0);
        assert!(snapshot(&plan.root).is_empty(), "nothing was written");
    }

    #[test]
    fn missing_root_is_an_error() {
        let (t, mut plan) = setup();
        plan.root = t.path().join("nope");
        let err = install(&plan, &|_: &Path| Ok(None)).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
