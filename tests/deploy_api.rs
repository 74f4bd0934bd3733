//! Deploy and the site-management API through the real binary: both upload forms, atomic
//! redeploys, auth, scopes, rate limiting, reserved names, env vars, keys and the audit log.

mod common;
use common::zipbuild::{self, Entry};
use common::*;

use sha2::{Digest, Sha256};

fn hexsha(d: &[u8]) -> String {
    Sha256::digest(d)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn multipart(site: &str, zip: &[u8]) -> (String, Vec<u8>) {
    let b = "----faztboundary7MA4YWxk";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"site_name\"\r\n\r\n{site}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"site.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

#[test]
fn deploy_by_put_and_multipart_and_redeploy_replaces() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let img: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    let zip = zipbuild::site(&[
        ("index.html", b"<h1>v1</h1>"),
        ("img/logo.png", &img),
        ("old.txt", b"old"),
    ]);
    let r = put_zip(&srv, &tok, "blog", &zip);
    assert_eq!(r.status, 200, "{}", r.text());
    let d = &r.json()["data"];
    assert_eq!(d["site"], "blog");
    assert_eq!(d["file_count"], 3);
    assert_eq!(d["size_bytes"], 11 + 5000 + 3);
    assert!(d["deployment_id"].as_i64().unwrap() > 0);
    assert_eq!(
        d["url"].as_str().unwrap(),
        format!("http://blog.localhost:{}/", srv.addr.port())
            .replace(&format!(":{}", srv.addr.port()), "")
    );
    assert_eq!(srv.get("blog.localhost", "/").text(), "<h1>v1</h1>");
    assert_eq!(srv.get("blog.localhost", "/img/logo.png").body, img);

    let files = api(&srv, &tok, "GET", "/api/sites/blog/files", b"").json();
    let logo = files["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "img/logo.png")
        .unwrap();
    assert_eq!(logo["hash"].as_str().unwrap(), hexsha(&img));
    assert_eq!(logo["mime_type"], "image/png");

    // Multipart (fazt's Go client), with the domain suffix and upper case stripped.
    let zip2 = zipbuild::site(&[("index.html", b"<h1>v2</h1>"), ("new.txt", b"new")]);
    let (ct, body) = multipart("BLOG.localhost", &zip2);
    let auth = format!("Bearer {tok}");
    let r = srv.req(
        "POST",
        "localhost",
        "/api/deploy",
        &[("Authorization", &auth), ("Content-Type", &ct)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["site"], "blog");
    assert_eq!(r.json()["data"]["file_count"], 2);
    assert_eq!(srv.get("blog.localhost", "/").text(), "<h1>v2</h1>");
    assert_eq!(srv.get("blog.localhost", "/new.txt").text(), "new");
    assert_eq!(
        srv.get("blog.localhost", "/old.txt").status,
        404,
        "redeploy must remove old files"
    );

    let deps = api(&srv, &tok, "GET", "/api/deployments", b"").json();
    assert_eq!(deps["data"].as_array().unwrap().len(), 2);
    let site = api(&srv, &tok, "GET", "/api/sites/blog", b"").json();
    assert_eq!(site["data"]["file_count"], 2);
    let list = api(&srv, &tok, "GET", "/api/sites", b"").json();
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "blog"));
}

#[test]
fn chunked_and_expect_continue_uploads() {
    use std::io::Write;
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let zip = zipbuild::site(&[("index.html", b"<h1>chunked</h1>")]);
    let mut s = srv.connect();
    let mut req = format!(
        "PUT /api/sites/chunky HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
    )
    .into_bytes();
    s.write_all(&req).unwrap();
    let cont = read_response(&mut s, true).unwrap();
    assert_eq!(cont.status, 100);
    req.clear();
    for part in zip.chunks(50) {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    s.write_all(&req).unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("chunky.localhost", "/").text(), "<h1>chunked</h1>");

    // A refused upload with Expect: 100-continue is answered without waiting for the body.
    let mut s = srv.connect();
    s.write_all(b"PUT /api/sites/x HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer nope\r\nContent-Length: 999999\r\nExpect: 100-continue\r\n\r\n").unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 401);
}

