//! The serverless engine's window on fazt.db: a site's own KV rows (through [`super::kv`],
//! with the quota kept here), its logs (through [`super::logs`], also the server log at
//! debug level), and its `fetch` (through [`super::fetch`]). Every call is keyed by the site the
//! engine passes in, which is how one site's script never reaches another's data. Reads use
//! the pooled readers (never waiting for writers); writes go through the single writer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::kv;
use crate::kernel::db::Db;
use crate::serverless::Host;

/// Total bytes of keys and values one site may keep in its KV store.
pub const DEFAULT_SITE_KV_BYTES: i64 = 16 * 1024 * 1024;

/// A cached total is trusted this long; then it is summed again, which also corrects for
/// writes another process (`fazt run`, an older binary) made meanwhile.
const USAGE_TTL: Duration = Duration::from_secs(60);
/// Sites whose totals are cached; past it the cache is emptied (it is only a cache).
const USAGE_SITES: usize = 4096;

/// Each site's KV bytes as a running total, so `db.set` checks the quota with two indexed
/// lookups instead of summing the whole store on every write (which made writes fall from
/// 2,640/s at 2,000 keys to 298/s at 35,000). Kept by the writer's commits; `kv_admit`
/// reads it on the JS threads (and fills it when empty).
#[derive(Default)]
struct Usage(Mutex<HashMap<String, (i64, Instant)>>);

impl Usage {
    fn cached(&self, site: &str) -> Option<i64> {
        let m = self.0.lock().ok()?;
        m.get(site)
            .filter(|(_, at)| at.elapsed() < USAGE_TTL)
            .map(|(n, _)| *n)
    }

    fn forget(&self, site: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(site);
        }
    }

    fn put(&self, site: &str, total: i64) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= USAGE_SITES && !m.contains_key(site) {
                m.clear();
            }
            m.insert(site.to_string(), (total, Instant::now()));
        }
    }
}

/// One run's writes, each held to the quota (the authoritative check: `kv_admit` was made
/// against a cached total). Runs inside the writer's shared transaction (see
/// [`crate::kernel::db::Grouped`]), which undoes all of them when this returns an error.
fn commit(
    tx: &rusqlite::Connection,
    site: &str,
    writes: &[(String, Option<String>)],
    cap: i64,
    usage: &Usage,
) -> Result<(), String> {
    let err = |e: rusqlite::Error| format!("db.set failed: {e}");
    let mut total = match usage.cached(site) {
        Some(t) => t,
        None => kv::site_bytes(tx, site).map_err(err)?,
    };
    let mut recounted = false;
    for (k, v) in writes {
        let replaced = kv::row_bytes(tx, site, k).map_err(err)?;
        let Some(v) = v else {
            if kv::delete(tx, site, k).map_err(err)? {
                total -= replaced;
            }
            continue;
        };
        let added = (k.len() + v.len()) as i64;
        if total - replaced + added > cap && !recounted {
            // Before refusing, make sure the total is not stale (rows deleted with the site,
            // or by another process, since it was cached). The transaction's own rows count.
            total = kv::site_bytes(tx, site).map_err(err)?;
            recounted = true;
        }
        if total - replaced + added > cap {
            return Err(format!(
                "db.set refused: the site's KV store is limited to {cap} bytes"
            ));
        }
        kv::put(tx, site, k, v).map_err(err)?;
        total += added - replaced;
    }
    // Before the COMMIT, so the next job of the same transaction counts these rows; a failed
    // COMMIT forgets the site's total (see `kv_commit`).
    usage.put(site, total);
    Ok(())
}

pub struct DbHost {
    pub db: Arc<Db>,
    pub site_kv_bytes: i64,
    usage: Arc<Usage>,
    /// What a script's `fetch` may reach beyond the public internet.
    pub fetch_policy: super::fetch::FetchPolicy,
    /// The sites' WebSocket clients (`/ws`), which `socket.broadcast` reaches.
    pub sockets: Arc<crate::kernel::ws::Hub>,
}

