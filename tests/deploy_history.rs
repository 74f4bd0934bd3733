//! Deployment history through the real binary: every deploy kept (by content, once), instant
//! rollback in one transaction (readers see one version or the other, never a mix, never a
//! missing file), retention, and the incremental deploy that sends only what changed
//! (bytes counted on the wire by a proxy between `fazt deploy` and the server).

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes of the database that hold data (pages in use, not the free list), read beside the
/// running server.
fn used_bytes(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    let q = |p: &str| {
        c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    (q("page_count") - q("freelist_count")) * q("page_size")
}

fn blobs(db: &Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM file_blobs",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn deployed_id(r: &Resp) -> i64 {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]["deployment_id"].as_i64().unwrap()
}

fn rollback(srv: &Server, tok: &str, site: &str, body: &str) -> Resp {
    api(
        srv,
        tok,
        "POST",
        &format!("/api/sites/{site}/rollback"),
        body.as_bytes(),
    )
}

/// `n` files whose content names the version, and an index naming it too.
fn version(v: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            (
                format!("page/{i}.html"),
                format!("{v} page {i}").into_bytes(),
            )
        })
        .collect();
    files.push(("index.html".into(), format!("<h1>{v}</h1>").into_bytes()));
    files
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    zipbuild::site(&refs)
}

#[test]
fn rollback_is_one_switch_that_readers_never_see_half_of() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let (v1, v2) = (version("v1", 60), version("v2", 60));
    let id1 = deployed_id(&put_zip(&srv, &tok, "site", &zip_of(&v1)));
    // v2 also drops a file and adds one.
    let mut v2 = v2;
    v2.retain(|(n, _)| n != "page/7.html");
    v2.push(("only-v2.txt".into(), b"new in v2".to_vec()));
    let id2 = deployed_id(&put_zip(&srv, &tok, "site", &zip_of(&v2)));

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    let addr = srv.addr;
    let readers: Vec<_> = (0..3)
        .map(|t| {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let n = i % 60;
                    i += 7;
                    let path = format!("/page/{n}.html");
                    let mut s = TcpStream::connect(addr).unwrap();
                    write!(
                        s,
                        "GET {path} HTTP/1.1\r\nHost: site.localhost\r\nConnection: close\r\n\r\n"
                    )
                    .unwrap();
                    let r = read_response(&mut s, false).expect("a response");
                    let body = String::from_utf8_lossy(&r.body).into_owned();
                    let one = body == format!("v1 page {n}") || body == format!("v2 page {n}");
                    // page 7 is in v1 only: 404 while v2 is live.
                    let gone = n == 7 && r.status == 404;
                    assert!(
                        gone || (r.status == 200 && one),
                        "{path}: {} {body:?}",
                        r.status
                    );
                    seen.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    for round in 0..6 {
        let (to, want) = if round % 2 == 0 {
            (id1, &v1)
        } else {
            (id2, &v2)
        };
        let r = rollback(&srv, &tok, "site", &format!("{{\"to\": {to}}}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["data"]["deployment_id"], to);
        // Once the rollback is answered, every file is the target version's (none cached
        // from before, none missing), and nothing else is served.
        for (name, content) in want.iter() {
            let got = srv.get("site.localhost", &format!("/{name}"));
            assert_eq!(
                (got.status, &got.body),
                (200, content),
                "round {round}: {name}"
            );
        }
        let other = if to == id1 {
            "/only-v2.txt"
        } else {
            "/page/7.html"
        };
        assert_eq!(
            srv.get("site.localhost", other).status,
            404,
            "round {round}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader saw a mix");
    }
    assert!(seen.load(Ordering::Relaxed) > 0);

    // The listing marks the live one; both stay restorable.
    let list = api(&srv, &tok, "GET", "/api/sites/site/deployments", b"").json();
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["id"].as_i64(), rows[0]["live"].as_bool()),
        (Some(id2), Some(true))
    );
    assert_eq!(rows[1]["live"], false);
    assert!(rows.iter().all(|d| d["restorable"] == true));
    // Without `to`: the one before the live one.
    let r = rollback(&srv, &tok, "site", "");
    assert_eq!(r.json()["data"]["deployment_id"], id1, "{}", r.text());
    let r = rollback(&srv, &tok, "site", "");
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "NO_EARLIER_DEPLOYMENT");
    assert_eq!(srv.get("site.localhost", "/").body, b"<h1>v1</h1>");
}

