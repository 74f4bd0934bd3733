//! The dashboard's login over the API (Go fazt's paths): `POST /api/login` with
//! `{"password": "…"}` sets the session cookie, `POST /api/logout` ends the session,
//! `GET /api/auth/status` says whether the caller is logged in, and `GET /api/sessions`,
//! `DELETE /api/sessions/{id}` list and revoke sessions.

use serde_json::{json, Value};

use super::Api;
use crate::access::login::Refused;
use crate::access::{same_origin, sessions, Caller, Scope};
use crate::audit;
use crate::envelope::{bad_request, body_error, error, internal, not_found, ok};
use crate::kernel::http::{client_addr, Body, Request, Response};

/// A login body is a password and little else.
const LOGIN_BODY: u64 = 4096;

fn anonymous(api: &Api, req: &Request) -> Caller {
    Caller {
        name: "login".into(),
        scope: Scope::Deploy,
        ip: client_addr(req, &api.trusted_proxies),
        session: None,
    }
}

pub fn login(api: &Api, req: &Request, body: &mut Body<'_>) -> Response {
    // Login CSRF: a page of another origin must not log the browser into this server.
    if req.header("origin").is_some() || req.header("sec-fetch-site").is_some() {
        if let Err(why) = same_origin(req) {
            return error(403, "CSRF_REJECTED", why);
        }
    }
    let raw = match body.read_all(LOGIN_BODY) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let password = match serde_json::from_slice::<Value>(&raw) {
        Ok(v) => match v.get("password").and_then(Value::as_str) {
            Some(p) => p.to_string(),
            None => return bad_request("expected {\"password\": \"…\"}"),
        },
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let who = anonymous(api, req);
    // One answer per refusal, built in one place.
    let (status, code, message, wait) = match api.login.attempt(&api.db, who.ip, &password) {
        Ok(()) => (0, "", String::new(), 0),
        Err(Refused::Limited { wait, global }) => (
            429,
            "RATE_LIMITED",
            format!(
                "too many failed logins from {}; try again in {wait} s",
                if global {
                    "this server"
                } else {
                    "this address"
                }
            ),
            wait,
        ),
        Err(Refused::Wrong) => {
            log::warn!("failed login from {}", who.ip);
            audit::record(&api.db, &who, "login_failed", "admin", "");
            (401, "INVALID_CREDENTIALS", "wrong password".into(), 0)
        }
        Err(Refused::NoPassword) => (
            403,
            "NO_PASSWORD",
            "no admin password is set: run `fazt admin set-password` on the server".into(),
            0,
        ),
        Err(Refused::Unreadable) => (
            409,
            "PASSWORD_UNREADABLE",
            "the stored password is in a format this version cannot check (set by Go fazt?): \
             run `fazt admin set-password` on the server"
                .into(),
            0,
        ),
        Err(Refused::Busy) => (503, "BUSY", "too many logins at once; try again".into(), 1),
        Err(Refused::Failed(e)) => return internal(e),
    };
    if status != 0 {
        let r = error(status, code, message);
        return if wait > 0 {
            r.header("Retry-After", wait.to_string())
        } else {
            r
        };
    }
    let ua = req.header("user-agent").unwrap_or("");
    let (s, secret) = match sessions::create(&api.db, &who.ip.to_string(), ua) {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    log::info!("login from {} (session {})", who.ip, s.id);
    audit::record(
        &api.db,
        &who,
        "login",
        "admin",
        &format!("session {}", s.id),
    );
    ok(json!({"authenticated": true, "session": s.to_json(true)}))
        .header(
            "Set-Cookie",
            sessions::set_cookie(&secret, secure(api, req)),
        )
        .header("Cache-Control", "no-store")
}

/// Whether the browser reached us over HTTPS: directly, or through a trusted proxy that says
/// so (the cookie then needs `Secure` and gets the `__Host-` name).
fn secure(api: &Api, req: &Request) -> bool {
    req.secure
        || (api.trusted_proxies.contains(&req.peer.ip())
            && req.header("x-forwarded-proto") == Some("https"))
}

pub fn logout(api: &Api, req: &Request, who: &Caller) -> Response {
    if let Some(id) = who.session {
        if let Err(e) = sessions::revoke(&api.db, id) {
            return internal(e);
        }
        audit::record(&api.db, who, "logout", "admin", &format!("session {id}"));
    }
    ok(json!({"authenticated": false}))
        .header("Set-Cookie", sessions::set_cookie("", secure(api, req)))
}

/// Open: whether the request is authenticated (cookie or token), and whether a password is
/// set at all (the dashboard's login page says what to do when it is not).
pub fn status(api: &Api, req: &Request) -> Response {
    let password_set = crate::access::password::stored(&api.db).is_ok_and(|s| s.is_some());
    let v = match api.authenticate(req, Scope::Deploy) {
        Ok(who) => json!({
            "authenticated": true,
            "via": if who.session.is_some() { "session" } else { "token" },
            "name": who.name,
            "scope": who.scope.as_str(),
            "session_id": who.session,
            "password_set": password_set,
        }),
        Err(_) => json!({"authenticated": false, "password_set": password_set}),
    };
    ok(v).header("Cache-Control", "no-store")
}

pub fn list(api: &Api, who: &Caller) -> Response {
    match sessions::list(&api.db) {
        Ok(v) => ok(Value::Array(
            v.iter()
                .map(|s| s.to_json(who.session == Some(s.id)))
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

pub fn revoke(api: &Api, raw: &str, who: &Caller) -> Response {
    let Ok(id) = raw.parse::<i64>() else {
        return bad_request(format!("'{raw}' is not a session id"));
    };
    match sessions::revoke(&api.db, id) {
        Ok(true) => {
            audit::record(
                &api.db,
                who,
                "revoke_session",
                "admin",
                &format!("session {id}"),
            );
            ok(json!({"revoked": id}))
        }
        Ok(false) => not_found(format!("session {id}")),
        Err(e) => internal(e),
    }
}
