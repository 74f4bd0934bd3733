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
/// 2,640/s at 2,000 keys to 298/s at 35,000). Only touched on the writer thread.
#[derive(Default)]
struct Usage(Mutex<HashMap<String, (i64, Instant)>>);

impl Usage {
    fn cached(&self, site: &str) -> Option<i64> {
        let m = self.0.lock().ok()?;
        m.get(site)
            .filter(|(_, at)| at.elapsed() < USAGE_TTL)
            .map(|(n, _)| *n)
    }

    fn put(&self, site: &str, total: i64) {
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= USAGE_SITES && !m.contains_key(site) {
                m.clear();
            }
            m.insert(site.to_string(), (total, Instant::now()));
        }
    }

    fn adjust(&self, site: &str, delta: i64) {
        if let Ok(mut m) = self.0.lock() {
            if let Some((n, _)) = m.get_mut(site) {
                *n += delta;
            }
        }
    }
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
    pub fn new(db: Arc<Db>, site_kv_bytes: i64) -> DbHost {
        DbHost {
            db,
            site_kv_bytes,
            usage: Arc::default(),
            fetch_policy: Default::default(),
            sockets: Arc::new(crate::kernel::ws::Hub::new(Default::default())),
        }
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
        let (s, k, v, cap) = (
            site.to_string(),
            key.to_string(),
            value.to_string(),
            self.site_kv_bytes,
        );
        let usage = self.usage.clone();
        self.db
            .write_job(move |c| -> Result<(), String> {
                let tx = c.transaction().map_err(|e| e.to_string())?;
                let err = |e: rusqlite::Error| e.to_string();
                // The quota counts what the site would hold after this write.
                let replaced = kv::row_bytes(&tx, &s, &k).map_err(err)?;
                let added = (k.len() + v.len()) as i64;
                let mut total = match usage.cached(&s) {
                    Some(t) => t,
                    None => kv::site_bytes(&tx, &s).map_err(err)?,
                };
                if total - replaced + added > cap {
                    // Before refusing, make sure the total is not stale (rows deleted with
                    // the site, or by another process, since it was cached).
                    total = kv::site_bytes(&tx, &s).map_err(err)?;
                    usage.put(&s, total);
                    if total - replaced + added > cap {
                        return Err(format!(
                            "db.set refused: the site's KV store is limited to {cap} bytes"
                        ));
                    }
                }
                kv::put(&tx, &s, &k, &v).map_err(err)?;
                tx.commit().map_err(err)?;
                usage.put(&s, total - replaced + added);
                Ok(())
            })
            .map_err(|e| e.to_string())
            .and_then(|r| r)
            .map_err(|e| format!("db.set failed: {e}"))
    }

    fn kv_delete(&self, site: &str, key: &str) -> Result<(), String> {
        let (s, k) = (site.to_string(), key.to_string());
        let usage = self.usage.clone();
        self.db
            .write(move |c| -> rusqlite::Result<()> {
                let size = kv::row_bytes(c, &s, &k)?;
                if kv::delete(c, &s, &k)? {
                    usage.adjust(&s, -size);
                }
                Ok(())
            })
            .map_err(|e| format!("db.delete failed: {e}"))
    }

    fn log(&self, site: &str, level: &str, message: &str) {
        log::debug!("[{site}] {level}: {message}");
        super::logs::append(&self.db, site, level, message);
    }
}
