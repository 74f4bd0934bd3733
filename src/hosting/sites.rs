//! What fazt knows about each site without touching its files: whether it exists, whether it
//! has a `main.js` or `api/main.js`, whether it wants SPA fallback, and whether it opened
//! `GET /ws` without a script. Cached in memory per
//! site and dropped on every write to that site, so a static request costs no extra query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::OptionalExtension;

use super::rules::{self, Rules};
use crate::database::FILES;
use crate::kernel::db::{now, Db};
use crate::kernel::vfs;

#[derive(Debug, Clone, Default)]
pub struct SiteInfo {
    pub exists: bool,
    pub spa: bool,
    pub main_js: bool,
    pub api_main_js: bool,
    /// `GET /ws` opened by the site's settings (a site with `main.js` has it anyway).
    pub websocket: bool,
    /// Its `_redirects` and `_headers`, when it has either.
    pub rules: Option<Arc<Rules>>,
}

pub struct Sites {
    db: Arc<Db>,
    /// The entries, and a count of invalidations: what was read before one is not cached
    /// after it (it may predate the write that caused it).
    cache: Mutex<(HashMap<String, Arc<SiteInfo>>, u64)>,
}

/// The most site entries kept; beyond it the cache is simply cleared (cheap to rebuild).
const MAX_CACHED: usize = 4096;

/// A site's `_redirects` and `_headers`, parsed. Deploys refuse bad ones, so one that does
/// not parse here came another way (an import): it is logged and ignored.
fn load_rules(c: &rusqlite::Connection, site: &str) -> rusqlite::Result<Option<Arc<Rules>>> {
    let read = |path| vfs::read_small(c, FILES, site, path, rules::MAX_FILE);
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    let mut r = Rules::default();
    if let Some(b) = read(rules::REDIRECTS)? {
        match rules::parse_redirects(&text(b)) {
            Ok(v) => r.redirects = v,
            Err(e) => log::warn!("site {site}: {e}; its redirects are ignored"),
        }
    }
    if let Some(b) = read(rules::HEADERS)? {
        match rules::parse_headers(&text(b)) {
            Ok(v) => r.headers = v,
            Err(e) => log::warn!("site {site}: {e}; its headers are ignored"),
        }
    }
    Ok((!r.is_empty()).then(|| Arc::new(r)))
}

impl Sites {
    pub fn new(db: Arc<Db>) -> Self {
        Sites {
            db,
            cache: Mutex::new((HashMap::new(), 0)),
        }
    }

    pub fn info(&self, site: &str) -> Arc<SiteInfo> {
        let mut generation = 0;
        if let Ok(c) = self.cache.lock() {
            if let Some(i) = c.0.get(site) {
                return i.clone();
            }
            generation = c.1;
        }
        let info = Arc::new(self.load(site).unwrap_or_default());
        if let Ok(mut c) = self.cache.lock() {
            if c.1 == generation {
                if c.0.len() >= MAX_CACHED {
                    c.0.clear();
                }
                c.0.insert(site.to_string(), info.clone());
            }
        }
        info
    }

    fn load(&self, site: &str) -> rusqlite::Result<SiteInfo> {
        self.db.read(|c| {
            let row: Option<(i64, i64)> = c
                .prepare_cached("SELECT spa, websocket FROM sites WHERE name = ?1")?
                .query_row([site], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let has = |path: &str| vfs::file_exists(c, FILES, site, path);
            let any_file = vfs::has_files(c, FILES, site)?;
            Ok(SiteInfo {
                // A site registered in `sites`, or one with files (databases from fazt's Go
                // version have files but no `sites` rows).
                exists: row.is_some() || any_file,
                spa: row.is_some_and(|r| r.0 != 0),
                websocket: row.is_some_and(|r| r.1 != 0),
                main_js: has("main.js")?,
                api_main_js: has("api/main.js")?,
                rules: load_rules(c, site)?,
            })
        })
    }

    pub fn invalidate(&self, site: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.0.remove(site);
            c.1 += 1;
        }
    }

