//! Continuous replication with the real Litestream: `litestream replicate` streams a live
//! fazt.db — sites deploying, a Counter script taking writes, fazt restarted once underneath
//! it — to moto's S3 server (and, in a second test, to a file replica). Then the machine dies
//! (`kill -9` of fazt and Litestream at once, the data directory deleted), `litestream
//! restore` rebuilds the database in an empty directory and a new fazt serves it. Checked:
//! `PRAGMA integrity_check`; every site byte-identical to its last acknowledged deploy (exactly
//! one version's file set); the counter at least at the last value acknowledged more than
//! [`LAG_BOUND`] before the kill. Prints what was lost and the replication lag measured.
//!
//! Needs `litestream` (0.5.x) and `moto_server`: `bash tests/run.sh` installs both.
#![cfg(feature = "js")]

mod common;
use common::litestream::{self as ls, Moto, Replica};
use common::zipbuild::{build, Entry};
use common::*;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Litestream's `monitor-interval` (how often it reads new WAL frames) and the replica's
/// `sync-interval` (how often it ships them).
const INTERVAL: Duration = Duration::from_secs(1);
/// What may be lost: a commit is seen within one monitor interval and shipped within one
/// sync interval; the margin covers the upload and a busy 2-core machine.
const LAG_BOUND: Duration = Duration::from_millis(2 * 1000 + 1500);
/// How long each deploy phase runs (sites deploy and the counter counts).
const DEPLOY_PHASE: Duration = Duration::from_secs(3);
const SITES: [&str; 4] = ["blog", "docs", "shop", "photos"];

/// The Counter: `/peek` reads the value, any other path increments it and answers the new
/// value.
const COUNTER_JS: &[u8] = b"if (req.path === '/peek') { res.send(String(db.get('count') || 0)); } \
else { var n = (db.get('count') || 0) + 1; db.set('count', n); res.send(String(n)); }";

type Files = BTreeMap<String, Vec<u8>>;

/// splitmix64, for file contents that do not compress.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        v.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Version `n` of `site`: every file stamped with it, a file only this version has, and a
/// random blob (20–60 KB, stored, so deploys move real pages; all objects stay far below
/// the 5 MB where moto's multipart checksums break).
fn version(site: &str, n: u64) -> Files {
    let stamp = format!("{site} version {n}");
    let mut f = Files::new();
    f.insert(
        "index.html".into(),
        format!("<!doctype html><title>{stamp}</title><h1>{stamp}</h1>\n")
            .repeat(20)
            .into_bytes(),
    );
    f.insert(format!("only-v{n}.txt"), format!("{stamp}\n").into_bytes());
    let seed = n.wrapping_mul(1_000_003) ^ site.len() as u64 ^ (site.as_bytes()[0] as u64) << 40;
    f.insert(
        "blob.bin".into(),
        random_bytes(seed, 20_000 + (seed % 40_000) as usize),
    );
    f
}

fn zip_of(files: &Files) -> Vec<u8> {
    let entries: Vec<Entry> = files
        .iter()
        .map(|(n, d)| {
            if n.ends_with(".bin") {
                Entry::file(n, d)
            } else {
                Entry::deflated(n, d)
            }
        })
        .collect();
    build(&entries, false)
}

/// One GET that reports failure instead of panicking (the server is killed under it).
fn try_get(addr: SocketAddr, host: &str, path: &str) -> Option<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    read_response(&mut s, false)
}

/// What the Counter client saw: each acknowledged value with the moment its 200 arrived.
#[derive(Default)]
struct Acks {
    values: Vec<(Instant, u64)>,
    latencies: Vec<Duration>,
    failures: u64,
}

