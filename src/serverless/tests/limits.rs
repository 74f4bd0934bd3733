//! Limits (time, memory, stack, sizes, queue) and isolation between requests and sites.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn endless_loop_is_stopped_while_other_requests_are_served() {
    let limits = Limits {
        cpu_time: Duration::from_millis(300),
        ..Limits::default()
    };
    let (host, engine) = engine_with(limits, MemHost::default());
    let engine = Arc::new(engine);
    let looping = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            // `catch` cannot stop the interrupt.
            let r = run_main(
                &engine,
                "loop",
                "for (;;) { try { for (;;) {} } catch (e) {} }",
            );
            (r, start.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        ok_body(run_main(&engine, "other", "res.send('quick')")),
        "quick"
    );
    // The other request was served while the loop still ran.
    assert!(
        !looping.is_finished(),
        "the quick request waited for the loop"
    );
    let (r, took) = looping.join().unwrap();
    assert_eq!(
        r.unwrap_err(),
        JsError::Timeout {
            limit: Duration::from_millis(300)
        }
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(host.logs_of("loop")[0].1.contains("time limit of 300 ms"));
    // The worker that was interrupted serves again.
    for _ in 0..4 {
        assert_eq!(ok_body(run_main(&engine, "loop", "res.send('ok')")), "ok");
    }
}

#[test]
fn regex_backtracking_and_promise_loops_are_stopped_too() {
    let limits = Limits {
        cpu_time: Duration::from_millis(200),
        threads: 1,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let start = Instant::now();
    let err = run_main(&engine, "s", "/(a+)+$/.test('a'.repeat(40) + 'b')").unwrap_err();
    assert!(matches!(err, JsError::Timeout { .. }), "{err:?}");
    let err = run_main(
        &engine,
        "s",
        "function f() { return Promise.resolve().then(f); } f();",
    )
    .unwrap_err();
    assert!(matches!(err, JsError::Timeout { .. }), "{err:?}");
    // Chains whose links do different amounts of work: the interrupt lands at every phase
    // of a link, also after it queued the next one (which once ran for ever).
    for work in [0, 1, 3, 7, 20] {
        let src = format!(
            "function f() {{ let x = 0; for (let i = 0; i < {work}; i++) x++; return Promise.resolve().then(f); }} f();"
        );
        let err = run_main(&engine, "s", &src).unwrap_err();
        assert!(matches!(err, JsError::Timeout { .. }), "{work}: {err:?}");
    }
    // Unbounded, these would run for hours; the bound is loose for a loaded CI machine.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn allocation_bomb_is_contained() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        // Generous: this test is about memory, and emulated or debug builds are slow.
        cpu_time: Duration::from_secs(60),
        threads: 1,
        ..Limits::default()
    };
    let (host, engine) = engine_with(limits, MemHost::default());
    // Uncaught: reported as out of memory.
    for bomb in [
        "var a = []; for (;;) a.push({x: a.length, y: 'some text'});",
        "var parts = []; for (;;) parts.push('y'.repeat(65536) + parts.length);",
        "var b = []; for (;;) b.push(new ArrayBuffer(1 << 20));",
        "new Array(1e9).fill(1)",
    ] {
        let err = run_main(&engine, "bomb", bomb).unwrap_err();
        assert_eq!(err, JsError::OutOfMemory { limit: 16 << 20 }, "{bomb}");
    }
    assert!(host.logs_of("bomb")[0].1.contains("memory limit"));
    // Caught inside the script: the script goes on and answers.
    let src = "var a = []; try { for (;;) a.push('x'.repeat(1000) + a.length); } catch (e) { a = null; res.send('caught ' + e.message); }";
    assert_eq!(
        ok_body(run_main(&engine, "bomb", src)),
        "caught out of memory"
    );
    // And the worker is healthy afterwards.
    for _ in 0..3 {
        assert_eq!(
            ok_body(run_main(&engine, "bomb", "res.send('fine')")),
            "fine"
        );
    }
}

