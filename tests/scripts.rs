//! Serverless `main.js` through the real binary: the Go-era contract, limits that hold while
//! other sites keep being served, isolation, redeploys, and the no-`js` build's fallback.

mod common;
use common::zipbuild;
use common::*;

#[cfg(feature = "js")]
use std::sync::Arc;
#[cfg(feature = "js")]
use std::time::{Duration, Instant};

const COUNTER: &[u8] = b"var n = (db.get('count') || 0) + 1; db.set('count', n); res.send('<h1>Count: ' + n + '</h1>');";

fn deploy_js(srv: &Server, tok: &str, site: &str, js: &[u8]) {
    let r = put_zip(
        srv,
        tok,
        site,
        &zipbuild::site(&[("main.js", js), ("static.txt", b"static")]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[cfg(feature = "js")]
#[test]
fn counter_counts_and_survives_a_restart() {
    let dir = Arc::new(TempDir::new("counter"));
    let db = dir.join("fazt.db");
    let srv = Server::start_on(dir.clone(), db.clone(), &[]);
    let tok = token(&srv, "deploy");
    deploy_js(&srv, &tok, "counter", COUNTER);
    for i in 1..=3 {
        let r = srv.get("counter.localhost", "/any/path?x=1");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), format!("<h1>Count: {i}</h1>"));
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    }
    assert!(srv.stop().success());
    let srv = Server::start_on(dir, db, &[]);
    assert_eq!(
        srv.get("counter.localhost", "/").text(),
        "<h1>Count: 4</h1>"
    );
}

/// A request's `db` writes are committed together: a run that fails after writing keeps
/// none of them, a run reads its own writes back, and the response of a run that wrote
/// comes only once its writes are in fazt.db (read here by another connection).
#[cfg(feature = "js")]
#[test]
fn a_requests_writes_are_committed_together_or_not_at_all() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    deploy_js(
        &srv,
        &tok,
        "tx",
        br#"var q = req.query;
if (q === 'read') { res.send(db.get('a') + ',' + db.get('b') + ',' + db.get('c')); }
else {
  db.set('a', q); db.set('b', q); db.delete('c');
  var mine = db.get('a') + db.get('b') + db.get('c');
  if (q.indexOf('fail') === 0) throw new Error('after writing');
  db.set('c', 'set-' + q);
  res.send(mine);
}"#,
    );
    assert_eq!(srv.get("tx.localhost", "/?one").text(), "oneonenull");
    assert_eq!(srv.get("tx.localhost", "/?read").text(), "one,one,set-one");
    let db = rusqlite::Connection::open(&srv.db).unwrap();
    let stored = |k: &str| -> Option<String> {
        db.query_row(
            "SELECT value FROM kv_store WHERE site_id = 'tx' AND key = ?1",
            [k],
            |r| r.get(0),
        )
        .ok()
    };
    assert_eq!(
        stored("c").as_deref(),
        Some("set-one"),
        "answered before committed"
    );
    let r = srv.get("tx.localhost", "/?fail");
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(srv.get("tx.localhost", "/?read").text(), "one,one,set-one");
    assert_eq!(stored("a").as_deref(), Some("one"));
    assert_eq!(srv.get("tx.localhost", "/?two").text(), "twotwonull");
    assert_eq!(stored("a").as_deref(), Some("two"));
    assert_eq!(stored("c").as_deref(), Some("set-two"));
}