    /// Every registered site: (name, system, updated_at), by name.
    pub fn list(&self) -> rusqlite::Result<Vec<(String, bool, i64)>> {
        self.db.read(|c| {
            let mut st = c.prepare(
                "SELECT name, COALESCE(system, 0), COALESCE(updated_at, 0) FROM sites ORDER BY name",
            )?;
            let rows = st.query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?))
            })?;
            rows.collect()
        })
    }

    /// Removes a site's row (inside the caller's transaction).
    pub fn unregister(conn: &rusqlite::Connection, site: &str) -> rusqlite::Result<()> {
        conn.execute("DELETE FROM sites WHERE name = ?1", [site])?;
        Ok(())
    }

    /// Sets `site`'s SPA fallback (inside the caller's write); false when it has no row.
    pub fn set_spa(conn: &rusqlite::Connection, site: &str, spa: bool) -> rusqlite::Result<bool> {
        let n = conn.execute(
            "UPDATE sites SET spa = ?2, updated_at = ?3 WHERE name = ?1",
            rusqlite::params![site, spa as i64, now()],
        )?;
        Ok(n > 0)
    }

    /// Sets whether `site` opens `GET /ws` without a script (inside the caller's write);
    /// false when it has no row.
    pub fn set_websocket(
        conn: &rusqlite::Connection,
        site: &str,
        on: bool,
    ) -> rusqlite::Result<bool> {
        let n = conn.execute(
            "UPDATE sites SET websocket = ?2, updated_at = ?3 WHERE name = ?1",
            rusqlite::params![site, on as i64, now()],
        )?;
        Ok(n > 0)
    }

    /// Whether `site` has a row, and if so whether it is a system site (on the caller's
    /// connection).
    pub fn system_flag(conn: &rusqlite::Connection, site: &str) -> rusqlite::Result<Option<bool>> {
        conn.query_row(
            "SELECT COALESCE(system, 0) FROM sites WHERE name = ?1",
            [site],
            |r| r.get::<_, i64>(0),
        )
        .optional()
        .map(|s| s.map(|s| s != 0))
    }

    /// Registers `site` as deployed by its owner (not a system site), with its SPA flag.
    pub fn register_owned(
        conn: &rusqlite::Connection,
        site: &str,
        spa: bool,
        created: i64,
    ) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO sites (name, spa, system, created_at, updated_at) VALUES (?1, ?2, 0, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET spa = excluded.spa, system = 0, updated_at = excluded.updated_at",
            rusqlite::params![site, spa as i64, created, now()],
        )?;
        Ok(())
    }

    /// The deployment `site` was last switched to by this binary (deploy or rollback).
    pub fn deployment(conn: &rusqlite::Connection, site: &str) -> rusqlite::Result<Option<i64>> {
        conn.query_row(
            "SELECT deployment_id FROM sites WHERE name = ?1",
            [site],
            |r| r.get(0),
        )
        .optional()
        .map(Option::flatten)
    }

    /// Records that `site` now serves deployment `id` (inside the switch's transaction).
    pub fn set_deployment(
        conn: &rusqlite::Connection,
        site: &str,
        id: i64,
    ) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE sites SET deployment_id = ?2, updated_at = ?3 WHERE name = ?1",
            rusqlite::params![site, id, now()],
        )?;
        Ok(())
    }

    /// Registers a site row (inside the caller's write), keeping its settings if present.
    pub fn register(conn: &rusqlite::Connection, site: &str, system: bool) -> rusqlite::Result<()> {
        let t = now();
        conn.execute(
            "INSERT INTO sites (name, system, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT(name) DO UPDATE SET updated_at = excluded.updated_at",
            rusqlite::params![site, system as i64, t],
        )?;
        Ok(())
    }
}
