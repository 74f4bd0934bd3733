//! The `js` build's script runner over [`crate::serverless::Engine`]: which script a request
//! runs, the script's source and the site's env (both cached per site until the site
//! changes), and the `/ws` upgrade.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::hosting::sites::SiteInfo;
use crate::kernel::db::Db;
use crate::kernel::http::{Body, Request, Response, ResponseBody};
use crate::kernel::vfs::{Lookup, Vfs};
use crate::kernel::ws::{handshake, Hub};
use crate::serverless::{select_script, Engine, JsError, JsRequest, Script, ScriptKind};

/// A site's env vars, as `process.env` will see them.
type Env = Arc<Vec<(String, String)>>;

/// What is kept of one site until it changes: its env and its scripts as last read
/// (`main.js`, `api/main.js`; `Some(None)`: it has none).
#[derive(Default)]
struct Entry {
    env: Option<Env>,
    scripts: [Option<Option<Arc<Script>>>; 2],
}

/// The sites' entries, and the count of invalidations (see [`Scripts::cached`]).
type Cache = (HashMap<String, Entry>, u64);

/// Sites kept; past it the cache is emptied (it is only a cache).
const MAX_CACHED_SITES: usize = 4096;
/// A script longer than this is read again for each request rather than kept.
const MAX_CACHED_SOURCE: usize = 256 * 1024;

pub struct Scripts {
    pub engine: Engine,
    vfs: Arc<Vfs>,
    db: Arc<Db>,
    cache: Mutex<Cache>,
    /// The sites' WebSocket clients (`GET /ws`).
    sockets: Arc<Hub>,
}

fn text(status: u16, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    Response::text(status, m)
}

impl Scripts {
    pub fn new(engine: Engine, vfs: Arc<Vfs>, db: Arc<Db>, sockets: Arc<Hub>) -> Scripts {
        Scripts {
            engine,
            vfs,
            db,
            cache: Mutex::new((HashMap::new(), 0)),
            sockets,
        }
    }

    /// The WebSocket counters, for `/metrics`.
    pub fn websockets(&self) -> Option<crate::kernel::ws::Stats> {
        Some(self.sockets.stats())
    }

    /// WebSocket clients connected to `site` now.
    pub fn websocket_clients(&self, site: &str) -> usize {
        self.sockets.count(site)
    }

    /// Drops what is cached for `site` (after a deploy, env change or delete).
    pub fn forget(&self, site: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.0.remove(site);
            c.1 += 1;
        }
        self.engine.forget(site);
    }

    /// One of `site`'s cached values (`slot` picks it), else `load`ed and kept when `keep`
    /// says so. What was read before an invalidation is not kept after it (it may predate
    /// the deploy or env change that caused it).
    fn cached<T: Clone>(
        &self,
        site: &str,
        slot: impl Fn(&mut Entry) -> &mut Option<T>,
        load: impl FnOnce() -> Result<T, String>,
        keep: impl FnOnce(&T) -> bool,
    ) -> Result<T, String> {
        let generation = match self.cache.lock() {
            Ok(mut c) => {
                if let Some(v) = c.0.get_mut(site).and_then(|e| slot(e).clone()) {
                    return Ok(v);
                }
                c.1
            }
            Err(_) => 0,
        };
        let v = load()?;
        if let (true, Ok(mut c)) = (keep(&v), self.cache.lock()) {
            if c.1 == generation {
                if c.0.len() >= MAX_CACHED_SITES && !c.0.contains_key(site) {
                    c.0.clear();
                }
                *slot(c.0.entry(site.to_string()).or_default()) = Some(v.clone());
            }
        }
        Ok(v)
    }

    fn env_of(&self, site: &str) -> Result<Env, String> {
        let load = || {
            let vars = super::env::values(&self.db, site).map_err(|e| e.to_string())?;
            Ok(Arc::new(vars))
        };
        self.cached(site, |e| &mut e.env, load, |_| true)
    }

    /// [`Scripts::load`], from memory when this site's script was read since it last changed:
    /// reading `main.js` from the database on every request cost a query and a copy of the
    /// source each time.
    fn load_cached(&self, site: &str, kind: ScriptKind) -> Result<Option<Arc<Script>>, String> {
        let load = || Ok(self.load(site, kind)?.map(Arc::new));
        let small = |s: &Option<Arc<Script>>| {
            s.as_ref()
                .is_none_or(|s| s.source.len() <= MAX_CACHED_SOURCE)
        };
        self.cached(site, |e| &mut e.scripts[kind as usize], load, small)
    }

    /// Loads a script's source and hash from the VFS.
    pub fn load(&self, site: &str, kind: ScriptKind) -> Result<Option<Script>, String> {
        let found = self
            .vfs
            .lookup(site, kind.file_name())
            .map_err(|e| e.to_string())?;
        let Some(found) = found else { return Ok(None) };
        let (hash, bytes) = match found {
            Lookup::Inline(f) => (f.meta.hash.clone(), f.content.to_vec()),
            Lookup::Large(meta) => {
                let buf = self.vfs.read_all(site, &meta).map_err(|e| e.to_string())?;
                (meta.hash, buf)
            }
        };
        let source: Arc<str> = String::from_utf8_lossy(&bytes).into();
        Ok(Some(Script {
            site: site.to_string(),
            kind,
            hash,
            source,
        }))
    }

    /// Answers the request with the site's script when it has one for this path. `path` is
    /// the request path as [`crate::hosting::paths::clean`] decoded and normalised it
    /// (no leading `/`): scripts are selected by it and see it as `req.path`.
    pub fn handle(
        &self,
        site: &str,
        info: &SiteInfo,
        req: &Request,
        path: &str,
        body: &mut Body<'_>,
    ) -> Option<Response> {
        if path == "ws" && (info.main_js || info.websocket) && handshake::is_upgrade(req) {
            return Some(super::websocket::open(&self.sockets, site, req));
        }
        let path = format!("/{path}");
        let kind = select_script(&path, info.main_js, info.api_main_js)?;
        let script = match self.load_cached(site, kind) {
            Ok(Some(s)) => s,
            Ok(None) => return None, // removed since the site info was cached
            Err(e) => {
                log::error!("loading the script of {site}: {e}");
                return Some(text(500, "could not load the site's script"));
            }
        };
        let limit = self.engine.limits().max_request_body as u64;
        let body = match body.read_all(limit) {
            Ok(b) => b,
            Err(e) => return Some(text(e.status(), e.to_string()).closing()),
        };
        let env = match self.env_of(site) {
            Ok(e) => e,
            Err(e) => {
                log::error!("loading env of {site}: {e}");
                return Some(text(500, "could not load the site's environment"));
            }
        };
        let jreq = JsRequest {
            method: req.method().to_string(),
            path,
            query: req.query().to_string(),
            headers: req
                .headers()
                .map(|(n, v)| (n.to_string(), v.into_owned()))
                .collect(),
            body,
        };
        Some(match self.engine.run(&script, &env, jreq) {
            Ok(r) => {
                let mut resp = Response::new(r.status);
                for (n, v) in r.headers {
                    resp.headers.push((n.into(), v.into()));
                }
                if resp.get_header("cache-control").is_none() {
                    resp.headers
                        .push(("Cache-Control".into(), "no-store".into()));
                }
                resp.body = ResponseBody::Bytes(r.body);
                resp
            }
            Err(e) => {
                let mut resp = text(e.http_status(), e.to_string());
                if matches!(e, JsError::Overloaded) {
                    // Shed load, and tell well-behaved clients when to come back.
                    resp.headers.push(("Retry-After".into(), "1".into()));
                }
                resp
            }
        })
    }
}