/// Increments the counter as fast as the server answers (a 2 ms pause between requests)
/// until `stop`; follows the server to its new address after a restart.
fn counter_client(
    addr: Arc<Mutex<SocketAddr>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Acks> {
    std::thread::spawn(move || {
        let mut acks = Acks::default();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            let a = *addr.lock().unwrap();
            let t = Instant::now();
            match try_get(a, "counter.localhost", "/") {
                Some(r) if r.status == 200 => {
                    let now = Instant::now();
                    let v: u64 = r
                        .text()
                        .trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("counter answered {:?}", r.text()));
                    if let Some((_, last)) = acks.values.last() {
                        assert_eq!(v, last + 1, "the counter skipped or repeated a value");
                    }
                    acks.values.push((now, v));
                    acks.latencies.push(now - t);
                }
                // Restarting, or killed: not acknowledged, so nothing is owed.
                _ => {
                    acks.failures += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        acks
    })
}

struct Deployed {
    n: u64,
    files: Files,
    acked: Instant,
}

/// Deploys the next version of `site` and records it once the API answered 200.
fn deploy(srv: &Server, tok: &str, site: &str, history: &mut BTreeMap<String, Vec<Deployed>>) {
    let h = history.entry(site.to_string()).or_default();
    let n = h.last().map_or(1, |d| d.n + 1);
    let files = version(site, n);
    let r = put_zip(srv, tok, site, &zip_of(&files));
    // A deploy refused while Litestream holds its locks would be a fazt bug (busy_timeout).
    assert_eq!(r.status, 200, "deploy {site} v{n}: {}", r.text());
    h.push(Deployed {
        n,
        files,
        acked: Instant::now(),
    });
}

/// Runs deploys round-robin over [`SITES`] for `phase`, 50 ms apart.
fn deploy_phase(
    srv: &Server,
    tok: &str,
    history: &mut BTreeMap<String, Vec<Deployed>>,
    phase: Duration,
) {
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < phase {
        deploy(srv, tok, SITES[i % SITES.len()], history);
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `fazt status` on `srv`'s database: it must work beside Litestream's tables and not list
/// them.
fn status_ok(srv: &Server) -> String {
    let out = srv.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "fazt status failed: {}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("_litestream"),
        "fazt status lists Litestream's tables:\n{text}"
    );
    text
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

enum Kind {
    S3,
    File,
}

fn the_machine_dies_and_the_replica_comes_back(kind: Kind) {
    let started = Instant::now();
    let lsv = ls::version();
    let tag = match kind {
        Kind::S3 => "s3",
        Kind::File => "file",
    };
    // The machine's disk, and somewhere else (config, file replica) that survives it.
    let data = Arc::new(TempDir::new(&format!("ls-{tag}-data")));
    let elsewhere = TempDir::new(&format!("ls-{tag}-elsewhere"));
    let db = data.join("fazt.db");

    let mut srv = Server::start_on(data.clone(), db.clone(), &[]);
    let tok = token(&srv, "deploy");
    let r = put_zip(
        &srv,
        &tok,
        "counter",
        &common::zipbuild::site(&[("main.js", COUNTER_JS)]),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let moto;
    let replica = match kind {
        Kind::S3 => {
            moto = Some(Moto::start());
            let m = moto.as_ref().unwrap();
            m.create_bucket("fazt-backups");
            Replica::S3 {
                endpoint: m.endpoint(),
                bucket: "fazt-backups".into(),
                path: "fazt".into(),
            }
        }
        Kind::File => {
            moto = None;
            Replica::File(elsewhere.join("replica"))
        }
    };
    let cfg = elsewhere.join("litestream.yml");
    ls::write_config(&cfg, &db, &replica, INTERVAL);
    let mut rep = ls::replicate(&cfg);
    // The first snapshot is in the replica: from here on everything is streamed.
    rep.wait_log(
        "snapshot complete",
        Duration::from_secs(30),
        "litestream replicate",
    );

    let addr = Arc::new(Mutex::new(srv.addr));
    let stop = Arc::new(AtomicBool::new(false));
    let counter = counter_client(addr.clone(), stop.clone());
    let mut history: BTreeMap<String, Vec<Deployed>> = BTreeMap::new();

    deploy_phase(&srv, &tok, &mut history, DEPLOY_PHASE);
    // Litestream has created its tables by now; fazt must not mind them.
    status_ok(&srv);
    // A restart of fazt (an upgrade) while Litestream keeps running: shutdown checkpoints.
    let t = Instant::now();
    let st = srv.stop();
    let graceful_stop = t.elapsed();
    assert!(st.success(), "fazt exited with {st}");
    srv = Server::start_on(data.clone(), db.clone(), &[]);
    *addr.lock().unwrap() = srv.addr;
    deploy_phase(&srv, &tok, &mut history, DEPLOY_PHASE);

    // Only the counter now, for longer than the lag bound, with one deploy near the end:
    // that one may or may not make it, but never half.
    let quiet = LAG_BOUND + Duration::from_secs(1);
    std::thread::sleep(quiet - Duration::from_millis(700));
    deploy(&srv, &tok, SITES[0], &mut history);
    std::thread::sleep(Duration::from_millis(700));

    // The machine dies: both processes at the same instant, then its disk is gone.
    let died = Instant::now();
    let _ = rep.child.kill();
    srv.kill9();
    rep.kill9();
    stop.store(true, Ordering::SeqCst);
    let acks = counter.join().expect("counter client");
    let replicate_log = rep.log();
    drop(srv);
    std::fs::remove_dir_all(data.path()).unwrap();

    // A new machine: restore from the replica into an empty directory.
    let fresh = Arc::new(TempDir::new(&format!("ls-{tag}-restored")));
    let restored = fresh.join("fazt.db");
    let t = Instant::now();
    ls::restore(&cfg, &db, &restored);
    let restore_time = t.elapsed();

    let (integrity, ls_tables) = {
        let c = rusqlite::Connection::open(&restored).unwrap();
        let integrity: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        let tables: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE name LIKE '\\_litestream%' ESCAPE '\\' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (integrity, tables)
    };
    assert_eq!(integrity, "ok", "restored database fails integrity_check");

    let srv = Server::start_on(fresh.clone(), restored.clone(), &[]);
    let cutoff = died - LAG_BOUND;

    // Sites: exactly one acknowledged version each, byte for byte, and no file of another;
    // the version acknowledged last before the cutoff or a later one.
    let mut lost_deploys = Vec::new();
    for (site, versions) in &history {
        let host = format!("{site}.localhost");
        let index = srv.get(&host, "/index.html");
        assert_eq!(index.status, 200, "{site}: {}", index.text());
        let text = index.text();
        let n: u64 = text
            .split(&format!("{site} version "))
            .nth(1)
            .and_then(|s| s.split('<').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{site} serves an unknown index: {text}"));
        let floor = versions
            .iter()
            .filter(|d| d.acked <= cutoff)
            .map(|d| d.n)
            .max()
            .unwrap_or(0);
        let last = versions.last().unwrap();
        assert!(
            n >= floor && n <= last.n,
            "{site}: restored version {n}, but version {floor} was acknowledged more than {LAG_BOUND:?} before the kill"
        );
        let served = versions.iter().find(|d| d.n == n).unwrap();
        for (path, want) in &served.files {
            let r = srv.get(&host, &format!("/{path}"));
            assert_eq!(r.status, 200, "{site}/{path}");
            assert!(r.body == *want, "{site}/{path} differs from version {n}");
        }
        for other in versions.iter().filter(|d| d.n != n) {
            let p = format!("/only-v{}.txt", other.n);
            assert_eq!(
                srv.get(&host, &p).status,
                404,
                "{site}{p} of another version"
            );
        }
        if n < last.n {
            lost_deploys.push(format!(
                "{site} v{} (acknowledged {} ms before the kill)",
                last.n,
                (died - last.acked).as_millis()
            ));
        }
    }

    // The counter: at least what was acknowledged before the cutoff, at most one more than
    // the last acknowledged value (a request in flight may have committed).
    let peek = srv.get("counter.localhost", "/peek");
    assert_eq!(peek.status, 200, "{}", peek.text());
    let got: u64 = peek.text().trim().parse().unwrap();
    let floor = acks
        .values
        .iter()
        .filter(|(t, _)| *t <= cutoff)
        .map(|(_, v)| *v)
        .max()
        .unwrap_or(0);
    let last_ack = acks.values.last().map_or(0, |(_, v)| *v);
    assert!(
        acks.values.len() > 100,
        "the counter took only {} writes",
        acks.values.len()
    );
    assert!(
        got >= floor,
        "restored counter {got}, but {floor} was acknowledged more than {LAG_BOUND:?} before the kill"
    );
    assert!(
        got <= last_ack + 1,
        "restored counter {got} > last acknowledged {last_ack} + 1"
    );
    // The restored script keeps counting from there.
    assert_eq!(
        srv.get("counter.localhost", "/").text(),
        (got + 1).to_string()
    );
    let status = status_ok(&srv);
    for site in SITES {
        assert!(
            status.contains(site),
            "fazt status misses {site}:\n{status}"
        );
    }

    // What the note quotes.
    let newest_kept = acks.values.iter().find(|(_, v)| *v == got).map(|(t, _)| *t);
    let first_lost = acks
        .values
        .iter()
        .find(|(_, v)| *v == got + 1)
        .map(|(t, _)| *t);
    let mut lat = acks.latencies.clone();
    lat.sort();
    let syncs = replicate_log.matches("msg=sync ").count();
    let snaps: Vec<&str> = replicate_log
        .lines()
        .filter(|l| l.contains("msg=sync ") && l.contains("snap=true"))
        .collect();
    let reasons: Vec<&str> = replicate_log
        .lines()
        .filter(|l| l.contains("reason=") || l.contains("level=WARN") || l.contains("level=ERROR"))
        .collect();
    let deploys: usize = history.values().map(Vec::len).sum();
    println!("litestream {lsv}, {tag} replica, monitor/sync interval {INTERVAL:?}, lag bound {LAG_BOUND:?}");
    println!(
        "counter: {} writes acknowledged ({} failed while fazt restarted or died), latency p50 {:?} p99 {:?} max {:?}",
        acks.values.len(),
        acks.failures,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or_default()
    );
    println!(
        "counter: last acknowledged {last_ack}, restored {got}: {} acknowledged writes lost; \
         the newest kept was acknowledged {} ms before the kill, the first lost {} ms before it",
        last_ack.saturating_sub(got),
        newest_kept.map_or(-1, |t| (died - t).as_millis() as i64),
        first_lost.map_or(-1, |t| (died.saturating_duration_since(t)).as_millis()
            as i64),
    );
    println!(
        "sites: {deploys} deploys acknowledged, lost: {}",
        if lost_deploys.is_empty() {
            "none".to_string()
        } else {
            lost_deploys.join(", ")
        }
    );
    println!(
        "fazt graceful stop with litestream attached: {} ms; restore: {} ms; whole test {:.1} s",
        graceful_stop.as_millis(),
        restore_time.as_millis(),
        started.elapsed().as_secs_f64()
    );
    println!("restored database has litestream's tables {ls_tables:?}");
    println!(
        "litestream: {syncs} syncs, {} with a snapshot; notable lines:",
        snaps.len()
    );
    for l in snaps.iter().chain(reasons.iter()) {
        println!("  {l}");
    }
    drop(moto);
}

#[test]
fn s3_replica_survives_the_machine_dying() {
    the_machine_dies_and_the_replica_comes_back(Kind::S3);
}

#[test]
fn file_replica_survives_the_machine_dying() {
    the_machine_dies_and_the_replica_comes_back(Kind::File);
}
