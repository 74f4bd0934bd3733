//! Host routing, system sites and static-serving rules, through the real binary.

mod common;
use common::*;

use std::sync::Arc;

fn with_site() -> Server {
    let dir = Arc::new(TempDir::new("routing"));
    let db = dir.join("fazt.db");
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let css = "body { color: red; }\n".repeat(100);
    seed_files(
        &db,
        "blog",
        &[
            ("index.html", b"<h1>blog home</h1>"),
            ("about.html", b"<h1>about</h1>"),
            ("docs/index.html", b"<h1>docs</h1>"),
            ("404.html", b"<h1>blog 404</h1>"),
            ("style.css", css.as_bytes()),
            ("assets/app-BkVxDeQ3.js", b"console.log(1)"),
            ("big.bin", &big),
            ("a b.txt", b"spaces"),
        ],
    );
    Server::start_on(dir, db, &[])
}

#[test]
fn routing_table() {
    let s = Server::start(&[]);
    let start = s.get("localhost", "/");
    assert_eq!(start.status, 200);
    assert!(start.text().contains("<title>fazt</title>"));
    assert_eq!(s.get("127.0.0.1", "/").status, 200);
    assert!(s
        .get("[::1]:4698", "/")
        .text()
        .contains("<title>fazt</title>"));
    assert!(s
        .get("admin.localhost", "/")
        .text()
        .contains("<title>fazt</title>"));
    let root = s.get("root.localhost:4698", "/");
    assert_eq!(root.status, 200);
    assert!(root.text().contains("root site"));
    let missing = s.get("anything.localhost", "/");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("404"));
    assert_eq!(s.get("other.example.org", "/").status, 404);
    assert_eq!(s.get("404.localhost", "/").status, 200);
    assert_eq!(s.get("ROOT.LocalHost.", "/").status, 200);
}

#[test]
fn custom_domain_routing() {
    let s = Server::start(&["--domain", "example.com"]);
    assert!(s.get("example.com", "/").text().contains("root site"));
    assert!(s.get("root.example.com", "/").text().contains("root site"));
    assert!(s
        .get("admin.example.com", "/")
        .text()
        .contains("<title>fazt</title>"));
    assert_eq!(s.get("nope.example.com", "/").status, 404);
    assert_eq!(s.get("a.b.example.com", "/").status, 404);
}

#[test]
fn path_resolution_and_404s() {
    let s = with_site();
    let h = "blog.localhost";
    assert_eq!(s.get(h, "/").text(), "<h1>blog home</h1>");
    assert_eq!(s.get(h, "/index.html").text(), "<h1>blog home</h1>");
    assert_eq!(s.get(h, "/about").text(), "<h1>about</h1>");
    assert_eq!(s.get(h, "/docs/").text(), "<h1>docs</h1>");
    assert_eq!(s.get(h, "/docs").text(), "<h1>docs</h1>");
    assert_eq!(s.get(h, "/a%20b.txt").text(), "spaces");
    let nf = s.get(h, "/nope");
    assert_eq!(nf.status, 404);
    assert_eq!(nf.text(), "<h1>blog 404</h1>");
    for bad in ["/../x", "/a/%2e%2e/b", "/a%00", "/a%5cb"] {
        assert_eq!(s.get(h, bad).status, 400, "{bad}");
    }
    // No directory listing: a folder without index.html is a 404.
    assert_eq!(s.get(h, "/assets/").status, 404);
    let post = s.req("POST", h, "/", &[], b"x");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[test]
fn headers_validators_and_304() {
    let s = with_site();
    let h = "blog.localhost";
    let r = s.get(h, "/about");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("server"), Some("fazt"));
    assert!(r.header("date").is_some());
    let etag = r.header("etag").unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    let lm = r.header("last-modified").unwrap().to_string();

    let c = s.req("GET", h, "/about", &[("If-None-Match", &etag)], b"");
    assert_eq!(c.status, 304);
    assert!(c.body.is_empty());
    assert_eq!(c.header("etag"), Some(etag.as_str()));
    let c = s.req("GET", h, "/about", &[("If-None-Match", "\"other\"")], b"");
    assert_eq!(c.status, 200);
    let c = s.req("GET", h, "/about", &[("If-Modified-Since", &lm)], b"");
    assert_eq!(c.status, 304);
    let c = s.req(
        "GET",
        h,
        "/about",
        &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
        b"",
    );
    assert_eq!(c.status, 200);

    let js = s.get(h, "/assets/app-BkVxDeQ3.js");
    assert_eq!(
        js.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(js.header("content-type"), Some("application/javascript"));
    let css = s.get(h, "/style.css");
    assert_eq!(css.header("cache-control"), Some("public, max-age=300"));
}

#[test]
fn gzip_variant_served_when_accepted() {
    let s = with_site();
    let h = "blog.localhost";
    let plain = s.get(h, "/style.css");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let gz = s.req(
        "GET",
        h,
        "/style.css",
        &[("Accept-Encoding", "br, gzip")],
        b"",
    );
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(gz.body.len() < plain.body.len() / 4);
    assert_eq!(gunzip(&gz.body), plain.body);
    assert_ne!(gz.header("etag"), plain.header("etag"));
    let refused = s.req(
        "GET",
        h,
        "/style.css",
        &[("Accept-Encoding", "gzip;q=0")],
        b"",
    );
    assert_eq!(refused.header("content-encoding"), None);
    // Tiny files have no variant.
    let tiny = s.req("GET", h, "/about", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(tiny.header("content-encoding"), None);
}

#[test]
fn ranges_and_large_files() {
    let s = with_site();
    let h = "blog.localhost";
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let full = s.get(h, "/big.bin");
    assert_eq!(full.status, 200);
    assert_eq!(full.body, big, "streamed large file differs");
    assert_eq!(full.header("accept-ranges"), Some("bytes"));

    let r = s.req("GET", h, "/big.bin", &[("Range", "bytes=100-199")], b"");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/600000"));
    assert_eq!(r.body, &big[100..200]);
    let r = s.req("GET", h, "/big.bin", &[("Range", "bytes=-10")], b"");
    assert_eq!(r.body, &big[599_990..]);
    let r = s.req("GET", h, "/style.css", &[("Range", "bytes=0-3")], b"");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"body");
    let r = s.req("GET", h, "/big.bin", &[("Range", "bytes=700000-")], b"");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */600000"));
    let etag = full.header("etag").unwrap().to_string();
    let r = s.req(
        "GET",
        h,
        "/big.bin",
        &[("Range", "bytes=0-0"), ("If-Range", &etag)],
        b"",
    );
    assert_eq!(r.status, 206);
    let r = s.req(
        "GET",
        h,
        "/big.bin",
        &[("Range", "bytes=0-0"), ("If-Range", "\"stale\"")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 600_000);
}

#[test]
fn head_has_length_but_no_body() {
    let s = with_site();
    let get = s.get("blog.localhost", "/big.bin");
    let head = s.req("HEAD", "blog.localhost", "/big.bin", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    assert!(head.body.is_empty());
}
