#![cfg(feature = "js")]
//! A script's `fetch` through the real binary, against a loopback HTTP server run by the
//! test: refused by the SSRF guard by default (a literal address, a name whose DNS answer is
//! loopback, an IPv4-mapped literal, a redirect to the cloud metadata address, other
//! schemes), and working with `--js-fetch-allow loopback`: status, headers, text(), json(),
//! methods and bodies, redirects, the per-request cap.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The upstream a script fetches from; counts the connections it accepted.
struct Upstream {
    port: u16,
    hits: Arc<AtomicUsize>,
}

fn upstream() -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let (method, path) = {
                let mut p = line.split(' ');
                (
                    p.next().unwrap_or("").to_string(),
                    p.next().unwrap_or("").to_string(),
                )
            };
            let mut len = 0;
            let mut tag = String::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = h.strip_prefix("X-Tag:") {
                    tag = v.trim().to_string();
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let (status, extra, out) = match path.as_str() {
                "/hello" => (
                    "200 OK",
                    "X-A: 1\r\nX-A: 2\r\n".to_string(),
                    "hi".to_string(),
                ),
                "/json" => ("200 OK", String::new(), r#"{"a":[1,2]}"#.to_string()),
                "/missing" => ("404 Not Found", String::new(), "no".to_string()),
                "/echo" => (
                    "201 Created",
                    String::new(),
                    format!("{method} {tag} {}", String::from_utf8_lossy(&body)),
                ),
                "/see-other" => ("303 See Other", "Location: /echo\r\n".into(), String::new()),
                "/loop" => ("302 Found", "Location: /loop\r\n".into(), String::new()),
                "/metadata" => (
                    "302 Found",
                    "Location: http://169.254.169.254/latest/meta-data/\r\n".into(),
                    String::new(),
                ),
                _ => ("500 Oops", String::new(), String::new()),
            };
            let mut s = s;
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{out}",
                out.len()
            );
        }
    });
    Upstream { port, hits }
}

fn site(srv: &Server, name: &str, js: &str) {
    let tok = token(srv, "deploy");
    let r = put_zip(
        srv,
        &tok,
        name,
        &zipbuild::site(&[("main.js", js.as_bytes())]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// What `fetch(url)` threw (or "ok <status>").
const TRY: &str = "var u = req.query.slice(2); try { var r = fetch(decodeURIComponent(u)); res.send('ok ' + r.status); } catch (e) { res.send(e.name + ': ' + e.message); }";

fn try_fetch(srv: &Server, url: &str) -> String {
    let q: String = url
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    srv.get("try.localhost", &format!("/?u={q}")).text()
}

#[test]
fn the_guard_refuses_every_internal_address_class() {
    let up = upstream();
    let srv = Server::start(&[]);
    site(&srv, "try", TRY);
    let p = up.port;
    for (url, says) in [
        (format!("http://127.0.0.1:{p}/hello"), "a loopback address"),
        // A name whose DNS answer is loopback.
        (format!("http://localhost:{p}/hello"), "a loopback address"),
        (
            format!("http://[::ffff:127.0.0.1]:{p}/hello"),
            "a loopback address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "link-local",
        ),
        ("http://10.0.0.1/".into(), "a private address"),
        ("http://[fd00:ec2::254]/".into(), "unique-local"),
        ("file:///etc/passwd".into(), "only http:// and https://"),
    ] {
        let got = try_fetch(&srv, &url);
        assert!(
            got.starts_with("TypeError: fetch: ") && got.contains(says),
            "{url}: {got}"
        );
    }
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        0,
        "the guard let a connection through"
    );
}

#[test]
fn with_the_allowance_fetch_works_and_redirects_are_checked_again() {
    let up = upstream();
    let srv = Server::start(&["--js-fetch-allow", "loopback"]);
    let base = format!("http://127.0.0.1:{}", up.port);
    site(
        &srv,
        "calls",
        &format!(
            r#"
            var base = '{base}';
            var a = fetch(base + '/hello');
            var j = fetch(base + '/json').json();
            var m = fetch(base + '/missing');
            var e = fetch(base + '/echo', {{ method: 'put', headers: {{ 'X-Tag': 't1' }}, body: 'payload' }});
            var s = fetch(base + '/see-other', {{ method: 'POST', body: 'dropped' }});
            res.json({{ a: [a.status, a.ok, a.text(), a.headers['x-a']], j: j.a, m: [m.status, m.ok],
                       e: [e.status, e.text()], s: [s.status, s.text(), s.url.slice(-5)] }});
            "#
        ),
    );
    let v = srv.get("calls.localhost", "/").json();
    assert_eq!(v["a"], serde_json::json!([200, true, "hi", "1, 2"]), "{v}");
    assert_eq!(v["j"], serde_json::json!([1, 2]));
    assert_eq!(v["m"], serde_json::json!([404, false]));
    assert_eq!(v["e"], serde_json::json!([201, "PUT t1 payload"]));
    assert_eq!(
        v["s"],
        serde_json::json!([201, "GET  ", "/echo"]),
        "a 303 becomes a GET"
    );

    site(&srv, "try", TRY);
    // A redirect to the metadata address is refused at the redirect, though loopback is
    // allowed; a redirect loop ends.
    let got = try_fetch(&srv, &format!("{base}/metadata"));
    assert!(got.contains("link-local"), "{got}");
    let got = try_fetch(&srv, &format!("{base}/loop"));
    assert!(got.contains("more than 5 redirects"), "{got}");
    // At most 16 fetches per request.
    site(
        &srv,
        "many",
        &format!("var n = 0; try {{ for (;;) {{ fetch('{base}/hello'); n++; }} }} catch (e) {{ res.send(n + ' ' + e.message); }}"),
    );
    let got = srv.get("many.localhost", "/").text();
    assert_eq!(got, "16 fetch: more than 16 fetches in one request");
}
