//! `fazt import-go` on Go fazt databases built from Go's own migration SQL at v0.5, v0.7,
//! v0.8 and v0.20 (tests/go-fazt/make_db.py, with python3's sqlite3): every kind of row
//! arrives and is served by the real binary, a second run changes nothing, and a dry run, a
//! damaged source or a refused target leave fazt.db exactly as it was.
#![cfg(all(feature = "analytics", feature = "acme"))]

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

const VERSIONS: [&str; 4] = ["v0.5", "v0.7", "v0.8", "v0.20"];

/// Builds the Go database of `version` in `dir`, with a real certificate in certmagic's rows.
fn go_db(dir: &TempDir, version: &str) -> PathBuf {
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    if !cert.exists() {
        pebble::write_ca_and_leaf("Go CA", &["blog.example.com"], &ca, &cert, &key);
    }
    let out = dir.join(&format!("go-{version}.db"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go-fazt/make_db.py");
    ok(&Command::new("python3")
        .arg(script)
        .args([version, out.to_str().unwrap()])
        .arg(&cert)
        .arg(&key)
        .output()
        .expect("python3 is needed to build Go fazt fixtures"));
    out
}

fn import(go: &Path, db: &Path, extra: &[&str]) -> Output {
    Command::new(bin())
        .arg("import-go")
        .arg(go)
        .arg("--db")
        .arg(db)
        .args(extra)
        .output()
        .unwrap()
}

/// Every row of every table of `db`, in a stable order: equal dumps, equal databases.
fn dump(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for t in tables {
        let mut st = c
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            out.push_str(&t);
            for i in 0..n {
                out.push_str(&format!(" {:?}", r.get_ref(i).unwrap()));
            }
            out.push('\n');
        }
    }
    out
}

fn query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The row of the summary table for `kind`: (added, unchanged, kept, skipped).
fn tally(out: &str, kind: &str) -> (u64, u64, u64, u64) {
    let line = out
        .lines()
        .find(|l| {
            l.trim_start().starts_with(kind)
                && l.trim_start()[kind.len()..].starts_with(char::is_whitespace)
        })
        .unwrap_or_else(|| panic!("no '{kind}' row in:\n{out}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .rev()
        .take(4)
        .map(|v| v.parse().unwrap())
        .collect();
    (n[3], n[2], n[1], n[0])
}

fn big() -> Vec<u8> {
    // The same 3 MiB make_db.py writes: a SHA-256 chain from "fazt".
    use sha2::{Digest, Sha256};
    let mut out = Vec::new();
    let mut block: Vec<u8> = b"fazt".to_vec();
    while out.len() < 3 * 1024 * 1024 {
        block = Sha256::digest(&block).to_vec();
        out.extend_from_slice(&block);
    }
    out
}

#[test]
fn every_go_version_is_imported_and_served() {
    let big = big();
    for version in VERSIONS {
        let dir = Arc::new(TempDir::new(&format!("import-go-{version}")));
        let go = go_db(&dir, version);
        let go_before = std::fs::read(&go).unwrap();
        let db = dir.join("fazt.db");
        let out = ok(&import(&go, &db, &[]));
        let later = version == "v0.20";
        assert_eq!(tally(&out, "sites"), (3, 0, 0, 1), "{version}:\n{out}");
        assert_eq!(tally(&out, "files"), (10, 0, 0, 1), "{version}:\n{out}");
        assert_eq!(
            tally(&out, "kv").0,
            if later { 3 } else { 2 },
            "{version}:\n{out}"
        );
        assert_eq!(tally(&out, "env vars").0, 2, "{version}");
        assert_eq!(tally(&out, "short links").0, 2, "{version}");
        assert_eq!(tally(&out, "webhooks").0, 1, "{version}");
        assert_eq!(tally(&out, "events").0, 3002, "{version}");
        assert_eq!(tally(&out, "log lines").0, 2, "{version}");
        assert_eq!(tally(&out, "deployments").0, 1, "{version}");
        assert_eq!(tally(&out, "tokens").0, 1, "{version}");
        assert_eq!(tally(&out, "certificates").0, 1, "{version}:\n{out}");
        assert!(out.contains("site admin: Go fazt's dashboard"), "{out}");
        assert!(out.contains("'.env': a dot-file"), "{out}");
        if later {
            assert!(out.contains("1 per-user row(s) skipped"), "{out}");
            assert!(out.contains("1 expired row(s) skipped"), "{out}");
        }
        // The Go file is only read.
        assert_eq!(
            std::fs::read(&go).unwrap(),
            go_before,
            "{version}: Go's file changed"
        );

        let keys: String = query(
            &db,
            "SELECT group_concat(key || '=' || value, ';') FROM (SELECT key, value FROM kv_store WHERE site_id = 'counter' ORDER BY key)",
        );
        assert_eq!(keys, "café={\"a\":[1,2]};count=41", "{version}");
        let secret: String = query(&db, "SELECT secret FROM webhooks WHERE endpoint = 'github'");
        assert_eq!(secret, "whsec_go");
        let cert: i64 = query(
            &db,
            "SELECT COUNT(*) FROM certificates WHERE key IN ('certs/acme-v02.api.letsencrypt.org/blog.example.com/cert.pem', 'certs/acme-v02.api.letsencrypt.org/blog.example.com/key.pem')",
        );
        assert_eq!(cert, 2, "{version}");
        // Go-era SQL over `domain` and text dates finds the imported rows through events_v0.
        let go_style: i64 = query(
            &db,
            "SELECT COUNT(*) FROM events_v0 WHERE domain = 'blog' AND DATE(created_at) = '2024-03-01'",
        );
        assert_eq!(go_style, 600, "{version}");
        let raw_ips: i64 = query(&db, "SELECT COUNT(ip_address) FROM events");
        assert_eq!(raw_ips, 0, "raw addresses are dropped by default");

        let srv = Server::start_on(dir.clone(), db.clone(), &[]);
        let r = srv.get("blog.localhost", "/");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "<!doctype html><h1>Go blog</h1>")
        );
        let r = srv.get("blog.localhost", "/posts/h%C3%A9llo%20w%C3%B6rld.html");
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "<p>unicode path ✓</p>")
        );
        let r = srv.get(
            "blog.localhost",
            "/%E6%96%87%E6%A1%A3/%E7%B4%A2%E5%BC%95.html",
        );
        assert_eq!((r.status, r.text().as_str()), (200, "<p>中文</p>"));
        let r = srv.get("blog.localhost", "/big.bin");
        assert_eq!(r.status, 200);
        assert!(
            r.body == big,
            "{version}: big.bin differs ({} bytes)",
            r.body.len()
        );
        let r = srv.get("blog.localhost", "/img/pixel.png");
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some("image/png"))
        );
        assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(srv.get("shop.localhost", "/.env").status, 404);
        // v0.20 kept the SPA flag per app.
        let deep = srv.get("shop.localhost", "/cart/42").status;
        assert_eq!(deep, if later { 200 } else { 404 }, "{version}");
        // v0.8's custom domains: the apex serves the site, www redirects to it.
        if version == "v0.8" || later {
            assert_eq!(tally(&out, "domains").0, 2, "{version}:\n{out}");
            let r = srv.get("blog.example.com", "/");
            assert_eq!(
                (r.status, r.text().as_str()),
                (200, "<!doctype html><h1>Go blog</h1>")
            );
            let r = srv.get("www.blog.example.com", "/posts/?x=1");
            assert_eq!(r.status, 301);
            let loc = r.header("location").unwrap_or("");
            assert!(
                loc.starts_with("http://blog.example.com") && loc.ends_with("/posts/?x=1"),
                "{loc}"
            );
        }
        // Short links redirect with their click counts carried over.
        let r = srv.get("localhost", "/r/gh");
        assert_eq!(
            (r.status, r.header("location")),
            (302, Some("https://github.com/example"))
        );
        let tok = token(&srv, "admin");
        let links = api(&srv, &tok, "GET", "/api/redirects", b"").json();
        let gh = links["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["slug"] == "gh")
            .unwrap()
            .clone();
        assert!(gh["click_count"].as_i64().unwrap() >= 17, "{gh}");
        // Env var names, never values; Go's events under Go's `domain` filter and in stats.
        let env = api(&srv, &tok, "GET", "/api/sites/counter/env", b"").text();
        assert!(env.contains("API_KEY") && !env.contains("s3cr3t"), "{env}");
        let ev = api(&srv, &tok, "GET", "/api/events?domain=blog&limit=5", b"").json();
        assert_eq!(ev["data"].as_array().unwrap().len(), 5, "{ev}");
        let stats = api(
            &srv,
            &tok,
            "GET",
            "/api/stats?site=blog&from=2024-03-01&to=2024-03-05",
            b"",
        )
        .json();
        assert_eq!(
            stats["data"]["totals"]["pageviews"], 3000,
            "{version}: {stats}"
        );
        assert!(
            stats["data"]["totals"]["visitors"].as_i64().unwrap() >= 50,
            "{stats}"
        );
        // Go's token is listed as one to rotate, and does not authenticate.
        let list = ok(&srv.cli(&["token", "list"]));
        assert!(list.contains("laptop") && list.contains("rotate"), "{list}");
        let r = api(&srv, "fazt_whatever", "GET", "/api/sites", b"");
        assert_eq!(r.status, 401);
        drop(srv);

        // Again: nothing changes, not one row.
        let before = dump(&db);
        let again = ok(&import(&go, &db, &[]));
        assert!(again.contains("nothing new"), "{again}");
        assert_eq!(tally(&again, "sites"), (0, 3, 0, 1), "{again}");
        assert_eq!(tally(&again, "events"), (0, 3002, 0, 0), "{again}");
        assert_eq!(
            dump(&db),
            before,
            "{version}: a second import changed fazt.db"
        );
    }
}

