//! The serverless engine's window on fazt.db: a site's own KV rows (`kv_store`), its logs
//! (`site_logs`, also the server log at debug level). Every call is keyed by the site the
//! engine passes in, which is how one site's script never reaches another's data. Reads use
//! the pooled readers (never waiting for writers); writes go through the single writer.

use std::sync::Arc;

use rusqlite::OptionalExtension;

use crate::kernel::db::{now, Db};
use crate::serverless::Host;

/// Total bytes of keys and values one site may keep in its KV store.
pub const DEFAULT_SITE_KV_BYTES: i64 = 16 * 1024 * 1024;

pub struct DbHost {
    pub db: Arc<Db>,
    pub site_kv_bytes: i64,
}

impl Host for DbHost {
    fn kv_get(&self, site: &str, key: &str) -> Result<Option<String>, String> {
        self.db
            .read(|c| {
                c.prepare_cached("SELECT value FROM kv_store WHERE site_id = ?1 AND key = ?2")?
                    .query_row([site, key], |r| r.get::<_, Option<String>>(0))
                    .optional()
            })
            .map(Option::flatten)
            .map_err(|e| format!("db.get failed: {e}"))
    }

    fn kv_set(&self, site: &str, key: &str, value: &str) -> Result<(), String> {
        let (s, k, v, cap) = (
            site.to_string(),
            key.to_string(),
            value.to_string(),
            self.site_kv_bytes,
        );
        self.db
            .write(move |c| -> Result<(), String> {
                let tx = c.transaction().map_err(|e| e.to_string())?;
                // The quota counts what the site would hold after this write.
                let used: i64 = tx
                    .query_row(
                        "SELECT COALESCE(SUM(length(key) + length(value)), 0) FROM kv_store
                         WHERE site_id = ?1 AND key != ?2",
                        [&s, &k],
                        |r| r.get(0),
                    )
                    .map_err(|e| e.to_string())?;
                if used + (k.len() + v.len()) as i64 > cap {
                    return Err(format!("db.set refused: the site's KV store is limited to {cap} bytes"));
                }
                let t = now();
                tx.execute(
                    "INSERT INTO kv_store (site_id, key, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT(site_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    rusqlite::params![s, k, v, t],
                )
                .map_err(|e| e.to_string())?;
                tx.commit().map_err(|e| e.to_string())
            })?
            .map_err(|e| format!("db.set failed: {e}"))
    }

    fn kv_delete(&self, site: &str, key: &str) -> Result<(), String> {
        let (s, k) = (site.to_string(), key.to_string());
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM kv_store WHERE site_id = ?1 AND key = ?2",
                    [s, k],
                )
            })?
            .map(|_| ())
            .map_err(|e| format!("db.delete failed: {e}"))
    }

    fn log(&self, site: &str, level: &str, message: &str) {
        log::debug!("[{site}] {level}: {message}");
        let (s, l, m) = (site.to_string(), level.to_string(), message.to_string());
        let r = self.db.write(move |c| {
            c.execute(
                "INSERT INTO site_logs (site_id, level, message, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![s, l, m, now()],
            )
        });
        if !matches!(r, Ok(Ok(_))) {
            log::warn!("could not store a log line of site {site}");
        }
    }
}
