//! The `main.js` contract: globals, response building, KV, env, console, errors.

use super::*;

#[test]
fn counter_example_counts_up() {
    let (host, engine) = engine();
    let src = "var n = (db.get('count') || 0) + 1; db.set('count', n); res.send('<h1>Count: ' + n + '</h1>');";
    for i in 1..=3 {
        let r = run_main(&engine, "counter", src).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(body(&r), format!("<h1>Count: {i}</h1>"));
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    }
    // Numbers are stored as JSON text.
    assert_eq!(host.stored("counter", "count").as_deref(), Some("3"));
}

#[test]
fn no_response_is_empty_200() {
    let (_, engine) = engine();
    let r = run_main(&engine, "s", "var x = 1 + 1;").unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(r.headers.is_empty());
}

#[test]
fn send_appends_json_replaces_and_defaults_content_type() {
    let (_, engine) = engine();
    let r = run_main(
        &engine,
        "s",
        "res.send('a'); res.send('b'); res.send(3); res.send();",
    )
    .unwrap();
    assert_eq!(body(&r), "ab3");

    let r = run_main(&engine, "s", "res.send('x'); res.json({a: [1, 'two']});").unwrap();
    assert_eq!(body(&r), r#"{"a":[1,"two"]}"#);
    assert_eq!(r.header("Content-Type"), Some("application/json"));

    let r = run_main(&engine, "s", "res.json(undefined)").unwrap();
    assert_eq!(body(&r), "null");
}

#[test]
fn status_and_headers_chain() {
    let (_, engine) = engine();
    let src = r#"
        res.status(201).header('X-Thing', 42).header('x-thing', 'last');
        res.header('Set-Cookie', 'a=1').header('Set-Cookie', 'b=2');
        res.header('Content-Type', 'text/plain').send('made');
    "#;
    let r = run_main(&engine, "s", src).unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(body(&r), "made");
    assert_eq!(r.header("x-thing"), Some("last"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let cookies: Vec<_> = r
        .headers
        .iter()
        .filter(|(n, _)| n == "Set-Cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    // Exactly one Content-Type: the script's replaces the default.
    assert_eq!(
        r.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .count(),
        1
    );
}

#[test]
fn bad_status_and_headers_throw_catchable_errors() {
    let (_, engine) = engine();
    let src = r#"
        var out = [];
        function t(f) { try { f(); out.push('ok'); } catch (e) { out.push(e.name); } }
        t(function () { res.status(99); });
        t(function () { res.status(600); });
        t(function () { res.status(200.5); });
        t(function () { res.status('200'); });
        t(function () { res.header('Bad Name', 'v'); });
        t(function () { res.header('X', 'a\r\nInjected: 1'); });
        t(function () { res.header('Content-Length', '5'); });
        t(function () { res.header('Transfer-Encoding', 'chunked'); });
        t(function () { res.header(5, 'v'); });
        t(function () { res.header('X'); });
        res.send(out.join(','));
    "#;
    let r = run_main(&engine, "s", src).unwrap();
    assert_eq!(
        body(&r),
        "RangeError,RangeError,RangeError,RangeError,TypeError,TypeError,TypeError,TypeError,TypeError,TypeError"
    );
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Length").is_none());
}

#[test]
fn request_object_shape() {
    let (_, engine) = engine();
    let req = JsRequest {
        method: "POST".into(),
        path: "/a/b".into(),
        query: "x=1&y=%20".into(),
        headers: vec![
            ("X-Custom".into(), "one".into()),
            ("Accept".into(), "text/html".into()),
            ("X-Custom".into(), "two".into()),
        ],
        body: b"payload \xff".to_vec(),
    };
    let src = "res.json({m: req.method, p: req.path, q: req.query, h: req.headers, b: req.body})";
    let r = engine.run(&main_js("s", src), &[], req).unwrap();
    assert_eq!(
        body(&r),
        r#"{"m":"POST","p":"/a/b","q":"x=1&y=%20","h":{"X-Custom":"one, two","Accept":"text/html"},"b":"payload �"}"#
    );
}

#[test]
fn kv_values_round_trip_like_go() {
    let (host, engine) = engine();
    let src = r#"
        db.set('num', 5);
        db.set('str', 'hello');
        db.set('numstr', '7');
        db.set('obj', {a: [1, 2], b: null});
        db.set('undef', undefined);
        db.set('bool', true);
        var out = {
            num: db.get('num'), str: db.get('str'), numstr: db.get('numstr'),
            obj: db.get('obj'), missing: db.get('nope'), undef: db.get('undef'),
            bool: db.get('bool'), types: [typeof db.get('num'), typeof db.get('str')]
        };
        db.delete('str');
        out.deleted = db.get('str');
        res.json(out);
    "#;
    let r = run_main(&engine, "kv", src).unwrap();
    assert_eq!(
        body(&r),
        r#"{"num":5,"str":"hello","numstr":7,"obj":{"a":[1,2],"b":null},"missing":null,"undef":null,"bool":true,"types":["number","string"],"deleted":null}"#
    );
    assert_eq!(host.stored("kv", "num").as_deref(), Some("5"));
    assert_eq!(
        host.stored("kv", "obj").as_deref(),
        Some(r#"{"a":[1,2],"b":null}"#)
    );
    assert_eq!(host.stored("kv", "numstr").as_deref(), Some("7"));
    assert_eq!(host.stored("kv", "str"), None);
    // Stored text that only looks like JSON comes back as the raw string.
    host.kv_set("kv", "raw", "{not json").unwrap();
    let r = run_main(
        &engine,
        "kv",
        "res.send(typeof db.get('raw') + ':' + db.get('raw'))",
    )
    .unwrap();
    assert_eq!(body(&r), "string:{not json");
}

#[test]
fn kv_type_errors_and_host_errors_are_js_errors() {
    let host = MemHost {
        quota: Some(64),
        ..MemHost::default()
    };
    let (_, engine) = engine_with(Limits::default(), host);
    let src = r#"
        var out = [];
        function t(f) { try { f(); out.push('ok'); } catch (e) { out.push(e.name + ':' + e.message); } }
        t(function () { db.get(); });
        t(function () { db.get(5); });
        t(function () { db.set('', 1); });
        t(function () { db.set('k', 'x'.repeat(100)); });
        t(function () { db.set('k', 1n); });
        res.send(out.join('\n'));
    "#;
    let r = run_main(&engine, "q", src).unwrap();
    let lines: Vec<_> = body(&r).lines().collect();
    assert_eq!(lines[0], "TypeError:db.get: key must be a string");
    assert_eq!(lines[1], "TypeError:db.get: key must be a string");
    assert_eq!(lines[2], "TypeError:db.set: key must not be empty");
    assert_eq!(
        lines[3],
        "Error:db.set: site q KV quota of 64 bytes exceeded"
    );
    assert!(lines[4].starts_with("TypeError:"), "{}", lines[4]);
}

#[test]
fn process_env_is_the_sites_only() {
    let (_, engine) = engine();
    let env = vec![("API_KEY".to_owned(), "k1".to_owned())];
    let src = "res.json({k: process.env.API_KEY, path: typeof process.env.PATH, cargo: typeof process.env.CARGO, keys: Object.keys(process.env)})";
    let r = engine.run(&main_js("s", src), &env, get("/")).unwrap();
    assert_eq!(
        body(&r),
        r#"{"k":"k1","path":"undefined","cargo":"undefined","keys":["API_KEY"]}"#
    );
}

#[test]
fn no_filesystem_modules_or_loaders() {
    let (_, engine) = engine();
    let src = r#"
        var names = ['std', 'os', 'module', 'exports', 'scriptArgs', 'print',
                     'setTimeout', 'XMLHttpRequest', 'Deno', 'Bun'];
        var seen = names.filter(function (n) { return typeof globalThis[n] !== 'undefined'; });
        var imp;
        try { eval("import('os')"); imp = 'no throw'; } catch (e) { imp = e.name; }
        res.json({seen: seen, imp: imp});
    "#;
    let r = run_main(&engine, "s", src).unwrap();
    let b = body(&r);
    assert!(b.starts_with(r#"{"seen":[]"#), "{b}");
}

#[test]
fn dynamic_import_cannot_load_anything() {
    let (_, engine) = engine();
    let src = r#"
        var result = 'pending';
        import('/etc/passwd').then(function () { result = 'loaded'; }, function (e) { result = 'rejected'; });
        import('os').then(function () { result += ',loaded'; }, function (e) { result += ',rejected'; });
        Promise.resolve().then(function () {}).then(function () { res.send(result); });
    "#;
    let r = run_main(&engine, "s", src).unwrap();
    assert!(!body(&r).contains("loaded"), "{}", body(&r));
}

#[test]
fn console_goes_to_site_logs_with_levels() {
    let (host, engine) = engine();
    let src = r#"
        console.log('hello', 1, {a: 1}, [2], null, undefined);
        console.info('i'); console.debug('d'); console.warn('w'); console.error(new TypeError('bad'));
    "#;
    run_main(&engine, "logs", src).unwrap();
    let logs = host.logs_of("logs");
    assert_eq!(
        logs[0],
        (
            "info".into(),
            r#"hello 1 {"a":1} [2] null undefined"#.into()
        )
    );
    assert_eq!(logs[1], ("info".into(), "i".into()));
    assert_eq!(logs[2], ("debug".into(), "d".into()));
    assert_eq!(logs[3], ("warn".into(), "w".into()));
    assert_eq!(logs[4].0, "error");
    assert!(logs[4].1.starts_with("TypeError: bad\n"), "{}", logs[4].1);
    assert!(logs[4].1.contains("main.js"), "{}", logs[4].1);
    assert_eq!(logs.len(), 5);
    assert!(host.logs_of("other").is_empty());
}

#[test]
fn console_is_capped_per_request() {
    let limits = Limits {
        max_log_lines: 3,
        max_log_bytes: 20,
        ..Limits::default()
    };
    let (host, engine) = engine_with(limits, MemHost::default());
    run_main(
        &engine,
        "s",
        "for (var i = 0; i < 10; i++) console.log('line ' + i + ' ' + 'x'.repeat(50));",
    )
    .unwrap();
    let logs = host.logs_of("s");
    assert_eq!(logs.len(), 4);
    assert_eq!(logs[0].1, "line 0 xxxxxxxxxx…");
    assert!(logs.iter().take(3).all(|(_, m)| m.len() <= 20));
    assert_eq!(
        logs[3],
        (
            "warn".into(),
            "7 more console lines dropped (limit 3 per request)".into()
        )
    );
}

#[test]
fn exception_is_reported_with_stack_and_logged() {
    let (host, engine) = engine();
    let src = "function inner() { throw new TypeError('nope'); }\nfunction outer() { inner(); }\nres.send('partial');\nouter();";
    let err = run_main(&engine, "ex", src).unwrap_err();
    let JsError::Exception { message, stack } = &err else {
        panic!("expected an exception, got {err:?}");
    };
    assert_eq!(message, "TypeError: nope");
    let stack = stack.as_deref().expect("a stack");
    assert!(
        stack.contains("inner") && stack.contains("main.js:1"),
        "{stack}"
    );
    assert!(
        stack.contains("outer") && stack.contains("main.js:2"),
        "{stack}"
    );
    assert_eq!(err.http_status(), 500);
    assert_eq!(err.to_string(), "script error: TypeError: nope");
    let logs = host.logs_of("ex");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0, "error");
    assert!(
        logs[0].1.starts_with("main.js: uncaught TypeError: nope\n"),
        "{}",
        logs[0].1
    );
    assert!(logs[0].1.contains("inner"), "{}", logs[0].1);
}

#[test]
fn thrown_non_errors_are_described() {
    let (_, engine) = engine();
    let err = run_main(&engine, "s", "throw 'boom'").unwrap_err();
    assert_eq!(
        err,
        JsError::Exception {
            message: "boom".into(),
            stack: None
        }
    );
    let err = run_main(&engine, "s", "throw {toString: function () { throw 1; }}").unwrap_err();
    assert!(matches!(err, JsError::Exception { .. }), "{err:?}");
}

#[test]
fn syntax_error_is_compile_error_and_cached() {
    let (host, engine) = engine();
    let src = "var x = ;";
    for _ in 0..2 {
        let err = run_main(&engine, "bad", src).unwrap_err();
        let JsError::Compile { message } = &err else {
            panic!("expected a compile error, got {err:?}");
        };
        assert!(message.starts_with("SyntaxError:"), "{message}");
        assert!(message.contains("main.js:1"), "{message}");
    }
    assert_eq!(host.logs_of("bad").len(), 2);
    // Fixing the script (new hash) recompiles.
    assert_eq!(
        ok_body(run_main(&engine, "bad", "res.send('fixed')")),
        "fixed"
    );
}

#[test]
fn bytecode_is_reused_until_the_hash_changes() {
    let (_, engine) = engine();
    let v1 = Script {
        site: "s".into(),
        kind: ScriptKind::Main,
        hash: "h1".into(),
        source: Arc::from("res.send('v1')"),
    };
    assert_eq!(ok_body(engine.run(&v1, &[], get("/"))), "v1");
    // Same hash, different source: the cached bytecode runs (proves no recompilation).
    let same_hash = Script {
        source: Arc::from("res.send('v2')"),
        ..v1.clone()
    };
    assert_eq!(ok_body(engine.run(&same_hash, &[], get("/"))), "v1");
    // New hash: recompiled.
    let v2 = Script {
        hash: "h2".into(),
        ..same_hash
    };
    assert_eq!(ok_body(engine.run(&v2, &[], get("/"))), "v2");
    assert_eq!(engine.cached_sites(), 1);
    engine.forget("s");
    assert_eq!(engine.cached_sites(), 0);
}

#[test]
fn async_work_completes_before_the_response() {
    let (_, engine) = engine();
    let src = r#"
        async function load() { await null; return db.get('x') || 'none'; }
        load().then(function (v) { res.send('got ' + v); });
    "#;
    assert_eq!(ok_body(run_main(&engine, "s", src)), "got none");
    let err = run_main(
        &engine,
        "s",
        "(async function () { await null; throw new Error('late'); })()",
    )
    .unwrap_err();
    assert!(
        matches!(&err, JsError::Exception { message, .. } if message == "Error: late"),
        "{err:?}"
    );
}

#[test]
fn host_panic_becomes_a_js_error() {
    let (_, engine) = engine();
    let src = "try { db.get('panic!'); res.send('no'); } catch (e) { res.send(e.name + ': ' + e.message); }";
    assert_eq!(
        ok_body(run_main(&engine, "s", src)),
        "InternalError: db.get failed internally"
    );
    assert_eq!(
        ok_body(run_main(&engine, "s", "res.send('still fine')")),
        "still fine"
    );
}

#[test]
fn lone_surrogates_become_replacement_characters() {
    let (host, engine) = engine();
    let r = run_main(
        &engine,
        "s",
        "db.set('k\\udc00', 'v\\ud800'); res.header('X', 'h\\ud800').send('a\\ud800b')",
    )
    .unwrap();
    assert!(body(&r).starts_with('a') && body(&r).ends_with('b') && body(&r).contains('\u{fffd}'));
    assert!(r.header("x").unwrap().contains('\u{fffd}'));
    let kv = host.kv.lock().unwrap();
    let ((_, key), value) = kv.iter().next().unwrap();
    assert!(key.starts_with('k') && key.contains('\u{fffd}'), "{key:?}");
    assert!(
        value.starts_with('v') && value.contains('\u{fffd}'),
        "{value:?}"
    );
}