#[test]
fn new_go_rows_come_over_on_a_second_run_and_nothing_here_is_overwritten() {
    let dir = Arc::new(TempDir::new("import-go-merge"));
    let go = go_db(&dir, "v0.8");
    let db = dir.join("fazt.db");
    // Deployed here before the import: kept, and reported.
    seed_files(&db, "shop", &[("index.html", b"<p>new shop</p>")]);
    let out = ok(&import(&go, &db, &[]));
    assert_eq!(tally(&out, "sites"), (2, 0, 1, 1), "{out}");
    assert!(out.contains("site shop: already deployed here"), "{out}");
    let shop: Vec<u8> = query(
        &db,
        "SELECT content FROM files WHERE site_id = 'shop' AND path = 'index.html'",
    );
    assert_eq!(shop, b"<p>new shop</p>");
    // Go kept running: new events and a changed KV value arrive there.
    let c = rusqlite::Connection::open(&go).unwrap();
    c.execute_batch(
        "INSERT INTO events (domain, source_type, event_type, path, created_at)
           VALUES ('blog', 'hosting', 'pageview', '/late', '2024-03-07 09:00:00');
         UPDATE kv_store SET value = '99' WHERE key = 'count';",
    )
    .unwrap();
    drop(c);
    let again = ok(&import(&go, &db, &[]));
    assert_eq!(tally(&again, "events"), (1, 3002, 0, 0), "{again}");
    assert_eq!(tally(&again, "kv"), (0, 1, 1, 0), "{again}");
    let count: String = query(&db, "SELECT value FROM kv_store WHERE key = 'count'");
    assert_eq!(count, "41", "a value already here is not overwritten");
}

