//! Evolutionary Database Design, enforced: released schema steps never change (hashes pinned
//! in tests/schema.lock), no destructive or constraining DDL, no `SELECT *` in the code, and
//! the server works on a database a newer fazt has extended.
//!
//! After appending a step to schema.sql, pin it with
//! `FAZT_PIN_SCHEMA=1 cargo test --test edd` (only appends; it never rewrites a pinned line).

mod common;
use common::*;

use fazt::database::SCHEMA_SQL;
use fazt::kernel::db::edd;
use std::sync::Arc;

const LOCK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schema.lock");

#[test]
fn released_steps_are_pinned_and_unchanged() {
    let pin = std::env::var_os("FAZT_PIN_SCHEMA").is_some();
    edd::assert_kept(edd::pinned(SCHEMA_SQL, std::path::Path::new(LOCK), pin));
}

#[test]
fn steps_only_add() {
    edd::assert_kept(edd::steps_only_add(SCHEMA_SQL));
}

#[test]
fn code_names_its_columns() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    edd::assert_kept(edd::names_its_columns(&root.join("src")));
    edd::assert_kept(edd::names_its_columns(&root.join("kernel/src")));
}

/// A database written by a newer fazt: extra tables, extra columns everywhere, a schema step
/// this binary does not know. The current binary must run its main flows on it unchanged.
#[test]
fn runs_on_a_newer_database() {
    let dir = Arc::new(TempDir::new("edd"));
    let db = dir.join("fazt.db");
    seed_files(
        &db,
        "blog",
        &[("index.html", b"<h1>old binary, new db</h1>")],
    );
    edd::extend_as_newer(&db).unwrap();
    let srv = Server::start_on(dir, db, &[]);
    assert_eq!(
        srv.get("blog.localhost", "/").text(),
        "<h1>old binary, new db</h1>"
    );
    assert!(srv
        .get("localhost", "/")
        .text()
        .contains("<title>fazt</title>"));
    assert_eq!(srv.get("nope.localhost", "/").status, 404);
    let out = srv.cli(&["status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Extensions layered on by later issues (deploy, tokens, scripts) add their flows here.
    for check in fazt_flows_on_newer_db() {
        check(&srv);
    }
}

/// Main flows of later features, run against the extended database.
fn fazt_flows_on_newer_db() -> Vec<fn(&Server)> {
    vec![
        deploy_flow,
        #[cfg(feature = "analytics")]
        analytics_flow,
    ]
}

#[cfg(feature = "analytics")]
fn analytics_flow(srv: &Server) {
    let admin = token(srv, "admin");
    let r = srv.req(
        "POST",
        "localhost",
        "/track",
        &[("Content-Type", "application/json")],
        br#"{"h":"blog.localhost","p":"/x","e":"click"}"#,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(api(srv, &admin, "GET", "/api/stats", b"").status, 200);
    assert_eq!(
        api(srv, &admin, "GET", "/api/events?limit=5", b"").status,
        200
    );
}

fn deploy_flow(srv: &Server) {
    let admin = token(srv, "admin");
    let zip = common::zipbuild::site(&[("index.html", b"<h1>redeployed</h1>"), ("a.txt", b"a")]);
    let r = put_zip(srv, &admin, "blog", &zip);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("blog.localhost", "/").text(), "<h1>redeployed</h1>");
    assert_eq!(api(srv, &admin, "GET", "/api/sites", b"").status, 200);
    assert_eq!(api(srv, &admin, "GET", "/api/deployments", b"").status, 200);
    assert_eq!(
        api(srv, &admin, "PUT", "/api/sites/blog/env/K", b"v").status,
        200
    );
    assert_eq!(
        api(srv, &admin, "DELETE", "/api/sites/blog", b"").status,
        200
    );
}
