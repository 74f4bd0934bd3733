//! The certificate store over fazt.db's `certificates` table (key/value rows, the way fazt's
//! Go version kept certmagic's files): ACME account, keys, certificates and renewal metadata
//! all live in the cartridge, nothing on disk beside it.

use std::sync::Arc;

use rusqlite::OptionalExtension;

use crate::database::Merge;
use crate::kernel::db::{now, Db};
use crate::kernel::tls::store::StoreError;
use crate::kernel::tls::CertStore;

pub struct DbCertStore(pub Arc<Db>);

impl CertStore for DbCertStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0
            .read(|c| {
                c.prepare_cached("SELECT value FROM certificates WHERE key = ?1")?
                    .query_row([key], |r| r.get::<_, Option<Vec<u8>>>(0))
                    .optional()
            })
            .map(Option::flatten)
            .map_err(|e| StoreError(format!("reading certificate store key {key}: {e}")))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let (k, v) = (key.to_string(), value.to_vec());
        self.0
            .write(move |c| {
                c.execute(
                    "INSERT INTO certificates (key, value, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    rusqlite::params![k, v, now()],
                )
            })
            .map(|_| ())
            .map_err(|e| StoreError(format!("writing certificate store key {key}: {e}")))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.0
            .read(|c| {
                let mut st = c.prepare("SELECT key FROM certificates WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")?;
                let rows = st.query_map([prefix], |r| r.get::<_, String>(0))?;
                rows.collect()
            })
            .map_err(|e| StoreError(format!("listing certificate store: {e}")))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let k = key.to_string();
        self.0
            .write(move |c| c.execute("DELETE FROM certificates WHERE key = ?1", [k]))
            .map(|_| ())
            .map_err(|e| StoreError(format!("deleting certificate store key {key}: {e}")))
    }
}

/// Adds an imported certificate-store row unless `key` is present (see [`Merge`]).
pub fn import(c: &rusqlite::Connection, key: &str, value: &[u8]) -> rusqlite::Result<Merge> {
    let existing: Option<Vec<u8>> = c
        .query_row(
            "SELECT value FROM certificates WHERE key = ?1",
            [key],
            |r| r.get::<_, Option<Vec<u8>>>(0),
        )
        .optional()?
        .map(Option::unwrap_or_default);
    let m = Merge::of(existing, &value.to_vec());
    if m == Merge::Added {
        c.execute(
            "INSERT INTO certificates (key, value, updated_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![key, value, now()],
        )?;
    }
    Ok(m)
}
