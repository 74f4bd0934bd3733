//! Hostile clients against the real binary: each test replays one attack from the
//! adversarial review of issue 12 and checks that the attacker is cut off while a
//! well-behaved client keeps being served. Attackers that must not share the well-behaved
//! client's address connect from 127.0.0.2 (all of 127/8 is loopback on Linux).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// A connection to `addr` from the loopback address `local` (e.g. 127.0.0.2), or `None`
/// when it could not be made.
fn connect_from(local: &str, addr: SocketAddr) -> Option<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    let from: SocketAddr = format!("{local}:0").parse().ok()?;
    sock.bind(&from.into()).ok()?;
    sock.connect(&addr.into()).ok()?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    Some(s)
}

/// GET /health on a fresh connection; the time it took, or `None` if it failed.
fn health(srv: &Server) -> Option<Duration> {
    let t = Instant::now();
    let mut s = TcpStream::connect(srv.addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let r = read_response(&mut s, false)?;
    (r.status == 200 && r.text() == "ok").then(|| t.elapsed())
}

fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue,
        }
    }
}

// --- 1. CRLF flood -------------------------------------------------------------------

#[test]
fn crlf_flood_is_cut_off_and_others_are_served() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);
    // Stream empty lines: the server must refuse them after a few bytes and close,
    // instead of reading (and buffering) them for ever.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut w = s.try_clone().unwrap();
    let (stop2, sent2) = (stop.clone(), sent.clone());
    let flood = std::thread::spawn(move || {
        let chunk = b"\r\n".repeat(512);
        let t = Instant::now();
        while !stop2.load(Ordering::Relaxed) && t.elapsed() < Duration::from_secs(8) {
            if w.write_all(&chunk).is_err() {
                return;
            }
            sent2.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    // Others are served meanwhile.
    for _ in 0..5 {
        assert!(health(&srv).is_some(), "health failed during a CRLF flood");
    }
    let r = read_response(&mut s, false).expect("an answer to the flood");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("empty lines"), "{}", r.text());
    assert!(closed(&mut s));
    stop.store(true, Ordering::Relaxed);
    flood.join().unwrap();
}

// --- 2. Pipelined starvation -----------------------------------------------------------

#[test]
fn pipelining_client_does_not_starve_new_connections() {
    let srv = Server::start(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::new();
    // One pipelining connection per worker thread (one per core).
    for _ in 0..2 {
        let s = srv.connect();
        let mut w = s.try_clone().unwrap();
        let mut r = s;
        let stop_w = stop.clone();
        attackers.push(std::thread::spawn(move || {
            let batch = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(256);
            while !stop_w.load(Ordering::Relaxed) {
                if w.write_all(&batch).is_err() {
                    return;
                }
            }
        }));
        let (stop_r, answered) = (stop.clone(), answered.clone());
        attackers.push(std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while !stop_r.load(Ordering::Relaxed) {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        answered.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut failures = 0;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        match health(&srv) {
            Some(d) => slowest = slowest.max(d),
            None => failures += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert!(
        answered.load(Ordering::Relaxed) > 0,
        "the pipelining clients were not served at all"
    );
    assert_eq!(
        failures, 0,
        "{failures} of 20 new connections were not answered within 5 s while one client pipelined (slowest answered: {slowest:?})"
    );
    drop(srv);
    for a in attackers {
        let _ = a.join();
    }
}

// --- 3. Slow bodies and the per-address cap -------------------------------------------

#[test]
fn one_address_cannot_take_every_connection() {
    let srv = Server::start(&["--max-conns-per-ip", "8"]);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let Some(mut s) = connect_from("127.0.0.2", srv.addr) else {
            refused += 1;
            continue;
        };
        // A slowloris: a head that never ends.
        let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
        held.push(s);
    }
    // The server closes the ones past the cap at once.
    std::thread::sleep(Duration::from_millis(300));
    let mut open = 0;
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
            _ => refused += 1,
        }
    }
    assert_eq!(open, 8, "connections kept open from one address");
    assert_eq!(refused, 32);
    // Another address is not affected.
    for _ in 0..10 {
        assert!(health(&srv).is_some());
    }
}

#[test]
fn trickling_body_gets_408_at_the_minimum_rate() {
    let srv = Server::start(&[
        "--header-timeout",
        "1",
        "--body-timeout",
        "30",
        "--min-body-rate",
        "1000",
    ]);
    let tok = token(&srv, "deploy");
    let mut s = srv.connect();
    s.write_all(
        format!("PUT /api/sites/slow HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: 100000\r\n\r\n").as_bytes(),
    )
    .unwrap();
    // 20 bytes a second, far below 1000 B/s, but each read well within the 30 s body
    // timeout: only an overall rate can stop it.
    let mut w = s.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..100 {
            if w.write_all(b"aaaa").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let t = Instant::now();
    let r = read_response(&mut s, false).expect("an answer");
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(
        t.elapsed() < Duration::from_secs(15),
        "the trickle was held {:?}",
        t.elapsed()
    );
    drop(s);
    let _ = trickle.join();
}

#[test]
fn behind_a_trusted_proxy_the_cap_is_per_forwarded_client() {
    let srv = Server::start(&["--trusted-proxy", "127.0.0.1", "--max-conns-per-ip", "2"]);
    let tok = token(&srv, "deploy");
    let slow = |xff: &str| {
        let mut s = srv.connect();
        s.write_all(
            format!(
                "PUT /api/sites/slow HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: {xff}\r\nAuthorization: Bearer {tok}\r\nContent-Length: 100\r\n\r\nPK"
            )
            .as_bytes(),
        )
        .unwrap();
        s
    };
    let _a = slow("203.0.113.7");
    let _b = slow("203.0.113.7");
    std::thread::sleep(Duration::from_millis(200));
    let mut third = slow("203.0.113.7");
    let r = read_response(&mut third, false).expect("an answer");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    // Another client behind the same proxy, and the proxy's own requests, go through.
    let mut other = srv.connect();
    other
        .write_all(
            b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_response(&mut other, false).unwrap().status, 200);
    assert!(health(&srv).is_some());
}

// --- 4. Concurrent uploads -------------------------------------------------------------

#[test]
fn uploads_past_the_cap_get_503_before_their_body_is_read() {
    let srv = Server::start(&["--max-uploads", "1"]);
    let tok = token(&srv, "deploy");
    let zip = zipbuild::site(&[("index.html", b"<h1>one</h1>".as_slice())]);
    // Upload A: head and half the body, then hold.
    let mut a = srv.connect();
    a.write_all(
        format!(
            "PUT /api/sites/one HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: {}\r\n\r\n",
            zip.len()
        )
        .as_bytes(),
    )
    .unwrap();
    a.write_all(&zip[..zip.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let b = put_zip(&srv, &tok, "two", &zip);
    assert_eq!(b.status, 503, "{}", b.text());
    assert_eq!(b.json()["error"]["code"], "UPLOADS_BUSY");
    assert_eq!(b.header("retry-after"), Some("5"));
    // A client that sends a whole 8 MiB body before it reads still gets the 503 (the
    // server drains instead of resetting the connection under it).
    let big = zipbuild::build(
        &[zipbuild::Entry::file("big.bin", &noise(9, 8 << 20))],
        false,
    );
    let c = put_zip(&srv, &tok, "three", &big);
    assert_eq!(c.status, 503, "{}", c.text());
    // A finishes; then B's retry goes through.
    a.write_all(&zip[zip.len() / 2..]).unwrap();
    assert_eq!(read_response(&mut a, false).unwrap().status, 200);
    let b = put_zip(&srv, &tok, "two", &zip);
    assert_eq!(b.status, 200, "{}", b.text());
}

// --- 5. Source disclosure ---------------------------------------------------------------

#[test]
fn a_script_is_never_served_as_a_file_whatever_the_path_spelling() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let src = b"/* SECRET-SOURCE */ respond(200, 'from the script')";
    let r = put_zip(
        &srv,
        &tok,
        "src",
        &zipbuild::site(&[
            ("api/main.js", src.as_slice()),
            ("index.html", b"<h1>home</h1>".as_slice()),
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let raw = |target: &str, host: &str| {
        let mut s = srv.connect();
        s.write_all(
            format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        read_response(&mut s, false).unwrap()
    };
    for (target, host) in [
        ("/api/main.js", "src.localhost"),
        ("/%61pi/main.js", "src.localhost"),
        ("//api/main.js", "src.localhost"),
        ("/api%2fmain.js", "src.localhost"),
        ("/api%2Fmain.js", "src.localhost"),
        ("http://src.localhost/api/main.js", "src.localhost"),
        ("http://src.localhost//api/main.js", "src.localhost"),
        ("http://src.localhost/%61pi/main.js", "localhost"),
        ("/main.js", "src.localhost"),
    ] {
        let r = raw(target, host);
        assert!(
            !r.text().contains("SECRET-SOURCE"),
            "{target} (Host {host}) served the script's source: {}",
            r.status
        );
    }
    // The site itself still works.
    assert_eq!(srv.get("src.localhost", "/").text(), "<h1>home</h1>");
}

#[test]
fn dot_files_already_stored_are_never_served() {
    let dir = Arc::new(TempDir::new("dotfiles"));
    let db = dir.join("fazt.db");
    seed_files(
        &db,
        "dots",
        &[
            (".env", b"SECRET=1".as_slice()),
            (".git/config", b"[core]".as_slice()),
            ("a/.htpasswd", b"x:y".as_slice()),
            (".well-known/security.txt", b"Contact: x".as_slice()),
            ("index.html", b"home".as_slice()),
        ],
    );
    let srv = Server::start_on(dir, db, &[]);
    for p in ["/.env", "/.git/config", "/a/.htpasswd", "/%2eenv"] {
        let r = srv.get("dots.localhost", p);
        assert_eq!(r.status, 404, "{p}: {}", r.text());
        assert!(!r.text().contains("SECRET"));
    }
    assert_eq!(
        srv.get("dots.localhost", "/.well-known/security.txt")
            .text(),
        "Contact: x"
    );
}

// --- 9. Admin lockout --------------------------------------------------------------------

#[test]
fn requests_without_a_token_do_not_lock_the_admin_out() {
    let srv = Server::start(&[]);
    let admin = token(&srv, "admin");
    // What an <img src=http://admin…/api/sites> on any page does, many times.
    for _ in 0..30 {
        assert_eq!(srv.get("localhost", "/api/sites").status, 401);
    }
    assert_eq!(api(&srv, &admin, "GET", "/api/sites", b"").status, 200);
}

// --- 10. Strictness -------------------------------------------------------------------------

#[test]
fn force_cannot_replace_the_admin_site() {
    let srv = Server::start(&[]);
    let admin = token(&srv, "admin");
    let zip = zipbuild::site(&[("index.html", b"<h1>mine</h1>".as_slice())]);
    let auth = format!("Bearer {admin}");
    let r = srv.req(
        "PUT",
        "localhost",
        "/api/sites/admin?force=true",
        &[("Authorization", &auth)],
        &zip,
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!srv.get("localhost", "/").text().contains("mine"));
    // root may still be replaced with force.
    let r = srv.req(
        "PUT",
        "localhost",
        "/api/sites/root?force=true",
        &[("Authorization", &auth)],
        &zip,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

fn raw_status(srv: &Server, bytes: &[u8]) -> Option<u16> {
    let mut s = srv.connect();
    s.write_all(bytes).ok()?;
    read_response(&mut s, false).map(|r| r.status)
}

#[test]
fn ambiguous_hosts_targets_and_chunks_are_400() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "admin");
    let chunked = |chunks: &str| {
        format!("PUT /api/sites/root/env/X HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}")
            .into_bytes()
    };
    let bad: Vec<Vec<u8>> = vec![
        b"GET /api/sites HTTP/1.1\r\nHost: localhost:80@blog.localhost\r\n\r\n".to_vec(),
        b"GET /api/sites HTTP/1.1\r\nHost: [::1]junk\r\n\r\n".to_vec(),
        b"GET /a b HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        chunked("2\nab\r\n0\r\n\r\n"),
        chunked("2;x=\x01\r\nab\r\n0\r\n\r\n"),
        chunked("2\r\nab\n0\r\n\r\n"),
        b"GET http://a@localhost/health HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
    ];
    // The same body, well formed, is accepted.
    assert_eq!(
        raw_status(&srv, &chunked("2\r\nab\r\n0\r\n\r\n")),
        Some(200)
    );
    for req in &bad {
        assert_eq!(
            raw_status(&srv, req),
            Some(400),
            "{}",
            String::from_utf8_lossy(req)
        );
    }
}

#[test]
fn absolute_form_authority_wins_over_host() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let r = put_zip(
        &srv,
        &tok,
        "blog",
        &zipbuild::site(&[("index.html", b"<h1>blog</h1>".as_slice())]),
    );
    assert_eq!(r.status, 200);
    let mut s = srv.connect();
    s.write_all(
        b"GET http://blog.localhost/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        read_response(&mut s, false).unwrap().text(),
        "<h1>blog</h1>"
    );
    // And the other way round: an absolute target for the admin host is the admin host.
    let mut s = srv.connect();
    s.write_all(
        b"GET http://localhost/health HTTP/1.1\r\nHost: blog.localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().text(), "ok");
}

// --- 13. Descriptor exhaustion ----------------------------------------------------------------

#[test]
fn accept_failures_are_logged_at_a_bounded_rate() {
    let srv = Server::start_wrapped(
        &["prlimit", "--nofile=40:40", "--"],
        &["--max-conns-per-ip", "0"],
    );
    // Hold more connections than the server has descriptors for, for about 3 s.
    let mut held = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        if let Ok(s) = TcpStream::connect_timeout(&srv.addr, Duration::from_millis(200)) {
            held.push(s);
        }
        if held.len() > 200 {
            held.drain(..100);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let logs = srv.logs();
    let warnings = logs.matches("accept on").count();
    assert!(
        (1..=2).contains(&warnings),
        "{warnings} accept warnings in 3 s:\n{logs}"
    );
    drop(held);
    // Once descriptors are free again the server serves.
    std::thread::sleep(Duration::from_millis(500));
    assert!(health(&srv).is_some());
    let _ = rss_kib(srv.child.id());
}

// --- 6–8. Serverless: time limits across host calls, serialisable KV, quota totals --------

#[cfg(feature = "js")]
fn deploy_js(srv: &Server, tok: &str, site: &str, js: &str) {
    let r = put_zip(
        srv,
        tok,
        site,
        &zipbuild::site(&[("main.js", js.as_bytes())]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[cfg(feature = "js")]
#[test]
fn script_bombs_release_their_thread_near_the_time_limit() {
    let srv = Server::start(&["--js-timeout-ms", "300", "--js-threads", "1"]);
    let tok = token(&srv, "deploy");
    let bombs = [
        // Fills the heap, catches its own out-of-memory errors, and tries again.
        (
            "oomloop",
            "for (;;) { try { var a = []; for (;;) a.push(new Array(100000).fill(1)); } catch (e) {} }",
        ),
        // Host calls between two interrupt checks.
        (
            "setloop",
            "var i = 0; for (;;) { try { db.set('k' + (i % 8), 'v' + i); } catch (e) {} i++; }",
        ),
        // One native call that runs long.
        ("join", "res.send(new Array(1e8).join('x'));"),
    ];
    deploy_js(&srv, &tok, "ok", "res.send('fine');");
    for (site, js) in bombs {
        deploy_js(&srv, &tok, site, js);
        let t = Instant::now();
        let r = srv.get(&format!("{site}.localhost"), "/");
        let took = t.elapsed();
        assert_eq!(r.status, 503, "{site}: {}", r.text());
        assert!(
            took < Duration::from_millis(2500),
            "{site} held its JS thread {took:?} with a 300 ms limit"
        );
        // The only JS thread is free again.
        assert_eq!(srv.get("ok.localhost", "/").text(), "fine", "after {site}");
    }
}

#[cfg(feature = "js")]
fn hammer(srv: &Server, host: &str, clients: usize, each: usize) -> Vec<String> {
    let addr = srv.addr;
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let host = host.to_string();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                for _ in 0..each {
                    s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
                        .unwrap();
                    let r = read_response(&mut s, false).expect("answer");
                    assert_eq!(r.status, 200, "{}", r.text());
                    out.push(r.text());
                }
                out
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

#[cfg(feature = "js")]
#[test]
fn the_readme_counter_never_loses_an_update() {
    let srv = Server::start(&["--js-threads", "2"]);
    let tok = token(&srv, "deploy");
    deploy_js(
        &srv,
        &tok,
        "counter",
        "var n = (db.get('count') || 0) + 1; db.set('count', n); res.send('<h1>Count: ' + n + '</h1>');",
    );
    deploy_js(&srv, &tok, "hits", "res.send(String(db.incr('hits')));");
    let answers = hammer(&srv, "counter.localhost", 4, 100);
    let mut seen: Vec<&String> = answers.iter().collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 400, "two requests saw the same count");
    assert_eq!(
        srv.get("counter.localhost", "/").text(),
        "<h1>Count: 401</h1>",
        "acknowledged increments were lost"
    );
    let answers = hammer(&srv, "hits.localhost", 4, 50);
    let mut nums: Vec<u64> = answers.iter().map(|a| a.parse().unwrap()).collect();
    nums.sort_unstable();
    assert_eq!(nums, (1..=200).collect::<Vec<u64>>());
}

#[cfg(feature = "js")]
#[test]
fn kv_quota_is_exact_through_updates_and_deletes() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    // Values of 1,000,000 bytes (under the 1 MiB value cap) against the 16 MiB site quota.
    deploy_js(
        &srv,
        &tok,
        "quota",
        "var q = req.query.split('=');
         var big = new Array(1000001).join('x');
         try {
           if (q[0] === 'set') db.set(q[1], big);
           else if (q[0] === 'small') db.set(q[1], 'x');
           else if (q[0] === 'del') db.delete(q[1]);
           res.send('ok');
         } catch (e) { res.send('refused: ' + e.message); }",
    );
    let call = |q: &str| srv.get("quota.localhost", &format!("/?{q}")).text();
    for i in 0..16 {
        assert_eq!(call(&format!("set=k{i}")), "ok", "key {i}");
    }
    // Rewriting an existing key replaces its bytes: no growth, still fits.
    assert_eq!(call("set=k3"), "ok");
    assert!(call("set=k16").starts_with("refused"), "over the quota");
    // Shrinking one key makes room for exactly one more.
    assert_eq!(call("small=k0"), "ok");
    assert_eq!(call("set=k16"), "ok");
    assert!(call("set=k17").starts_with("refused"));
    // Deleting frees its bytes.
    assert_eq!(call("del=k1"), "ok");
    assert_eq!(call("set=k17"), "ok");
    assert!(call("set=k18").starts_with("refused"));
}

// --- 11. WAL and disk ----------------------------------------------------------------------

/// Deterministic incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

#[test]
fn a_slow_download_does_not_pin_the_wal() {
    let srv = Server::start(&["--max-upload-mb", "64"]);
    let tok = token(&srv, "deploy");
    let big = noise(1, 10 << 20);
    let r = put_zip(
        &srv,
        &tok,
        "big",
        &zipbuild::site(&[("big.bin", big.as_slice())]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // A client that reads the 10 MiB file at ~80 KB/s (a two-minute download).
    let mut s = srv.connect();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: big.localhost\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        let n = s.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
        std::thread::sleep(Duration::from_millis(200));
    }
    // Meanwhile, twelve deploys of 2 MiB each. A reader holding one transaction for the
    // whole download would keep all of them in the WAL (24 MiB and growing).
    let wal = srv.db.with_extension("db-wal");
    let mut peak = 0;
    for i in 0..12 {
        let r = put_zip(
            &srv,
            &tok,
            "churn",
            &zipbuild::site(&[("blob.bin", noise(100 + i, 2 << 20).as_slice())]),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        for _ in 0..2 {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        peak = peak.max(file_len(&wal));
    }
    assert!(
        peak < 14 << 20,
        "the WAL grew to {} MiB under a slow download",
        peak >> 20
    );
    // The download itself is intact.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut body = got.split_off(head_end);
    while body.len() < big.len() {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "download cut short at {}", body.len());
        body.extend_from_slice(&buf[..n]);
    }
    assert!(body == big, "the slow download's bytes differ");
}

#[test]
fn freed_pages_go_back_to_the_disk() {
    // Keeping one deployment per site: the replaced one's content is nothing's any more.
    let srv = Server::start(&["--max-upload-mb", "64", "--keep-deployments", "1"]);
    let tok = token(&srv, "deploy");
    let r = put_zip(
        &srv,
        &tok,
        "huge",
        &zipbuild::site(&[("a.bin", noise(7, 12 << 20).as_slice())]),
    );
    assert_eq!(r.status, 200);
    let grown = file_len(&srv.db) + file_len(&srv.db.with_extension("db-wal"));
    assert!(grown > 12 << 20);
    let r = put_zip(
        &srv,
        &tok,
        "huge",
        &zipbuild::site(&[("index.html", b"small now".as_slice())]),
    );
    assert_eq!(r.status, 200);
    let t = Instant::now();
    loop {
        let size = file_len(&srv.db);
        if size < 4 << 20 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "fazt.db is still {} MiB after the 12 MiB site was replaced",
            size >> 20
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(srv.get("huge.localhost", "/").text(), "small now");
}

#[test]
fn fazt_vacuum_compacts_an_older_database() {
    let dir = Arc::new(TempDir::new("vacuum"));
    let db = dir.join("fazt.db");
    {
        // A database made without incremental auto-vacuum, as fazt before it did.
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE IF NOT EXISTS old_marker (x INTEGER);")
            .unwrap();
    }
    seed_files(&db, "old", &[("a.bin", noise(3, 6 << 20).as_slice())]);
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute("DELETE FROM files WHERE site_id = 'old'", [])
            .unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        let mode: i64 = c.query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, 0);
    }
    let before = file_len(&db);
    assert!(before > 6 << 20);
    let out = std::process::Command::new(bin())
        .args(["vacuum", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("→"));
    assert!(
        file_len(&db) < 1 << 20,
        "{} bytes after vacuum",
        file_len(&db)
    );
    let c = rusqlite::Connection::open(&db).unwrap();
    let mode: i64 = c.query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, 2, "now incremental");
}

// --- 12. Memory after load -----------------------------------------------------------------

#[test]
fn memory_goes_back_after_a_burst_of_uploads() {
    let srv = Server::start(&["--max-upload-mb", "64", "--max-uploads", "4"]);
    let tok = token(&srv, "deploy");
    for _ in 0..3 {
        health(&srv);
    }
    std::thread::sleep(Duration::from_secs(1));
    let idle = rss_kib(srv.child.id());
    // Stored (not deflated) entries, as `zip -0` makes: the upload buffer is the big block.
    let zips: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            let data = noise(50 + i, 24 << 20);
            zipbuild::build(&[zipbuild::Entry::file("f.bin", &data)], false)
        })
        .collect();
    let addr = srv.addr;
    let ups: Vec<_> = zips
        .into_iter()
        .enumerate()
        .map(|(i, zip)| {
            let tok = tok.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let head = format!(
                    "PUT /api/sites/up{i} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    zip.len()
                );
                s.write_all(head.as_bytes()).unwrap();
                s.write_all(&zip).unwrap();
                read_response(&mut s, false).unwrap().status
            })
        })
        .collect();
    let mut peak = 0;
    let watch = Instant::now();
    while ups.iter().any(|u| !u.is_finished()) && watch.elapsed() < Duration::from_secs(60) {
        peak = peak.max(rss_kib(srv.child.id()));
        std::thread::sleep(Duration::from_millis(50));
    }
    for u in ups {
        assert_eq!(u.join().unwrap(), 200);
    }
    // Idle again: within a few housekeeping rounds the memory is returned.
    let t = Instant::now();
    let mut now = rss_kib(srv.child.id());
    while now > idle + 16 * 1024 && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(500));
        now = rss_kib(srv.child.id());
    }
    assert!(
        now <= idle + 16 * 1024,
        "RSS {} MiB after the uploads (idle before {} MiB, peak {} MiB)",
        now / 1024,
        idle / 1024,
        peak / 1024
    );
    eprintln!(
        "rss: idle {} KiB, peak {} KiB, after {} KiB",
        idle, peak, now
    );
}
