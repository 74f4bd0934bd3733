//! Rollbacks proven with real older binaries. Because the schema only grows (EDD), a
//! database must work with the release before and after the one that last touched it.
//! For each older release's binary in `FAZT_OLD_BINS` (colon-separated paths, built by
//! tests/old-releases.sh) two round trips run through real processes on one `fazt.db`:
//!
//! - forward: HEAD fills a database (static sites with a binary file and a Unicode path, a
//!   `main.js` writing KV rows, an env var, tokens, analytics requests, `/track` events, a
//!   short link, and ACME certificates issued by a local pebble); the old binary starts on
//!   it, serves every page byte-identical, runs the script on HEAD's KV rows, reuses HEAD's
//!   certificates without ordering new ones, accepts a token it creates and a deploy with it;
//!   HEAD starts again and everything of both is there, counts included.
//! - reverse: the old binary fills it, HEAD migrates it (schema version rises to HEAD's) and
//!   does the same, then the old binary serves everything again on the migrated database.
//!
//! Certificates are real rows: only the ACME manager writes table `certificates` (a
//! `--tls-cert`/`--tls-key` pair is read from its files and never stored), so each round trip
//! runs pebble (as tests/https.rs does) and every binary serves HTTPS with ACME from it.
//! Every flag used here exists in every pinned release (checked against each one's
//! `fazt serve --help` and `fazt token --help`), so no binary needs other arguments.
//!
//! Without `FAZT_OLD_BINS` the test prints a note and passes, except under CI (`CI` set),
//! where it fails: CI runs it through tests/old-releases.sh. `FAZT_OLD_BINS=` (set, empty)
//! skips it on purpose, for CI's other `cargo test` runs.
#![cfg(all(feature = "js", feature = "acme", feature = "analytics"))]

mod common;
use common::pebble::{client_config, Pebble};
use common::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The old binaries to test against; `None` when the test is to be skipped.
fn old_bins() -> Option<Vec<PathBuf>> {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let note = |why: &str| {
        // Once for both tests, straight to stderr: libtest hides what a passing test prints
        // with eprintln!.
        static NOTE: std::sync::Once = std::sync::Once::new();
        NOTE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "\nold_releases: SKIPPED: {why}. `bash tests/old-releases.sh` builds the pinned \
                 releases and runs it with them in FAZT_OLD_BINS.\n"
            );
        });
    };
    match std::env::var_os("FAZT_OLD_BINS") {
        None if ci => panic!(
            "FAZT_OLD_BINS is unset under CI: the rollback test would prove nothing. Run \
             `bash tests/old-releases.sh` (it builds the pinned old releases and passes them)."
        ),
        None => {
            note("FAZT_OLD_BINS is unset");
            None
        }
        Some(v) if v.is_empty() => {
            note("FAZT_OLD_BINS is empty, skipped on purpose");
            None
        }
        Some(v) => Some(
            std::env::split_paths(&v)
                .map(|p| {
                    let p = std::fs::canonicalize(&p)
                        .unwrap_or_else(|e| panic!("FAZT_OLD_BINS: {}: {e}", p.display()));
                    let out = std::process::Command::new(&p).arg("--version").output();
                    assert!(
                        out.as_ref().is_ok_and(|o| o.status.success()),
                        "FAZT_OLD_BINS: {} does not run: {out:?}",
                        p.display()
                    );
                    p
                })
                .collect(),
        ),
    }
}

#[test]
fn forward_head_then_old_then_head() {
    for old in old_bins().unwrap_or_default() {
        round_trip(&bin(), &old, "forward");
    }
}

#[test]
fn reverse_old_then_head_then_old() {
    for old in old_bins().unwrap_or_default() {
        round_trip(&old, &bin(), "reverse");
    }
}

const DOMAIN: &str = "example.test";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36";

/// The script of site `app`: a counter in KV, a Unicode KV value and an env var, all read
/// back by whichever binary serves it next. Only the Go-era contract (`db.get`, `db.set`,
/// `res.json`, `process.env`) that every release has.
const APP_JS: &[u8] = br#"
    if (req.path === '/hit') {
        var n = (db.get('hits') || 0) + 1;
        db.set('hits', n);
        if (n === 1) { db.set('note', 'h\u00e9llo \u2713'); }
        res.json({hits: n, note: db.get('note'), greeting: process.env.GREETING});
    } else {
        res.status(404); res.send('no route ' + req.path);
    }
"#;

/// One ACME server for a whole round trip, and the ports every binary's HTTPS listens on
/// (pebble validates HTTP-01 on `http` and is told these at start).
struct Acme {
    pebble: Pebble,
    tls: u16,
    http: u16,
    roots: rustls::RootCertStore,
}

