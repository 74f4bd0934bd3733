//! The opening handshake (RFC 6455 §4.2): which requests ask for a WebSocket, which of those
//! are valid, and the `101` that accepts one.

use crate::http::{Request, Response, ResponseBody, Upgrader};

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Whether the request asks to become a WebSocket (`Upgrade: websocket`); such a request is
/// either accepted or refused, never served as plain HTTP.
pub fn is_upgrade(req: &Request) -> bool {
    has_token(req.header("upgrade"), "websocket")
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut input = key.trim().as_bytes().to_vec();
    input.extend_from_slice(GUID.as_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    crate::base64::encode(digest.as_ref())
}

/// Checks an upgrade request: `GET`, HTTP/1.1, `Connection: upgrade`, version 13 and a key
/// of 16 bytes in base64. The error is the reason to answer 400 with (426 for a version).
pub fn check(req: &Request) -> Result<(), (u16, &'static str)> {
    if req.method() != "GET" {
        return Err((400, "a WebSocket opens with GET"));
    }
    if req.minor_version != 1 {
        return Err((400, "a WebSocket needs HTTP/1.1"));
    }
    if !has_token(req.header("connection"), "upgrade") {
        return Err((400, "Connection: Upgrade is missing"));
    }
    if req.header("sec-websocket-version").map(str::trim) != Some("13") {
        return Err((426, "only WebSocket version 13 is spoken here"));
    }
    let key = req.header("sec-websocket-key").unwrap_or("").trim();
    // 16 bytes in base64: 22 characters and "==".
    let valid = key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !valid {
        return Err((400, "Sec-WebSocket-Key is not 16 bytes of base64"));
    }
    Ok(())
}

/// The `101` accepting a request that passed [`check`]; `run` takes the connection once the
/// head is out. A 400/426 with the reason when it did not pass.
pub fn accept(req: &Request, run: Upgrader) -> Response {
    if let Err((status, why)) = check(req) {
        let r = Response::text(status, format!("{why}\n"));
        return if status == 426 {
            r.header("Sec-WebSocket-Version", "13")
        } else {
            r
        };
    }
    let key = accept_key(req.header("sec-websocket-key").unwrap_or(""));
    Response::new(101)
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Accept", key)
        .body(ResponseBody::Upgrade(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_rfc_6455() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn tokens_are_lists() {
        assert!(has_token(Some("keep-alive, Upgrade"), "upgrade"));
        assert!(has_token(Some("WebSocket"), "websocket"));
        assert!(!has_token(Some("websockets"), "websocket"));
        assert!(!has_token(None, "upgrade"));
    }
}
