//! Backup and restore through the real binary: `fazt backup` while the server serves and
//! takes deploys, `GET /api/system/backup`, `--to -`, scheduled snapshots with rotation, and
//! `fazt restore` — refusing what it must, and bringing every site back byte for byte.

mod common;
use common::zipbuild::site;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn refused(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let e = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        e.starts_with("fazt: error: ") && e.trim().lines().count() == 1,
        "{e}"
    );
    e
}

/// `fazt restore FILE --db DB`.
fn restore(file: &Path, db: &Path) -> std::process::Output {
    Command::new(bin())
        .args([
            "restore",
            file.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap()
}

fn integrity(path: &Path) -> String {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn deploy(srv: &Server, tok: &str, name: &str, files: &[(&str, &[u8])]) {
    let r = put_zip(srv, tok, name, &site(files));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn page(srv: &Server, site: &str, path: &str) -> Vec<u8> {
    let r = srv.get(&format!("{site}.localhost"), path);
    assert_eq!(r.status, 200, "{site}{path}");
    r.body
}

/// Random-looking bytes that do not compress (so the database is as big as the files).

#[test]
fn backup_while_serving_then_restore_brings_every_site_back() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "admin");
    let big = noise(3 << 20, 7);
    deploy(
        &srv,
        &tok,
        "blog",
        &[("index.html", b"<h1>v1</h1>"), ("big.bin", &big)],
    );
    deploy(
        &srv,
        &tok,
        "docs",
        &[("index.html", b"docs v1"), ("a/b.txt", b"deep")],
    );

    let snaps = srv.dir.join("snaps");
    std::fs::create_dir(&snaps).unwrap();
    // A deploy loop runs through the backup: the snapshot holds one whole version.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, addr, tok) = (stop.clone(), srv.addr, tok.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = format!("churn {n}");
                let zip = site(&[("index.html", body.as_bytes())]);
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                let head = format!(
                    "PUT /api/sites/churn HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    zip.len()
                );
                std::io::Write::write_all(&mut s, head.as_bytes()).unwrap();
                std::io::Write::write_all(&mut s, &zip).unwrap();
                let r = read_response(&mut s, false).unwrap();
                assert_eq!(r.status, 200);
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let out = ok(&srv.cli(&["backup", "--to", snaps.to_str().unwrap()]));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let deploys = writer.join().unwrap();
    assert!(deploys > 1, "the deploy loop ran during the backup");
    assert!(
        out.starts_with("backup: ") && out.contains("schema version"),
        "{out}"
    );
    let files: Vec<_> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let snap = files[0].clone();
    let name = snap.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("fazt-") && name.ends_with("Z.db"),
        "{name}"
    );
    assert_eq!(integrity(&snap), "ok");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&snap).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // After the snapshot: a new version of blog.
    deploy(&srv, &tok, "blog", &[("index.html", b"<h1>v2</h1>")]);
    // A running server's database is never swapped out.
    let e = refused(&srv.cli(&["restore", snap.to_str().unwrap()]));
    assert!(e.contains("open in another process"), "{e}");
    assert_eq!(page(&srv, "blog", "/"), b"<h1>v2</h1>");
    let db = srv.db.clone();
    let dir = srv.dir.clone();
    assert!(srv.stop().success());

    let text = ok(&restore(&snap, &db));
    assert!(text.contains("restored "), "{text}");
    let kept = text
        .lines()
        .find_map(|l| l.strip_prefix("the database it replaced is kept as "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string();
    assert_eq!(integrity(Path::new(&kept)), "ok");

    let srv = Server::start_on(dir.clone(), db.clone(), &[]);
    assert_eq!(page(&srv, "blog", "/"), b"<h1>v1</h1>");
    assert_eq!(page(&srv, "blog", "/big.bin"), big);
    assert_eq!(page(&srv, "docs", "/a/b.txt"), b"deep");
    let churn = String::from_utf8(page(&srv, "churn", "/")).unwrap();
    let n: u32 = churn.strip_prefix("churn ").unwrap().parse().unwrap();
    assert!(n >= 1 && n <= deploys, "{churn}");
    drop(srv);
    // The database restore replaced still has the newer deploy.
    let srv = Server::start_on(dir, Path::new(&kept).to_path_buf(), &[]);
    assert_eq!(page(&srv, "blog", "/"), b"<h1>v2</h1>");
}

#[test]
fn the_api_streams_a_snapshot_to_admins_only() {
    let srv = Server::start(&[]);
    let admin = token(&srv, "admin");
    let deployer = token(&srv, "deploy");
    deploy(&srv, &admin, "shop", &[("index.html", b"shop v1")]);
    assert_eq!(srv.get("localhost", "/api/system/backup").status, 401);
    assert_eq!(
        api(&srv, &deployer, "GET", "/api/system/backup", b"").status,
        403
    );
    let r = api(&srv, &admin, "POST", "/api/system/backup", b"");
    assert_eq!(r.status, 405);
    assert!(r.json()["error"]["code"].is_string());

    let r = api(&srv, &admin, "GET", "/api/system/backup", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/vnd.sqlite3"));
    assert!(r.header("content-disposition").unwrap().contains("fazt-"));
    assert!(r.body.starts_with(b"SQLite format 3\0"));
    // Nothing is left beside the database.
    let beside: Vec<String> = std::fs::read_dir(srv.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("fazt.db"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
    let h = api(&srv, &admin, "GET", "/api/system/health", b"").json();
    assert_eq!(h["data"]["backup"]["last"]["kind"], "api");
    assert_eq!(h["data"]["backup"]["last"]["ok"], true);

    // Restored onto a new machine's empty directory, the download serves the site.
    let other = Arc::new(TempDir::new("fromapi"));
    let file = other.join("download.db");
    std::fs::write(&file, &r.body).unwrap();
    let db = other.join("fazt.db");
    let text = ok(&restore(&file, &db));
    assert!(text.contains("there was no database at"), "{text}");
    let srv2 = Server::start_on(other, db, &[]);
    assert_eq!(page(&srv2, "shop", "/"), b"shop v1");
}

#[test]
fn backup_to_stdout_is_the_whole_database() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "admin");
    deploy(&srv, &tok, "pipe", &[("index.html", b"through a pipe")]);
    let out = Command::new(bin())
        .args(["backup", "--to", "-", "--db", srv.db.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"SQLite format 3\0"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("backup: stdout"), "{err}");
    let f = srv.dir.join("piped.db");
    std::fs::write(&f, &out.stdout).unwrap();
    assert_eq!(integrity(&f), "ok");
    let c = rusqlite::Connection::open(&f).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM files WHERE site_id = 'pipe'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn scheduled_snapshots_rotate_and_show_in_health_and_status() {
    let dir = Arc::new(TempDir::new("sched"));
    let snaps = dir.join("snaps/nested");
    let db = dir.join("fazt.db");
    let srv = Server::start_on(
        dir.clone(),
        db,
        &[
            "--backup-dir",
            snaps.to_str().unwrap(),
            "--backup-every",
            "1s",
            "--backup-keep",
            "2",
        ],
    );
    let tok = token(&srv, "admin");
    let t0 = Instant::now();
    // Four runs at least: rotation has had to remove some.
    loop {
        let runs = srv.logs().matches("backup: ").count();
        if runs >= 4 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "{}", srv.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let names: Vec<String> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("fazt-"))
        .collect();
    assert!(
        names.len() <= 2 + 1,
        "keep 2 (one may be being written): {names:?}"
    );
    assert!(srv.logs().contains("removed 1 older"), "{}", srv.logs());
    let h = api(&srv, &tok, "GET", "/api/system/health", b"").json();
    let b = &h["data"]["backup"];
    assert_eq!(b["schedule"]["every_seconds"], 1);
    assert_eq!(b["schedule"]["keep"], 2);
    assert_eq!(b["last_ok"]["kind"], "schedule");
    assert!(b["last_ok"]["age_seconds"].as_i64().unwrap() < 30);
    let status = ok(&srv.cli(&["status"]));
    assert!(
        status.contains("last backup:") && status.contains("(schedule,"),
        "{status}"
    );
    assert!(status.contains("replication:    none detected"), "{status}");
}

#[test]
fn restore_refuses_what_is_not_a_healthy_fazt_database_and_changes_nothing() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "admin");
    deploy(&srv, &tok, "keep", &[("index.html", b"still here")]);
    let db = srv.db.clone();
    let dir = srv.dir.clone();
    assert!(srv.stop().success());
    let before = std::fs::read(&db).unwrap();
    let restore_into = |file: &Path| restore(file, &db);

    let zip = dir.join("site.zip");
    std::fs::write(&zip, site(&[("index.html", b"x")])).unwrap();
    assert!(refused(&restore_into(&zip)).contains("not an SQLite database"));

    let other = dir.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    assert!(refused(&restore_into(&other)).contains("not a fazt database"));

    // A fazt database with damage in it.
    let broken = dir.join("broken.db");
    std::fs::copy(&db, &broken).unwrap();
    let root: i64 = rusqlite::Connection::open(&broken)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'files'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = std::fs::read(&broken).unwrap();
    let at = (root as usize - 1) * 4096;
    bytes[at..at + 64].fill(0x5a);
    std::fs::write(&broken, &bytes).unwrap();
    let e = refused(&restore_into(&broken));
    assert!(e.contains("integrity") || e.contains("malformed"), "{e}");

    // A fazt database whose history forks from this binary's at step 2.
    let fork = dir.join("fork.db");
    std::fs::copy(&db, &fork).unwrap();
    rusqlite::Connection::open(&fork)
        .unwrap()
        .execute("UPDATE schema_steps SET hash = 'f00d' WHERE step = 2", [])
        .unwrap();
    assert!(refused(&restore_into(&fork)).contains("differs from this program's"));

    assert!(refused(&restore_into(&dir.join("missing.db"))).contains("no file at"));
    let usage = Command::new(bin()).args(["restore"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));

    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is untouched"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("before-restore") || n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "{names:?}");

    // A newer fazt's database (a step this binary does not know) is accepted, and said so.
    let newer = dir.join("newer.db");
    std::fs::copy(&db, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch(
            "CREATE TABLE future (x); INSERT INTO schema_steps (step, name, hash, applied_at) VALUES (99, 'future', 'abc', 0);",
        )
        .unwrap();
    let text = ok(&restore_into(&newer));
    assert!(
        text.contains("written by a newer fazt (schema 99"),
        "{text}"
    );
    let srv = Server::start_on(dir, db, &[]);
    assert_eq!(page(&srv, "keep", "/"), b"still here");
}