impl Acme {
    fn start(tag: &str) -> Acme {
        let (tls, http) = (free_port(), free_port());
        let pebble = Pebble::start(tag, http, tls, None);
        let roots = pebble.issuing_roots();
        Acme {
            pebble,
            tls,
            http,
            roots,
        }
    }

    /// `fazt serve` flags every release since the first has: HTTPS with ACME from pebble,
    /// and analytics written every 30 ms.
    fn serve_args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "--domain",
            DOMAIN,
            "--https",
            "--acme-challenges",
            "http-01",
            "--email",
            "ops@example.test",
            "--acme-orders-per-minute",
            "60",
            "--analytics-flush-ms",
            "30",
        ]
        .map(String::from)
        .to_vec();
        a.extend([
            "--https-listen".into(),
            format!("127.0.0.1:{}", self.tls),
            "--http-listen".into(),
            format!("127.0.0.1:{}", self.http),
            "--acme-directory".into(),
            self.pebble.directory_url.clone(),
            "--acme-ca-root".into(),
            self.pebble.listener_ca.display().to_string(),
        ]);
        a
    }

    /// The leaf certificate (DER) served for `name`: a TLS handshake only, no request (a
    /// request would be counted by analytics).
    fn served_cert(&self, name: &str) -> Result<Vec<u8>, String> {
        let mut conn = rustls::ClientConnection::new(
            client_config(self.roots.clone(), &[b"http/1.1"]),
            name.to_string().try_into().unwrap(),
        )
        .unwrap();
        let mut sock = TcpStream::connect(("127.0.0.1", self.tls)).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
        }
        let certs = conn.peer_certificates().ok_or("no certificate")?;
        Ok(certs[0].to_vec())
    }
}

/// What one request answered: compared byte for byte across binaries.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    content_encoding: Option<String>,
    body: Vec<u8>,
}

/// Everything the database holds that a later binary must find again, and the running
/// totals it must report.
#[derive(Default)]
struct World {
    /// (host, path, gzip accepted) → what the binary that deployed it answered.
    pages: BTreeMap<(String, String, bool), Answer>,
    /// Certificate name → leaf DER first served for it.
    certs: BTreeMap<String, Vec<u8>>,
    /// Every token created so far (label, token); each must still authenticate.
    tokens: Vec<(String, String)>,
    /// The `app` script's KV counter.
    hits: u64,
    /// Requests to site `blog` (analytics must count each, whichever binary served it).
    blog_requests: u64,
    /// `/track` events recorded.
    tracked: u64,
    /// Clicks on the short link.
    clicks: u64,
    /// Orders pebble received: a later binary must reuse the stored certificates.
    orders: usize,
    /// The schema version the database must report (the highest any binary applied).
    schema: u32,
}

