//! fazt's unit and layout: the hardening its template must keep, the exact
//! `ExecStart=` lines `fazt service install` writes, the paths the kernel's
//! installer derives from [`PRODUCT`], and the `serve` flag rules.

use super::*;
use crate::kernel::provision::{
    install, render, uninstall, InstallPlan, ProvisionError, UninstallPlan,
};
use proptest::prelude::*;
use std::cell::Cell;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn flags() -> ServeFlags {
    ServeFlags::new("Example.COM", None, false, None).unwrap()
}

#[test]
fn template_has_the_required_hardening() {
    for needle in [
        "Type=notify",
        "DynamicUser=yes",
        "StateDirectory=fazt",
        "Environment=FAZT_DB=/var/lib/fazt/fazt.db",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "LockPersonality=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "UMask=077",
        "LimitNOFILE=65536",
        "Restart=on-failure",
        "ExecStart=/usr/local/bin/fazt serve",
    ] {
        assert!(
            UNIT_TEMPLATE.lines().any(|l| l.starts_with(needle)),
            "missing {needle}"
        );
    }
}

#[test]
fn the_product_matches_its_template() {
    assert_eq!(PRODUCT.unit_name(), "fazt.service");
    assert_eq!(PRODUCT.bin_path(), "/usr/local/bin/fazt");
    assert_eq!(PRODUCT.state_dir(), "/var/lib/fazt");
    let lines: Vec<&str> = UNIT_TEMPLATE.lines().collect();
    let db = format!(
        "Environment=FAZT_DB={}/{}",
        PRODUCT.state_dir(),
        PRODUCT.db_file
    );
    assert!(lines.contains(&db.as_str()), "{db}");
    let state = format!("StateDirectory={}", PRODUCT.name);
    assert!(lines.contains(&state.as_str()), "{state}");
    let exec = format!("ExecStart={} ", PRODUCT.bin_path());
    assert!(lines.iter().any(|l| l.starts_with(&exec)), "{exec}");
}

#[test]
fn render_replaces_only_exec_start() {
    let f = ServeFlags::new(
        "example.com",
        Some("[::]:8080"),
        true,
        Some("me@example.com"),
    )
    .unwrap();
    let out = render(&PRODUCT, &f.args()).unwrap();
    let exec: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(
        exec,
        ["ExecStart=/usr/local/bin/fazt serve --domain example.com --listen [::]:8080 --https --email me@example.com"]
    );
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with("ExecStart="))
            .map(String::from)
            .collect()
    };
    assert_eq!(strip(&out), strip(UNIT_TEMPLATE));
    assert!(out.ends_with('\n'));
}

#[test]
fn rendered_unit_is_the_template_with_one_line_replaced() {
    // Byte for byte what `fazt service install` has always written: the shipped
    // line swapped for `ExecStart=/usr/local/bin/fazt <serve flags>`.
    let shipped = "ExecStart=/usr/local/bin/fazt serve --listen 0.0.0.0:80\n";
    assert_eq!(UNIT_TEMPLATE.matches(shipped).count(), 1);
    for f in [
        flags(),
        ServeFlags::new("a.b", Some("10.0.0.1:8080"), false, None).unwrap(),
        ServeFlags::new("x.com", None, true, Some("me@x.com")).unwrap(),
    ] {
        let expected = UNIT_TEMPLATE.replace(
            shipped,
            &format!("ExecStart=/usr/local/bin/fazt {}\n", f.command_line()),
        );
        assert_eq!(render(&PRODUCT, &f.args()).unwrap(), expected);
    }
}

#[test]
fn defaults_and_normalisation() {
    assert_eq!(
        flags().command_line(),
        "serve --domain example.com --listen 0.0.0.0:80"
    );
    let f = ServeFlags::new("a.b.", None, false, Some("ignored@x.y")).unwrap();
    assert_eq!(f.command_line(), "serve --domain a.b --listen 0.0.0.0:80");
    let f = ServeFlags::new("a.b", None, true, Some("me@x.y")).unwrap();
    assert_eq!(
        f.command_line(),
        "serve --domain a.b --listen 127.0.0.1:4698 --https --email me@x.y"
    );
}

#[test]
fn rejects_bad_values() {
    for d in [
        "",
        "a..b",
        "-a.b",
        "a-.b",
        "ex ample.com",
        "%h.com",
        "$HOME",
        "a;b",
        "é.com",
    ] {
        assert!(
            matches!(
                ServeFlags::new(d, None, false, None),
                Err(ServeFlagsError::Value(ProvisionError::InvalidDomain { .. }))
            ),
            "{d:?}"
        );
    }
    assert!(ServeFlags::new(&"a".repeat(64), None, false, None).is_err());
    for e in [
        "me",
        "@x.com",
        "me@",
        "a@b@c.com",
        "me%i@x.com",
        "me$USER@x.com",
        "me @x.com",
        "me@x_y.com",
    ] {
        assert!(
            matches!(
                ServeFlags::new("x.com", None, true, Some(e)),
                Err(ServeFlagsError::Value(ProvisionError::InvalidEmail { .. }))
            ),
            "{e:?}"
        );
    }
    let err = ServeFlags::new("x.com", None, true, None).unwrap_err();
    assert!(matches!(err, ServeFlagsError::HttpsNeedsEmail));
    assert_eq!(
        err.to_string(),
        "--https needs --email (the ACME account contact)"
    );
    for l in [
        "80",
        ":80",
        "localhost:80",
        "0.0.0.0:99999",
        "0.0.0.0:80 --x",
    ] {
        assert!(
            matches!(
                ServeFlags::new("x.com", Some(l), false, None),
                Err(ServeFlagsError::Value(ProvisionError::InvalidListen { .. }))
            ),
            "{l:?}"
        );
    }
}

