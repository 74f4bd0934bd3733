//! Typed configuration through the real binary: a flag beats `FAZT_<NAME>`, which beats a
//! setting stored with `fazt config set`, which beats the default — observed on the running
//! server; bad values from each source are one-line errors naming it; `fazt config` refuses
//! unknown keys and bad values without touching the table.

mod common;
use common::*;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

fn fazt(db: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("FAZT_DB")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The rows of `configurations`, as the table holds them.
fn table(db: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT key, value FROM configurations ORDER BY key")
        .unwrap();
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// Which domain a running server serves: its own host answers `/health` only under it.
fn serves_domain(srv: &Server, domain: &str) -> bool {
    srv.get(&format!("admin.{domain}"), "/health").text() == "ok"
}

/// `fazt serve` on the database in `dir`, with `env` set for it.
fn start(dir: &Arc<TempDir>, env: &[(&str, &str)], flags: &[&str]) -> Server {
    Server::start_on_env(dir.clone(), dir.join("fazt.db"), env, flags)
}

#[test]
fn flag_beats_env_beats_stored_beats_default() {
    let dir = Arc::new(TempDir::new("cfg-precedence"));
    let db = dir.join("fazt.db");

    // Default.
    let srv = start(&dir, &[], &[]);
    assert_eq!(srv.get("localhost", "/health").text(), "ok");
    assert!(srv.logs().contains("(domain localhost,"), "{}", srv.logs());
    srv.stop();

    // Stored.
    let out = fazt(&db, &["config", "set", "domain", "stored.example"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let srv = start(&dir, &[], &[]);
    assert!(serves_domain(&srv, "stored.example"));
    assert!(!serves_domain(&srv, "env.example"));
    srv.stop();

    // Environment over stored.
    let srv = start(&dir, &[("FAZT_DOMAIN", "env.example")], &[]);
    assert!(serves_domain(&srv, "env.example"));
    assert!(!serves_domain(&srv, "stored.example"));
    srv.stop();

    // Flag over both.
    let srv = start(
        &dir,
        &[("FAZT_DOMAIN", "env.example")],
        &["--domain", "flag.example"],
    );
    assert!(serves_domain(&srv, "flag.example"));
    assert!(!serves_domain(&srv, "env.example"));
    assert!(!serves_domain(&srv, "stored.example"));
    srv.stop();

    // Unset: the default again.
    let out = fazt(&db, &["config", "unset", "domain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let srv = start(&dir, &[], &[]);
    assert!(!serves_domain(&srv, "stored.example"));
    assert!(srv.logs().contains("(domain localhost,"), "{}", srv.logs());
    srv.stop();
}

#[test]
fn stored_tuning_options_reach_the_server() {
    let dir = Arc::new(TempDir::new("cfg-tuning"));
    let db = dir.join("fazt.db");
    // One connection per address, from the store: a second one is closed at once.
    let out = fazt(&db, &["config", "set", "max_conns_per_ip", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let srv = start(&dir, &[], &[]);
    // The first connection is served and kept alive…
    let mut first = srv.connect();
    first
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut first, false).unwrap().text(), "ok");
    // …so a second one from the same address is over the stored cap of 1.
    let mut second = srv.connect();
    let _ = second.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(
        read_response(&mut second, false).is_none(),
        "a second connection from one address was served"
    );
    drop(first);
    srv.stop();
}

/// `fazt serve` that is expected to refuse to start.
fn serve_fails(db: &Path, env: &[(&str, &str)], flags: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("serve")
        .arg("--db")
        .arg(db)
        .args(["--listen", "127.0.0.1:0"])
        .args(flags);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FAZT_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "started: {}", stderr(&out));
    out
}

#[test]
fn bad_env_and_stored_values_are_one_line_errors_naming_the_source() {
    let dir = TempDir::new("cfg-bad");
    let db = dir.join("fazt.db");

    let out = serve_fails(&db, &[("FAZT_CACHE_MB", "abc")], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("FAZT_CACHE_MB: 'abc' is not a valid number") && err.lines().count() == 1,
        "{err}"
    );

    let out = serve_fails(&db, &[], &["--cache-mb", "abc"]);
    let err = stderr(&out);
    assert!(
        err.contains("--cache-mb: 'abc' is not a valid number") && err.lines().count() == 1,
        "{err}"
    );

    // A bad value can only get into the table from outside `fazt config`.
    fazt(&db, &["config", "set", "cache_mb", "8"]);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "UPDATE configurations SET value = 'lots' WHERE key = 'cache_mb'",
        [],
    )
    .unwrap();
    drop(c);
    let out = serve_fails(&db, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("stored setting cache_mb: 'lots' is not a valid number")
            && err.lines().count() == 1,
        "{err}"
    );
    // The flag or the environment overrides it without reading it.
    let srv = Server::start_on(
        Arc::new(TempDir::new("cfg-bad-override")),
        db.clone(),
        &["--cache-mb", "4"],
    );
    srv.stop();

    let out = serve_fails(&db, &[("FAZT_LOG", "loud")], &["--cache-mb", "4"]);
    let err = stderr(&out);
    assert!(
        err.contains("FAZT_LOG: unknown log level 'loud'") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn config_set_refuses_bad_values_and_unknown_keys() {
    let dir = TempDir::new("cfg-set");
    let db = dir.join("fazt.db");
    let out = fazt(&db, &["config", "set", "domain", "example.org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = table(&db);
    assert_eq!(before, [("domain".to_string(), "example.org".to_string())]);

    for (args, says) in [
        (
            &["config", "set", "cache_mb", "abc"][..],
            "cache_mb: 'abc' is not a valid number",
        ),
        (
            &["config", "set", "domain", "a/b"],
            "domain: invalid domain 'a/b'",
        ),
        (
            &["config", "set", "stack_kb", "10"],
            "stack_kb: must be between 64 and 8192",
        ),
        (
            &["config", "set", "trusted_proxy", "10.0.0.1,proxy"],
            "'proxy' is not an IP address",
        ),
        (
            &["config", "set", "listen", "4698"],
            "listen: '4698' is not HOST:PORT",
        ),
        (
            &["config", "set", "nonsense", "1"],
            "unknown setting 'nonsense'",
        ),
        // Not storable: the database path lives outside the database.
        (
            &["config", "set", "db", "/tmp/x.db"],
            "unknown setting 'db'",
        ),
        (
            &["set-config", "cache_mb", "-1"],
            "cache_mb: '-1' is not a valid number",
        ),
        (
            &["config", "set", "cache_mb"],
            "usage: fazt config set KEY VALUE",
        ),
    ] {
        let out = fazt(&db, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(says) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert_eq!(table(&db), before, "{args:?} changed the table");
    }
    assert_eq!(fazt(&db, &["config", "frobnicate"]).status.code(), Some(2));
    assert_eq!(
        fazt(&db, &["config", "get", "nonsense"]).status.code(),
        Some(2)
    );
    assert_eq!(table(&db), before);
}

#[test]
fn config_list_shows_what_set_stored() {
    let dir = TempDir::new("cfg-list");
    let db = dir.join("fazt.db");
    for args in [
        &["config", "set", "domain", "example.org"][..],
        &["config", "set", "max-conns-per-ip", "8"],
        &["set-config", "trusted_proxy", "10.0.0.1,::1"],
        &["config", "set", "cache_mb", "16"],
        &["config", "set", "cache_mb", "12"],
    ] {
        let out = fazt(&db, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let out = fazt(&db, &["config", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "cache_mb = 12\ndomain = example.org\nmax_conns_per_ip = 8\ntrusted_proxy = 10.0.0.1,::1\n"
    );
    let out = fazt(&db, &["config", "get", "cache_mb"]);
    assert_eq!(stdout(&out), "12\n");
    // Not stored: nothing printed, exit 1.
    let out = fazt(&db, &["config", "get", "listen"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());

    // fazt's own entries (the analytics salt) are not options and are not listed.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "INSERT INTO configurations (key, value, updated_at) VALUES ('analytics_salt', 'secret', 0)",
        [],
    )
    .unwrap();
    drop(c);
    let out = fazt(&db, &["config", "list"]);
    assert!(!stdout(&out).contains("secret"), "{}", stdout(&out));

    let out = fazt(&db, &["config", "unset", "domain"]);
    assert!(out.status.success());
    assert!(!stdout(&fazt(&db, &["config", "list"])).contains("domain"));
    // A database that does not exist is not created by reading it.
    let none = dir.join("none.db");
    assert_eq!(fazt(&none, &["config", "list"]).status.code(), Some(1));
    assert!(!none.exists());
}

#[test]
fn help_lists_each_options_environment_variable() {
    let out = Command::new(bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = stdout(&out);
    for var in [
        "FAZT_DB",
        "FAZT_LISTEN",
        "FAZT_DOMAIN",
        "FAZT_LOG",
        "FAZT_CACHE_MB",
        "FAZT_MAX_CONNS_PER_IP",
        "FAZT_TRUSTED_PROXY",
        "FAZT_JS_THREADS",
    ] {
        assert!(help.contains(var), "{var} missing:\n{help}");
    }
    assert!(help.contains("stored as max_conns_per_ip"), "{help}");
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert!(stdout(&out).contains("config"));
    let out = Command::new(bin())
        .args(["config", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("max_conns_per_ip"));
}