/// Deterministic bytes that do not compress, every byte value included.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v: Vec<u8> = (0..=255u8).collect();
    v.extend((256..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    v
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() > deadline => panic!("timed out waiting for {what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn data(srv: &Server, tok: &str, path: &str) -> Value {
    let r = api(srv, tok, "GET", path, b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()["data"].clone()
}

/// The schema version a binary applies to a new database (started once on an empty one).
fn own_schema(bin: &Path) -> u32 {
    let dir = Arc::new(TempDir::new("old-schema"));
    let db = dir.join("fazt.db");
    let srv = Server::start_bin_on(bin, dir, db, &[]);
    let v = schema_of(&srv);
    assert!(srv.stop().success());
    v
}

/// "schema version: N" from the served binary's own `fazt status`.
fn schema_of(srv: &Server) -> u32 {
    let text = ok(&srv.cli(&["status"]));
    text.lines()
        .find_map(|l| l.strip_prefix("schema version:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no schema version in `fazt status`:\n{text}"))
}

struct Phase<'a> {
    srv: Server,
    acme: &'a Acme,
    who: String,
}

impl Phase<'_> {
    fn start<'a>(
        acme: &'a Acme,
        bin: &Path,
        dir: &Arc<TempDir>,
        db: &Path,
        world: &mut World,
    ) -> Phase<'a> {
        let args = acme.serve_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let srv = Server::start_bin_on(bin, dir.clone(), db.to_path_buf(), &args);
        let who = bin.display().to_string();
        // This binary applies its own schema steps and never lowers the recorded version.
        world.schema = world.schema.max(own_schema(bin));
        let v = schema_of(&srv);
        assert_eq!(v, world.schema, "{who}: schema version after start");
        Phase { srv, acme, who }
    }

    fn admin(&self, world: &World) -> String {
        world.tokens[0].1.clone()
    }

    /// GET through the plain listener, counted when it goes to `blog`.
    fn get(&self, world: &mut World, host: &str, path: &str, gzip: bool) -> Answer {
        let mut h = vec![("User-Agent", CHROME)];
        if gzip {
            h.push(("Accept-Encoding", "gzip"));
        }
        let r = self.srv.req("GET", host, path, &h, b"");
        if host.starts_with("blog.") {
            world.blog_requests += 1;
        }
        Answer {
            status: r.status,
            content_type: r.header("content-type").map(str::to_string),
            content_encoding: r.header("content-encoding").map(str::to_string),
            body: r.body,
        }
    }

    fn deploy(&self, tok: &str, site: &str, files: &[(&str, &[u8])]) {
        let r = put_zip(&self.srv, tok, site, &zipbuild::site(files));
        assert_eq!(r.status, 200, "{}: deploy {site}: {}", self.who, r.text());
    }

    /// Records what this binary serves for `site`'s files (plain and gzip-accepting).
    fn record_pages(&self, world: &mut World, site: &str, files: &[(&str, &[u8])]) {
        let host = format!("{site}.{DOMAIN}");
        for (name, content) in files {
            let path = url_path(name);
            for gzip in [false, true] {
                let a = self.get(world, &host, &path, gzip);
                assert_eq!(a.status, 200, "{}: {host}{path}", self.who);
                let plain = match a.content_encoding.as_deref() {
                    Some("gzip") => gunzip(&a.body),
                    _ => a.body.clone(),
                };
                assert_eq!(&plain, content, "{}: {host}{path} gzip={gzip}", self.who);
                world.pages.insert((host.clone(), path.clone(), gzip), a);
            }
        }
    }

    /// Waits until this binary reports each name's certificate valid; returns the leaf it
    /// serves for each.
    fn certs_valid(&self, world: &World, names: &[String]) -> Vec<(String, Vec<u8>)> {
        let admin = self.admin(world);
        let mut served = Vec::new();
        for name in names {
            wait_for(&format!("{}: certificate for {name}", self.who), || {
                let h = data(&self.srv, &admin, "/api/system/health");
                let c = h["certificates"]
                    .as_array()
                    .and_then(|l| l.iter().find(|c| c["name"] == name.as_str()).cloned());
                match c {
                    Some(c) if c["state"] == "valid" => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            });
            let der = self
                .acme
                .served_cert(name)
                .unwrap_or_else(|e| panic!("{}: handshake for {name}: {e}", self.who));
            served.push((name.clone(), der));
        }
        served
    }

    /// Waits until this binary's analytics show every request, event and click so far.
    fn analytics_settle(&self, world: &World) {
        wait_for(&format!("{}: analytics", self.who), || {
            let got = (
                self.stats_blog(world),
                self.tracked(world),
                self.clicks(world),
            );
            if got == (world.blog_requests, world.tracked, world.clicks) {
                Ok(())
            } else {
                Err(format!("(requests, tracked, clicks) = {got:?}"))
            }
        });
    }

    fn stats_blog(&self, world: &World) -> u64 {
        let s = data(&self.srv, &self.admin(world), "/api/stats?site=blog");
        s["totals"]["requests"].as_u64().unwrap()
    }

    fn tracked(&self, world: &World) -> u64 {
        let v = data(
            &self.srv,
            &self.admin(world),
            "/api/events?source=web&limit=1000",
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["hits"].as_u64().unwrap_or(1))
            .sum()
    }

    fn clicks(&self, world: &World) -> u64 {
        let v = data(&self.srv, &self.admin(world), "/api/redirects");
        let link = v
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["slug"] == "release")
            .unwrap_or_else(|| panic!("{}: short link lost: {v}", self.who))
            .clone();
        link["click_count"].as_u64().unwrap()
    }

    fn click(&self, world: &mut World) {
        let r = self.srv.get("localhost", "/r/release");
        assert_eq!(r.status, 302, "{}: /r/release", self.who);
        assert_eq!(r.header("location"), Some("https://example.com/notes"));
        world.clicks += 1;
    }

    fn hit(&self, world: &mut World) {
        let r = self.srv.get(&format!("app.{DOMAIN}"), "/hit");
        assert_eq!(r.status, 200, "{}: app /hit: {}", self.who, r.text());
        world.hits += 1;
        assert_eq!(
            r.json(),
            json!({"hits": world.hits, "note": "h\u{e9}llo \u{2713}", "greeting": "hi from the first binary"}),
            "{}: the script reads the KV rows and env of every binary before it",
            self.who
        );
    }

    fn stop(self) {
        let who = self.who.clone();
        let st = self.srv.stop();
        assert!(st.success(), "{who}: stop: {st:?}");
    }
}