#[test]
fn auth_scopes_and_rate_limit() {
    let srv = Server::start(&[]);
    let deploy = token(&srv, "deploy");
    let admin = token(&srv, "admin");
    let r = srv.get("localhost", "/api/sites");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "UNAUTHORIZED");
    assert_eq!(api(&srv, &deploy, "GET", "/api/sites", b"").status, 200);
    let r = api(&srv, &deploy, "GET", "/api/keys", b"");
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "FORBIDDEN");
    assert_eq!(api(&srv, &admin, "GET", "/api/keys", b"").status, 200);
    let r = api(&srv, &admin, "GET", "/api/nope", b"");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["message"].as_str().is_some());

    // Ten failed credentials per minute per address, then 429 with Retry-After — even for a
    // good token. The missing token above did not count: it guessed nothing.
    for _ in 0..10 {
        assert_eq!(
            api(&srv, "fazt_wrong", "GET", "/api/sites", b"").status,
            401
        );
    }
    let r = api(&srv, "fazt_wrong", "GET", "/api/sites", b"");
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["code"], "RATE_LIMITED");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(api(&srv, &admin, "GET", "/api/sites", b"").status, 429);
}

#[test]
fn names_reserved_sites_and_delete() {
    let srv = Server::start(&[]);
    let deploy = token(&srv, "deploy");
    let admin = token(&srv, "admin");
    let zip = zipbuild::site(&[("index.html", b"<h1>mine</h1>")]);
    for bad in ["-bad", "a_b", "has.dot", &"x".repeat(64)] {
        let r = put_zip(&srv, &deploy, bad, &zip);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "INVALID_SITE_NAME");
    }
    for reserved in ["admin", "api", "www", "root", "404"] {
        let r = put_zip(&srv, &deploy, reserved, &zip);
        assert_eq!(r.status, 403, "{reserved}");
        assert_eq!(r.json()["error"]["code"], "RESERVED_SITE_NAME");
    }
    let r = put_zip(&srv, &deploy, "root?force=true", &zip);
    assert_eq!(r.status, 403, "force needs an admin token");
    let r = put_zip(&srv, &admin, "root?force=true", &zip);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("root.localhost", "/").text(), "<h1>mine</h1>");

    assert_eq!(put_zip(&srv, &deploy, "gone", &zip).status, 200);
    assert_eq!(
        api(&srv, &deploy, "DELETE", "/api/sites/gone", b"").status,
        403
    );
    assert_eq!(
        api(
            &srv,
            &admin,
            "PUT",
            "/api/sites/gone/env/API_KEY",
            b"s3cret"
        )
        .status,
        200
    );
    let r = api(&srv, &admin, "DELETE", "/api/sites/gone", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("gone.localhost", "/").status, 404);
    assert_eq!(api(&srv, &admin, "GET", "/api/sites/gone", b"").status, 404);
    let c = rusqlite::Connection::open(&srv.db).unwrap();
    let left: i64 = c
        .query_row("SELECT (SELECT COUNT(*) FROM env_vars WHERE site_id='gone') + (SELECT COUNT(*) FROM files WHERE site_id='gone')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    let audits: i64 = c
        .query_row("SELECT COUNT(*) FROM audit_logs", [], |r| r.get(0))
        .unwrap();
    assert!(audits >= 4, "audit rows: {audits}");
    let actions: Vec<String> = c
        .prepare("SELECT action FROM audit_logs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        actions.contains(&"deploy".into())
            && actions.contains(&"site.delete".into())
            && actions.contains(&"env.set".into())
    );
}

