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

/// A site's scripts as last read (`main.js`, `api/main.js`; `None`: it has none), and the
/// count of invalidations (see [`Scripts::load_cached`]).
type Sources = (HashMap<String, [Option<Option<Arc<Script>>>; 2]>, u64);

/// Sites whose scripts are cached; past it the cache is emptied (it is only a cache).
const MAX_CACHED_SITES: usize = 4096;
/// A script longer than this is read again for each request rather than kept.
const MAX_CACHED_SOURCE: usize = 256 * 1024;

pub struct Scripts {
    pub engine: Engine,
    vfs: Arc<Vfs>,
    db: Arc<Db>,
    env: Mutex<HashMap<String, Env>>,
    sources: Mutex<Sources>,
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
            env: Mutex::new(HashMap::new()),
            sources: Mutex::new((HashMap::new(), 0)),
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
        if let Ok(mut e) = self.env.lock() {
            e.remove(site);
        }
        if let Ok(mut s) = self.sources.lock() {
            s.0.remove(site);
            s.1 += 1;
        }
        self.engine.forget(site);
    }

    fn env_of(&self, site: &str) -> Result<Env, String> {
        if let Some(e) = self.env.lock().ok().and_then(|m| m.get(site).cloned()) {
            return Ok(e);
        }
        let vars = super::env::values(&self.db, site).map_err(|e| e.to_string())?;
        let vars = Arc::new(vars);
        if let Ok(mut m) = self.env.lock() {
            if m.len() > 4096 {
                m.clear();
            }
            m.insert(site.to_string(), vars.clone());
        }
        Ok(vars)
    }

    /// [`Scripts::load`], from memory when this site's script was read since it last changed:
    /// reading `main.js` from the database on every request cost a query and a copy of the
    /// source each time. What was read before an invalidation is not kept after it (it may
    /// predate the deploy that caused it).
    fn load_cached(&self, site: &str, kind: ScriptKind) -> Result<Option<Arc<Script>>, String> {
        let slot = kind as usize;
        let generation = match self.sources.lock() {
            Ok(s) => {
                if let Some(Some(found)) = s.0.get(site).map(|e| &e[slot]) {
                    return Ok(found.clone());
                }
                s.1
            }
            Err(_) => 0,
        };
        let script = self.load(site, kind)?.map(Arc::new);
        let small = script
            .as_ref()
            .is_none_or(|s| s.source.len() <= MAX_CACHED_SOURCE);
        if let (true, Ok(mut s)) = (small, self.sources.lock()) {
            if s.1 == generation {
                if s.0.len() >= MAX_CACHED_SITES && !s.0.contains_key(site) {
                    s.0.clear();
                }
                s.0.entry(site.to_string()).or_default()[slot] = Some(script.clone());
            }
        }
        Ok(script)
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
