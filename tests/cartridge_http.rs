//! The HTTP edge's protocol behaviour through the real binary: keep-alive, pipelining, caps,
//! malformed input, slow clients, timeouts, HTTP/1.0 and graceful shutdown.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn keep_alive_and_pipelining() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    // Three pipelined requests in one write are answered in order.
    s.write_all(
        b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n\
          GET / HTTP/1.1\r\nHost: root.localhost\r\n\r\n\
          HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .unwrap();
    let a = read_response(&mut s, false).unwrap();
    assert_eq!(a.text(), "ok");
    let b = read_response(&mut s, false).unwrap();
    assert!(b.text().contains("root site"));
    let c = read_response(&mut s, true).unwrap();
    assert_eq!(c.status, 200);
    // The connection is still open for a fourth.
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().text(), "ok");
    // Connection: close is honoured.
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed(&mut s));
}

#[test]
fn http10_closes_unless_keep_alive() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.text(), "ok");
    assert!(closed(&mut s));
    let mut s = srv.connect();
    s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.header("connection"), Some("keep-alive"));
    s.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().text(), "ok");
}

#[test]
fn oversized_and_malformed_heads() {
    let srv = Server::start(&[]);
    let mut s = srv.connect();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let _ = s.write_all(big.as_bytes());
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 431);
    assert_eq!(r.header("connection"), Some("close"));

    let mut s = srv.connect();
    let mut many = String::from("GET / HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..80 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    s.write_all(many.as_bytes()).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 431);

    // A browser-like request with 20 headers is fine (may_minihttp drops those).
    let mut s = srv.connect();
    let mut ok = String::from("GET /health HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..20 {
        ok.push_str(&format!("X-H{i}: v\r\n"));
    }
    ok.push_str("\r\n");
    s.write_all(ok.as_bytes()).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);

    for bad in [
        &b"NOT HTTP AT ALL\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: nope\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        let mut s = srv.connect();
        s.write_all(bad).unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(bad));
        assert!(closed(&mut s));
    }
    let mut s = srv.connect();
    s.write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 501);
    // The server is still healthy after all of that.
    assert_eq!(srv.get("localhost", "/health").text(), "ok");
}

#[test]
fn slow_clients_do_not_block_others_and_time_out() {
    // All of this test's clients share 127.0.0.1: lift the per-address cap (tested in
    // tests/hostile.rs) to see the header timeout itself.
    let srv = Server::start(&["--header-timeout", "2", "--max-conns-per-ip", "0"]);
    // Many half-open connections, each stuck mid-head.
    let mut stuck = Vec::new();
    for _ in 0..300 {
        let mut s = srv.connect();
        s.write_all(b"GET / HTTP/1.1\r\nHost: loc").unwrap();
        stuck.push(s);
    }
    let t = Instant::now();
    for _ in 0..20 {
        assert_eq!(srv.get("localhost", "/health").text(), "ok");
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "served slowly: {:?}",
        t.elapsed()
    );
    // The header timeout answers 408 and closes.
    let r = read_response(&mut stuck[0], false).unwrap();
    assert_eq!(r.status, 408);
    assert!(closed(&mut stuck[0]));
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let srv = Server::start(&["--idle-timeout", "1"]);
    let mut s = srv.connect();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().text(), "ok");
    let t = Instant::now();
    assert!(closed(&mut s));
    assert!(t.elapsed() >= Duration::from_millis(500));
}

#[test]
fn graceful_shutdown_on_sigterm() {
    let srv = Server::start(&[]);
    assert_eq!(srv.get("localhost", "/health").text(), "ok");
    let logs = srv.logs.clone();
    let status = srv.stop();
    assert!(status.success(), "exit status {status:?}");
    let logs = logs.lock().unwrap();
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(logs.contains("stopped"), "{logs}");
}

#[test]
fn cli_help_version_and_bad_flags() {
    let out = std::process::Command::new(bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(version.starts_with("fazt "), "{version}");
    // Go fazt's spellings print the same.
    for alias in [&["-v"][..], &["version"]] {
        let o = std::process::Command::new(bin())
            .args(alias)
            .output()
            .unwrap();
        assert!(o.status.success(), "{alias:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), version, "{alias:?}");
    }
    // The features this binary has, so scripts (cross/smoke.sh) and bug reports can tell.
    assert_eq!(version.contains("js"), cfg!(feature = "js"), "{version}");
    assert_eq!(
        version.contains("acme"),
        cfg!(feature = "acme"),
        "{version}"
    );
    let serve_help = std::process::Command::new(bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let serve_help = String::from_utf8_lossy(&serve_help.stdout);
    // Flags this build cannot honour are not advertised.
    assert_eq!(serve_help.contains("--tls-cert"), cfg!(feature = "acme"));
    let out = std::process::Command::new(bin())
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("serve"));
    let out = std::process::Command::new(bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--listen"));
    let out = std::process::Command::new(bin())
        .args(["serve", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--bogus") && err.lines().count() == 1, "{err}");
    let out = std::process::Command::new(bin())
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "256.0.0.1:1", "--db"])
        .arg(TempDir::new("cli").join("x.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

#[test]
fn status_reports_sites_and_schema() {
    let srv = Server::start(&[]);
    let out = srv.cli(&["status"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let steps = fazt::kernel::db::migrate::parse_steps(fazt::database::SCHEMA_SQL).unwrap();
    assert!(
        text.contains(&format!("schema version: {}", steps.len())),
        "{text}"
    );
    assert!(
        text.contains("root") && text.contains("404") && text.contains("admin"),
        "{text}"
    );
    let missing = std::process::Command::new(bin())
        .args(["status", "--db", "/nonexistent/fazt.db"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let srv = Server::start(&[]);
    let mode = std::fs::metadata(&srv.db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
