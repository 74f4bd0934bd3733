//! Analytics through the real binary: requests to sites are counted (and the API is not),
//! unique visitors by hashed address, `/track`, the pixel, short links with click counts,
//! signed webhooks, stats that match the requests made, `fazt stats`, events surviving a
//! graceful restart, a full buffer dropping and counting instead of blocking, and rollups
//! with retention.
#![cfg(feature = "analytics")]

mod common;
use common::*;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36";
const FAST: [&str; 2] = ["--analytics-flush-ms", "30"];

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn get_json(srv: &Server, tok: &str, path: &str) -> Value {
    let r = api(srv, tok, "GET", path, b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()["data"].clone()
}

/// Requests a row stands for (identical requests in the same second share one row).
fn hits(e: &Value) -> u64 {
    e["hits"].as_u64().unwrap()
}

/// Event rows matching `query`, once they stand for exactly `n` events.
fn events(srv: &Server, tok: &str, query: &str, n: u64) -> Vec<Value> {
    wait_for(&format!("{n} events for {query}"), || {
        let v = get_json(srv, tok, &format!("/api/events?limit=1000&{query}"));
        let list = v.as_array().cloned().unwrap_or_default();
        (list.iter().map(hits).sum::<u64>() == n).then_some(list)
    })
}

fn browse(srv: &Server, host: &str, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut h = vec![("User-Agent", CHROME)];
    h.extend_from_slice(extra);
    srv.req("GET", host, path, &h, b"")
}

fn blog_site() -> (Arc<TempDir>, std::path::PathBuf) {
    let dir = Arc::new(TempDir::new("analytics"));
    let db = dir.join("fazt.db");
    seed_files(
        &db,
        "blog",
        &[
            ("index.html", b"<h1>blog</h1>"),
            ("post/index.html", b"<h1>post</h1>"),
            ("style.css", b"body{}"),
        ],
    );
    (dir, db)
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn requests_to_sites_are_counted_and_stats_match() {
    let (dir, db) = blog_site();
    let srv = Server::start_on(dir, db, &FAST);
    let admin = token(&srv, "admin");
    let mut bytes = 0u64;
    for (path, status) in [
        ("/", 200),
        ("/", 200),
        ("/post/", 200),
        ("/style.css", 200),
        ("/style.css", 200),
        ("/missing.png", 404),
    ] {
        let r = browse(
            &srv,
            "blog.localhost",
            path,
            &[("Referer", "https://news.example.org/x")],
        );
        assert_eq!(r.status, status, "{path}");
        bytes += r.body.len() as u64;
    }
    // Navigation inside the site is no referral.
    browse(
        &srv,
        "blog.localhost",
        "/",
        &[("Referer", "http://blog.localhost/post/")],
    );
    bytes += 13;
    // The admin API, the admin host and unknown sites are not recorded.
    get_json(&srv, &admin, "/api/sites");
    get_json(&srv, &admin, "/api/stats");
    srv.get("localhost", "/");
    srv.get("nope.localhost", "/");

    let list = events(&srv, &admin, "source=hosting", 7);
    assert!(list
        .iter()
        .all(|e| e["site"] == "blog" && e["domain"] == "blog.localhost"));
    let newest = &list[0];
    assert_eq!(newest["path"], "/");
    assert_eq!(newest["event_type"], "pageview");
    assert_eq!(newest["ua_class"], "browser");
    assert_eq!(newest["referrer_host"], Value::Null);
    assert_eq!(
        newest["ip_address"],
        Value::Null,
        "raw addresses are off by default"
    );
    assert_eq!(newest["user_agent"], Value::Null);
    assert_eq!(newest["visitor"].as_str().unwrap().len(), 16);
    let css: Vec<&Value> = list.iter().filter(|e| e["path"] == "/style.css").collect();
    assert!(css
        .iter()
        .all(|e| e["event_type"] == "request" && e["visitor"].is_null()));
    assert!(css.iter().all(|e| e["bytes"].as_u64() == Some(6 * hits(e))));
    assert_eq!(css.iter().map(|e| hits(e)).sum::<u64>(), 2);
    assert_eq!(list.iter().filter(|e| e["status"] == 404).count(), 1);
    let everything = get_json(&srv, &admin, "/api/events?limit=1000");
    let total: u64 = everything.as_array().unwrap().iter().map(hits).sum();
    assert_eq!(total, 7, "only site requests were recorded");

    let s = get_json(&srv, &admin, "/api/stats?site=blog");
    assert_eq!(s["granularity"], "day");
    assert_eq!(s["totals"]["requests"], 7);
    assert_eq!(s["totals"]["pageviews"], 4);
    assert_eq!(s["totals"]["visitors"], 1);
    assert_eq!(s["totals"]["bots"], 0);
    assert_eq!(s["totals"]["bytes"], bytes);
    assert_eq!(s["status"], json!({"2xx": 6, "3xx": 0, "4xx": 1, "5xx": 0}));
    assert_eq!(
        s["top_paths"][0],
        json!({"site": "blog", "path": "/", "pageviews": 3})
    );
    assert_eq!(s["top_paths"][1]["path"], "/post/");
    assert_eq!(
        s["top_referrers"],
        json!([{"site": "blog", "referrer": "news.example.org", "pageviews": 3}])
    );
    let series = s["series"].as_array().unwrap();
    assert_eq!(series.len(), 7);
    assert_eq!(series[6]["requests"], 7);
    assert_eq!(series[6]["pageviews"], 4);
    // The hourly view of today adds up to the same.
    let today = get_json(&srv, &admin, "/api/stats?site=blog&days=1");
    assert_eq!(today["granularity"], "hour");
    let sum: i64 = today["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requests"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 7);
    // Other sites: nothing.
    let other = get_json(&srv, &admin, "/api/stats?site=docs");
    assert_eq!(other["totals"]["requests"], 0);
    let r = api(&srv, &admin, "GET", "/api/stats?site=Bad_Name", b"");
    assert_eq!(r.status, 400);
    let r = api(
        &srv,
        &admin,
        "GET",
        "/api/stats?from=2024-01-10&to=2024-01-01",
        b"",
    );
    assert_eq!(r.status, 400);
    let r = api(&srv, &admin, "GET", "/api/stats?from=yesterday", b"");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("from"));
    let r = api(&srv, &admin, "POST", "/api/stats", b"");
    assert_eq!(r.status, 405);

    // Reading needs an admin token.
    assert_eq!(srv.get("localhost", "/api/stats").status, 401);
    let deploy = token(&srv, "deploy");
    assert_eq!(api(&srv, &deploy, "GET", "/api/events", b"").status, 403);

    // `fazt stats` reads the same numbers from the database.
    let out = srv.cli(&["stats", "blog"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("requests:    7   page views: 4   visitors: 1"),
        "{text}"
    );
    assert!(text.contains("2xx 6   3xx 0   4xx 1   5xx 0"), "{text}");
    assert!(text.contains("news.example.org"), "{text}");
    assert!(text.contains('█'), "{text}");
    let out = srv.cli(&["stats", "--days", "1"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("blog /post/"));
}

#[test]
fn stats_cli_usage_and_errors() {
    let out = std::process::Command::new(bin())
        .args(["stats", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("fazt stats [SITE]"));
    let dir = TempDir::new("stats-cli");
    let db = dir.join("none.db");
    let run = |args: &[&str]| {
        std::process::Command::new(bin())
            .arg("stats")
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no database") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(run(&["Bad_Site"]).status.code(), Some(2));
    assert_eq!(run(&["--days", "0"]).status.code(), Some(2));
    assert_eq!(run(&["blog", "extra"]).status.code(), Some(2));
}

#[test]
fn unique_visitors_by_hashed_address() {
    let (dir, db) = blog_site();
    let srv = Server::start_on(
        dir.clone(),
        db.clone(),
        &["--analytics-flush-ms", "30", "--trusted-proxy", "127.0.0.1"],
    );
    let admin = token(&srv, "admin");
    for ip in ["10.0.0.1", "10.0.0.1", "10.0.0.2", "2001:db8::7"] {
        browse(&srv, "blog.localhost", "/", &[("X-Forwarded-For", ip)]);
    }
    // The same address on another site is another visitor there.
    seed_check_site(&srv, &admin);
    // A bot is counted as a request, never as a visitor or page view.
    srv.req(
        "GET",
        "blog.localhost",
        "/",
        &[
            ("X-Forwarded-For", "10.0.0.9"),
            ("User-Agent", "Googlebot/2.1"),
        ],
        b"",
    );
    let list = events(&srv, &admin, "site=blog", 5);
    let s = get_json(&srv, &admin, "/api/stats?site=blog");
    assert_eq!(s["totals"]["requests"], 5);
    assert_eq!(s["totals"]["pageviews"], 4);
    assert_eq!(s["totals"]["visitors"], 3);
    assert_eq!(s["totals"]["bots"], 1);
    let visitors: std::collections::HashSet<&str> =
        list.iter().filter_map(|e| e["visitor"].as_str()).collect();
    assert_eq!(visitors.len(), 3);
    // No raw address anywhere in the database file.
    drop(srv);
    let raw = std::fs::read(&db).unwrap();
    let wal = std::fs::read(format!("{}-wal", db.display())).unwrap_or_default();
    for hay in [&raw, &wal] {
        assert!(
            !hay.windows(8).any(|w| w == b"10.0.0.1"),
            "a raw address was stored"
        );
    }

    // When the owner turns it on, the raw address and user agent are kept.
    let srv = Server::start_on(
        dir,
        db,
        &[
            "--analytics-flush-ms",
            "30",
            "--trusted-proxy",
            "127.0.0.1",
            "--analytics-store-ip",
        ],
    );
    browse(
        &srv,
        "blog.localhost",
        "/post/",
        &[("X-Forwarded-For", "10.0.0.1")],
    );
    let newest = wait_for("the /post/ view", || {
        let v = get_json(&srv, &admin, "/api/events?site=blog&limit=1");
        (v[0]["path"] == "/post/").then(|| v[0].clone())
    });
    assert_eq!(newest["ip_address"], "10.0.0.1");
    assert_eq!(newest["user_agent"], CHROME);
}

/// Deploys a second site and visits it from an address already seen on `blog`.
fn seed_check_site(srv: &Server, admin: &str) {
    let zip = common::zipbuild::site(&[("index.html", b"<h1>docs</h1>")]);
    assert_eq!(put_zip(srv, admin, "docs", &zip).status, 200);
    browse(
        srv,
        "docs.localhost",
        "/",
        &[("X-Forwarded-For", "10.0.0.1")],
    );
    let list = events(srv, admin, "site=docs", 1);
    let s = get_json(srv, admin, "/api/stats?site=docs");
    assert_eq!(s["totals"]["visitors"], 1);
    assert_ne!(list[0]["visitor"], Value::Null);
}

#[test]
fn track_endpoint_variants() {
    let srv = Server::start(&FAST);
    let admin = token(&srv, "admin");
    let post = |body: &[u8], headers: &[(&str, &str)]| {
        srv.req("POST", "localhost", "/track", headers, body)
    };
    let r = post(
        br#"{"h":"blog.localhost","p":"/pricing","e":"signup","t":["beta","eu"],"q":{"plan":"pro"},"ref":"https://www.google.com/search?q=x"}"#,
        &[("User-Agent", CHROME)],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // Explicit domain wins over the hostname; text/plain bodies (sendBeacon) are fine.
    let r = post(
        br#"{"d":"shop.example.net","h":"blog.localhost"}"#,
        &[("Content-Type", "text/plain")],
    );
    assert_eq!(r.status, 204);
    // No domain at all: the Referer's host, else "unknown".
    assert_eq!(
        post(b"{}", &[("Referer", "https://docs.localhost/a")]).status,
        204
    );
    assert_eq!(post(br#"{"e": null}"#, &[]).status, 204);
    // Refusals.
    let r = post(b"{not json", &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "INVALID_JSON");
    assert_eq!(post(br#"{"t":"a,b"}"#, &[]).status, 400);
    assert_eq!(post(b"[1,2]", &[]).status, 400);
    let big = format!(r#"{{"p":"{}"}}"#, "a".repeat(11 * 1024));
    assert_eq!(post(big.as_bytes(), &[]).status, 413);
    let r = srv.get("localhost", "/track");
    assert_eq!(r.status, 405);
    let r = srv.req("OPTIONS", "localhost", "/track", &[], b"");
    assert_eq!(r.status, 204);
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    // Only on the admin host: a site's own /track is the site's.
    assert_eq!(
        srv.req("POST", "blog.localhost", "/track", &[], b"{}")
            .status,
        404
    );

    let list = events(&srv, &admin, "source=web", 4);
    let signup = list.iter().find(|e| e["event_type"] == "signup").unwrap();
    assert_eq!(signup["domain"], "blog.localhost");
    assert_eq!(signup["site"], "blog");
    assert_eq!(signup["path"], "/pricing");
    assert_eq!(signup["tags"], json!(["beta", "eu"]));
    assert_eq!(signup["query_params"], json!({"plan": "pro"}));
    assert_eq!(signup["referrer_host"], "google.com");
    assert_eq!(signup["ua_class"], "browser");
    let domains: Vec<&str> = list.iter().map(|e| e["domain"].as_str().unwrap()).collect();
    assert!(domains.contains(&"shop.example.net"));
    assert!(domains.contains(&"docs.localhost"));
    assert!(domains.contains(&"unknown"));
    assert_eq!(
        list.iter()
            .filter(|e| e["event_type"] == "pageview")
            .count(),
        3
    );
    let s = get_json(&srv, &admin, "/api/stats?site=blog");
    assert_eq!(
        s["events"],
        json!([{"source": "web", "type": "signup", "count": 1}])
    );
    assert_eq!(s["totals"]["requests"], 0, "client events are not requests");

    // track.js is served for sites to include.
    let r = srv.get("localhost", "/track.js");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().contains("javascript"));
    assert!(r.text().contains("sendBeacon") && r.text().contains("fazt.track"));
}

#[test]
fn pixel_is_always_a_gif() {
    let srv = Server::start(&FAST);
    let admin = token(&srv, "admin");
    let r = srv.get(
        "localhost",
        "/pixel.gif?domain=blog.localhost&tags=mail%2Cmarch&source=newsletter",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/gif"));
    assert_eq!(
        r.header("cache-control"),
        Some("no-cache, no-store, must-revalidate")
    );
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_eq!(r.header("expires"), Some("0"));
    assert_eq!(&r.body[..6], b"GIF89a");
    assert_eq!(r.body.len(), 42);
    for q in ["", "?domain=", "?%zz=%", "?source=x&source=y&tags="] {
        let r = srv.get("localhost", &format!("/pixel.gif{q}"));
        assert_eq!((r.status, r.body.len()), (200, 42), "{q}");
    }
    let list = events(&srv, &admin, "source=pixel", 5);
    let nl = list
        .iter()
        .find(|e| e["event_type"] == "newsletter")
        .unwrap();
    assert_eq!(nl["domain"], "blog.localhost");
    assert_eq!(nl["site"], "blog");
    assert_eq!(nl["tags"], json!(["mail", "march"]));
    assert_eq!(list.iter().filter(|e| e["domain"] == "unknown").count(), 4);
}

#[test]
fn short_links_redirect_and_count_clicks() {
    let srv = Server::start(&FAST);
    let admin = token(&srv, "admin");
    let body =
        json!({"slug": "launch", "destination": "https://example.com/launch?x=1", "tags": ["hn"]});
    let r = api(
        &srv,
        &admin,
        "POST",
        "/api/redirects",
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let created = &r.json()["data"];
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["click_count"], 0);
    assert_eq!(created["tags"], json!(["hn"]));
    assert!(created["url"].as_str().unwrap().ends_with("/r/launch"));
    let r = api(
        &srv,
        &admin,
        "POST",
        "/api/redirects",
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"]["code"], "CONFLICT");
    for bad in [
        json!({"slug": "x"}),
        json!({"slug": "a/b", "destination": "https://e.com"}),
        json!({"slug": "ok", "destination": "javascript:alert(1)"}),
        json!({"slug": "ok", "destination": "https://e.com/\r\nSet-Cookie: a"}),
        json!({"slug": "ok", "destination": "https://e.com", "tags": [1]}),
    ] {
        let r = api(
            &srv,
            &admin,
            "POST",
            "/api/redirects",
            bad.to_string().as_bytes(),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    assert_eq!(
        api(&srv, &admin, "POST", "/api/redirects", b"{oops").status,
        400
    );
    let deploy = token(&srv, "deploy");
    assert_eq!(
        api(
            &srv,
            &deploy,
            "POST",
            "/api/redirects",
            body.to_string().as_bytes()
        )
        .status,
        403
    );
    assert_eq!(srv.get("localhost", "/api/redirects").status, 401);

    for _ in 0..3 {
        let r = srv.req(
            "GET",
            "localhost",
            "/r/launch?tags=mail",
            &[("Referer", "https://t.co/x")],
            b"",
        );
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some("https://example.com/launch?x=1"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    assert_eq!(srv.get("localhost", "/r/nope").status, 404);
    // No slug at all is a malformed request, as Go fazt answers it.
    assert_eq!(srv.get("localhost", "/r/").status, 400);
    let clicks = wait_for("3 clicks", || {
        let list = get_json(&srv, &admin, "/api/redirects");
        let n = list[0]["click_count"].as_i64().unwrap();
        (n == 3).then_some(list)
    });
    assert_eq!(clicks[0]["slug"], "launch");
    let ev = events(&srv, &admin, "source=redirect", 3);
    assert_eq!(ev[0]["event_type"], "click");
    assert_eq!(ev[0]["domain"], "launch");
    assert_eq!(ev[0]["tags"], json!(["hn", "mail"]));
    assert_eq!(ev[0]["referrer_host"], "t.co");

    // Update by id, read by slug, delete.
    let r = api(
        &srv,
        &admin,
        "PUT",
        &format!("/api/redirects/{id}"),
        br#"{"destination": "/docs/", "slug": "go"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["click_count"], 3);
    assert_eq!(
        srv.get("localhost", "/r/go").header("location"),
        Some("/docs/")
    );
    assert_eq!(srv.get("localhost", "/r/launch").status, 404);
    assert_eq!(get_json(&srv, &admin, "/api/redirects/go")["id"], id);
    assert_eq!(
        api(&srv, &admin, "PUT", "/api/redirects/999", b"{}").status,
        404
    );
    assert_eq!(
        api(&srv, &admin, "DELETE", &format!("/api/redirects/{id}"), b"").status,
        200
    );
    assert_eq!(
        api(&srv, &admin, "DELETE", &format!("/api/redirects/{id}"), b"").status,
        404
    );
    assert_eq!(srv.get("localhost", "/r/go").status, 404);
    assert_eq!(
        api(&srv, &admin, "PATCH", "/api/redirects", b"").status,
        405
    );
    // Audited.
    let audit: i64 = rusqlite::Connection::open(&srv.db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM audit_logs WHERE action LIKE 'redirect.%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audit, 3);
}

#[test]
fn webhooks_store_payloads_and_check_signatures() {
    let srv = Server::start(&["--analytics-flush-ms", "30", "--webhook-max-kb", "1"]);
    let admin = token(&srv, "admin");
    let mk = |b: Value| {
        api(
            &srv,
            &admin,
            "POST",
            "/api/webhooks",
            b.to_string().as_bytes(),
        )
    };
    let r = mk(json!({"name": "Open", "endpoint": "open"}));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["data"]["has_secret"], false);
    let r = mk(json!({"name": "GitHub", "endpoint": "gh", "secret": "s3cret"}));
    assert_eq!(r.status, 201);
    let gh_id = r.json()["data"]["id"].as_i64().unwrap();
    assert_eq!(r.json()["data"]["has_secret"], true);
    assert_eq!(
        r.json()["data"]["secret"],
        Value::Null,
        "a given secret is never echoed"
    );
    let r = mk(json!({"name": "Gen", "endpoint": "gen", "secret": true}));
    let generated = r.json()["data"]["secret"].as_str().unwrap().to_string();
    assert_eq!(generated.len(), 64);
    assert_eq!(mk(json!({"name": "Dup", "endpoint": "gh"})).status, 409);
    assert_eq!(mk(json!({"name": "No endpoint"})).status, 400);
    assert_eq!(mk(json!({"name": "Bad", "endpoint": "a b"})).status, 400);
    let list = get_json(&srv, &admin, "/api/webhooks");
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(!list.to_string().contains("s3cret"));

    let hook = |ep: &str, body: &[u8], headers: &[(&str, &str)]| {
        srv.req(
            "POST",
            "localhost",
            &format!("/webhook/{ep}"),
            headers,
            body,
        )
    };
    let r = hook("open", br#"{"event":"deploy","ok":true}"#, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "success");
    assert_eq!(r.json()["webhook"], "Open");
    assert_eq!(hook("open", b"plain text", &[]).status, 200);

    let body = br#"{"type":"push","ref":"main"}"#;
    let r = hook("gh", body, &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "MISSING_SIGNATURE");
    let r = hook("gh", body, &[("X-Webhook-Signature", &sign("wrong", body))]);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "INVALID_SIGNATURE");
    let r = hook(
        "gh",
        b"tampered",
        &[("X-Webhook-Signature", &sign("s3cret", body))],
    );
    assert_eq!(r.status, 401);
    let r = hook(
        "gh",
        body,
        &[("X-Webhook-Signature", &sign("s3cret", body))],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = hook(
        "gen",
        b"{}",
        &[(
            "X-Webhook-Signature",
            &format!("sha256={}", sign(&generated, b"{}")),
        )],
    );
    assert_eq!(r.status, 200);

    assert_eq!(hook("nope", b"{}", &[]).status, 404);
    // No endpoint at all: 400 with the API's error shape, as Go fazt answers it.
    let r = hook("", b"{}", &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "BAD_REQUEST");
    assert_eq!(srv.get("localhost", "/webhook/open").status, 405);
    let big = vec![b'x'; 2048];
    assert_eq!(hook("open", &big, &[]).status, 413);

    // Disabled: refused with a message.
    let r = api(
        &srv,
        &admin,
        "PUT",
        &format!("/api/webhooks/{gh_id}"),
        br#"{"is_active": false}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["is_active"], false);
    let r = hook(
        "gh",
        body,
        &[("X-Webhook-Signature", &sign("s3cret", body))],
    );
    assert_eq!(r.status, 403);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("disabled"));
    // Removing the secret opens it (once active again).
    let r = api(
        &srv,
        &admin,
        "PUT",
        "/api/webhooks/gh",
        br#"{"is_active": true, "secret": ""}"#,
    );
    assert_eq!(r.json()["data"]["has_secret"], false);
    assert_eq!(hook("gh", b"{}", &[]).status, 200);

    // Payloads were written before the answer: no waiting for a flush.
    let v = get_json(&srv, &admin, "/api/events?source=webhook");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 5);
    let push = list.iter().find(|e| e["event_type"] == "push").unwrap();
    assert_eq!(push["domain"], "gh");
    assert_eq!(push["path"], "/webhook/gh");
    assert_eq!(push["query_params"], json!({"type": "push", "ref": "main"}));
    let plain = list
        .iter()
        .find(|e| e["query_params"]["raw"] == "plain text");
    assert!(plain.is_some(), "{v}");
    assert_eq!(
        list.iter().filter(|e| e["event_type"] == "deploy").count(),
        1
    );

    assert_eq!(
        api(&srv, &admin, "DELETE", "/api/webhooks/open", b"").status,
        200
    );
    assert_eq!(hook("open", b"{}", &[]).status, 404);
}

#[test]
fn events_survive_a_graceful_restart() {
    let (dir, db) = blog_site();
    // A flush interval far longer than the test: only the shutdown flush can write them.
    let srv = Server::start_on(dir.clone(), db.clone(), &["--analytics-flush-ms", "600000"]);
    for _ in 0..5 {
        assert_eq!(browse(&srv, "blog.localhost", "/", &[]).status, 200);
    }
    assert_eq!(
        srv.req("POST", "localhost", "/track", &[], b"{}").status,
        204
    );
    let count = |db: &std::path::Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row(
                "SELECT COALESCE(SUM(COALESCE(hits, 1)), 0) FROM events",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(count(&db), 0, "nothing written before the flush");
    let st = srv.stop();
    assert!(st.success(), "{st:?}");
    assert_eq!(count(&db), 6);
    let srv = Server::start_on(dir, db, &FAST);
    let admin = token(&srv, "admin");
    let s = get_json(&srv, &admin, "/api/stats?site=blog");
    assert_eq!(s["totals"]["pageviews"], 5);
}

#[test]
fn a_full_buffer_drops_and_counts_instead_of_blocking() {
    let (dir, db) = blog_site();
    let srv = Server::start_on(
        dir,
        db,
        &["--analytics-buffer", "1", "--analytics-flush-ms", "20"],
    );
    let admin = token(&srv, "admin");
    const N: usize = 600;
    let mut s = srv.connect();
    let mut burst = Vec::new();
    for i in 0..N {
        let close = if i == N - 1 {
            "Connection: close\r\n"
        } else {
            ""
        };
        burst.extend_from_slice(
            format!("GET /style.css HTTP/1.1\r\nHost: blog.localhost\r\n{close}\r\n").as_bytes(),
        );
    }
    let started = Instant::now();
    s.write_all(&burst).unwrap();
    for i in 0..N {
        let r = read_response(&mut s, false).unwrap_or_else(|| panic!("response {i}"));
        assert_eq!(r.status, 200);
    }
    let took = started.elapsed();
    // Every event is either written or counted as dropped; none is lost silently.
    let health = wait_for("the queue to drain", || {
        let h = get_json(&srv, &admin, "/api/system/health")["analytics"].clone();
        let settled = h["queued"] == 0
            && h["written"].as_u64().unwrap() + h["dropped"].as_u64().unwrap() == N as u64;
        settled.then_some(h)
    });
    let dropped = health["dropped"].as_u64().unwrap();
    let written = health["written"].as_u64().unwrap();
    assert!(
        dropped > 0,
        "a one-event buffer never filled in a burst of {N}: {health}"
    );
    assert_eq!(health["buffer"], 1);
    let s = get_json(&srv, &admin, "/api/stats?site=blog");
    assert_eq!(s["totals"]["requests"].as_u64().unwrap(), written);
    eprintln!("burst of {N}: {written} written, {dropped} dropped, served in {took:?}");
}

#[test]
fn no_analytics_flag_records_no_requests() {
    let (dir, db) = blog_site();
    let srv = Server::start_on(dir, db, &["--no-analytics", "--analytics-flush-ms", "30"]);
    let admin = token(&srv, "admin");
    for _ in 0..3 {
        assert_eq!(browse(&srv, "blog.localhost", "/", &[]).status, 200);
    }
    assert_eq!(
        srv.req("POST", "localhost", "/track", &[], b"{}").status,
        204
    );
    events(&srv, &admin, "source=web", 1);
    assert_eq!(
        get_json(&srv, &admin, "/api/events?source=hosting"),
        json!([])
    );
    let h = get_json(&srv, &admin, "/api/system/health")["analytics"].clone();
    assert_eq!(h["enabled"], false);
}

#[test]
fn rollups_keep_stats_after_raw_events_expire() {
    let (dir, db) = blog_site();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = 86_400;
    let old = now - now % day - 100 * day + 3_600; // 01:00 UTC, 100 days ago
    let recent = now - now % day - 10 * day + 7_200;
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        for (at, visitor) in [
            (old, "a"),
            (old + 60, "a"),
            (old + 120, "b"),
            (recent, "c"),
            (recent + 5, "d"),
        ] {
            c.execute(
                "INSERT INTO events (domain, source_type, event_type, path, created_at, site,
                    status, bytes, ua_class, visitor)
                 VALUES ('blog.localhost', 'hosting', 'pageview', '/', ?1, 'blog', 200, 10,
                    'browser', ?2)",
                rusqlite::params![at, visitor],
            )
            .unwrap();
        }
    }
    let srv = Server::start_on(dir, db, &FAST);
    let admin = token(&srv, "admin");
    // Housekeeping runs at start: the 100-day-old events go, their rollups stay.
    events(&srv, &admin, "site=blog", 2);
    let from = now - now % day - 101 * day;
    let s = get_json(&srv, &admin, &format!("/api/stats?site=blog&from={from}"));
    assert_eq!(s["totals"]["requests"], 5);
    assert_eq!(s["totals"]["pageviews"], 5);
    assert_eq!(s["totals"]["visitors"], 4);
    assert_eq!(s["totals"]["bytes"], 50);
    let series = s["series"].as_array().unwrap();
    assert_eq!(series[1]["pageviews"], 3);
    assert_eq!(series[1]["visitors"], 2);
    assert_eq!(series[91]["pageviews"], 2);
    // The hourly view of the old day comes from hourly rollups.
    let d = old - old % day;
    let h = get_json(
        &srv,
        &admin,
        &format!("/api/stats?site=blog&from={d}&to={}", d + day),
    );
    assert_eq!(h["granularity"], "hour");
    assert_eq!(h["series"][1]["requests"], 3);
    assert_eq!(h["top_paths"][0]["pageviews"], 3);
}

#[cfg(feature = "js")]
#[test]
fn script_responses_are_recorded_too() {
    let srv = Server::start(&FAST);
    let admin = token(&srv, "admin");
    let zip = common::zipbuild::site(&[(
        "main.js",
        b"if (req.path === '/boom') { res.status(500); res.send('no'); } else { res.send('<h1>hi</h1>'); }",
    )]);
    assert_eq!(put_zip(&srv, &admin, "app", &zip).status, 200);
    assert_eq!(
        browse(&srv, "app.localhost", "/hello", &[]).text(),
        "<h1>hi</h1>"
    );
    assert_eq!(browse(&srv, "app.localhost", "/boom", &[]).status, 500);
    let list = events(&srv, &admin, "site=app", 2);
    assert_eq!(list[0]["path"], "/boom");
    assert_eq!(list[0]["status"], 500);
    assert_eq!(list[1]["event_type"], "pageview");
    assert_eq!(list[1]["bytes"], 11);
    let s = get_json(&srv, &admin, "/api/stats?site=app");
    assert_eq!(s["status"]["5xx"], 1);
}

#[test]
fn tracking_from_a_custom_domain_counts_for_its_site() {
    let srv = Server::start(&FAST);
    let admin = token(&srv, "admin");
    let r = put_zip(
        &srv,
        &admin,
        "shop",
        &zipbuild::site(&[("index.html", b"shop")]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = api(
        &srv,
        &admin,
        "POST",
        "/api/sites/shop/domains",
        br#"{"domains": ["shop.example.org"]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // The beacon on a page of the custom domain sends its hostname (port and case aside).
    let r = srv.req(
        "POST",
        "localhost",
        "/track",
        &[("User-Agent", CHROME)],
        br#"{"h":"Shop.Example.org:443","p":"/cart"}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let list = events(&srv, &admin, "site=shop", 1);
    assert_eq!(list[0]["path"], "/cart", "{list:?}");
    // A name nobody registered stays without a site.
    srv.req(
        "POST",
        "localhost",
        "/track",
        &[],
        br#"{"h":"other.example.org"}"#,
    );
    let all = events(&srv, &admin, "domain=other.example.org", 1);
    assert_eq!(all[0]["site"], Value::Null, "{all:?}");
}
