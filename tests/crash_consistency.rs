//! Crash consistency: a deploy interrupted by `kill -9` at a random moment — while the upload
//! is still going out, after it has arrived (so, somewhere in the commit), while the database
//! writer is busy, or just after the response — must leave `fazt.db` intact and the site
//! serving exactly the old version or exactly the new one: every file byte-identical (plain and
//! gzip), the file set of one version, nothing of the other. A deploy whose success response
//! reached the client must have survived the kill.
//!
//! The kill moments come from a seeded RNG; the seed is printed (and taken from
//! `FAZT_CRASH_SEED` when set) so a failing sequence can be replayed. `FAZT_CRASH_ITERS`
//! overrides the number of iterations (default 40). Nothing here passes or fails on timing:
//! delays only choose where the kill lands, and every wait for the server is generous.

mod common;
use common::zipbuild::{build, Entry};
use common::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const SITE: &str = "crash";

/// splitmix64: small, seedable, good enough to pick kill moments and fill files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Text that compresses (so the stored gzip variant is used too).
fn text(rng: &mut Rng, tag: &str, n: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "fazt", "site", "deploy", "commit", "row", "page", "kill", "wal", "byte", "old", "new",
    ];
    let mut s = format!("{tag}\n");
    while s.len() < n {
        s.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
        s.push(if rng.next().is_multiple_of(9) {
            '\n'
        } else {
            ' '
        });
    }
    s.truncate(n);
    s.into_bytes()
}

type Files = BTreeMap<String, Vec<u8>>;

/// Version `generation` of the site. Even generations have shape A, odd ones shape B: the
/// two shapes share some paths and each has paths of its own, and every file's content is
/// stamped with its generation, so consecutive versions differ in every file.
fn version(seed: u64, generation: u64) -> Files {
    let mut rng = Rng(seed ^ generation.wrapping_mul(0xA24B_AED4_963E_E407));
    let g = generation;
    let shape = if g.is_multiple_of(2) { "A" } else { "B" };
    let tag = format!("generation {g} shape {shape}");
    let mut f = Files::new();
    let index = format!("<!doctype html><title>{tag}</title><h1>{tag}</h1>\n");
    let mut index = index.into_bytes();
    index.extend(text(&mut rng, &tag, 3000));
    f.insert("index.html".into(), index);
    f.insert("app.js".into(), text(&mut rng, &format!("// {tag}"), 9000));
    f.insert(
        "css/site.css".into(),
        text(&mut rng, &format!("/* {tag} */"), 5000),
    );
    // Over 1 MiB: streamed from SQLite in chunks, never cached whole. Random, so stored.
    let big = (1 << 20) + 300_000 + (g % 7) as usize * 1013;
    let mut b = tag.clone().into_bytes();
    b.extend(rng.bytes(big));
    f.insert("big.bin".into(), b);
    if shape == "A" {
        f.insert("only-a.txt".into(), text(&mut rng, &tag, 700));
        f.insert("img/logo.png".into(), rng.bytes(40_000 + g as usize));
        f.insert("docs/deep/a.html".into(), text(&mut rng, &tag, 1500));
    } else {
        f.insert("only-b.txt".into(), text(&mut rng, &tag, 900));
        f.insert(
            "data/b.json".into(),
            format!("{{\"generation\": {g}, \"shape\": \"B\"}}\n").into_bytes(),
        );
        let mut m = tag.clone().into_bytes();
        m.extend(rng.bytes((1 << 20) + 77_000));
        f.insert("media/b-large.bin".into(), m);
        f.insert("docs/deep/b.html".into(), text(&mut rng, &tag, 1200));
    }
    f
}

fn zip_of(files: &Files) -> Vec<u8> {
    let entries: Vec<Entry> = files
        .iter()
        .map(|(n, d)| {
            if n.ends_with(".bin") || n.ends_with(".png") {
                Entry::file(n, d)
            } else {
                Entry::deflated(n, d)
            }
        })
        .collect();
    build(&entries, false)
}

/// The raw request for a deploy: `PUT /api/sites/NAME` with the ZIP as body, or fazt's Go
/// client's multipart `POST /api/deploy`.
fn deploy_request(tok: &str, zip: &[u8], multipart: bool) -> Vec<u8> {
    let (head, body) = if multipart {
        let b = "----faztcrashboundary";
        let mut body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"site_name\"\r\n\r\n{SITE}\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"site.zip\"\r\n\
             Content-Type: application/zip\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(zip);
        body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        (
            format!(
                "POST /api/deploy HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\n\
                 Content-Type: multipart/form-data; boundary={b}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            ),
            body,
        )
    } else {
        (
            format!(
                "PUT /api/sites/{SITE} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                zip.len()
            ),
            zip.to_vec(),
        )
    };
    let mut raw = head.into_bytes();
    raw.extend_from_slice(&body);
    raw
}

/// Where the kill lands.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// After `sent` of the request's bytes went out (never all of them), plus `ms`.
    MidUpload { sent: usize, ms: u64 },
    /// `us` microseconds after the last byte of the request went out: reading the body,
    /// parsing, inflating, the transaction, the commit, writing the response.
    AfterUpload { us: u64 },
    /// As soon as the WAL file changes after the upload (the writer is busy), plus `ms`.
    WalBusy { ms: u64 },
    /// `ms` after the response arrived.
    AfterResponse { ms: u64 },
}

