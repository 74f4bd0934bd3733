//! Custom domains through the real binary: the API and `fazt domains` register names, requests
//! for them serve the site (or 301 to its primary name), everything else is refused with a
//! clear error, and deleting the site forgets its names.

mod common;
use common::*;

use std::time::{Duration, Instant};

fn site(srv: &Server, tok: &str, name: &str, body: &[u8]) {
    let zip = zipbuild::site(&[("index.html", body), ("about.html", b"about")]);
    assert_eq!(put_zip(srv, tok, name, &zip).status, 200);
}

#[test]
fn domains_route_to_their_site_and_redirect_to_the_primary() {
    let srv = Server::start(&["--domain", "fazt.test"]);
    let tok = token(&srv, "admin");
    site(&srv, &tok, "blog", b"the blog");
    site(&srv, &tok, "shop", b"the shop");
    // Not registered yet: the 404 site.
    assert_eq!(srv.get("example.org", "/").status, 404);
    let r = api(
        &srv,
        &tok,
        "POST",
        "/api/sites/blog/domains",
        br#"{"domains": ["Example.ORG", "www.example.org"], "redirect": true}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let list = r.json();
    assert_eq!(list["data"][0]["domain"], "example.org");
    assert_eq!(list["data"][0]["primary"], true);
    assert_eq!(list["data"][1]["primary"], false);
    let r = srv.get("example.org", "/about");
    assert_eq!((r.status, r.text().as_str()), (200, "about"));
    let r = srv.get("www.example.org", "/about?ref=x");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("http://example.org/about?ref=x"));
    // Without redirect, each name serves.
    let r = api(
        &srv,
        &tok,
        "POST",
        "/api/sites/shop/domains",
        br#"{"domains": ["shop.example.net", "store.example.net"]}"#,
    );
    assert_eq!(r.status, 201);
    assert_eq!(srv.get("store.example.net", "/").text(), "the shop");
    assert_eq!(srv.get("shop.example.net", "/").text(), "the shop");
    // Refusals: each with its code, nothing added.
    for (path, body, status, code) in [
        (
            "/api/sites/shop/domains",
            &br#"{"domains": ["example.org"]}"#[..],
            409,
            "DOMAIN_TAKEN",
        ),
        (
            "/api/sites/shop/domains",
            br#"{"domains": ["blog.fazt.test"]}"#,
            400,
            "INVALID_DOMAIN",
        ),
        (
            "/api/sites/shop/domains",
            br#"{"domains": ["10.0.0.1"]}"#,
            400,
            "INVALID_DOMAIN",
        ),
        (
            "/api/sites/shop/domains",
            br#"{"domains": ["a_b.org"]}"#,
            400,
            "INVALID_DOMAIN",
        ),
        (
            "/api/sites/shop/domains",
            br#"{"domains": []}"#,
            400,
            "BAD_REQUEST",
        ),
        (
            "/api/sites/shop/domains",
            br#"{"domains": ["ok.example.com", "bad..com"]}"#,
            400,
            "INVALID_DOMAIN",
        ),
        (
            "/api/sites/shop/domains",
            br#"{"domains": ["x.example.com"], "redirect": 1}"#,
            400,
            "BAD_REQUEST",
        ),
        (
            "/api/sites/nope/domains",
            br#"{"domains": ["x.example.com"]}"#,
            404,
            "NOT_FOUND",
        ),
    ] {
        let r = api(&srv, &tok, "POST", path, body);
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(
        srv.get("ok.example.com", "/").status,
        404,
        "a refused call adds nothing"
    );
    // A deploy token may not manage domains.
    let dep = token(&srv, "deploy");
    assert_eq!(
        api(&srv, &dep, "GET", "/api/sites/blog/domains", b"").status,
        403
    );
    // Remove one; delete a site and its names go too.
    let r = api(
        &srv,
        &tok,
        "DELETE",
        "/api/sites/shop/domains/store.example.net",
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("store.example.net", "/").status, 404);
    assert_eq!(
        api(
            &srv,
            &tok,
            "DELETE",
            "/api/sites/shop/domains/store.example.net",
            b""
        )
        .status,
        404
    );
    assert_eq!(
        api(&srv, &tok, "DELETE", "/api/sites/blog", b"").status,
        200
    );
    assert_eq!(srv.get("example.org", "/").status, 404);
    let rows: i64 = rusqlite::Connection::open(&srv.db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM domains WHERE app_id = 'blog'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
}

#[test]
fn the_cli_manages_domains_and_a_running_server_follows() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    site(&srv, &tok, "docs", b"the docs");
    let out = ok(&srv.cli(&[
        "domains",
        "add",
        "docs",
        "docs.example.com",
        "www.docs.example.com",
        "--redirect",
    ]));
    assert!(
        out.contains("docs.example.com, www.docs.example.com → site docs"),
        "{out}"
    );
    // The server's lookup cache lets the change in within seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = srv.get("docs.example.com", "/");
        if r.status == 200 {
            assert_eq!(r.text(), "the docs");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never saw the new domain"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = ok(&srv.cli(&["domains", "list"]));
    assert!(
        list.contains("docs.example.com") && list.contains("redirects to the primary"),
        "{list}"
    );
    let fail = |args: &[&str], code: i32, msg: &str| {
        let o = srv.cli(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(
            err.contains(msg) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    };
    fail(&["domains", "add", "docs"], 2, "usage");
    fail(
        &["domains", "add", "ghost", "g.example.com"],
        1,
        "no site 'ghost'",
    );
    fail(
        &["domains", "add", "docs", "docs.localhost"],
        2,
        "own domain",
    );
    fail(
        &["domains", "add", "docs", "x.example.com", "--bogus"],
        2,
        "--bogus",
    );
    fail(
        &["domains", "remove", "nope.example.com"],
        1,
        "not a registered domain",
    );
    fail(&["domains", "frob"], 2, "usage");
    ok(&srv.cli(&["domains", "remove", "www.docs.example.com"]));
    let list = ok(&srv.cli(&["domains", "list", "docs"]));
    assert!(!list.contains("www.docs"), "{list}");
}