#[test]
fn env_vars_and_keys_api() {
    let srv = Server::start(&[]);
    let admin = token(&srv, "admin");
    assert_eq!(
        put_zip(
            &srv,
            &admin,
            "app",
            &zipbuild::site(&[("index.html", b"x")])
        )
        .status,
        200
    );
    assert_eq!(
        api(
            &srv,
            &admin,
            "PUT",
            "/api/sites/app/env/DB_URL",
            br#"{"value":"postgres://x"}"#
        )
        .status,
        200
    );
    let r = api(&srv, &admin, "GET", "/api/sites/app/env", b"");
    assert_eq!(r.json()["data"][0]["name"], "DB_URL");
    assert!(!r.text().contains("postgres"), "values are never returned");
    let r = api(&srv, &admin, "GET", "/api/sites/app/env/DB_URL", b"");
    assert_eq!(r.json()["data"]["set"], true);
    assert!(!r.text().contains("postgres"));
    assert_eq!(
        api(&srv, &admin, "PUT", "/api/sites/app/env/BAD-NAME", b"v").status,
        400
    );
    assert_eq!(
        api(&srv, &admin, "PUT", "/api/sites/nosite/env/X", b"v").status,
        404
    );
    assert_eq!(
        api(&srv, &admin, "DELETE", "/api/sites/app/env/DB_URL", b"").status,
        200
    );
    assert_eq!(
        api(&srv, &admin, "GET", "/api/sites/app/env/DB_URL", b"").status,
        404
    );

    let r = api(
        &srv,
        &admin,
        "POST",
        "/api/keys",
        br#"{"name":"ci","scope":"deploy"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let new_tok = r.json()["data"]["token"].as_str().unwrap().to_string();
    let id = r.json()["data"]["id"].as_i64().unwrap();
    assert!(new_tok.starts_with("fazt_"));
    assert_eq!(api(&srv, &new_tok, "GET", "/api/sites", b"").status, 200);
    let keys = api(&srv, &admin, "GET", "/api/keys", b"");
    assert!(!keys.text().contains(&new_tok), "tokens are never listed");
    assert_eq!(
        api(&srv, &admin, "POST", "/api/keys", b"{bad json").status,
        400
    );
    assert_eq!(
        api(
            &srv,
            &admin,
            "POST",
            "/api/keys",
            br#"{"name":"x","scope":"root"}"#
        )
        .status,
        400
    );
    assert_eq!(
        api(&srv, &admin, "DELETE", &format!("/api/keys/{id}"), b"").status,
        200
    );
    assert_eq!(api(&srv, &new_tok, "GET", "/api/sites", b"").status, 401);

    let h = api(&srv, &admin, "GET", "/api/system/health", b"").json();
    assert_eq!(h["data"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(h["data"]["database"]["size_bytes"].as_u64().unwrap() > 0);
    assert!(h["data"]["vfs"]["files"].as_u64().unwrap() >= 4);
}

#[test]
fn token_cli_list_and_revoke() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    assert_eq!(api(&srv, &tok, "GET", "/api/sites", b"").status, 200);
    let out = srv.cli(&["token", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("t-deploy") && !text.contains(&tok), "{text}");
    let out = srv.cli(&["token", "revoke", "t-deploy"]);
    assert!(out.status.success());
    assert_eq!(api(&srv, &tok, "GET", "/api/sites", b"").status, 401);
    let out = srv.cli(&["token", "create", "--name", "x", "--scope", "god"]);
    assert_eq!(out.status.code(), Some(2));
    let c = rusqlite::Connection::open(&srv.db).unwrap();
    let stored: Vec<String> = c
        .prepare("SELECT key_hash FROM api_keys")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(stored
        .iter()
        .all(|h| h.len() == 64 && !h.starts_with("fazt_")));
}

#[test]
fn single_top_folder_unwrapped_and_junk_skipped() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let zip = zipbuild::build(
        &[
            Entry::file("dist/index.html", b"<h1>dist</h1>"),
            Entry::file("dist/css/a.css", b"a{}"),
            Entry::file("__MACOSX/dist/._index.html", b"junk"),
            Entry::file("dist/.DS_Store", b"junk"),
        ],
        false,
    );
    let r = put_zip(&srv, &tok, "unwrap", &zip);
    assert_eq!(r.json()["data"]["file_count"], 2, "{}", r.text());
    assert_eq!(srv.get("unwrap.localhost", "/").text(), "<h1>dist</h1>");
    assert_eq!(srv.get("unwrap.localhost", "/css/a.css").text(), "a{}");
}

/// Go fazt's query forms: `DELETE /api/sites?site_id=` and `DELETE /api/keys?id=`.
#[test]
fn go_style_delete_by_query_parameter() {
    let srv = Server::start(&[]);
    let admin = token(&srv, "admin");
    let r = put_zip(
        &srv,
        &admin,
        "old",
        &zipbuild::site(&[("index.html", b"bye")]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("old.localhost", "/").status, 200);
    for (path, says) in [
        ("/api/sites", "site_id"),
        ("/api/sites?site_id=", "site_id"),
        ("/api/keys", "?id="),
    ] {
        let r = api(&srv, &admin, "DELETE", path, b"");
        assert_eq!(r.status, 400, "{path}");
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains(says));
    }
    let r = api(&srv, &admin, "DELETE", "/api/sites?site_id=old", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("old.localhost", "/").status, 404);
    // Scopes hold on the query form too.
    let dep = token(&srv, "deploy");
    assert_eq!(
        api(&srv, &dep, "DELETE", "/api/sites?site_id=x", b"").status,
        403
    );

    let made = api(
        &srv,
        &admin,
        "POST",
        "/api/keys",
        br#"{"name":"laptop","scope":"deploy"}"#,
    );
    let v = made.json();
    let (id, key) = (
        v["data"]["id"].as_i64().unwrap(),
        v["data"]["token"].as_str().unwrap().to_string(),
    );
    assert_eq!(api(&srv, &key, "GET", "/api/sites", b"").status, 200);
    let r = api(&srv, &admin, "DELETE", &format!("/api/keys?id={id}"), b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        api(&srv, &key, "GET", "/api/sites", b"").status,
        401,
        "revoked"
    );
    srv.stop();
}
