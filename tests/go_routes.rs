//! Go fazt v0.8's management routes, through the real binary: the shapes Go's clients read,
//! the errors for what they get wrong, and `domain` meaning what Go recorded.

mod common;
use common::*;

use serde_json::Value;
use std::sync::Arc;

fn json(srv: &Server, tok: &str, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let r = api(srv, tok, method, path, body);
    (r.status, r.json())
}

fn blog() -> (Arc<TempDir>, std::path::PathBuf) {
    let dir = Arc::new(TempDir::new("go-routes"));
    let db = dir.join("fazt.db");
    seed_files(
        &db,
        "blog",
        &[
            ("index.html", b"<h1>blog</h1>"),
            ("main.js", b"res.send('x')"),
            ("docs/a b.txt", b"spaced"),
        ],
    );
    (dir, db)
}

#[test]
fn system_routes_answer_in_go_shapes() {
    let (dir, db) = blog();
    let srv = Server::start_on(dir, db, &[]);
    let tok = token(&srv, "admin");
    let (s, v) = json(&srv, &tok, "GET", "/api/system/limits", b"");
    assert_eq!(s, 200, "{v}");
    assert!(v["data"]["TotalRAM"].as_u64().unwrap() > 0, "{v}");
    assert!(v["data"]["CPUCount"].as_u64().unwrap() >= 1);
    assert_eq!(v["data"]["MaxUploadBytes"], 100 * 1024 * 1024);
    assert_eq!(v["data"]["MaxVFSBytes"], 4 * 1024 * 1024);
    srv.get("blog.localhost", "/");
    let (_, v) = json(&srv, &tok, "GET", "/api/system/cache", b"");
    assert!(v["data"]["CachedFiles"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["data"]["CacheSizeBytes"].as_u64().unwrap() >= 13, "{v}");
    let (_, v) = json(&srv, &tok, "GET", "/api/system/db", b"");
    assert!(v["data"]["size_bytes"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["data"]["healthy"], true);
    for path in ["/api/system/config", "/api/config"] {
        let (s, v) = json(&srv, &tok, "GET", path, b"");
        assert_eq!(s, 200);
        assert_eq!(v["data"]["domain"], "localhost", "{v}");
        assert_eq!(v["data"]["https"], false);
    }
    // A deploy token may not read them; another method is a 405 with Allow.
    let dep = token(&srv, "deploy");
    assert_eq!(
        api(&srv, &dep, "GET", "/api/system/limits", b"").status,
        403
    );
    let r = api(&srv, &tok, "POST", "/api/system/db", b"{}");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET")));
}

#[test]
fn envvars_logs_and_file_content_aliases() {
    let (dir, db) = blog();
    let srv = Server::start_on(dir, db, &[]);
    let tok = token(&srv, "admin");
    let body = br#"{"site_id": "blog", "name": "API_KEY", "value": "s3cr3t"}"#;
    let (s, v) = json(&srv, &tok, "POST", "/api/envvars", body);
    assert_eq!(s, 200, "{v}");
    let (s, v) = json(&srv, &tok, "GET", "/api/envvars?site_id=blog", b"");
    assert_eq!(s, 200);
    assert_eq!(v["data"]["vars"][0]["name"], "API_KEY", "{v}");
    assert!(!v.to_string().contains("s3cr3t"));
    // The native route sees the same variable.
    let (s, _) = json(&srv, &tok, "GET", "/api/sites/blog/env/API_KEY", b"");
    assert_eq!(s, 200);
    for (method, path, body, status, code) in [
        ("GET", "/api/envvars", &b""[..], 400, "BAD_REQUEST"),
        ("GET", "/api/envvars?site_id=nope", b"", 404, "NOT_FOUND"),
        ("POST", "/api/envvars", b"{", 400, "BAD_REQUEST"),
        (
            "POST",
            "/api/envvars",
            br#"{"site_id":"blog","name":"1X","value":"v"}"#,
            400,
            "INVALID_ENV_NAME",
        ),
        (
            "POST",
            "/api/envvars",
            br#"{"site_id":"blog","name":"X"}"#,
            400,
            "BAD_REQUEST",
        ),
        ("DELETE", "/api/envvars?id=3", b"", 400, "BAD_REQUEST"),
        ("GET", "/api/logs", b"", 400, "BAD_REQUEST"),
        (
            "GET",
            "/api/sites/blog/files/missing.txt",
            b"",
            404,
            "FILE_NOT_FOUND",
        ),
        (
            "GET",
            "/api/sites/blog/files/x/../../y",
            b"",
            400,
            "BAD_REQUEST",
        ),
        (
            "GET",
            "/api/sites/nope/files/index.html",
            b"",
            404,
            "NOT_FOUND",
        ),
    ] {
        let (s, v) = json(&srv, &tok, method, path, body);
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {v}"
        );
    }
    let (s, v) = json(
        &srv,
        &tok,
        "DELETE",
        "/api/envvars?site_id=blog&name=API_KEY",
        b"",
    );
    assert_eq!(s, 200, "{v}");
    let (_, v) = json(&srv, &tok, "GET", "/api/envvars?site_id=blog", b"");
    assert_eq!(v["data"]["vars"], Value::Array(vec![]));

    let (s, v) = json(&srv, &tok, "GET", "/api/logs?site_id=blog&limit=5", b"");
    assert_eq!((s, &v["data"]["logs"]), (200, &Value::Array(vec![])), "{v}");

    // A file's stored bytes, the script's source too, as a sandboxed download.
    let r = api(&srv, &tok, "GET", "/api/sites/blog/files/main.js", b"");
    assert_eq!((r.status, r.text().as_str()), (200, "res.send('x')"));
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    assert_eq!(r.header("content-disposition"), Some("attachment"));
    let r = api(
        &srv,
        &tok,
        "GET",
        "/api/sites/blog/files/docs/a%20b.txt",
        b"",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "spaced"));
    let dep = token(&srv, "deploy");
    assert_eq!(
        api(&srv, &dep, "GET", "/api/sites/blog/files/main.js", b"").status,
        403
    );
}

