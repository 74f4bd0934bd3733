//! Who may call what: API tokens and their scopes ([`tokens`]), the failed-authentication
//! limit ([`ratelimit`]), and [`Gate::authenticate`], which turns a request's bearer token
//! into a [`Caller`] or the exact 401/403/429 answer. The management API and the analytics
//! API are both behind it (the route table names the scope each route needs), so it sits
//! below both of them.

pub mod ratelimit;
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
            // Not counted: a request without credentials guesses nothing, and counting it
            // would let any page the admin visits (`<img src=…/api/sites>`) lock them out.
            return Err(error(
                401,
                "UNAUTHORIZED",
                "missing token: send Authorization: Bearer <token>",
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
        })
    }
}