impl DbHost {
    pub fn new(db: Arc<Db>, site_kv_bytes: i64, ws: crate::kernel::ws::Limits) -> DbHost {
        DbHost {
            db,
            site_kv_bytes,
            usage: Arc::default(),
            fetch_policy: Default::default(),
            sockets: Arc::new(crate::kernel::ws::Hub::new(ws)),
        }
    }
}

impl DbHost {
    /// One write through [`Host::kv_commit`], waited for (the engine batches a run's writes;
    /// this is for callers outside a run).
    fn commit_now(&self, site: &str, key: &str, value: Option<&str>) -> Result<(), String> {
        let (tx, rx) = crate::kernel::oneshot::channel();
        let writes = vec![(key.to_string(), value.map(str::to_string))];
        self.kv_commit(site, writes, Box::new(move |r| drop(tx.send(r))));
        rx.recv()
            .unwrap_or_else(|_| Err("the database writer stopped".into()))
    }
}

impl Host for DbHost {
    fn socket_broadcast(&self, site: &str, msg: &str) -> usize {
        self.sockets.broadcast(site, false, msg.as_bytes(), None)
    }

    fn socket_clients(&self, site: &str) -> usize {
        self.sockets.count(site)
    }

    fn fetch(
        &self,
        _site: &str,
        req: &crate::serverless::FetchRequest,
    ) -> Result<crate::serverless::FetchResponse, String> {
        super::fetch::fetch(&self.fetch_policy, req)
    }

    fn read_module(&self, site: &str, path: &str, max: usize) -> Result<Option<String>, String> {
        let bytes = self
            .db
            .read(|c| crate::kernel::vfs::read_small(c, crate::database::FILES, site, path, max))
            .map_err(|e| e.to_string())?;
        Ok(bytes.and_then(|b| String::from_utf8(b).ok()))
    }

    fn kv_get(&self, site: &str, key: &str) -> Result<Option<String>, String> {
        self.db
            .read(|c| kv::get(c, site, key))
            .map_err(|e| format!("db.get failed: {e}"))
    }

    fn kv_set(&self, site: &str, key: &str, value: &str) -> Result<(), String> {
        self.commit_now(site, key, Some(value))
    }

    fn kv_admit(&self, site: &str, key: &str, value: &str, pending: i64) -> Result<(), String> {
        let cap = self.site_kv_bytes;
        let added = (key.len() + value.len()) as i64;
        let total = match self.usage.cached(site) {
            Some(t) => t,
            None => {
                let t = self
                    .db
                    .read(|c| kv::site_bytes(c, site))
                    .map_err(|e| format!("db.set failed: {e}"))?;
                self.usage.put(site, t);
                t
            }
        };
        if total + pending + added <= cap {
            return Ok(());
        }
        // Near the cap: the row it replaces gives its bytes back.
        let replaced = self
            .db
            .read(|c| kv::row_bytes(c, site, key))
            .map_err(|e| format!("db.set failed: {e}"))?;
        if total + pending + added - replaced > cap {
            return Err(format!(
                "db.set refused: the site's KV store is limited to {cap} bytes"
            ));
        }
        Ok(())
    }

    fn kv_commit(
        &self,
        site: &str,
        writes: Vec<(String, Option<String>)>,
        done: Box<dyn FnOnce(Result<(), String>) + Send>,
    ) {
        let (s, cap, usage) = (site.to_string(), self.site_kv_bytes, self.usage.clone());
        let (at, forget) = (s.clone(), usage.clone());
        let job = crate::kernel::db::Grouped {
            work: Box::new(move |c| commit(c, &s, &writes, cap, &usage)),
            done: Box::new(move |r| {
                if r.is_err() {
                    // The total may count rows the failed transaction did not keep.
                    forget.forget(&at);
                }
                done(r)
            }),
        };
        if let Err(e) = self.db.write_grouped(job) {
            // The job, and with it `done`, is gone: its caller hears "no answer".
            log::error!("db writes of {site} not queued: {e}");
        }
    }

    fn kv_delete(&self, site: &str, key: &str) -> Result<(), String> {
        self.commit_now(site, key, None)
    }

    fn log(&self, site: &str, level: &str, message: &str) {
        log::debug!("[{site}] {level}: {message}");
        super::logs::append(&self.db, site, level, message);
    }
}
