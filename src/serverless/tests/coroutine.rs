//! `Engine::run` called from `may` coroutines with the small stacks fazt's HTTP layer
//! gives connections: the JS stack never lives there, so deep recursion and allocation
//! bombs cannot overflow it.

use std::time::Duration;

use super::*;

/// Runs `f` on a may coroutine with a 64 KiB stack and returns its result.
fn on_small_coroutine<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let builder =
        may::coroutine::Builder::new().stack_size(64 * 1024 / std::mem::size_of::<usize>());
    match may::go!(builder, f) {
        Ok(h) => h.join().expect("coroutine finished"),
        Err(e) => panic!("spawn coroutine: {e}"),
    }
}

#[test]
fn deep_recursion_and_bombs_from_a_64k_coroutine() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        cpu_time: Duration::from_secs(60),
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let engine = Arc::new(engine);
    let e = engine.clone();
    let (recursion, bomb, caught_bomb) = on_small_coroutine(move || {
        let recursion = run_main(
            &e,
            "s",
            "function f(n) { return f(n + 1) + 1; } try { f(0); } catch (e) { res.send(e.name); }",
        );
        let bomb = run_main(&e, "s", "var a = []; for (;;) a.push([a.length]);");
        let caught = run_main(
            &e,
            "s",
            "var s = 'y'; try { for (;;) s += s; } catch (e) { s = ''; res.send('caught'); }",
        );
        (recursion, bomb, caught)
    });
    assert_eq!(ok_body(recursion), "RangeError");
    assert_eq!(bomb.unwrap_err(), JsError::OutOfMemory { limit: 16 << 20 });
    assert_eq!(ok_body(caught_bomb), "caught");
}

#[test]
fn many_coroutines_share_the_pool() {
    let limits = Limits {
        cpu_time: Duration::from_millis(300),
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let engine = Arc::new(engine);
    let mut handles = Vec::new();
    for i in 0..20 {
        let e = engine.clone();
        let builder =
            may::coroutine::Builder::new().stack_size(64 * 1024 / std::mem::size_of::<usize>());
        let h = may::go!(builder, move || {
            let src = "var n = (db.get('c') || 0) + 1; db.set('c', n); res.send('ok')";
            run_main(&e, &format!("site{}", i % 3), src)
        })
        .expect("spawn");
        handles.push(h);
    }
    for h in handles {
        assert_eq!(ok_body(h.join().expect("join")), "ok");
    }
}
