//! The dashboard's login through the real binary: `fazt admin set-password` (from a pipe,
//! never argv), `POST /api/login` → an HttpOnly, SameSite=Strict, host-only cookie that works
//! on every admin route, refused from another origin (CSRF, and a deployed site's pages),
//! rate limited per address and over all addresses, ended by logout, revocation and a new
//! password; and the dashboard itself seeded into the `admin` site, updated with the binary,
//! never over an owner's own `admin` site.

mod common;
use common::*;

use std::io::Write;
use std::process::{Command, Stdio};

use fazt::access::password::pbkdf2;

/// `fazt admin set-password` with `input` on stdin (a pipe, as a script would).
fn set_password(srv: &Server, input: &str) -> std::process::Output {
    let mut child = Command::new(&srv.bin)
        .args(["admin", "set-password", "--db"])
        .arg(&srv.db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Stores a hash of `pw` with a small work factor straight into the database: the stored
/// form carries its factor, so the server checks it as it would any other (and the limit
/// tests below do not spend half a second per guess).
fn store_cheap_password(srv: &Server, pw: &str) {
    let salt = [9u8; 16];
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let v = format!(
        "pbkdf2-sha256$1000${}${}",
        hex(&salt),
        hex(&pbkdf2(pw.as_bytes(), &salt, 1000))
    );
    let c = rusqlite::Connection::open(&srv.db).unwrap();
    c.execute(
        "INSERT OR REPLACE INTO configurations (key, value, updated_at) VALUES ('auth.password_hash', ?1, 0)",
        [v],
    )
    .unwrap();
}

fn login(srv: &Server, pw: &str, headers: &[(&str, &str)]) -> Resp {
    let body = serde_json::json!({ "password": pw }).to_string();
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    srv.req("POST", "localhost", "/api/login", &h, body.as_bytes())
}

/// The `name=value` of the session cookie a login set.
fn cookie_of(r: &Resp) -> String {
    let set = r.header("set-cookie").expect("a Set-Cookie");
    set.split(';').next().unwrap().to_string()
}

fn with_cookie<'a>(cookie: &'a str, more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![("Cookie", cookie)];
    h.extend_from_slice(more);
    h
}

fn code(r: &Resp) -> String {
    r.json()["error"]["code"].as_str().unwrap_or("").to_string()
}

#[test]
fn password_login_session_csrf_and_logout() {
    let srv = Server::start(&[]);
    let st = srv.get("localhost", "/api/auth/status").json();
    assert_eq!(st["data"]["authenticated"], false);
    assert_eq!(st["data"]["password_set"], false);
    let r = login(&srv, "whatever-it-is", &[]);
    assert_eq!((r.status, code(&r)), (403, "NO_PASSWORD".into()));

    // Too short: refused, nothing stored. The password is never an argument.
    let out = set_password(&srv, "short\n");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
    assert_eq!(login(&srv, "short", &[]).status, 403);
    let out = Command::new(&srv.bin)
        .args(["admin", "set-password", "hunter2hunter2", "--db"])
        .arg(&srv.db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a password on argv is refused");

    ok(&set_password(&srv, "correct horse battery\n"));
    let stored: String = rusqlite::Connection::open(&srv.db)
        .unwrap()
        .query_row(
            "SELECT value FROM configurations WHERE key = 'auth.password_hash'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.starts_with("pbkdf2-sha256$600000$"), "{stored}");
    assert!(!stored.contains("correct horse"));

    let r = login(&srv, "correct horse batterY", &[]);
    assert_eq!((r.status, code(&r)), (401, "INVALID_CREDENTIALS".into()));
    assert!(r.header("set-cookie").is_none());
    let r = login(&srv, "correct horse battery", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.header("set-cookie").unwrap().to_string();
    for want in ["fazt_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(want), "{set}");
    }
    assert!(!set.contains("Domain"), "host-only: {set}");
    let cookie = cookie_of(&r);
    // The session id is stored hashed only.
    let secret = cookie.split_once('=').unwrap().1.to_string();
    let raw_kept: i64 = rusqlite::Connection::open(&srv.db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM admin_sessions WHERE token_hash = ?1",
            [&secret],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(raw_kept, 0);

    // The cookie works on the admin API (admin scope)...
    let sites = srv.req(
        "GET",
        "localhost",
        "/api/sites",
        &with_cookie(&cookie, &[]),
        b"",
    );
    assert_eq!(sites.status, 200, "{}", sites.text());
    let st = srv.req(
        "GET",
        "localhost",
        "/api/auth/status",
        &with_cookie(&cookie, &[]),
        b"",
    );
    assert_eq!(st.json()["data"]["via"], "session");
    // ...but a state change needs the admin host as its Origin (CSRF), and a page of another
    // origin (a deployed site: same site, other origin) may not use it at all.
    let body = br#"{"name":"from-ui","scope":"deploy"}"#;
    let no_origin = srv.req(
        "POST",
        "localhost",
        "/api/keys",
        &with_cookie(&cookie, &[]),
        body,
    );
    assert_eq!(
        (no_origin.status, code(&no_origin)),
        (403, "CSRF_REJECTED".into())
    );
    let evil = srv.req(
        "POST",
        "localhost",
        "/api/keys",
        &with_cookie(&cookie, &[("Origin", "http://evil.localhost")]),
        body,
    );
    assert_eq!((evil.status, code(&evil)), (403, "CSRF_REJECTED".into()));
    assert!(evil.header("access-control-allow-origin").is_none());
    let cross_read = srv.req(
        "GET",
        "localhost",
        "/api/keys",
        &with_cookie(&cookie, &[("Sec-Fetch-Site", "same-site")]),
        b"",
    );
    assert_eq!(cross_read.status, 403);
    let evil_ref = srv.req(
        "DELETE",
        "localhost",
        "/api/sites/x",
        &with_cookie(&cookie, &[("Referer", "http://localhost.evil.test/")]),
        b"",
    );
    assert_eq!(evil_ref.status, 403);
    let made = srv.req(
        "POST",
        "localhost",
        "/api/keys",
        &with_cookie(
            &cookie,
            &[
                ("Origin", "http://localhost"),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        ),
        body,
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let keys = api(&srv, &token(&srv, "admin"), "GET", "/api/keys", b"");
    assert!(
        keys.text().contains("from-ui"),
        "bearer tokens keep working"
    );

    // Sessions are listed (this one marked) and audited.
    let list = srv.req(
        "GET",
        "localhost",
        "/api/sessions",
        &with_cookie(&cookie, &[]),
        b"",
    );
    let arr = list.json()["data"].as_array().unwrap().clone();
    assert_eq!(arr.len(), 1);
    assert_eq!(arr[0]["current"], true);
    let audit: i64 = rusqlite::Connection::open(&srv.db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM audit_logs WHERE action IN ('login', 'login_failed')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audit, 2);

    // Logout ends it: the same cookie no longer works.
    let out = srv.req(
        "POST",
        "localhost",
        "/api/logout",
        &with_cookie(&cookie, &[("Origin", "http://localhost")]),
        b"",
    );
    assert_eq!(out.status, 200);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = srv.req(
        "GET",
        "localhost",
        "/api/sites",
        &with_cookie(&cookie, &[]),
        b"",
    );
    assert_eq!(after.status, 401);

    // A new password ends every session; revocation ends one.
    let a = cookie_of(&login(&srv, "correct horse battery", &[]));
    let b = cookie_of(&login(&srv, "correct horse battery", &[]));
    let list = srv.req(
        "GET",
        "localhost",
        "/api/sessions",
        &with_cookie(&a, &[]),
        b"",
    );
    let b_id = list.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let del = srv.req(
        "DELETE",
        "localhost",
        &format!("/api/sessions/{b_id}"),
        &with_cookie(&a, &[("Origin", "http://localhost")]),
        b"",
    );
    assert_eq!(del.status, 200, "{}", del.text());
    assert_eq!(
        srv.req("GET", "localhost", "/api/sites", &with_cookie(&b, &[]), b"")
            .status,
        401
    );
    assert_eq!(
        srv.req("GET", "localhost", "/api/sites", &with_cookie(&a, &[]), b"")
            .status,
        200
    );
    ok(&set_password(&srv, "a whole new password\n"));
    assert_eq!(
        srv.req("GET", "localhost", "/api/sites", &with_cookie(&a, &[]), b"")
            .status,
        401
    );
    assert_eq!(login(&srv, "correct horse battery", &[]).status, 401);
    // A made-up cookie is just "not logged in".
    let fake = format!("fazt_session={}", "ab".repeat(32));
    assert_eq!(
        srv.req(
            "GET",
            "localhost",
            "/api/sites",
            &with_cookie(&fake, &[]),
            b""
        )
        .status,
        401
    );
    // The cookie is the admin host's: a site host does not take it as a login.
    let on_site = srv.req(
        "GET",
        "blog.localhost",
        "/api/sites",
        &with_cookie(&a, &[]),
        b"",
    );
    assert_ne!(on_site.status, 200);
}

#[test]
fn failed_logins_are_limited_per_address_and_over_all() {
    let srv = Server::start(&["--trusted-proxy", "127.0.0.1"]);
    store_cheap_password(&srv, "the right one");
    let from = |ip: &str, pw: &str| login(&srv, pw, &[("X-Forwarded-For", ip)]);
    assert_eq!(from("10.0.0.1", "the right one").status, 200);
    for _ in 0..5 {
        assert_eq!(from("10.0.0.1", "wrong").status, 401);
    }
    // Locked out, even with the right password, and told for how long.
    let r = from("10.0.0.1", "the right one");
    assert_eq!((r.status, code(&r)), (429, "RATE_LIMITED".into()));
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&wait));
    // Another address is not.
    assert_eq!(from("10.0.0.2", "the right one").status, 200);
    // Spread over many addresses, 30 failures lock every login out (tokens still work).
    for n in 0..25 {
        let ip = format!("10.0.1.{}", n / 4);
        assert_eq!(from(&ip, "wrong").status, 401, "attempt {n}");
    }
    let r = from("10.0.9.9", "the right one");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("this server"));
    let tok = token(&srv, "admin");
    assert_eq!(api(&srv, &tok, "GET", "/api/sites", b"").status, 200);
    // Each failure is logged with the address, and audited.
    assert!(srv.logs().contains("failed login from 10.0.0.1"));
    let n: i64 = rusqlite::Connection::open(&srv.db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM audit_logs WHERE action = 'login_failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 30);
    // A bad body is a 400, whatever the limits.
    let r = srv.req("POST", "localhost", "/api/login", &[], b"{\"pass\":1}");
    assert_eq!(r.status, 400);
}

#[test]
fn login_bodies_are_checked() {
    let srv = Server::start(&[]);
    store_cheap_password(&srv, "the right one");
    for body in [&b"not json"[..], b"{}", b"{\"password\": 5}", b"[]"] {
        let r = srv.req("POST", "localhost", "/api/login", &[], body);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
    let big = format!("{{\"password\": \"{}\"}}", "x".repeat(5000));
    assert_eq!(
        srv.req("POST", "localhost", "/api/login", &[], big.as_bytes())
            .status,
        413
    );
    let r = srv.req("GET", "localhost", "/api/login", &[], b"");
    assert_eq!(r.status, 405);
    // Login CSRF: another origin cannot log the browser in.
    let r = login(
        &srv,
        "the right one",
        &[("Origin", "http://evil.localhost")],
    );
    assert_eq!(r.status, 403);
    // An unreadable stored hash (Go fazt's bcrypt) is said so, not a wrong password.
    let c = rusqlite::Connection::open(&srv.db).unwrap();
    c.execute(
        "UPDATE configurations SET value = '$2a$10$abcdefghijklmnopqrstuu' WHERE key = 'auth.password_hash'",
        [],
    )
    .unwrap();
    let r = login(&srv, "the right one", &[]);
    assert_eq!((r.status, code(&r)), (409, "PASSWORD_UNREADABLE".into()));
}

#[test]
fn the_dashboard_is_seeded_updated_and_never_replaces_the_owners_site() {
    let dir = std::sync::Arc::new(TempDir::new("dash"));
    let db = dir.join("fazt.db");
    let srv = Server::start_on(dir.clone(), db.clone(), &[]);
    let page = srv.get("localhost", "/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/app.js"), "{}", page.text());
    let js = srv.get("localhost", "/app.js");
    assert_eq!(js.status, 200);
    assert!(js.text().contains("/api/login"));
    assert_eq!(srv.get("admin.localhost", "/app.css").status, 200);
    drop(srv);

    // A database from before the dashboard has the old start page: it is replaced.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("DELETE FROM files WHERE site_id = 'admin'", [])
        .unwrap();
    c.execute(
        "DELETE FROM configurations WHERE key = 'ui.admin_seeded'",
        [],
    )
    .unwrap();
    drop(c);
    let old_start = std::process::Command::new("git")
        .args([
            "show",
            "18394e752b403fbb3baf0b25ecfc16b4d369adac:src/hosting/seed/start.html",
        ])
        .output()
        .unwrap();
    assert!(old_start.status.success());
    seed_files(&db, "admin", &[("index.html", &old_start.stdout)]);
    let srv = Server::start_on(dir.clone(), db.clone(), &[]);
    assert!(srv.get("localhost", "/").text().contains("/app.js"));
    assert!(srv.logs().contains("dashboard (site admin): updated"));

    // An admin site that is not fazt's (put there by hand on the server: the API never
    // deploys `admin`) stays as it is across restarts...
    let tok = token(&srv, "admin");
    let zip = zipbuild::site(&[("index.html", b"<h1>my own admin</h1>".as_slice())]);
    let r = api(&srv, &tok, "PUT", "/api/sites/admin?force=true", &zip);
    assert_eq!(r.status, 403, "{}", r.text());
    drop(srv);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("DELETE FROM files WHERE site_id = 'admin'", [])
        .unwrap();
    drop(c);
    seed_files(&db, "admin", &[("index.html", b"<h1>my own admin</h1>")]);
    let srv = Server::start_on(dir.clone(), db.clone(), &[]);
    assert_eq!(srv.get("localhost", "/").text(), "<h1>my own admin</h1>");
    // ...until `fazt admin reset-ui` puts the dashboard back.
    ok(&srv.cli(&["admin", "reset-ui"]));
    drop(srv);
    let srv = Server::start_on(dir, db, &[]);
    assert!(srv.get("localhost", "/").text().contains("/app.js"));
}
