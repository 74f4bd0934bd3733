//! `fazt service install|uninstall` into a temporary root (no systemd runs in CI): the same
//! tree twice, the admin token printed once, data kept unless --purge.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&p)
                        .unwrap()
                        .display()
                        .to_string()
                        .into_bytes(),
                );
            } else if meta.is_dir() {
                walk(base, &p, out);
            } else if !rel.ends_with("-wal") && !rel.ends_with("-shm") {
                // The database changes as SQLite checkpoints; its presence is what matters.
                let content = if rel.ends_with("fazt.db") {
                    b"db".to_vec()
                } else {
                    std::fs::read(&p).unwrap()
                };
                out.insert(rel, content);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn fazt(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).output().unwrap()
}

#[test]
fn install_twice_same_result_then_uninstall() {
    let root = TempDir::new("svc");
    let r = root.path().to_str().unwrap();
    let install = [
        "service",
        "install",
        "--domain",
        "example.com",
        "--https",
        "--email",
        "me@example.com",
        "--root",
        r,
    ];
    let first = fazt(&install);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let out = String::from_utf8_lossy(&first.stdout);
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("admin token (shown once): "))
        .expect("token printed");
    assert!(token.starts_with("fazt_"));
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/fazt.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/fazt serve --domain example.com --listen 127.0.0.1:4698 --https --email me@example.com"), "{unit}");
    for line in [
        "DynamicUser=yes",
        "StateDirectory=fazt",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "Type=notify",
        "MemoryDenyWriteExecute=yes",
        "UMask=077",
    ] {
        assert!(unit.contains(line), "unit lacks {line}");
    }
    assert!(root.join("usr/local/bin/fazt").exists());
    let db = root.join("var/lib/fazt/fazt.db");
    assert!(db.exists());
    // The printed token is a working admin token of that database.
    let srv = Server::start_on(
        std::sync::Arc::new(TempDir::new("svc-srv")),
        db.clone(),
        &[],
    );
    assert_eq!(api(&srv, token, "GET", "/api/keys", b"").status, 200);
    drop(srv);

    let before = tree(root.path());
    let second = fazt(&install);
    assert!(second.status.success());
    let out2 = String::from_utf8_lossy(&second.stdout);
    assert!(
        !out2.contains("admin token"),
        "a second install must not create another token:\n{out2}"
    );
    assert!(
        out2.contains("(unchanged)") && out2.contains("(kept)"),
        "{out2}"
    );
    assert_eq!(tree(root.path()), before, "second install changed the tree");

    let bad = fazt(&["service", "install", "--domain", "bad domain", "--root", r]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = fazt(&[
        "service",
        "install",
        "--domain",
        "example.com",
        "--https",
        "--root",
        r,
    ]);
    assert_eq!(bad.status.code(), Some(2), "--https without --email");

    let un = fazt(&["service", "uninstall", "--root", r]);
    assert!(
        un.status.success(),
        "{}",
        String::from_utf8_lossy(&un.stderr)
    );
    assert!(!root.join("etc/systemd/system/fazt.service").exists());
    assert!(!root.join("usr/local/bin/fazt").exists());
    assert!(db.exists(), "data kept without --purge");
    let purge = fazt(&["service", "uninstall", "--purge", "--root", r]);
    assert!(purge.status.success());
    assert!(!db.exists());
}

#[test]
fn install_with_a_backup_dir_outside_the_state_directory() {
    let root = TempDir::new("svc-backup");
    let r = root.path().to_str().unwrap();
    let out = fazt(&[
        "service",
        "install",
        "--domain",
        "example.com",
        "--backup-dir",
        "/mnt/usb/fazt",
        "--root",
        r,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/fazt.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/fazt serve --domain example.com --listen 0.0.0.0:80 --backup-dir /mnt/usb/fazt\nReadWritePaths=/mnt/usb/fazt\nExecStartPre=+/bin/chown -R fazt:fazt /mnt/usb/fazt\n"),
        "{unit}"
    );
    let dir = root.join("mnt/usb/fazt");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for bad in ["relative", "/a b", "/x/../etc"] {
        let o = fazt(&[
            "service",
            "install",
            "--domain",
            "example.com",
            "--backup-dir",
            bad,
            "--root",
            r,
        ]);
        assert!(!o.status.success(), "{bad}");
        assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    }
}