#[cfg(feature = "js")]
#[test]
fn the_contract() {
    let srv = Server::start(&[]);
    let admin = token(&srv, "admin");
    let js = br#"
        if (req.path === '/json') {
            res.status(201); res.header('X-Custom', 'yes');
            res.json({method: req.method, query: req.query, body: req.body, ua: req.headers['User-Agent'] || req.headers['user-agent'], env: process.env.GREETING});
        } else if (req.path === '/twice') {
            res.send('a'); res.send('b');
        } else if (req.path === '/log') {
            console.log('hello', 'log'); console.error('oh no');
            res.send('logged');
        } else if (req.path === '/throw') {
            throw new Error('kaboom');
        } else if (req.path === '/silent') {
        } else {
            res.send('other ' + req.path);
        }
    "#;
    deploy_js(&srv, &admin, "app", js);
    assert_eq!(
        api(
            &srv,
            &admin,
            "PUT",
            "/api/sites/app/env/GREETING",
            b"hi there"
        )
        .status,
        200
    );
    let r = srv.req(
        "POST",
        "app.localhost",
        "/json?a=1&b=2",
        &[("User-Agent", "tester")],
        b"payload",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("x-custom"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["query"], "a=1&b=2");
    assert_eq!(v["body"], "payload");
    assert_eq!(v["ua"], "tester");
    assert_eq!(v["env"], "hi there");
    assert_eq!(srv.get("app.localhost", "/twice").text(), "ab");
    let silent = srv.get("app.localhost", "/silent");
    assert_eq!((silent.status, silent.body.len()), (200, 0));
    assert_eq!(srv.get("app.localhost", "/log").text(), "logged");
    let boom = srv.get("app.localhost", "/throw");
    assert_eq!(boom.status, 500);
    assert!(boom.text().contains("kaboom"), "{}", boom.text());
    let logs = api(&srv, &admin, "GET", "/api/sites/app/logs?limit=50", b"").text();
    assert!(logs.contains("hello log"), "{logs}");
    assert!(logs.contains("oh no"), "{logs}");
    assert!(
        logs.contains("kaboom") && logs.contains("main.js"),
        "stack should be logged: {logs}"
    );
    // fazt logs prints the same lines.
    let out = srv.cli(&["logs", "app"]);
    let local = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(local.contains("hello log"));
    // … and so does a remote one, over the API, with no database on this side.
    let work = TempDir::new("remote-logs");
    let server = format!("http://{}", srv.addr);
    let remote = |cmd: &[&str]| {
        std::process::Command::new(bin())
            .args(cmd)
            .args(["app", "--server", &server, "--token", &admin])
            .current_dir(work.path())
            .env("FAZT_CLIENT_CONFIG", work.join("client.json"))
            .env_remove("FAZT_DB")
            .output()
            .unwrap()
    };
    assert_eq!(ok(&remote(&["logs"])), local, "remote = local");
    assert!(!work.join("fazt.db").exists(), "no local database was made");
    // Go fazt's spelling, `fazt client logs`, is the same command.
    assert_eq!(
        ok(&remote(&["client", "logs"])),
        local,
        "client logs = logs"
    );
    // Lines after an id, as `-f` asks for them; a bad id is refused.
    let all = api(&srv, &admin, "GET", "/api/sites/app/logs?limit=50", b"").json();
    let first = all["data"][0]["id"].as_i64().unwrap();
    let after = api(
        &srv,
        &admin,
        "GET",
        &format!("/api/sites/app/logs?after={first}"),
        b"",
    )
    .json();
    assert_eq!(
        after["data"].as_array().unwrap().len() + 1,
        all["data"].as_array().unwrap().len()
    );
    let r = api(&srv, &admin, "GET", "/api/sites/app/logs?after=x", b"");
    assert_eq!(r.status, 400);
    // fazt run executes it once locally.
    let out = srv.cli(&["run", "app", "--path", "/twice"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ab"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(feature = "js")]
#[test]
fn api_main_js_handles_only_api_paths() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let zip = zipbuild::site(&[
        ("index.html", b"<h1>spa</h1>"),
        ("api/main.js", b"respond(200, {path: request.path, n: 1})"),
    ]);
    assert_eq!(put_zip(&srv, &tok, "mix", &zip).status, 200);
    assert_eq!(srv.get("mix.localhost", "/").text(), "<h1>spa</h1>");
    let r = srv.get("mix.localhost", "/api/things");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/api/things");
}

#[cfg(feature = "js")]
#[test]
fn limits_hold_and_static_sites_keep_answering() {
    let srv = Server::start(&["--js-timeout-ms", "500"]);
    let tok = token(&srv, "deploy");
    deploy_js(&srv, &tok, "loop", b"while (true) {}");
    deploy_js(
        &srv,
        &tok,
        "bomb",
        b"var a = []; while (true) { a.push(new Array(100000).fill('x')); }",
    );
    deploy_js(
        &srv,
        &tok,
        "deep",
        b"function f(n) { return f(n + 1) + 1; } try { f(0); } catch (e) { res.send('caught ' + e.name); }",
    );
    assert_eq!(
        put_zip(
            &srv,
            &tok,
            "plain",
            &zipbuild::site(&[("index.html", b"plain")])
        )
        .status,
        200
    );

    let addr = srv.addr;
    let spinner = std::thread::spawn(move || {
        let t = Instant::now();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::Write;
        s.write_all(b"GET / HTTP/1.1\r\nHost: loop.localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let r = read_response(&mut s, false).unwrap();
        (r.status, r.text(), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(50));
    // While the loop burns its budget, static serving is unaffected.
    let t = Instant::now();
    for _ in 0..20 {
        assert_eq!(srv.get("plain.localhost", "/").text(), "plain");
    }
    let static_time = t.elapsed();
    let (status, text, took) = spinner.join().unwrap();
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("time limit"), "{text}");
    assert!(took < Duration::from_secs(5), "endless loop ran {took:?}");
    assert!(
        static_time < Duration::from_secs(4),
        "static requests took {static_time:?} during the loop"
    );

    let bomb = srv.get("bomb.localhost", "/");
    assert!(
        bomb.status == 500 || bomb.status == 503,
        "{} {}",
        bomb.status,
        bomb.text()
    );
    let deep = srv.get("deep.localhost", "/");
    assert_eq!(deep.text(), "caught RangeError");
    // The server survived all of it.
    assert_eq!(srv.get("localhost", "/health").text(), "ok");
    deploy_js(&srv, &tok, "after", COUNTER);
    assert_eq!(srv.get("after.localhost", "/").text(), "<h1>Count: 1</h1>");
}

#[cfg(feature = "js")]
#[test]
fn overload_is_shed_with_503_and_retry_after() {
    // Two JS threads stuck in 300 ms loops and 64 requests queued or running at most:
    // of 90 at once, the ones past the cap are refused at once.
    // 90 clients from one address: the per-address connection cap is not under test here.
    let srv = Server::start(&["--js-timeout-ms", "300", "--max-conns-per-ip", "0"]);
    let tok = token(&srv, "deploy");
    deploy_js(&srv, &tok, "loop", b"while (true) {}");
    let addr = srv.addr;
    let clients: Vec<_> = (0..90)
        .map(|_| {
            std::thread::spawn(move || {
                use std::io::Write;
                let mut s = std::net::TcpStream::connect(addr).ok()?;
                s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                s.write_all(b"GET / HTTP/1.1\r\nHost: loop.localhost\r\nConnection: close\r\n\r\n")
                    .ok()?;
                let r = read_response(&mut s, false)?;
                Some((
                    r.status,
                    r.header("retry-after").map(str::to_owned),
                    r.text(),
                ))
            })
        })
        .collect();
    let answers: Vec<_> = clients
        .into_iter()
        .filter_map(|c| c.join().unwrap())
        .collect();
    let shed: Vec<_> = answers
        .iter()
        .filter(|(_, _, text)| text.contains("overloaded"))
        .collect();
    assert!(!shed.is_empty(), "nothing was shed: {answers:?}");
    for (status, retry, _) in &shed {
        assert_eq!(*status, 503);
        assert_eq!(retry.as_deref(), Some("1"));
    }
    // A script that ran out of time is a 503 too, but retrying it would not help.
    let timed_out = answers.iter().find(|(_, _, t)| t.contains("time limit"));
    if let Some((status, retry, _)) = timed_out {
        assert_eq!((*status, retry.as_deref()), (503, None));
    }
    assert_eq!(srv.get("localhost", "/health").text(), "ok");
}

#[cfg(feature = "js")]
#[test]
fn sites_are_isolated_and_redeploys_take_effect() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    deploy_js(
        &srv,
        &tok,
        "one",
        b"db.set('secret', 'one-secret'); res.send(String(db.get('secret')));",
    );
    deploy_js(
        &srv,
        &tok,
        "two",
        b"res.send(String(db.get('secret')) + ' ' + typeof process.env.GREETING);",
    );
    assert_eq!(srv.get("one.localhost", "/").text(), "one-secret");
    assert_eq!(srv.get("two.localhost", "/").text(), "null undefined");
    // Top-level declarations are each request's own; what a script puts on globalThis
    // may stay for its own site's next requests, and never reaches another site.
    deploy_js(
        &srv,
        &tok,
        "leak",
        b"var n = (typeof n === 'number' ? n : 0) + 1; globalThis.leaked = 'leak'; res.send(String(n));",
    );
    deploy_js(&srv, &tok, "peek", b"res.send(typeof globalThis.leaked);");
    for _ in 0..4 {
        assert_eq!(srv.get("leak.localhost", "/").text(), "1");
        assert_eq!(srv.get("peek.localhost", "/").text(), "undefined");
    }
    // Redeploy: the next request runs the new script.
    deploy_js(&srv, &tok, "one", b"res.send('version two');");
    assert_eq!(srv.get("one.localhost", "/").text(), "version two");
    // No filesystem, no process environment of the server (`require` reads only the
    // site's own files, see below).
    deploy_js(&srv, &tok, "snoop", b"res.send(typeof require + ' ' + typeof std + ' ' + typeof os + ' ' + Object.keys(process.env).length);");
    assert_eq!(
        srv.get("snoop.localhost", "/").text(),
        "function undefined undefined 0"
    );
}

#[cfg(not(feature = "js"))]
#[test]
fn without_js_scripts_are_static_files_and_logged_once() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    deploy_js(&srv, &tok, "counter", COUNTER);
    // The other files are served; the script's source never is.
    assert_eq!(srv.get("counter.localhost", "/main.js").status, 404);
    assert_eq!(srv.get("counter.localhost", "/static.txt").text(), "static");
    assert_eq!(srv.get("counter.localhost", "/").status, 404);
    let logs = srv.logs();
    assert_eq!(
        logs.matches("built without the `js` feature").count(),
        1,
        "{logs}"
    );
}

/// `require` is put back in a warm context, its module registry is not: every request runs
/// its modules again. One JS thread, so every request meets the same warm context (where
/// `globalThis` may keep what a script put there).
#[cfg(feature = "js")]
#[test]
fn every_request_runs_its_modules_again_in_a_warm_context() {
    let srv = Server::start(&["--js-threads", "1"]);
    let tok = token(&srv, "deploy");
    let files: &[(&str, &[u8])] = &[
        (
            "main.js",
            b"var a = require('./lib/count.js'), b = require('./lib/count.js'); res.json([a, b]);",
        ),
        (
            "lib/count.js",
            b"globalThis.loads = (globalThis.loads || 0) + 1; module.exports = globalThis.loads;",
        ),
    ];
    let r = put_zip(&srv, &tok, "mods", &zipbuild::site(files));
    assert_eq!(r.status, 200, "{}", r.text());
    for n in 1..=3 {
        let v = srv.get("mods.localhost", "/").json();
        assert_eq!(
            v,
            serde_json::json!([n, n]),
            "request {n}: once per request, every request"
        );
    }
}

#[cfg(feature = "js")]
#[test]
fn require_loads_the_sites_own_modules_and_nothing_else() {
    let srv = Server::start(&[]);
    let tok = token(&srv, "deploy");
    let files: &[(&str, &[u8])] = &[
        (
            "main.js",
            br#"
            var math = require('./lib/math');
            var again = require('./lib/math.js');
            var fmt = require('./lib/fmt.js');
            var tries = ['fs', '/etc/passwd', './../outside.js', './lib/missing.js', './lib/a.js', './lib/bad.js'].map(function (p) {
                try { require(p); return 'loaded'; } catch (e) { return e.message; }
            });
            res.json({sum: fmt.show(math.add(2, 3)), same: math === again, runs: math.runs(), tries: tries});
            "#,
        ),
        (
            "lib/math.js",
            b"var runs = 0; runs++; exports.add = function (a, b) { return a + b; }; exports.runs = function () { return runs; };",
        ),
        // A module requiring its sibling relative to itself.
        ("lib/fmt.js", b"var m = require('./math.js'); module.exports = { show: function (n) { return '=' + n + (m.add ? '' : '?'); } };"),
        ("lib/a.js", b"require('./b.js');"),
        ("lib/b.js", b"require('./a.js');"),
        ("lib/bad.js", b"this is not javascript"),
    ];
    let r = put_zip(&srv, &tok, "mods", &zipbuild::site(files));
    assert_eq!(r.status, 200, "{}", r.text());
    for _ in 0..3 {
        let v = srv.get("mods.localhost", "/").json();
        assert_eq!(v["sum"], "=5", "{v}");
        assert_eq!(v["same"], true, "a module runs once per request: {v}");
        assert_eq!(v["runs"], 1, "{v}");
        let tries: Vec<String> = v["tries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert!(tries[0].contains("only relative paths"), "{tries:?}");
        assert!(tries[1].contains("only relative paths"), "{tries:?}");
        assert!(tries[2].contains("outside the site"), "{tries:?}");
        assert!(tries[3].contains("no file lib/missing.js"), "{tries:?}");
        assert!(tries[4].contains("require cycle"), "{tries:?}");
        assert!(
            tries[5].contains("lib/bad.js") && tries[5].contains("SyntaxError"),
            "{tries:?}"
        );
    }
    // A redeploy of a module (main.js unchanged) is what the next request runs.
    let mut changed = files.to_vec();
    changed[1] = (
        "lib/math.js",
        b"var runs = 1; exports.add = function (a, b) { return a * b; }; exports.runs = function () { return runs; };",
    );
    let r = put_zip(&srv, &tok, "mods", &zipbuild::site(&changed));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get("mods.localhost", "/").json()["sum"], "=6");
}
