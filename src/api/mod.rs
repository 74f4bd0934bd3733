//! The management API on the admin host: token auth with scopes, failed-auth rate limiting,
//! the audit trail, and the routes for sites, deploys, tokens, env vars and system health.
//! Every answer uses the `{data}` / `{error:{code,message}}` envelope.

pub mod audit;
pub mod envelope;
mod handlers;
pub mod ratelimit;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deploy::DeployLimits;
use crate::hosting::Sites;
use crate::kernel::db::Db;
use crate::kernel::http::{Body, Request, Response};
use crate::kernel::vfs::Vfs;

use envelope::error;
use tokens::{Principal, Scope, Verifier};

/// Called after a site's files, env or existence change (script caches, certificates…).
pub type SiteHook = Box<dyn Fn(&str) + Send + Sync>;

pub struct Api {
    pub db: Arc<Db>,
    pub vfs: Arc<Vfs>,
    pub sites: Arc<Sites>,
    pub domain: String,
    pub https: bool,
    pub tokens: Verifier,
    pub limiter: ratelimit::FailureLimiter,
    pub trusted_proxies: Vec<IpAddr>,
    pub deploy_limits: DeployLimits,
    /// Uploads being received or deployed now (see [`DeployLimits::max_concurrent`]).
    pub uploads: std::sync::atomic::AtomicUsize,
    pub started: Instant,
    pub site_hooks: Vec<SiteHook>,
    /// Certificates for `/api/system/health` (set when HTTPS is on).
    pub cert_status: Option<Box<dyn Fn() -> serde_json::Value + Send + Sync>>,
    /// The analytics recorder (queue, drops) for `/api/system/health`.
    pub analytics_status: Option<Box<dyn Fn() -> serde_json::Value + Send + Sync>>,
}

/// The client's address (the kernel's [`client_addr`](crate::kernel::http::client_addr())).
pub use crate::kernel::http::client_addr as client_ip;

/// Failed authentications allowed per address per minute before 429.
pub const AUTH_FAILURES_PER_MINUTE: u32 = 10;

impl Api {
    pub fn new(db: Arc<Db>, vfs: Arc<Vfs>, sites: Arc<Sites>, domain: String) -> Api {
        Api {
            db,
            vfs,
            sites,
            domain,
            https: false,
            tokens: Verifier::default(),
            limiter: ratelimit::FailureLimiter::new(
                AUTH_FAILURES_PER_MINUTE,
                Duration::from_secs(60),
            ),
            trusted_proxies: Vec::new(),
            deploy_limits: DeployLimits::default(),
            uploads: std::sync::atomic::AtomicUsize::new(0),
            started: Instant::now(),
            site_hooks: Vec::new(),
            cert_status: None,
            analytics_status: None,
        }
    }

    /// The client's address (see [`client_ip()`]).
    pub fn client_ip(&self, req: &Request) -> IpAddr {
        client_ip(req, &self.trusted_proxies)
    }

    pub fn authenticate(&self, req: &Request, need: Scope) -> Result<Principal, Response> {
        let ip = self.client_ip(req);
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
        let Some(p) = self.tokens.verify(&self.db, token) else {
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
        Ok(p)
    }

    pub fn notify_site_changed(&self, site: &str) {
        self.vfs.invalidate(site);
        self.sites.invalidate(site);
        for hook in &self.site_hooks {
            hook(site);
        }
    }

    /// Public URL of a site, with the port the request came in on when it is not the default.
    pub fn site_url(&self, site: &str, req: &Request) -> String {
        let port = req
            .header("host")
            .and_then(|h| h.rsplit_once(':'))
            .map(|(_, p)| p)
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && *p != "80" && *p != "443");
        let scheme = if self.https || req.secure {
            "https"
        } else {
            "http"
        };
        let host = if site == "root" && self.domain != "localhost" {
            self.domain.clone()
        } else {
            format!("{site}.{}", self.domain)
        };
        match port {
            Some(p) => format!("{scheme}://{host}:{p}/"),
            None => format!("{scheme}://{host}/"),
        }
    }

    /// Handles `/api/…` on the admin host.
    pub fn handle(&self, req: &Request, body: &mut Body<'_>) -> Response {
        handlers::route(self, req, body)
    }

    /// Periodic housekeeping (token last-use batch).
    pub fn flush(&self) {
        self.tokens.flush(&self.db);
    }
}