enum Event {
    Sent,
    BodyDone,
    Response(Option<Resp>),
}

/// Sends the request on its own thread (up to `limit` bytes), then reads the response.
fn client(srv: &Server, raw: Vec<u8>, limit: usize) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    let mut s = srv.connect();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    std::thread::spawn(move || {
        let mut ok = true;
        for chunk in raw[..limit].chunks(32 * 1024) {
            if s.write_all(chunk).is_err() {
                ok = false;
                break;
            }
        }
        let _ = tx.send(Event::Sent);
        if ok && limit == raw.len() {
            let _ = tx.send(Event::BodyDone);
        }
        let _ = s.flush();
        // A partial upload: the server waits for the rest; the kill ends this read.
        let r = read_response(&mut s, false);
        let _ = tx.send(Event::Response(r));
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<Event>, want: fn(&Event) -> bool, seen: &mut Vec<Event>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => {
                let hit = want(&e);
                seen.push(e);
                if hit {
                    return;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
    panic!("the deploy client made no progress within 120 s");
}

fn wal_stamp(db: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(db.with_extension("db-wal")).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Runs one deploy and kills the server where `kill` says. Returns the deploy's response
/// if the client received one (before or after the kill).
fn deploy_and_kill(srv: &mut Server, raw: Vec<u8>, kill: Kill) -> Option<Resp> {
    let limit = match kill {
        Kill::MidUpload { sent, .. } => sent,
        _ => raw.len(),
    };
    let rx = client(srv, raw, limit);
    let mut seen = Vec::new();
    match kill {
        Kill::MidUpload { ms, .. } => {
            wait_for(&rx, |e| matches!(e, Event::Sent), &mut seen);
            std::thread::sleep(Duration::from_millis(ms));
        }
        Kill::AfterUpload { us } => {
            wait_for(&rx, |e| matches!(e, Event::BodyDone), &mut seen);
            std::thread::sleep(Duration::from_micros(us));
        }
        Kill::WalBusy { ms } => {
            let before = wal_stamp(&srv.db);
            wait_for(&rx, |e| matches!(e, Event::BodyDone), &mut seen);
            let deadline = Instant::now() + Duration::from_secs(60);
            'poll: while Instant::now() < deadline && wal_stamp(&srv.db) == before {
                while let Ok(e) = rx.try_recv() {
                    let done = matches!(e, Event::Response(_));
                    seen.push(e);
                    if done {
                        break 'poll;
                    }
                }
                std::thread::sleep(Duration::from_micros(300));
            }
            std::thread::sleep(Duration::from_millis(ms));
        }
        Kill::AfterResponse { ms } => {
            wait_for(&rx, |e| matches!(e, Event::Response(_)), &mut seen);
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
    srv.kill9();
    // The client's read ends with the server's death (EOF or reset).
    if !seen.iter().any(|e| matches!(e, Event::Response(_))) {
        wait_for(&rx, |e| matches!(e, Event::Response(_)), &mut seen);
    }
    seen.into_iter().find_map(|e| match e {
        Event::Response(r) => r,
        _ => None,
    })
}

/// `PRAGMA integrity_check` on the (dead) server's database, and the site's stored paths.
fn check_db(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let rows: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec!["ok".to_string()],
        "integrity_check after kill -9"
    );
    let paths: Vec<String> = c
        .prepare("SELECT path FROM files WHERE site_id = ?1 ORDER BY path")
        .unwrap()
        .query_map([SITE], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    paths
}

fn compressible(path: &str) -> bool {
    !(path.ends_with(".bin") || path.ends_with(".png"))
}

/// What the site serves for `path`: `None` for 404, else the body (plain, and the gzip
/// variant inflated when the server offers one).
fn served(srv: &Server, path: &str) -> Option<Vec<u8>> {
    let host = format!("{SITE}.localhost");
    let r = srv.get(&host, &format!("/{path}"));
    match r.status {
        404 => {
            return None;
        }
        200 => {}
        s => panic!("GET /{path}: status {s}: {}", r.text()),
    }
    if compressible(path) {
        let z = srv.req(
            "GET",
            &host,
            &format!("/{path}"),
            &[("Accept-Encoding", "gzip")],
            b"",
        );
        assert_eq!(z.status, 200, "GET /{path} with gzip");
        let body = if z.header("content-encoding") == Some("gzip") {
            gunzip(&z.body)
        } else {
            z.body
        };
        assert!(
            body == r.body,
            "/{path}: the gzip variant is not the same version as the plain file"
        );
    }
    Some(r.body)
}

/// Which of `old` / `new` the site is now, checking every path of both: `true` = new.
/// Panics on any mix, missing file, stray file or corrupted byte.
fn which_version(srv: &Server, stored: &[String], old: &Files, new: &Files, what: &str) -> bool {
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut got: BTreeMap<&str, Option<Vec<u8>>> = BTreeMap::new();
    for p in &paths {
        got.insert(p.as_str(), served(srv, p));
    }
    let is = |v: &Files| {
        paths
            .iter()
            .all(|p| got[p.as_str()].as_deref() == v.get(p.as_str()).map(|d| d.as_slice()))
    };
    let (is_old, is_new) = (is(old), is(new));
    if !is_old && !is_new {
        let mut report = String::new();
        for p in &paths {
            let g = got[p.as_str()].as_deref();
            let tag = |v: &Files| g == v.get(p.as_str()).map(|d| d.as_slice());
            report.push_str(&format!(
                "  /{p}: {} (old {}, new {})\n",
                g.map_or("404".to_string(), |b| format!("{} bytes", b.len())),
                tag(old),
                tag(new)
            ));
        }
        panic!("{what}: the site is neither the old nor the new version:\n{report}");
    }
    let expected: Vec<&String> = if is_new { new.keys() } else { old.keys() }.collect();
    assert_eq!(
        stored.iter().collect::<Vec<_>>(),
        expected,
        "{what}: the stored file set is not the served version's"
    );
    is_new
}

#[test]
fn kill_9_during_deploys_leaves_old_or_new_site() {
    let seed = std::env::var("FAZT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                ^ u64::from(std::process::id())
        });
    let iterations: u64 = std::env::var("FAZT_CRASH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    eprintln!("crash_consistency: seed {seed} (replay with FAZT_CRASH_SEED={seed}), {iterations} iterations");
    let mut rng = Rng(seed);
    let started = Instant::now();

    let dir = Arc::new(TempDir::new("crash"));
    let db = dir.join("fazt.db");
    let mut srv = Server::start_on(dir.clone(), db.clone(), &[]);
    let tok = token(&srv, "deploy");

    // Generation 0, deployed normally; its time gives the range of the "after upload" kills.
    let mut current = version(seed, 0);
    let t0 = Instant::now();
    let r = put_zip(&srv, &tok, SITE, &zip_of(&current));
    let deploy_us = t0.elapsed().as_micros() as u64;
    assert_eq!(r.status, 200, "{}", r.text());
    srv.kill9();
    let stored = check_db(&db);
    srv = Server::start_on(dir.clone(), db.clone(), &[]);
    assert!(which_version(
        &srv,
        &stored,
        &Files::new(),
        &current,
        "the first deploy"
    ));

    let (mut old_n, mut new_n) = (0u32, 0u32);
    let mut by_kind: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for i in 1..=iterations {
        let next = version(seed, i);
        let multipart = rng.next().is_multiple_of(3);
        let raw = deploy_request(&tok, &zip_of(&next), multipart);
        let kill = match rng.range(0, 99) {
            0..=24 => Kill::MidUpload {
                sent: rng.range(0, raw.len() as u64 - 1) as usize,
                ms: rng.range(0, 30),
            },
            25..=59 => Kill::AfterUpload {
                us: rng.range(0, deploy_us + deploy_us / 2),
            },
            60..=79 => Kill::WalBusy {
                ms: rng.range(0, 3),
            },
            _ => Kill::AfterResponse {
                ms: rng.range(0, 5),
            },
        };
        let resp = deploy_and_kill(&mut srv, raw, kill);
        if let Some(r) = &resp {
            assert_eq!(r.status, 200, "iteration {i} ({kill:?}): {}", r.text());
        }
        let stored = check_db(&db);
        srv = Server::start_on(dir.clone(), db.clone(), &[]);
        let what = format!("iteration {i} (seed {seed}, {kill:?}, multipart {multipart})");
        let is_new = which_version(&srv, &stored, &current, &next, &what);
        if resp.is_some() {
            assert!(
                is_new,
                "{what}: the deploy answered 200 but the old site came back"
            );
        }
        if let Kill::MidUpload { .. } = kill {
            assert!(!is_new, "{what}: an incomplete upload was deployed");
        }
        let kind = match kill {
            Kill::MidUpload { .. } => "mid-upload",
            Kill::AfterUpload { .. } => "after-upload",
            Kill::WalBusy { .. } => "wal-busy",
            Kill::AfterResponse { .. } => "after-response",
        };
        let e = by_kind.entry(kind).or_default();
        if is_new {
            new_n += 1;
            e.1 += 1;
            current = next;
        } else {
            old_n += 1;
            e.0 += 1;
        }
        eprintln!(
            "  {i:>2}: {kill:?}{} -> {}{}",
            if multipart { " multipart" } else { "" },
            if is_new { "new" } else { "old" },
            if resp.is_some() {
                " (200 received)"
            } else {
                ""
            }
        );
    }
    eprintln!(
        "crash_consistency: {iterations} kills: {old_n} old, {new_n} new; by moment (old, new): {by_kind:?}; \
         seed {seed}; first deploy {} ms; {:.1} s in all",
        deploy_us / 1000,
        started.elapsed().as_secs_f64()
    );
    let _ = srv.stop();
}