#[test]
fn rollback_errors_change_nothing() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let a = deployed_id(&put_zip(
        &srv,
        &tok,
        "a",
        &zipbuild::site(&[("index.html", b"a")]),
    ));
    let b1 = deployed_id(&put_zip(
        &srv,
        &tok,
        "b",
        &zipbuild::site(&[("index.html", b"b1")]),
    ));
    deployed_id(&put_zip(
        &srv,
        &tok,
        "b",
        &zipbuild::site(&[("index.html", b"b2")]),
    ));
    for (body, status, code) in [
        (format!("{{\"to\": {a}}}"), 404, "NOT_FOUND"),
        ("{\"to\": 99999}".to_string(), 404, "NOT_FOUND"),
        ("{\"to\": \"x\"}".to_string(), 400, "BAD_REQUEST"),
        ("not json".to_string(), 400, "BAD_REQUEST"),
    ] {
        let r = rollback(&srv, &tok, "b", &body);
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let live = api(&srv, &tok, "GET", "/api/sites/b/deployments", b"").json()["data"][0]["id"]
        .as_i64()
        .unwrap();
    let r = rollback(&srv, &tok, "b", &format!("{{\"to\": {live}}}"));
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("ALREADY_LIVE"))
    );
    assert_eq!(rollback(&srv, &tok, "nosuch", "").status, 404);
    assert_eq!(srv.get("b.localhost", "/").body, b"b2");
    // `?to=` works as the body does.
    let r = api(
        &srv,
        &tok,
        "POST",
        &format!("/api/sites/b/rollback?to={b1}"),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("b.localhost", "/").body, b"b1");
    // Without a valid token, nothing is rolled back.
    assert_eq!(rollback(&srv, "not-a-token", "b", "").status, 401);
    assert_eq!(srv.get("b.localhost", "/").body, b"b1");
}

#[test]
fn the_same_content_is_stored_once_and_old_deployments_are_collected() {
    let srv = Server::start(&["--keep-deployments", "3"]);
    let tok = token(&srv, "deploy");
    // 40 files of 100 KB: 4 MB of incompressible content.
    let mut site: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("img/{i}.bin"), noise(100_000, i)))
        .collect();
    // (A file at the top, so the single folder is not unwrapped.)
    site.push(("index.html".into(), b"<h1>photos</h1>".to_vec()));
    let zip = zip_of(&site);
    deployed_id(&put_zip(&srv, &tok, "photos", &zip));
    let before = used_bytes(&srv.db);
    for _ in 0..5 {
        deployed_id(&put_zip(&srv, &tok, "photos", &zip));
    }
    let growth = used_bytes(&srv.db) - before;
    eprintln!("db growth after 5 identical re-deploys of 4 MB: {growth} bytes");
    assert!(
        growth < 64 * 1024,
        "re-deploying the same content grew the database by {growth}"
    );
    assert_eq!(
        blobs(&srv.db),
        (0, 0),
        "content that is live is never stored twice"
    );

    // Changing one file keeps its old version, once.
    let mut changed = site.clone();
    changed[0].1 = noise(100_000, 1000);
    let first_changed = deployed_id(&put_zip(&srv, &tok, "photos", &zip_of(&changed)));
    assert_eq!(blobs(&srv.db), (1, 100_000));
    // Six more versions of that file: only the kept deployments' versions stay.
    for v in 0..6 {
        changed[0].1 = noise(100_000, 2000 + v);
        deployed_id(&put_zip(&srv, &tok, "photos", &zip_of(&changed)));
    }
    assert_eq!(
        blobs(&srv.db),
        (2, 200_000),
        "3 kept: the live one and two earlier"
    );
    let r = rollback(
        &srv,
        &tok,
        "photos",
        &format!("{{\"to\": {first_changed}}}"),
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("NOT_RESTORABLE"))
    );
    let list = api(
        &srv,
        &tok,
        "GET",
        "/api/sites/photos/deployments?limit=100",
        b"",
    )
    .json();
    let kept = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["restorable"] == true)
        .count();
    assert_eq!(kept, 3);
    // Two rollbacks restore the two kept versions, byte for byte.
    for back in [2004u64, 2003] {
        let r = rollback(&srv, &tok, "photos", "");
        assert_eq!(r.status, 200, "{}", r.text());
        let got = srv.get("photos.localhost", "/img/0.bin").body;
        assert!(
            got == noise(100_000, back),
            "rollback {back}: {} bytes",
            got.len()
        );
    }

    // Deleting a site keeps the contents another site's history still names.
    let shared = noise(50_000, 77);
    deployed_id(&put_zip(
        &srv,
        &tok,
        "xx",
        &zipbuild::site(&[("a.bin", &shared)]),
    ));
    deployed_id(&put_zip(
        &srv,
        &tok,
        "yy",
        &zipbuild::site(&[("a.bin", &shared)]),
    ));
    deployed_id(&put_zip(
        &srv,
        &tok,
        "yy",
        &zipbuild::site(&[("a.bin", b"y2")]),
    ));
    let admin = token(&srv, "admin");
    let r = api(&srv, &admin, "DELETE", "/api/sites/xx", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = rollback(&srv, &tok, "yy", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        srv.get("yy.localhost", "/a.bin").body == shared,
        "the shared content was lost"
    );
}

