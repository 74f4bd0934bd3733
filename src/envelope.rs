//! The API's one response shape: `{"data": …}` on success, `{"error": {"code", "message"}}`
//! on failure, with the matching HTTP status. The management API, the analytics API and
//! authentication all answer in it, so it sits below them.

use serde_json::{json, Value};

use crate::kernel::http::{BodyError, Response};

pub fn data(status: u16, value: Value) -> Response {
    Response::json(status, &json!({ "data": value }))
}

pub fn ok(value: Value) -> Response {
    data(200, value)
}

pub fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    Response::json(
        status,
        &json!({ "error": { "code": code, "message": message.into() } }),
    )
}

pub fn not_found(what: impl Into<String>) -> Response {
    error(404, "NOT_FOUND", what)
}

pub fn bad_request(message: impl Into<String>) -> Response {
    error(400, "BAD_REQUEST", message)
}

pub fn internal(message: impl std::fmt::Display) -> Response {
    log::error!("api: {message}");
    error(500, "INTERNAL", "internal error (see the server log)")
}

/// A request body that could not be read (too large, too slow, malformed framing); the
/// connection closes, since the rest of the body is still on the wire.
pub fn body_error(e: BodyError) -> Response {
    let code = match e.status() {
        413 => "PAYLOAD_TOO_LARGE",
        408 => "TIMEOUT",
        _ => "BAD_REQUEST",
    };
    error(e.status(), code, e.to_string()).closing()
}