#[test]
fn dry_runs_damaged_sources_and_refusals_change_nothing() {
    let dir = Arc::new(TempDir::new("import-go-refuse"));
    let go = go_db(&dir, "v0.7");
    let db = dir.join("fazt.db");
    seed_files(&db, "home", &[("index.html", b"home")]);
    let before = dump(&db);

    let out = ok(&import(&go, &db, &["--dry-run"]));
    assert!(
        out.contains("would import") && out.contains("nothing changed"),
        "{out}"
    );
    assert_eq!(tally(&out, "events").0, 3002, "{out}");
    assert_eq!(dump(&db), before, "a dry run changed fazt.db");

    // The events' pages (written last) damaged: the sites were already written in the
    // transaction when reading fails, and all of it is rolled back.
    let bad = dir.join("damaged.db");
    let mut bytes = std::fs::read(&go).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n - 64 * 1024..] {
        *b = 0xA5;
    }
    std::fs::write(&bad, &bytes).unwrap();
    let o = import(&bad, &db, &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("fazt: error: ") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(dump(&db), before, "a failed import changed fazt.db");

    // Not a Go database, or none at all: one line, nothing changed.
    let cases: [(&Path, &str); 3] = [
        (&db, "is the database to import into"),
        (&dir.join("missing.db"), "no such file"),
        (&dir.join("ca.pem"), "ca.pem"),
    ];
    for (src, msg) in cases {
        let o = import(src, &db, &[]);
        assert!(!o.status.success(), "{src:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(msg) && err.lines().count() == 1,
            "{src:?}: {err}"
        );
    }
    let other = dir.join("other-fazt.db");
    seed_files(&other, "x", &[("index.html", b"x")]);
    let o = import(&other, &db, &[]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is a database of this fazt"),
        "{o:?}"
    );
    let o = Command::new(bin()).args(["import-go"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = import(&go, &db, &["--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(dump(&db), before);

    // A server on fazt.db: refused (its caches would not see the import).
    let srv = Server::start_on(dir.clone(), db.clone(), &[]);
    let o = import(&go, &db, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is serving"),
        "{o:?}"
    );
    drop(srv);
}