/// A TCP proxy in front of the server that counts the bytes clients send through it.
struct Counter {
    port: u16,
    sent: Arc<AtomicU64>,
}

impl Counter {
    fn start(to: std::net::SocketAddr) -> Counter {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let count = sent.clone();
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || {
                    let server = TcpStream::connect(to).unwrap();
                    let (mut c2, mut s2) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let back = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut s2, &mut c2);
                        let _ = c2.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut c, mut s) = (client, server);
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        count.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    let _ = s.shutdown(std::net::Shutdown::Write);
                    let _ = back.join();
                });
            }
        });
        Counter { port, sent }
    }

    fn take(&self) -> u64 {
        self.sent.swap(0, Ordering::Relaxed)
    }
}

fn client(port: u16, tok: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("FAZT_SERVER", format!("http://127.0.0.1:{port}"))
        .env("FAZT_TOKEN", tok)
        .env("FAZT_CLIENT_CONFIG", "/nonexistent/fazt-client.json")
        .output()
        .unwrap()
}

#[test]
fn an_incremental_deploy_sends_only_what_changed() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let proxy = Counter::start(srv.addr);
    let work = TempDir::new("incremental");
    let dir = work.join("shop");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    // 1,000 files of 20 KB: 20 MB.
    for i in 0..1000u64 {
        std::fs::write(dir.join(format!("assets/{i:04}.bin")), noise(20_000, i)).unwrap();
    }
    std::fs::write(dir.join("index.html"), "<h1>shop</h1>").unwrap();
    let dir_s = dir.to_str().unwrap();
    let out = client(
        proxy.port,
        &tok,
        &["deploy", dir_s, "-m", "first: all of it"],
    );
    ok(&out);
    let first = proxy.take();
    assert!(
        first > 20_000_000,
        "the first deploy sends everything: {first}"
    );

    let out = client(
        proxy.port,
        &tok,
        &["deploy", dir_s, "-m", "nothing changed"],
    );
    ok(&out);
    let unchanged = proxy.take();
    eprintln!("re-deploy of an unchanged 1,000-file 20 MB folder sent {unchanged} bytes");
    assert!(
        unchanged < 100_000,
        "sent {unchanged} bytes for an unchanged site"
    );

    std::fs::write(dir.join("assets/0500.bin"), noise(20_000, 5000)).unwrap();
    std::fs::write(dir.join("new page.html"), "<p>new</p>").unwrap();
    std::fs::remove_file(dir.join("assets/0001.bin")).unwrap();
    let out = client(proxy.port, &tok, &["deploy", dir_s, "-m", "one changed"]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(&out);
    let one = proxy.take();
    eprintln!("deploy with one 20 KB file changed sent {one} bytes");
    assert!(
        one < 2 * 100_000 + 20_000,
        "sent {one} bytes for one changed file"
    );
    assert!(said.contains("2 of 1001 files"), "{said}");
    assert_eq!(
        srv.get("shop.localhost", "/assets/0500.bin").body,
        noise(20_000, 5000)
    );
    assert_eq!(
        srv.get("shop.localhost", "/new%20page.html").body,
        b"<p>new</p>"
    );
    assert_eq!(srv.get("shop.localhost", "/assets/0001.bin").status, 404);
    assert_eq!(
        srv.get("shop.localhost", "/assets/0002.bin").body,
        noise(20_000, 2)
    );

    // The history, as `fazt deployments` shows it, and a rollback from the CLI.
    let list = ok(&client(srv.addr.port(), &tok, &["deployments", "shop"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 4, "{list}");
    assert!(
        lines[1].contains("one changed") && lines[1].contains("yes"),
        "{list}"
    );
    assert!(lines[3].contains("first: all of it"), "{list}");
    let out = ok(&client(srv.addr.port(), &tok, &["rollback", "shop"]));
    assert!(out.contains("now serves deployment"), "{out}");
    assert_eq!(
        srv.get("shop.localhost", "/assets/0001.bin").body,
        noise(20_000, 1)
    );
    assert_eq!(srv.get("shop.localhost", "/new%20page.html").status, 404);
    let bad = client(srv.addr.port(), &tok, &["rollback", "shop", "--to", "x"]);
    assert_eq!(bad.status.code(), Some(2));
    let none = client(srv.addr.port(), &tok, &["rollback", "nosuch"]);
    assert_eq!(
        none.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
}

fn manifest_zip(lines: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut all: Vec<(&str, &[u8])> = vec![(".fazt/manifest", lines.as_bytes())];
    all.extend_from_slice(files);
    zipbuild::site(&all)
}

fn sha(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_bad_manifest_is_refused_and_changes_nothing() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    put_zip(&srv, &tok, "m", &zipbuild::site(&[("index.html", b"old")]));
    let post = |zip: Vec<u8>| api(&srv, &tok, "POST", "/api/sites/m/deployments", &zip);
    let page = b"<h1>new</h1>";
    let line = format!("{} {} index.html\n", sha(page), page.len());
    let secret = format!("{} 6 other.txt\n", sha(b"secret"));
    for (zip, status, code) in [
        (
            manifest_zip(&line, &[("index.html", b"<h1>NEW</h1>")]),
            400,
            "INVALID_MANIFEST",
        ),
        (
            manifest_zip(&line, &[("index.html", page), ("extra.txt", b"x")]),
            400,
            "INVALID_MANIFEST",
        ),
        (manifest_zip("zz 1 a\n", &[]), 400, "INVALID_MANIFEST"),
        (
            manifest_zip(&format!("{} 1 ../a\n", sha(b"a")), &[]),
            400,
            "INVALID_MANIFEST",
        ),
        (
            manifest_zip(&format!("{} 1 .env\n", sha(b"a")), &[]),
            400,
            "INVALID_MANIFEST",
        ),
        (manifest_zip("", &[]), 400, "EMPTY_SITE"),
        (
            zipbuild::site(&[("index.html", page)]),
            400,
            "INVALID_MANIFEST",
        ),
        (
            manifest_zip(&format!("{line}{secret}"), &[("index.html", page)]),
            409,
            "MISSING_CONTENT",
        ),
        (
            manifest_zip(
                &format!("{} 8 _redirects\n", sha(b"bad line")),
                &[("_redirects", b"bad line")],
            ),
            400,
            "INVALID_RULES",
        ),
    ] {
        let r = post(zip);
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{}",
            r.text()
        );
        if status == 409 {
            assert_eq!(
                r.json()["error"]["missing"],
                serde_json::json!(["other.txt"])
            );
        }
        assert_eq!(srv.get("m.localhost", "/").body, b"old");
    }
    // A stored content named by a rules path is checked too: `bad line` stored as a page…
    let bad = b"/a /b 999\n";
    put_zip(&srv, &tok, "n", &zipbuild::site(&[("notes.txt", bad)]));
    let r = post(manifest_zip(
        &format!("{} {} _redirects\n", sha(bad), bad.len()),
        &[],
    ));
    assert_eq!(r.json()["error"]["code"], "INVALID_RULES", "{}", r.text());
    // …and a good manifest deploys, reusing what is stored.
    let r = post(manifest_zip(
        &format!("{line}{} {} notes.txt\n", sha(bad), bad.len()),
        &[("index.html", page)],
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("m.localhost", "/notes.txt").body, bad);
    assert_eq!(srv.get("m.localhost", "/").body, page);
}
