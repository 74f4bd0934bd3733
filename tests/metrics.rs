//! `GET /metrics` through the real binary: admin scope only, Prometheus text, and the
//! counters moving with real requests (a served page, a 404, a script that times out).

mod common;
use common::*;

/// The value of the series line that starts with `series ` (labels included).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_requests_latency_bytes_and_scripts() {
    let srv = Server::start(&["--js-timeout-ms", "200"]);
    let admin = token(&srv, "admin");
    let deploy = token(&srv, "deploy");
    assert_eq!(srv.get("localhost", "/metrics").status, 401);
    assert_eq!(api(&srv, &deploy, "GET", "/metrics", b"").status, 403);
    assert_eq!(api(&srv, &admin, "POST", "/metrics", b"").status, 405);

    let page = vec![b'x'; 5000];
    assert_eq!(
        put_zip(
            &srv,
            &admin,
            "blog",
            &zipbuild::site(&[("index.html", &page)])
        )
        .status,
        200
    );
    #[cfg(feature = "js")]
    assert_eq!(
        put_zip(
            &srv,
            &admin,
            "spin",
            &zipbuild::site(&[("main.js", b"while (true) {}")])
        )
        .status,
        200
    );
    let before = api(&srv, &admin, "GET", "/metrics", b"");
    assert_eq!(before.status, 200);
    assert!(before
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let b = before.text();
    for _ in 0..3 {
        assert_eq!(srv.get("blog.localhost", "/").status, 200);
    }
    assert_eq!(srv.get("blog.localhost", "/missing").status, 404);
    #[cfg(feature = "js")]
    assert_eq!(srv.get("spin.localhost", "/").status, 503);
    let a = api(&srv, &admin, "GET", "/metrics", b"").text();

    let ok = "fazt_http_requests_total{class=\"site\",status=\"2xx\"}";
    let nf = "fazt_http_requests_total{class=\"site\",status=\"4xx\"}";
    assert_eq!(value(&a, ok) - value(&b, ok), 3.0);
    assert_eq!(value(&a, nf) - value(&b, nf), 1.0);
    assert!(
        value(&a, "fazt_http_response_bytes_total") - value(&b, "fazt_http_response_bytes_total")
            >= 15000.0
    );
    let count = "fazt_http_request_duration_seconds_count";
    let inf = "fazt_http_request_duration_seconds_bucket{le=\"+Inf\"}";
    assert_eq!(value(&a, count), value(&a, inf));
    assert!(value(&a, count) > value(&b, count));
    #[cfg(feature = "js")]
    {
        let un = "fazt_script_runs_total{outcome=\"unavailable\"}";
        assert_eq!(value(&a, un) - value(&b, un), 1.0);
        // The timed-out run took at least its limit: it is past the 0.1 s bucket.
        let fast = "fazt_http_request_duration_seconds_bucket{le=\"0.1\"}";
        assert!(value(&a, inf) - value(&a, fast) >= 1.0, "{a}");
    }
    assert!(value(&a, "fazt_database_bytes") > 0.0);
    assert!(value(&a, "fazt_resident_memory_bytes") > 1e6);
    #[cfg(feature = "analytics")]
    assert!(a.contains("fazt_analytics_events_total{fate=\"dropped\"} 0"));
}