/// `a/café x.txt` → `/a/caf%C3%A9%20x.txt`.
fn url_path(name: &str) -> String {
    let mut out = String::from("/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"/._-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `first` fills a new database, `second` works on it and adds to it, `first` runs on the
/// result. Each phase checks everything the phases before it left.
fn round_trip(first: &Path, second: &Path, tag: &str) {
    let acme = Acme::start(&format!("old-{tag}"));
    let dir = Arc::new(TempDir::new(&format!("old-{tag}")));
    let db = dir.join("fazt.db");
    let mut world = World::default();

    let p = Phase::start(&acme, first, &dir, &db, &mut world);
    populate(&p, &mut world);
    p.stop();

    let p = Phase::start(&acme, second, &dir, &db, &mut world);
    check(&p, &mut world);
    extend(&p, &mut world, "second");
    p.stop();

    let p = Phase::start(&acme, first, &dir, &db, &mut world);
    check(&p, &mut world);
    p.stop();
}

fn blog_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("index.html", b"<!doctype html><h1>blog</h1>".to_vec()),
        // Compressible: stored with a gzip variant, served as is to gzip clients.
        ("style.css", b"body { margin: 0 auto; }\n".repeat(400)),
        ("img/logo.bin", noise(70_000, 1)),
        // Above the VFS's 256 KiB inline limit: streamed from the BLOB, not read whole.
        ("big.bin", noise(3 << 20, 2)),
        (
            "caf\u{e9}/men\u{fc} \u{fc}ber.txt",
            "caf\u{e9} \u{2615}\n".into(),
        ),
    ]
}

