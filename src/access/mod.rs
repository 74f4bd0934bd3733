//! Who may call what: API tokens and their scopes ([`tokens`]), the dashboard's password
//! ([`password`]) and login sessions ([`sessions`]), the failed-authentication limit
//! ([`ratelimit`]), and [`Gate::authenticate`], which turns a request's bearer token or
//! session cookie into a [`Caller`] or the exact 401/403/429 answer. The management API and
//! the analytics API are both behind it (the route table names the scope each route needs),
//! so it sits below both of them.

pub mod login;
pub mod password;
pub mod ratelimit;
pub mod sessions;
pub mod tokens;

use std::net::IpAddr;

use crate::envelope::error;
use crate::kernel::db::Db;
use crate::kernel::http::{client_addr, Request, Response};

use ratelimit::FailureLimiter;
pub use tokens::{Principal, Scope, Verifier};

/// Failed authentications allowed per address per minute before 429.
pub const AUTH_FAILURES_PER_MINUTE: u32 = 10;

/// Who is calling an authenticated route: the token's name and scope, and the client's
/// address (both go into the audit trail).
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub scope: Scope,
    pub ip: IpAddr,
    /// The dashboard session the request came with (`None`: a bearer token).
    pub session: Option<i64>,
}

/// What authentication reads: the tokens table, the verifier's last-use memory, the
/// failure limiter and the proxies whose `X-Forwarded-For` is believed.
pub struct Gate<'a> {
    pub db: &'a Db,
    pub tokens: &'a Verifier,
    pub limiter: &'a FailureLimiter,
    pub trusted_proxies: &'a [IpAddr],
}

impl Gate<'_> {
    /// The caller, if the request carries a valid token with at least scope `need`; else
    /// the answer: 429 while the address is locked out, 401 without or with a bad token
    /// (only bad ones count towards the lock-out), 403 for too weak a scope.
    pub fn authenticate(&self, req: &Request, need: Scope) -> Result<Caller, Response> {
        let ip = client_addr(req, self.trusted_proxies);
        if let Some(wait) = self.limiter.blocked(ip) {
            return Err(error(
                429,
                "RATE_LIMITED",
                "too many failed authentications; try again later",
            )
            .header("Retry-After", wait.to_string()));
        }
        let token = req
            .header("authorization")
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim);
        let Some(token) = token else {
            if let Some(secret) = req.header("cookie").and_then(sessions::from_cookie) {
                return session_caller(self.db, req, secret, ip);
            }
            // Not counted: a request without credentials guesses nothing, and counting it
            // would let any page the admin visits (`<img src=…/api/sites>`) lock them out.
            return Err(error(
                401,
                "UNAUTHORIZED",
                "missing token: send Authorization: Bearer <token>, or log in",
            )
            .header("WWW-Authenticate", "Bearer"));
        };
        let Some(p) = self.tokens.verify(self.db, token) else {
            self.limiter.record_failure(ip);
            return Err(error(401, "UNAUTHORIZED", "invalid or revoked token")
                .header("WWW-Authenticate", "Bearer"));
        };
        if p.scope < need {
            return Err(error(
                403,
                "FORBIDDEN",
                format!(
                    "token '{}' has scope {}; this needs {}",
                    p.name,
                    p.scope.as_str(),
                    need.as_str()
                ),
            ));
        }
        Ok(Caller {
            name: p.name,
            scope: p.scope,
            ip,
            session: None,
        })
    }
}

/// The caller of a request that carries a session cookie: the admin, if the session is live
/// and the request comes from the admin host's own pages ([`same_origin`]). Sessions have the
/// admin scope; an unknown or ended one is not counted as a failure (a 256-bit id is not
/// guessed, and expired cookies are what browsers send every day).
fn session_caller(db: &Db, req: &Request, secret: &str, ip: IpAddr) -> Result<Caller, Response> {
    if let Err(why) = same_origin(req) {
        log::warn!("refused a session request from {ip}: {why}");
        return Err(error(403, "CSRF_REJECTED", why));
    }
    let Some(s) = sessions::find(db, secret) else {
        return Err(error(
            401,
            "UNAUTHORIZED",
            "the session has ended (expired, logged out or revoked): log in again",
        ));
    };
    Ok(Caller {
        name: format!("admin (session {})", s.id),
        scope: Scope::Admin,
        ip,
        session: Some(s.id),
    })
}

/// Whether a cookie-carrying request was made by the admin host's own pages. Browsers send
/// the cookie on requests from any page of the same *site*, and `evil.<domain>` is the same
/// site as `admin.<domain>`, so `SameSite=Strict` alone does not stop a deployed site: a
/// request the browser marks as coming from another origin (`Sec-Fetch-Site`) is refused,
/// and one that changes state must name the admin host in `Origin` (or, without it,
/// `Referer`).
pub fn same_origin(req: &Request) -> Result<(), String> {
    let host = req.header("host").unwrap_or("");
    if let Some(site) = req.header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err(format!(
                "a page of another origin ({site}) may not use the admin session"
            ));
        }
    }
    let safe = matches!(req.method(), "GET" | "HEAD" | "OPTIONS");
    let origin = req.header("origin").filter(|o| *o != "null");
    let from = match (origin, req.header("referer")) {
        (Some(o), _) => Some(o),
        (None, Some(r)) => Some(r),
        (None, None) if safe => return Ok(()),
        (None, None) => None,
    };
    let Some(from) = from else {
        return Err(format!(
            "{} with a session needs an Origin header naming this host",
            req.method()
        ));
    };
    let authority = from.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    });
    if !host.is_empty() && authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(format!("the request came from {from}, not from {host}"))
    }
}
