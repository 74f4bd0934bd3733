//! `api/main.js`: `request`, `respond` and the completion value as the response.

use super::*;

fn run_api(engine: &Engine, source: &str) -> Result<JsResponse, JsError> {
    let req = JsRequest {
        method: "PUT".into(),
        path: "/api/items/7".into(),
        query: "a=b".into(),
        headers: vec![("X-Id".into(), "9".into())],
        body: br#"{"n":1}"#.to_vec(),
    };
    engine.run(&script("api", ScriptKind::Api, source), &[], req)
}

#[test]
fn request_global_has_the_req_shape() {
    let (_, engine) = engine();
    let r = run_api(&engine, "({m: request.method, p: request.path, q: request.query, h: request.headers['X-Id'], b: JSON.parse(request.body).n, req: typeof req, res: typeof res})").unwrap();
    assert_eq!(
        body(&r),
        r#"{"m":"PUT","p":"/api/items/7","q":"a=b","h":"9","b":1,"req":"undefined","res":"undefined"}"#
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn completion_values_map_to_responses() {
    let (_, engine) = engine();
    let r = run_api(&engine, "'<p>hi</p>'").unwrap();
    assert_eq!((r.status, body(&r)), (200, "<p>hi</p>"));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

    let r = run_api(&engine, "var x = 1;").unwrap();
    assert_eq!((r.status, body(&r), r.headers.len()), (200, "", 0));

    let r = run_api(&engine, "[1, 2]").unwrap();
    assert_eq!(body(&r), "[1,2]");

    let r = run_api(&engine, "42").unwrap();
    assert_eq!(body(&r), "42");

    // Data that merely has a non-numeric `status` is data, not an envelope.
    let r = run_api(&engine, "({status: 'active', n: 1})").unwrap();
    assert_eq!((r.status, body(&r)), (200, r#"{"status":"active","n":1}"#));

    // A branch's completion value counts.
    let r = run_api(
        &engine,
        "if (request.method === 'PUT') { respond(202, 'yes'); } else { respond(405); }",
    )
    .unwrap();
    assert_eq!((r.status, body(&r)), (202, "yes"));
}

#[test]
fn respond_forms_match_go() {
    let (_, engine) = engine();
    let r = run_api(&engine, "respond()").unwrap();
    assert_eq!((r.status, body(&r)), (200, ""));

    let r = run_api(&engine, "respond(404)").unwrap();
    assert_eq!((r.status, body(&r)), (404, ""));

    let r = run_api(&engine, "respond({ok: true})").unwrap();
    assert_eq!((r.status, body(&r)), (200, r#"{"ok":true}"#));
    assert_eq!(r.header("content-type"), Some("application/json"));

    let r = run_api(&engine, "respond(201, {id: 7})").unwrap();
    assert_eq!((r.status, body(&r)), (201, r#"{"id":7}"#));

    let r = run_api(
        &engine,
        "respond(200, 'plain', {'Content-Type': 'text/plain', 'X-N': 3})",
    )
    .unwrap();
    assert_eq!(body(&r), "plain");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-n"), Some("3"));

    // A hand-written envelope works too.
    let r = run_api(&engine, "({status: 302, headers: {Location: '/x'}})").unwrap();
    assert_eq!((r.status, r.header("location")), (302, Some("/x")));

    let err = run_api(&engine, "respond(1000, 'x')").unwrap_err();
    assert!(
        matches!(&err, JsError::Exception { message, .. } if message.starts_with("RangeError")),
        "{err:?}"
    );
    let err = run_api(&engine, "({status: 99})").unwrap_err();
    assert!(
        matches!(&err, JsError::Exception { message, .. } if message.starts_with("RangeError")),
        "{err:?}"
    );
    let err = run_api(&engine, "respond(200, 'x', {'Bad Header': 1})").unwrap_err();
    assert!(
        matches!(&err, JsError::Exception { message, .. } if message.starts_with("TypeError")),
        "{err:?}"
    );
}

#[test]
fn promise_completion_is_awaited() {
    let (_, engine) = engine();
    let r = run_api(
        &engine,
        "(async function () { await null; return respond(203, 'later'); })()",
    )
    .unwrap();
    assert_eq!((r.status, body(&r)), (203, "later"));
    let err = run_api(&engine, "new Promise(function () {})").unwrap_err();
    assert!(
        matches!(&err, JsError::Exception { message, .. } if message.contains("never settled")),
        "{err:?}"
    );
}

#[test]
fn api_body_cap_applies() {
    let limits = Limits {
        max_response_body: 10,
        ..Limits::default()
    };
    let (_, engine) = engine_with(limits, MemHost::default());
    let err = run_api(&engine, "'x'.repeat(11)").unwrap_err();
    assert!(
        matches!(&err, JsError::Exception { message, .. } if message.starts_with("RangeError")),
        "{err:?}"
    );
    assert_eq!(ok_body(run_api(&engine, "'x'.repeat(10)")), "xxxxxxxxxx");
}
