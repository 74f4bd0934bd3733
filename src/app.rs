//! The fazt request handler: composes the verticals behind the HTTP edge. Which vertical
//! answers a request — by host kind, method and path — is the route table ([`routes`]);
//! [`route`] is how its rows match. A site host's request runs the site's script or serves
//! its static files, and is recorded for analytics.

pub mod route;
pub mod routes;

use std::sync::Arc;
use std::time::Instant;

#[cfg(feature = "analytics")]
use crate::analytics::Analytics;
use crate::api::Api;
use crate::hosting::{paths, Hosting, Router, Target};
use crate::kernel::db::Db;
use crate::kernel::http::{Body, Handler, Request, Response};
use crate::metrics::Class;
use crate::scripts::Scripts;

use route::Host;

pub struct App {
    pub db: Arc<Db>,
    pub hosting: Hosting,
    pub api: Api,
    pub scripts: Arc<Scripts>,
    pub router: Router,
    #[cfg(feature = "analytics")]
    pub analytics: Arc<Analytics>,
    pub started: Instant,
    /// Counters for `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Upgrade settings given by flag or environment; stored ones are read per upgrade.
    pub upgrade_pinned: crate::upgrade::Settings,
}

impl App {
    /// The upgrader with the settings in force now (flags and environment over fazt.db).
    pub fn upgrader(&self) -> Result<Arc<crate::upgrade::Upgrader>, Response> {
        let s = crate::config::upgrade::current(&self.upgrade_pinned, &self.db)
            .map_err(|e| crate::envelope::error(400, "BAD_SETTING", e))?;
        Ok(Arc::new(crate::upgrade::Upgrader::new(self.db.path(), s)))
    }
}

impl Handler for App {
    fn handle(&self, req: &Request, body: &mut Body<'_>) -> Response {
        let t = Instant::now();
        let (class, mut resp) = self.answer(req, body);
        if req.secure {
            resp.set_header("Strict-Transport-Security", "max-age=31536000");
        }
        self.metrics
            .observe(class, resp.status, t.elapsed(), resp.body.len());
        resp
    }
}

impl App {
    /// The answer, and the kind of host it was for (for the metrics).
    fn answer(&self, req: &Request, body: &mut Body<'_>) -> (Class, Response) {
        let host_name = req.host();
        let target = self.router.route(&host_name);
        let custom: String;
        let (host, site) = match &target {
            Target::Admin => (Host::Admin, ""),
            Target::Site(site) => (Host::Site, site.as_str()),
            // Not a name under the domain: a custom domain (`fazt domains add`), or nothing.
            Target::Unknown => match self.hosting.domains.lookup(&host_name) {
                Some(m) => {
                    if let Some(primary) = &m.redirect_to {
                        return (Class::Site, to_primary(req, primary));
                    }
                    custom = m.site;
                    (Host::Site, custom.as_str())
                }
                None => (Host::Unknown, ""),
            },
        };
        let class = match host {
            Host::Admin => Class::Admin,
            Host::Site => Class::Site,
            Host::Unknown => Class::Unknown,
        };
        (
            class,
            route::dispatch(self, routes::ROUTES, host, site, req, body),
        )
    }
}

/// 301 from a custom domain that is not its site's primary name (`www.example.org`) to the
/// primary one, same scheme, port, path and query.
fn to_primary(req: &Request, primary: &str) -> Response {
    let scheme = if req.secure { "https" } else { "http" };
    let port = req
        .header("host")
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(String::new(), |p| format!(":{p}"));
    let location = format!("{scheme}://{primary}{port}{}", req.target());
    Response::text(301, format!("moved to {location}\n")).header("Location", location)
}

impl App {
    /// `GET /metrics`: the counters, and the gauges read now.
    pub fn metrics_text(&self) -> Response {
        let api = &self.api;
        let certs = api.cert_status.as_ref().map(|f| f());
        let certificates = certs
            .as_ref()
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        Some((c["name"].as_str()?.to_string(), c["not_after"].as_i64()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let analytics = api
            .analytics_status
            .as_ref()
            .map(|f| f())
            .and_then(|v| Some((v["written"].as_u64()?, v["dropped"].as_u64()?)));
        let g = crate::metrics::Gauges {
            uptime_seconds: self.started.elapsed().as_secs(),
            rss_bytes: crate::api::handlers::rss_bytes(),
            db_bytes: self.db.file_size(),
            certificates,
            analytics,
            websockets: self.scripts.websockets(),
        };
        Response::bytes(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            self.metrics.render(&g).into_bytes(),
        )
    }

    /// `/health` on the admin host: whether the database answers.
    pub fn health(&self) -> Response {
        if self.db.healthy() {
            Response::text(200, "ok")
        } else {
            Response::text(503, "database unavailable")
        }
    }

    /// A request for `site`: its script, if it has one for this path, else its static files.
    pub fn site(&self, site: &str, req: &Request, body: &mut Body<'_>) -> Response {
        let info = self.hosting.sites.info(site);
        if !info.exists {
            return self.hosting.not_found_site(req);
        }
        // The one decision on the path: decoded and normalised once, then used for both
        // script selection and static lookup, so no spelling of a path (`/%61pi/…`,
        // `//api/…`) reaches one while meaning the other.
        let path = match paths::clean(req.path()) {
            Ok(p) => p,
            Err(why) => return crate::hosting::bad_path(why),
        };
        let resp = match self.scripts.handle(site, &info, req, &path, body) {
            Some(resp) => {
                self.metrics.script(resp.status);
                resp
            }
            None => self.hosting.serve_site_path(site, req, &path, &info),
        };
        #[cfg(feature = "analytics")]
        self.analytics
            .record(site, req, resp.status, resp.body.len());
        resp
    }
}
