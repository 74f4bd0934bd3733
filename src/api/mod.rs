//! The management API on the admin host: the state it works on ([`Api`]: tokens, the
//! failed-auth limiter, deploy limits, hooks) and the handlers for sites, deploys, tokens,
//! env vars and system health ([`handlers`]). Which URL reaches which handler, and with what
//! scope, is the route table's business (`app::routes`); authentication is [`crate::access`].
//! Every answer uses the `{data}` / `{error:{code,message}}` envelope ([`crate::envelope`]).

pub mod auth;
pub mod deployments;
pub mod domains;
pub mod go_routes;
pub mod handlers;
pub mod logs_follow;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::access::ratelimit::FailureLimiter;
use crate::access::{Caller, Gate, Scope, Verifier, AUTH_FAILURES_PER_MINUTE};
use crate::deploy::DeployLimits;
use crate::hosting::Sites;
use crate::kernel::db::Db;
use crate::kernel::http::{Request, Response};
use crate::kernel::vfs::Vfs;

/// Called after a site's files, env or existence change (script caches, certificates…).
pub type SiteHook = Box<dyn Fn(&str) + Send + Sync>;

/// A site's WebSocket clients now.
pub type SiteCount = Box<dyn Fn(&str) -> usize + Send + Sync>;

pub struct Api {
    pub db: Arc<Db>,
    pub vfs: Arc<Vfs>,
    pub sites: Arc<Sites>,
    pub domain: String,
    pub https: bool,
    pub tokens: Verifier,
    pub limiter: FailureLimiter,
    /// Dashboard logins: their failure limits and how many are being checked.
    pub login: crate::access::login::LoginGuard,
    pub trusted_proxies: Vec<IpAddr>,
    pub deploy_limits: DeployLimits,
    /// Uploads being received or deployed now (see [`DeployLimits::max_concurrent`]).
    pub uploads: std::sync::atomic::AtomicUsize,
    pub started: Instant,
    pub site_hooks: Vec<SiteHook>,
    /// Scheduled snapshots and replication, for `/api/system/health`.
    pub backup: crate::backup::Policy,
    /// Certificates for `/api/system/health` (set when HTTPS is on).
    pub cert_status: Option<Box<dyn Fn() -> serde_json::Value + Send + Sync>>,
    /// The analytics recorder (queue, drops) for `/api/system/health`.
    pub analytics_status: Option<Box<dyn Fn() -> serde_json::Value + Send + Sync>>,
    /// Custom domains' lookup cache, dropped when the API changes them.
    pub domains: Option<Arc<crate::hosting::domains::Domains>>,
    /// A site's WebSocket clients now, for `GET /api/sites/{name}`.
    pub websocket_clients: Option<SiteCount>,
}

impl Api {
    pub fn new(db: Arc<Db>, vfs: Arc<Vfs>, sites: Arc<Sites>, domain: String) -> Api {
        Api {
            db,
            vfs,
            sites,
            domain,
            https: false,
            domains: None,
            tokens: Verifier::default(),
            limiter: FailureLimiter::new(AUTH_FAILURES_PER_MINUTE, Duration::from_secs(60)),
            login: Default::default(),
            trusted_proxies: Vec::new(),
            deploy_limits: DeployLimits::default(),
            uploads: std::sync::atomic::AtomicUsize::new(0),
            started: Instant::now(),
            site_hooks: Vec::new(),
            backup: crate::backup::Policy::default(),
            cert_status: None,
            analytics_status: None,
            websocket_clients: None,
        }
    }

    /// The caller, if `req` carries a token of at least scope `need` (see [`Gate`]). Not
    /// inlined: its two callers (the route table, `/api/auth/status`) share one copy.
    #[inline(never)]
    pub fn authenticate(&self, req: &Request, need: Scope) -> Result<Caller, Response> {
        Gate {
            db: &self.db,
            tokens: &self.tokens,
            limiter: &self.limiter,
            trusted_proxies: &self.trusted_proxies,
        }
        .authenticate(req, need)
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

    /// Periodic housekeeping (token last-use batch).
    pub fn flush(&self) {
        self.tokens.flush(&self.db);
    }
}
