//! Hosting: the static-site vertical. Maps a request to a site and a stored file and builds
//! the response (404 pages, SPA fallback, validators, ranges, gzip). Seeds the system sites.

pub mod domains;
pub mod paths;
pub mod router;
pub mod rules;
pub mod seed;
pub mod sites;
pub mod static_files;

use std::sync::Arc;

use crate::kernel::http::{Request, Response};
use crate::kernel::vfs::{Lookup, Vfs};
use rules::{Captures, Redirect};
use sites::SiteInfo;

pub use router::{route, valid_site_name, Router, Target};
pub use sites::Sites;

pub struct Hosting {
    pub vfs: Arc<Vfs>,
    pub sites: Arc<Sites>,
    pub domains: Arc<domains::Domains>,
}

/// 400 for a request path [`paths::clean`] refused.
pub fn bad_path(why: &str) -> Response {
    Response::text(400, format!("bad path: {why}\n"))
}

fn reason(status: u16) -> &'static str {
    match status {
        404 => "not found",
        410 => "gone",
        _ => "",
    }
}

fn plain_404() -> Response {
    Response::text(404, "404 not found\n")
}

impl Hosting {
    /// Serves a static file of `site` for `req` (GET/HEAD).
    pub fn serve(&self, site: &str, req: &Request) -> Response {
        match paths::clean(req.path()) {
            Ok(p) => self.serve_path(site, req, &p),
            Err(why) => bad_path(why),
        }
    }

    /// Serves a static file of `site` at `path`, already cleaned by [`paths::clean`]: the
    /// site's `_redirects` first (a rule not ending in `!` only where no file answers), then
    /// the file, the SPA fallback or the 404 page, with the site's `_headers` added.
    pub fn serve_path(&self, site: &str, req: &Request, path: &str) -> Response {
        self.serve_site_path(site, req, path, &self.sites.info(site))
    }

    /// [`Hosting::serve_path`] with the site's info already looked up.
    pub fn serve_site_path(
        &self,
        site: &str,
        req: &Request,
        path: &str,
        info: &SiteInfo,
    ) -> Response {
        if req.method() != "GET" && req.method() != "HEAD" {
            return Response::text(405, "method not allowed\n").header("Allow", "GET, HEAD");
        }
        let mut resp = self.resolve(site, req, path, info);
        if let Some(rules) = &info.rules {
            for (name, value) in rules.headers_for(path) {
                resp.set_header(name.clone(), value.clone());
            }
        }
        resp
    }

    /// The first stored file that answers `path` ([`paths::candidates`]).
    fn find(&self, site: &str, path: &str) -> Result<Option<Lookup>, Response> {
        for candidate in paths::candidates(path) {
            if paths::never_served(&candidate) {
                continue;
            }
            match self.vfs.lookup(site, &candidate) {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => {}
                Err(e) => {
                    log::error!("reading {site}/{candidate}: {e}");
                    return Err(Response::text(500, "storage error\n"));
                }
            }
        }
        Ok(None)
    }

    fn resolve(&self, site: &str, req: &Request, path: &str, info: &SiteInfo) -> Response {
        let found = match self.find(site, path) {
            Ok(f) => f,
            Err(r) => return r,
        };
        if let Some(rules) = &info.rules {
            for rule in &rules.redirects {
                if found.is_some() && !rule.force {
                    continue;
                }
                if let Some(caps) = rule.from.matches(path) {
                    return self.apply(site, req, rule, &caps);
                }
            }
        }
        if let Some(found) = found {
            return static_files::respond(&self.vfs, site, found, req, 200);
        }
        if !info.exists {
            return self.not_found_site(req);
        }
        let last = path.rsplit('/').next().unwrap_or("");
        if info.spa && !last.contains('.') {
            if let Ok(Some(index)) = self.vfs.lookup(site, "index.html") {
                return static_files::respond(&self.vfs, site, index, req, 200);
            }
        }
        self.page_404(site, req)
    }

    fn page_404(&self, site: &str, req: &Request) -> Response {
        match self.vfs.lookup(site, "404.html") {
            Ok(Some(page)) => static_files::respond(&self.vfs, site, page, req, 404),
            _ => plain_404(),
        }
    }

    /// Answers with a matched `_redirects` rule.
    fn apply(&self, site: &str, req: &Request, rule: &Redirect, caps: &Captures) -> Response {
        let target = rule.target(caps);
        if (300..400).contains(&rule.status) {
            let q = req.query();
            let location = if !q.is_empty() && !target.contains('?') {
                format!("{target}?{q}")
            } else {
                target
            };
            return Response::text(rule.status, format!("redirecting to {location}\n"))
                .header("Location", location);
        }
        // A rewrite (200) or a page with an error status: the target's file, served here.
        let local = target.split(['?', '#']).next().unwrap_or("");
        let found = match paths::clean(local) {
            Ok(p) => match self.find(site, &p) {
                Ok(f) => f,
                Err(r) => return r,
            },
            Err(_) => None,
        };
        match found {
            Some(f) => static_files::respond(&self.vfs, site, f, req, rule.status),
            None if rule.status == 200 => self.page_404(site, req),
            None => Response::text(
                rule.status,
                format!("{} {}\n", rule.status, reason(rule.status)),
            ),
        }
    }

    /// The `404` system site's page, with status 404 (unknown hosts and missing sites).
    pub fn not_found_site(&self, req: &Request) -> Response {
        match self.vfs.lookup("404", "index.html") {
            Ok(Some(page)) => static_files::respond(&self.vfs, "404", page, req, 404),
            _ => plain_404(),
        }
    }
}
