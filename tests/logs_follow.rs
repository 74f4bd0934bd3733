//! `GET /api/sites/{name}/logs?follow=1` through the real binary: Server-Sent Events that
//! deliver a line as it is logged, resume after `Last-Event-ID`, are capped in number, and
//! end when the server stops (a graceful stop never waits on an open stream).

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn log_line(srv: &Server, site: &str, msg: &str) {
    let c = rusqlite::Connection::open(&srv.db).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.execute(
        "INSERT INTO site_logs (site_id, level, message, created_at) VALUES (?1, 'info', ?2, 0)",
        [site, msg],
    )
    .unwrap();
}

/// A server with site `blog` deployed, and an admin token.
fn with_blog(extra: &[&str]) -> (Server, String) {
    let srv = Server::start(extra);
    let tok = token(&srv, "admin");
    let r = put_zip(
        &srv,
        &tok,
        "blog",
        &zipbuild::site(&[("index.html", b"hi")]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    (srv, tok)
}

/// Opens a follow stream; returns the connection and what arrived with the head (which may
/// hold the first events already).
fn open(srv: &Server, tok: &str, extra: &str) -> (TcpStream, String) {
    let mut s = srv.connect();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /api/sites/blog/logs?follow=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\n{extra}\r\n"
    )
    .unwrap();
    let got = read_until(&mut s, "\r\n\r\n");
    (s, got)
}

/// Reads until `needle` has arrived (or 10 s pass); all that was read.
fn read_until(s: &mut TcpStream, needle: &str) -> String {
    read_more(s, String::new(), needle)
}

/// [`read_until`], counting what was read already.
fn read_more(s: &mut TcpStream, so_far: String, needle: &str) -> String {
    let mut got = so_far.into_bytes();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn lines_arrive_as_events_and_resume_after_the_last_id() {
    let (srv, tok) = with_blog(&[]);
    log_line(&srv, "blog", "before the stream");

    let (mut s, head) = open(&srv, &tok, "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let lower = head.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(lower.contains("content-type: text/event-stream"), "{head}");
    assert!(!lower.contains("content-length"), "{head}");
    let first = read_more(&mut s, head, "before the stream");
    assert!(first.contains("data: {"), "{first}");

    log_line(&srv, "blog", "logged while watching");
    let next = read_until(&mut s, "logged while watching");
    assert!(next.contains("logged while watching"), "{next}");
    let id: i64 = next
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .next_back()
        .unwrap()
        .parse()
        .unwrap();
    drop(s);

    // A reconnecting EventSource sends the last id it saw: it gets only what came after.
    log_line(&srv, "blog", "missed while away");
    let (mut s, head) = open(&srv, &tok, &format!("Last-Event-ID: {id}\r\n"));
    let resumed = read_more(&mut s, head, "missed while away");
    assert!(resumed.contains("missed while away"), "{resumed}");
    assert!(!resumed.contains("logged while watching"), "{resumed}");

    // Without a token: 401, no stream.
    let r = srv.get("localhost", "/api/sites/blog/logs?follow=1");
    assert_eq!(r.status, 401);

    // A graceful stop ends the open stream instead of waiting on it.
    let t = Instant::now();
    let status = srv.stop();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

#[test]
fn open_streams_are_capped() {
    let (srv, tok) = with_blog(&["--max-conns-per-ip", "0"]);
    let mut held = Vec::new();
    for i in 0..16 {
        let (s, head) = open(&srv, &tok, "");
        assert!(head.starts_with("HTTP/1.1 200"), "stream {i}: {head}");
        held.push(s);
    }
    let (_, head) = open(&srv, &tok, "");
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    // One closes: a place is free again (once the server has seen it go).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_s, head) = open(&srv, &tok, "");
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed: {head}");
        std::thread::sleep(Duration::from_millis(300));
    }
}