proptest! {
    // Whatever the input, accepted flags render into a single ExecStart line made
    // only of characters systemd does not interpret.
    #[test]
    fn accepted_values_are_inert_on_the_command_line(
        domain in "\\PC{0,40}",
        email in "\\PC{0,40}",
        listen in "\\PC{0,30}",
        https in any::<bool>(),
    ) {
        if let Ok(f) = ServeFlags::new(&domain, Some(&listen), https, Some(&email)) {
            let out = render(&PRODUCT, &f.args()).unwrap();
            let exec: Vec<&str> = out.lines().filter(|l| l.starts_with("ExecStart=")).collect();
            prop_assert_eq!(exec.len(), 1);
            let line = exec[0];
            prop_assert!(line.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            for c in ['%', '$', '\\', '"', '\'', ';', '`'] {
                prop_assert!(!line.contains(c));
            }
        }
    }

    #[test]
    fn generated_domains_are_accepted(domain in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,3}") {
        let f = ServeFlags::new(&domain, None, false, None);
        prop_assert!(f.is_ok(), "{:?}", f);
        prop_assert!(render(&PRODUCT, &f.unwrap().args()).is_ok());
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fazt-service-unit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fake executable and a staging root in one temp dir.
fn setup() -> (TempDir, InstallPlan) {
    let t = TempDir::new("install");
    let bin = t.0.join("fazt-src");
    fs::write(&bin, b"\x7fELF fake fazt v1").unwrap();
    let root = t.0.join("root");
    fs::create_dir(&root).unwrap();
    let plan = InstallPlan {
        root,
        binary: bin,
        product: PRODUCT,
        args: ServeFlags::new("example.com", None, false, None)
            .unwrap()
            .args(),
    };
    (t, plan)
}

fn fake_db(
    calls: &Cell<u32>,
) -> impl Fn(&Path) -> Result<Option<String>, crate::kernel::provision::HookError> + '_ {
    move |p: &Path| {
        calls.set(calls.get() + 1);
        fs::write(p, b"SQLite format 3\0").map_err(|e| e.to_string())?;
        Ok(Some(format!("token-{}", calls.get())))
    }
}

#[test]
fn installs_and_uninstalls_where_the_fazt_unit_expects() {
    let (_t, plan) = setup();
    let r = &plan.root;

    // A failing database hook names fazt.db and leaves no half database.
    let half = |p: &Path| -> Result<Option<String>, crate::kernel::provision::HookError> {
        fs::write(p, b"half").map_err(|e| e.to_string())?;
        Err("disk full".into())
    };
    let msg = install(&plan, &half).unwrap_err().to_string();
    assert!(
        msg.contains("disk full") && msg.contains("fazt.db"),
        "{msg}"
    );
    assert!(
        !r.join("var/lib/private/fazt/fazt.db").exists(),
        "half db removed"
    );

    let calls = Cell::new(0);
    let first = install(&plan, &fake_db(&calls)).unwrap();
    assert!(first.db_created && !first.service_started);
    assert_eq!(first.binary, r.join("usr/local/bin/fazt"));
    assert_eq!(fs::read(&first.binary).unwrap(), b"\x7fELF fake fazt v1");
    assert_eq!(fs::metadata(&first.binary).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(first.unit, r.join("etc/systemd/system/fazt.service"));
    assert_eq!(
        fs::read_to_string(&first.unit).unwrap(),
        render(&PRODUCT, &plan.args).unwrap()
    );
    assert_eq!(fs::metadata(&first.unit).unwrap().mode() & 0o7777, 0o644);
    assert_eq!(first.db, r.join("var/lib/private/fazt/fazt.db"));
    assert_eq!(
        fs::read_link(r.join("var/lib/fazt")).unwrap(),
        Path::new("private/fazt")
    );
    assert!(r.join("var/lib/fazt/fazt.db").exists(), "FAZT_DB resolves");
    for d in ["var/lib/private", "var/lib/private/fazt"] {
        assert_eq!(
            fs::metadata(r.join(d)).unwrap().mode() & 0o777,
            0o700,
            "{d}"
        );
    }

    let keep = UninstallPlan {
        root: r.clone(),
        product: PRODUCT,
        purge: false,
    };
    let un = uninstall(&keep).unwrap();
    assert_eq!(un.removed, vec![first.unit.clone(), first.binary.clone()]);
    assert_eq!(un.kept_data, Some(r.join("var/lib/fazt")));
    assert!(first.db.exists());

    let purge = UninstallPlan {
        purge: true,
        ..keep
    };
    let un = uninstall(&purge).unwrap();
    assert!(un.removed.contains(&r.join("var/lib/private/fazt")));
    assert!(fs::symlink_metadata(r.join("var/lib/fazt")).is_err());
    assert!(!first.db.exists());
}

#[test]
fn a_plain_state_directory_is_used_as_is() {
    let (_t, plan) = setup();
    fs::create_dir_all(plan.root.join("var/lib/fazt")).unwrap();
    let calls = Cell::new(0);
    let r = install(&plan, &fake_db(&calls)).unwrap();
    assert_eq!(r.db, plan.root.join("var/lib/fazt/fazt.db"));
    assert!(!plan.root.join("var/lib/private").exists());
}