fn populate(p: &Phase, world: &mut World) {
    let admin = token(&p.srv, "admin");
    world
        .tokens
        .push(("admin (first binary)".into(), admin.clone()));
    let deployer = token(&p.srv, "deploy");
    world
        .tokens
        .push(("deploy (first binary)".into(), deployer.clone()));

    let blog = blog_files();
    let blog: Vec<(&str, &[u8])> = blog.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    p.deploy(&deployer, "blog", &blog);
    // A site with a root main.js answers every path from the script.
    p.deploy(&deployer, "app", &[("main.js", APP_JS)]);
    let r = api(
        &p.srv,
        &admin,
        "PUT",
        "/api/sites/app/env/GREETING",
        b"hi from the first binary",
    );
    assert_eq!(r.status, 200, "{}", r.text());

    p.record_pages(world, "blog", &blog);
    // The gzip variants (a column of schema step 2) are part of what later binaries serve.
    assert!(
        world
            .pages
            .values()
            .any(|a| a.content_encoding.as_deref() == Some("gzip")),
        "no page was served gzip-encoded"
    );
    let missing = p.get(world, &format!("blog.{DOMAIN}"), "/missing.png", false);
    assert_eq!(missing.status, 404);
    for _ in 0..3 {
        p.hit(world);
    }

    // Analytics beyond requests: client events and a short link with clicks.
    for e in ["signup", "download"] {
        let body = json!({"h": format!("blog.{DOMAIN}"), "p": "/", "e": e}).to_string();
        let r = p
            .srv
            .req("POST", "localhost", "/track", &[], body.as_bytes());
        assert_eq!(r.status, 204, "{}", r.text());
        world.tracked += 1;
    }
    let link = json!({"slug": "release", "destination": "https://example.com/notes"});
    let r = api(
        &p.srv,
        &admin,
        "POST",
        "/api/redirects",
        link.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    p.click(world);
    p.click(world);

    // Certificates: the domain and admin host are ordered at start, each site at deploy.
    let names: Vec<String> = [DOMAIN.to_string(), format!("admin.{DOMAIN}")]
        .into_iter()
        .chain(["blog", "app"].map(|s| format!("{s}.{DOMAIN}")))
        .collect();
    let served = p.certs_valid(world, &names);
    world.certs.extend(served);
    world.orders = p.acme.pebble.orders();
    assert_eq!(world.orders, names.len(), "{}", p.acme.pebble.log());

    p.analytics_settle(world);
}

/// What a later binary must find: every page byte-identical, tokens, the script on the KV
/// rows and env var, certificates reused, analytics counts where they were.
fn check(p: &Phase, world: &mut World) {
    // Counts first, before this binary records anything: nothing was lost.
    assert_eq!(
        (p.stats_blog(world), p.tracked(world), p.clicks(world)),
        (world.blog_requests, world.tracked, world.clicks),
        "{}: analytics (blog requests, /track events, short-link clicks) after the restart",
        p.who
    );
    for (label, tok) in &world.tokens {
        let r = api(&p.srv, tok, "GET", "/api/sites", b"");
        assert_eq!(r.status, 200, "{}: token {label}: {}", p.who, r.text());
    }

    // The stored certificates are loaded and served, and nothing is ordered again.
    let names: Vec<String> = world.certs.keys().cloned().collect();
    for (name, der) in p.certs_valid(world, &names) {
        assert!(
            der == world.certs[&name],
            "{}: serves another certificate for {name} than the one stored",
            p.who
        );
    }
    let out = ok(&p.srv.cli(&["status"]));
    for name in &names {
        assert!(
            out.contains(name.as_str()),
            "{}: status lists {name}:\n{out}",
            p.who
        );
    }

    let pages: Vec<(String, String, bool)> = world.pages.keys().cloned().collect();
    for key in pages {
        let a = p.get(world, &key.0, &key.1, key.2);
        assert!(
            a == world.pages[&key],
            "{}: {}{} (gzip {}) is not what was deployed: status {}, type {:?}, encoding {:?}, {} bytes",
            p.who,
            key.0,
            key.1,
            key.2,
            a.status,
            a.content_type,
            a.content_encoding,
            a.body.len()
        );
    }
    p.hit(world);
    p.click(world);
    let body = json!({"h": format!("blog.{DOMAIN}"), "p": "/", "e": "again"}).to_string();
    let r = p
        .srv
        .req("POST", "localhost", "/track", &[], body.as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
    world.tracked += 1;
    assert_eq!(
        world.orders,
        p.acme.pebble.orders(),
        "{}: ordered certificates the database already holds",
        p.who
    );
    // This binary records on this database too.
    p.analytics_settle(world);
}

/// A later binary adds to the database: a token made by its own CLI, a deploy with it, the
/// certificate it orders for the new site.
fn extend(p: &Phase, world: &mut World, site: &str) {
    let tok = token(&p.srv, "deploy");
    world
        .tokens
        .push((format!("deploy ({})", p.who), tok.clone()));
    let logo = noise(20_000, 3);
    let files: [(&str, &[u8]); 3] = [
        ("index.html", b"<h1>deployed by the second binary</h1>"),
        ("docs/\u{e4}.txt", "\u{e4}\n".as_bytes()),
        ("logo.bin", &logo),
    ];
    // A binary that keeps deployment history (rollback) leaves the site on a deployment it
    // rolled back to, between a draft before and a newer one after: the next binary, older
    // or not, must serve exactly these files.
    p.deploy(
        &tok,
        site,
        &[("index.html", b"draft"), ("draft.txt", b"gone")],
    );
    p.deploy(&tok, site, &files);
    p.deploy(
        &tok,
        site,
        &[("index.html", b"a newer deploy, rolled back")],
    );
    let r = api(
        &p.srv,
        &tok,
        "POST",
        &format!("/api/sites/{site}/rollback"),
        b"",
    );
    match r.status {
        200 => assert_eq!(r.json()["data"]["file_count"], 3, "{}", r.text()),
        // A binary without history: the files are deployed again instead, by this
        // (newer) `fazt deploy`, which falls back to one ZIP for a server without
        // incremental deploys.
        404 | 405 => {
            let folder = p.srv.dir.join(&format!("{site}-folder"));
            for (name, content) in &files {
                let f = folder.join(name);
                std::fs::create_dir_all(f.parent().unwrap()).unwrap();
                std::fs::write(f, content).unwrap();
            }
            let out = std::process::Command::new(bin())
                .arg("deploy")
                .arg(&folder)
                .args(["--site", site])
                .env(
                    "FAZT_SERVER",
                    format!("http://127.0.0.1:{}", p.srv.addr.port()),
                )
                .env("FAZT_TOKEN", &tok)
                .env("FAZT_CLIENT_CONFIG", "/nonexistent/fazt-client.json")
                .output()
                .unwrap();
            ok(&out);
        }
        s => panic!("{}: rollback answered {s}: {}", p.who, r.text()),
    }
    p.record_pages(world, site, &files);
    let draft = p.get(world, &format!("{site}.{DOMAIN}"), "/draft.txt", false);
    assert_eq!(
        draft.status, 404,
        "{}: a file of an earlier deployment is served",
        p.who
    );
    let served = p.certs_valid(world, &[format!("{site}.{DOMAIN}")]);
    world.certs.extend(served);
    world.orders += 1;
    assert_eq!(world.orders, p.acme.pebble.orders(), "{}", p.who);
}