#[test]
fn deep_recursion_is_a_catchable_range_error() {
    // Building the deeply nested object below is slow in a debug build.
    let limits = Limits {
        cpu_time: Duration::from_secs(20),
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let src = r#"
        var depth = 0;
        function down() { depth++; down(); }
        try { down(); } catch (e) { res.send(e.name + ' ' + depth); }
    "#;
    let out = ok_body(run_main(&engine, "s", src));
    let (name, depth) = out.split_once(' ').unwrap();
    assert_eq!(name, "RangeError");
    // Unoptimised C frames are ~5x larger, hence the lower bar for debug builds.
    let min_depth = if cfg!(debug_assertions) { 300 } else { 2000 };
    assert!(depth.parse::<u32>().unwrap() > min_depth, "depth {depth}");
    // Uncaught, it is an ordinary exception.
    let err = run_main(&engine, "s", "function f() { f(); } f();").unwrap_err();
    assert!(
        matches!(&err, JsError::Exception { message, .. } if message.starts_with("RangeError")),
        "{err:?}"
    );
    // Recursion through native code (JSON, toString, getters) is bounded as well.
    let src = r#"
        var o = {}; var cur = o; for (var i = 0; i < 200000; i++) { cur.a = {}; cur = cur.a; }
        try { JSON.stringify(o); res.send('no'); } catch (e) { res.send(e.name); }
    "#;
    assert_eq!(ok_body(run_main(&engine, "s", src)), "RangeError");
}

#[test]
fn top_level_state_is_per_request_and_nothing_crosses_sites() {
    let limits = Limits {
        threads: 1,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    // Top-level declarations are the request's own (main.js runs as a function body)…
    let src = r#"
        // (A top-level `let` run twice in one realm as a script would throw a redeclaration.)
        var report = [typeof declared, String(typeof hoisted), typeof counted2];
        var declared = 1; let counted = 2; var counted2 = counted; function hoisted() {}
        globalThis.kept = (globalThis.kept || 0) + 1;
        Object.prototype.polluted = 1;
        Array.prototype.push = function () { return 'hijacked'; };
        res.send(report.join(',') + ' ' + globalThis.kept);
    "#;
    assert_eq!(
        ok_body(run_main(&engine, "s", src)),
        "undefined,function,undefined 1"
    );
    // …while what a script puts on globalThis stays in its site's warm context.
    assert_eq!(
        ok_body(run_main(&engine, "s", src)),
        "undefined,function,undefined 2"
    );
    // Another site on the same worker sees none of it: neither the global, nor the
    // patched built-ins.
    assert_eq!(
        ok_body(run_main(
            &engine,
            "t",
            "res.send(typeof kept + ' ' + typeof ({}).polluted + ' ' + [].push(1))"
        )),
        "undefined undefined 1"
    );
    // A run that fails leaves no warm context behind: the next starts fresh (were the
    // context kept, the second run would answer "100").
    let failing = "if (globalThis.kept) res.send(String(globalThis.kept)); else { globalThis.kept = 100; throw new Error('boom'); }";
    assert!(run_main(&engine, "u", failing).is_err());
    assert!(run_main(&engine, "u", failing).is_err());
    // A redeploy (new hash) and `forget` start a fresh context too.
    engine.forget("s");
    assert_eq!(
        ok_body(run_main(&engine, "s", src)),
        "undefined,function,undefined 1"
    );
}

#[test]
fn a_warm_context_gets_its_builtins_back_and_per_run_limits_afresh() {
    let limits = Limits {
        threads: 1,
        max_log_lines: 3,
        ..Limits::default()
    };
    let (host, engine) = engine_with(limits, MemHost::default());
    // A sloppy script that overwrites the native globals after using them; the next run
    // of the same warm context has them again, with its own response and log budget.
    let src = r#"
        for (var i = 0; i < 5; i++) console.log('line ' + i);
        var n = (db.get('n') || 0) + 1; db.set('n', n);
        res.status(201).header('X-Run', String(n)).send('run ' + n + ' ' + typeof globalThis.kept);
        globalThis.kept = 1;
        db = null; res = null; console = null; fetch = null; socket = null;
    "#;
    for n in 1..=3 {
        let r = run_main(&engine, "s", src).unwrap();
        let seen = if n == 1 { "undefined" } else { "number" };
        assert_eq!(
            (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            (201, format!("run {n} {seen}"))
        );
        let runs: Vec<_> = r.headers.iter().filter(|(k, _)| k == "X-Run").collect();
        assert_eq!(runs.len(), 1, "one header, this run's: {:?}", r.headers);
        assert_eq!(runs[0].1, n.to_string());
    }
    // Each run logged its 3 lines and one summary of the 2 it dropped.
    let logs = host.logs_of("s");
    assert_eq!(
        logs.iter().filter(|(_, m)| m.starts_with("line ")).count(),
        9,
        "{logs:?}"
    );
    assert_eq!(
        logs.iter()
            .filter(|(_, m)| m.contains("2 more console lines dropped"))
            .count(),
        3,
        "{logs:?}"
    );
    // A run that sets and then throws keeps nothing, and the next run is not confused by it.
    let failing = "db.set('n', 100); throw new Error('boom')";
    assert!(run_main(&engine, "s", failing).is_err());
    assert_eq!(
        ok_body(run_main(&engine, "s", "res.send(String(db.get('n')))")),
        "3"
    );
}

/// A script can make a per-request global read-only, or hang setters on
/// `Object.prototype`; a later request of its warm context still gets its own request
/// object, or an error — never the one the earlier run pinned.
#[test]
fn a_pinned_or_trapped_request_global_never_reaches_a_later_request() {
    let limits = Limits {
        threads: 1,
        ..Limits::default()
    };
    let (_host, engine) = engine_with(limits, MemHost::default());
    let src = r#"
        var first = !globalThis.seen;
        globalThis.seen = true;
        if (first && req.path === '/pin') {
            Object.defineProperty(globalThis, 'req', { value: { path: '/pinned' }, writable: false });
        }
        if (req.path === '/trap') {
            Object.defineProperty(Object.prototype, 'path', {
                set: function (v) {}, get: function () { return '/trapped'; }, configurable: true,
            });
        }
        res.send(req.path + ' ' + (first ? 'fresh' : 'warm'));
    "#;
    let run = |path: &str| engine.run(&main_js("s", src), &[], get(path));
    assert_eq!(ok_body(run("/pin")), "/pinned fresh");
    // The next run cannot put its request in place: it fails (and its context goes)...
    match run("/real") {
        Err(JsError::Exception { message, .. }) => {
            assert!(message.contains("TypeError"), "{message}")
        }
        other => panic!("expected a TypeError, got {other:?}"),
    }
    // ...and the one after starts in a fresh context.
    assert_eq!(ok_body(run("/real")), "/real fresh");
    assert_eq!(ok_body(run("/trap")), "/trap warm");
    assert_eq!(
        ok_body(run("/next")),
        "/next warm",
        "a setter on Object.prototype is not called"
    );
}

#[test]
fn sites_kv_and_logs_are_isolated() {
    let (host, engine) = engine();
    run_main(&engine, "a", "db.set('k', 'from a'); console.log('a log')").unwrap();
    run_main(&engine, "b", "db.set('k', 'from b')").unwrap();
    assert_eq!(
        ok_body(run_main(&engine, "a", "res.send(db.get('k'))")),
        "from a"
    );
    assert_eq!(
        ok_body(run_main(&engine, "b", "res.send(db.get('k'))")),
        "from b"
    );
    assert_eq!(host.logs_of("a").len(), 1);
    assert!(host.logs_of("b").is_empty());
    // Same key on two sites: two entries.
    assert_eq!(host.kv.lock().unwrap().len(), 2);
}

#[test]
fn size_caps_are_enforced() {
    let limits = Limits {
        max_request_body: 8,
        max_response_body: 100,
        max_headers: 2,
        max_key_bytes: 4,
        max_value_bytes: 6,
        ..Limits::default()
    };
    let (host, engine) = engine_with(limits, MemHost::default());
    let mut req = get("/");
    req.body = b"123456789".to_vec();
    let err = engine
        .run(&main_js("s", "res.send('x')"), &[], req)
        .unwrap_err();
    assert_eq!(err, JsError::RequestTooLarge { size: 9, limit: 8 });
    assert_eq!(err.http_status(), 413);

    let src = r#"
        var out = [];
        function t(f) { try { f(); out.push('ok'); } catch (e) { out.push(e.name); } }
        t(function () { res.send('x'.repeat(101)); });
        t(function () { res.json('x'.repeat(99)); });
        t(function () { res.header('A', '1').header('B', '2'); });
        t(function () { res.header('C', '3'); });
        t(function () { res.header('a', 'replaced'); });
        t(function () { db.set('12345', 1); });
        t(function () { db.set('1234', '1234567'); });
        t(function () { db.set('1234', '123456'); });
        t(function () { db.get('é12'); });
        res.send(out.join(','));
    "#;
    let r = run_main(&engine, "s", src).unwrap();
    assert_eq!(
        body(&r),
        "RangeError,RangeError,ok,RangeError,ok,RangeError,RangeError,ok,ok"
    );
    assert_eq!(r.headers.len(), 3); // A, B and the default Content-Type.
    assert_eq!(host.stored("s", "1234").as_deref(), Some("123456"));
}

#[test]
fn overload_is_refused_quickly() {
    let limits = Limits {
        cpu_time: Duration::from_millis(400),
        threads: 1,
        max_pending: 1,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let engine = Arc::new(engine);
    let busy = {
        let engine = engine.clone();
        std::thread::spawn(move || run_main(&engine, "s", "for (;;) {}"))
    };
    while engine.pending() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        run_main(&engine, "s", "res.send('x')").unwrap_err(),
        JsError::Overloaded
    );
    // Refused at once: the endless loop is still running.
    assert!(!busy.is_finished());
    assert!(matches!(busy.join().unwrap(), Err(JsError::Timeout { .. })));
    assert_eq!(engine.pending(), 0);
    assert_eq!(ok_body(run_main(&engine, "s", "res.send('x')")), "x");
}

#[test]
fn requests_that_waited_too_long_are_refused() {
    let limits = Limits {
        cpu_time: Duration::from_millis(300),
        queue_timeout: Duration::from_millis(100),
        threads: 1,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let engine = Arc::new(engine);
    let busy = {
        let engine = engine.clone();
        std::thread::spawn(move || run_main(&engine, "s", "for (;;) {}"))
    };
    // Queued behind the endless loop (300 ms), the next request waits past its 100 ms.
    while engine.pending() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        run_main(&engine, "s", "res.send('x')").unwrap_err(),
        JsError::Overloaded
    );
    assert!(busy.join().unwrap().is_err());
}

#[test]
fn engine_drop_joins_workers() {
    for _ in 0..5 {
        let (_, engine) = engine();
        assert_eq!(ok_body(run_main(&engine, "s", "res.send('x')")), "x");
        drop(engine);
    }
}

#[test]
fn tiny_memory_limit_fails_cleanly() {
    let limits = Limits {
        memory_bytes: 64 << 10,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let err = run_main(&engine, "s", "res.send('x')").unwrap_err();
    assert!(matches!(err, JsError::OutOfMemory { .. }), "{err:?}");
}

#[test]
fn queued_jobs_of_a_failed_run_never_run_later() {
    let limits = Limits {
        threads: 1,
        ..Limits::default()
    };
    let (host, engine) = engine_with(limits, MemHost::default());
    let src =
        "Promise.resolve().then(function () { db.set('late', 'ran'); }); throw new Error('early');";
    assert!(matches!(
        run_main(&engine, "s", src),
        Err(JsError::Exception { .. })
    ));
    for _ in 0..2 {
        assert_eq!(ok_body(run_main(&engine, "t", "res.send('next')")), "next");
    }
    assert_eq!(host.stored("s", "late"), None);
    assert_eq!(host.stored("t", "late"), None);
}

#[test]
fn error_text_is_bounded() {
    let (host, engine) = engine();
    let err = run_main(&engine, "s", "throw new Error('m'.repeat(100000))").unwrap_err();
    let JsError::Exception { message, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.len() <= 1024 && message.starts_with("Error: mmm"),
        "{}",
        message.len()
    );
    assert!(host.logs_of("s")[0].1.len() < 16 * 1024);
}

#[test]
fn huge_cpu_time_does_not_overflow() {
    let limits = Limits {
        cpu_time: Duration::MAX,
        queue_timeout: Duration::MAX,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    assert_eq!(ok_body(run_main(&engine, "s", "res.send('x')")), "x");
}

#[test]
fn engine_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Engine>();
    check::<JsError>();
}

#[test]
fn each_request_gets_the_whole_memory_budget() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        cpu_time: Duration::from_secs(60),
        threads: 1,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    // Several MiB of cycles left on the global object each run: six runs need far more
    // than 16 MiB unless each run's garbage is collected once its context is gone.
    let src = r#"
        var nodes = [];
        for (var i = 0; i < 30000; i++) { var n = {i: i, pad: 'p' + i}; n.self = n; nodes.push(n); }
        globalThis.keep = nodes;
        res.send('ok');
    "#;
    for _ in 0..6 {
        assert_eq!(ok_body(run_main(&engine, "s", src)), "ok");
    }
}

#[test]
fn atomics_wait_cannot_block_a_worker() {
    let (_, engine) = engine();
    let src = "var i = new Int32Array(new SharedArrayBuffer(16)); try { Atomics.wait(i, 0, 0, 1e9); res.send('blocked'); } catch (e) { res.send(e.name); }";
    assert_eq!(ok_body(run_main(&engine, "s", src)), "TypeError");
}