#[cfg(feature = "analytics")]
#[test]
fn domain_means_what_go_recorded() {
    use std::time::{Duration, Instant};
    let (dir, db) = blog();
    let srv = Server::start_on(dir, db, &["--analytics-flush-ms", "30"]);
    let tok = token(&srv, "admin");
    for _ in 0..3 {
        assert_eq!(srv.get("blog.localhost", "/").status, 200);
    }
    let r = srv.req(
        "GET",
        "localhost",
        "/pixel.gif?domain=news.example.org&tags=mail,march",
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let list = loop {
        let (_, v) = json(&srv, &tok, "GET", "/api/events?domain=blog", b"");
        let n: u64 = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["hits"].as_u64().unwrap_or(1))
            .sum();
        if n >= 3 {
            break v;
        }
        assert!(Instant::now() < deadline, "events never arrived: {v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Go's filter by site name finds this fazt's rows, which keep the full host.
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["site"] == "blog" && e["domain"] == "blog.localhost"));
    let (_, v) = json(&srv, &tok, "GET", "/api/events?domain=blog.localhost", b"");
    assert!(!v["data"].as_array().unwrap().is_empty());
    let deadline = Instant::now() + Duration::from_secs(20);
    let domains = loop {
        let (_, v) = json(&srv, &tok, "GET", "/api/domains", b"");
        if v["data"].as_array().is_some_and(|d| d.len() >= 2) {
            break v;
        }
        assert!(Instant::now() < deadline, "{v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let d = domains["data"].as_array().unwrap();
    assert!(
        d.iter()
            .any(|e| e["domain"] == "blog" && e["count"].as_u64() >= Some(3)),
        "{domains}"
    );
    assert!(
        d.iter().any(|e| e["domain"] == "news.example.org"),
        "{domains}"
    );
    let (_, v) = json(&srv, &tok, "GET", "/api/tags", b"");
    let tags = v["data"].as_array().unwrap();
    assert!(
        tags.iter().any(|t| t["tag"] == "mail" && t["count"] == 1),
        "{v}"
    );
    assert!(tags.iter().any(|t| t["tag"] == "march"), "{v}");
    let (s, v) = json(&srv, &tok, "GET", "/api/stats?format=v0", b"");
    assert_eq!(s, 200);
    let st = &v["data"];
    assert!(st["total_events_today"].as_u64().unwrap() >= 4, "{v}");
    assert_eq!(st["total_events_today"], st["total_events_all_time"]);
    assert!(
        st["events_by_source_type"]["hosting"].as_u64().unwrap() >= 3,
        "{v}"
    );
    assert!(st["top_domains"][0]["domain"].is_string());
    assert!(!st["events_timeline"].as_array().unwrap().is_empty());
    assert_eq!(st["total_redirect_clicks"], 0);
    let (s, v) = json(&srv, &tok, "GET", "/api/stats?format=v9", b"");
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{v}"
    );
}
