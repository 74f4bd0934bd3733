//! The fazt request handler: composes the verticals behind the HTTP edge. Routes by host to
//! the admin host (health, API, start page) or a site (script or static files).

use std::sync::Arc;
use std::time::Instant;

#[cfg(feature = "analytics")]
use crate::analytics::Analytics;
use crate::api::Api;
use crate::hosting::{paths, Hosting, Router, Target};
use crate::kernel::db::Db;
use crate::kernel::http::{Body, Handler, Request, Response};
use crate::scripts::Scripts;

pub struct App {
    pub db: Arc<Db>,
    pub hosting: Hosting,
    pub api: Api,
    pub scripts: Arc<Scripts>,
    pub router: Router,
    #[cfg(feature = "analytics")]
    pub analytics: Arc<Analytics>,
    pub started: Instant,
}

impl App {
    fn admin(&self, req: &Request, body: &mut Body<'_>) -> Response {
        let path = req.path();
        if path == "/api" || path.starts_with("/api/") {
            #[cfg(feature = "analytics")]
            if let Some(r) = self.analytics.handle_api(&self.api, req, body) {
                return r;
            }
            return self.api.handle(req, body);
        }
        #[cfg(feature = "analytics")]
        if let Some(r) = self.analytics.handle_public(req, body) {
            return r;
        }
        match path {
            "/health" => {
                if self.db.healthy() {
                    Response::text(200, "ok")
                } else {
                    Response::text(503, "database unavailable")
                }
            }
            _ => self.hosting.serve("admin", req),
        }
    }
}

impl Handler for App {
    fn handle(&self, req: &Request, body: &mut Body<'_>) -> Response {
        let mut resp = self.dispatch(req, body);
        if req.secure {
            resp.set_header("Strict-Transport-Security", "max-age=31536000");
        }
        resp
    }
}

impl App {
    fn dispatch(&self, req: &Request, body: &mut Body<'_>) -> Response {
        match self.router.route(&req.host()) {
            Target::Admin => self.admin(req, body),
            Target::Site(site) => {
                let info = self.hosting.sites.info(&site);
                if !info.exists {
                    return self.hosting.not_found_site(req);
                }
                // The one decision on the path: decoded and normalised once, then used for
                // both script selection and static lookup, so no spelling of a path
                // (`/%61pi/…`, `//api/…`) reaches one while meaning the other.
                let path = match paths::clean(req.path()) {
                    Ok(p) => p,
                    Err(why) => return crate::hosting::bad_path(why),
                };
                let resp = match self.scripts.handle(&site, &info, req, &path, body) {
                    Some(resp) => resp,
                    None => self.hosting.serve_path(&site, req, &path),
                };
                #[cfg(feature = "analytics")]
                self.analytics
                    .record(&site, req, resp.status, resp.body.len());
                resp
            }
            Target::Unknown => self.hosting.not_found_site(req),
        }
    }
}
