//! Hosting: the static-site vertical. Maps a request to a site and a stored file and builds
//! the response (404 pages, SPA fallback, validators, ranges, gzip). Seeds the system sites.

pub mod paths;
pub mod router;
pub mod seed;
pub mod sites;
pub mod static_files;

use std::sync::Arc;

use crate::kernel::http::{Request, Response};
use crate::kernel::vfs::Vfs;

pub use router::{route, valid_site_name, Router, Target};
pub use sites::Sites;

pub struct Hosting {
    pub vfs: Arc<Vfs>,
    pub sites: Arc<Sites>,
}

/// 400 for a request path [`paths::clean`] refused.
pub fn bad_path(why: &str) -> Response {
    Response::text(400, format!("bad path: {why}\n"))
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

    /// Serves a static file of `site` at `path`, already cleaned by [`paths::clean`].
    pub fn serve_path(&self, site: &str, req: &Request, path: &str) -> Response {
        if req.method() != "GET" && req.method() != "HEAD" {
            return Response::text(405, "method not allowed\n").header("Allow", "GET, HEAD");
        }
        let path = path.to_string();
        for candidate in paths::candidates(&path) {
            if paths::never_served(&candidate) {
                continue;
            }
            match self.vfs.lookup(site, &candidate) {
                Ok(Some(found)) => {
                    return static_files::respond(&self.vfs, site, found, req, 200);
                }
                Ok(None) => {}
                Err(e) => {
                    log::error!("reading {site}/{candidate}: {e}");
                    return Response::text(500, "storage error\n");
                }
            }
        }
        let info = self.sites.info(site);
        if !info.exists {
            return self.not_found_site(req);
        }
        let last = path.rsplit('/').next().unwrap_or("");
        if info.spa && !last.contains('.') {
            if let Ok(Some(index)) = self.vfs.lookup(site, "index.html") {
                return static_files::respond(&self.vfs, site, index, req, 200);
            }
        }
        match self.vfs.lookup(site, "404.html") {
            Ok(Some(page)) => static_files::respond(&self.vfs, site, page, req, 404),
            _ => plain_404(),
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
