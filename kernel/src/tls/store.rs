//! Certificate storage: the [`CertStore`] key/value trait a product backs with a table of
//! its database, the naming scheme of the keys, and [`MemStore`] for tests.
//!
//! Everything the ACME client persists (account credentials, certificate chains,
//! private keys, renewal metadata) goes through this trait, so nothing is ever
//! written to the filesystem. Keys are namespaced by the ACME directory's host so
//! certificates from Let's Encrypt staging, production or a private CA never mix:
//!
//! ```text
//! acme/<directory-host>/account.json
//! certs/<directory-host>/<domain>/cert.pem   (leaf first, then the chain)
//! certs/<directory-host>/<domain>/key.pem    (PKCS#8 private key)
//! certs/<directory-host>/<domain>/meta.json  (issuance and back-off state)
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A store operation failed; the message says which key and why (the store's own words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for super::TlsError {
    fn from(e: StoreError) -> Self {
        super::TlsError::Store(e.0)
    }
}

/// A key/value store for ACME state. Implementations must be safe to call from
/// the ACME worker thread and from request coroutines at the same time.
pub trait CertStore: Send + Sync {
    /// The value stored under `key`, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Store `value` under `key`, replacing any previous value.
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Every full key that starts with `prefix`, in any order.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
    /// Remove `key`; removing a key that is not there is not an error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// An in-memory [`CertStore`] (tests, and servers that want no persistence).
#[derive(Default)]
pub struct MemStore {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A poisoned map is still a consistent map: every operation is one insert/read.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CertStore for MemStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
}

/// What the store keeps about one certificate (its `meta.json`), readable without a
/// running certificate manager (feature `acme`), e.g. by an offline status command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredMeta {
    /// The certificate's name.
    pub domain: String,
    /// Start of validity (Unix seconds), once issued.
    pub not_before: Option<i64>,
    /// End of validity (Unix seconds), once issued.
    pub not_after: Option<i64>,
    /// When the next attempt after a failure is due (Unix seconds).
    pub retry_at: Option<i64>,
    /// The last failure, when the last attempt failed.
    pub last_error: Option<String>,
}

/// Every certificate's metadata in `store`, of every directory, in key order. Unreadable
/// entries are skipped (they are only metadata; the manager rewrites them).
pub fn stored_metas(store: &dyn CertStore) -> Result<Vec<StoredMeta>, StoreError> {
    let mut keys = store.list("certs/")?;
    keys.retain(|k| k.ends_with("/meta.json"));
    keys.sort_unstable();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(raw) = store.get(&key)? else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            continue;
        };
        out.push(StoredMeta {
            domain: m["domain"].as_str().unwrap_or("?").to_string(),
            not_before: m["not_before"].as_i64(),
            not_after: m["not_after"].as_i64(),
            retry_at: m["retry_at"].as_i64(),
            last_error: m["last_error"].as_str().map(str::to_string),
        });
    }
    Ok(out)
}

/// The namespace of one ACME directory inside the store: its host (and port),
/// lower-cased, with anything outside `[a-z0-9.-]` replaced by `_`.
///
/// `https://acme-v02.api.letsencrypt.org/directory` → `acme-v02.api.letsencrypt.org`,
/// `https://127.0.0.1:14000/dir` → `127.0.0.1_14000`.
pub fn directory_namespace(directory_url: &str) -> String {
    let rest = directory_url
        .split_once("://")
        .map_or(directory_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Drop any `user:pass@` so credentials never end up in a key name.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let ns: String = host
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '-') => c,
            _ => '_',
        })
        .collect();
    if ns.is_empty() {
        "_".to_owned()
    } else {
        ns
    }
}

/// Key of the ACME account credentials (JSON, instant-acme's `AccountCredentials`).
pub fn account_key(ns: &str) -> String {
    format!("acme/{ns}/account.json")
}

/// Key of the unix times of recent new orders (the weekly budget).
pub fn orders_key(ns: &str) -> String {
    format!("acme/{ns}/orders.json")
}

/// Prefix under which every certificate of one directory lives.
pub fn certs_prefix(ns: &str) -> String {
    format!("certs/{ns}/")
}

/// Key of the PEM certificate chain of `domain`.
pub fn cert_key(ns: &str, domain: &str) -> String {
    format!("certs/{ns}/{domain}/cert.pem")
}

/// Key of the PEM private key of `domain`.
pub fn key_key(ns: &str, domain: &str) -> String {
    format!("certs/{ns}/{domain}/key.pem")
}

/// Key of the renewal metadata of `domain`.
pub fn meta_key(ns: &str, domain: &str) -> String {
    format!("certs/{ns}/{domain}/meta.json")
}

/// Every key kept for `domain`: chain, private key, metadata.
pub fn domain_keys(ns: &str, domain: &str) -> [String; 3] {
    [
        cert_key(ns, domain),
        key_key(ns, domain),
        meta_key(ns, domain),
    ]
}

/// The distinct domains that have any key under [`certs_prefix`], sorted.
/// Keys that do not have the `<prefix><domain>/<file>` shape are ignored.
pub fn domains_in(ns: &str, keys: &[String]) -> Vec<String> {
    let prefix = certs_prefix(ns);
    let mut out: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(prefix.as_str()))
        .filter_map(|rest| rest.split_once('/'))
        .filter(|(domain, file)| !domain.is_empty() && !file.is_empty())
        .map(|(domain, _)| domain.to_owned())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_from_directory_url() {
        assert_eq!(
            directory_namespace("https://acme-v02.api.letsencrypt.org/directory"),
            "acme-v02.api.letsencrypt.org"
        );
        assert_eq!(
            directory_namespace("https://127.0.0.1:14000/dir"),
            "127.0.0.1_14000"
        );
        assert_eq!(
            directory_namespace("https://user:pw@CA.Example:8443?x"),
            "ca.example_8443"
        );
        assert_eq!(directory_namespace(""), "_");
        assert_eq!(directory_namespace("https:///x"), "_");
    }

    #[test]
    fn key_names() {
        let ns = "127.0.0.1_14000";
        assert_eq!(account_key(ns), "acme/127.0.0.1_14000/account.json");
        assert_eq!(
            cert_key(ns, "a.example.com"),
            "certs/127.0.0.1_14000/a.example.com/cert.pem"
        );
        assert_eq!(
            key_key(ns, "a.example.com"),
            "certs/127.0.0.1_14000/a.example.com/key.pem"
        );
        assert_eq!(
            meta_key(ns, "a.example.com"),
            "certs/127.0.0.1_14000/a.example.com/meta.json"
        );
    }

    #[test]
    fn mem_store_lists_by_prefix_and_domains_are_extracted() {
        let s = MemStore::new();
        for k in [
            cert_key("ns", "b.example"),
            key_key("ns", "b.example"),
            meta_key("ns", "a.example"),
            cert_key("other", "c.example"),
            "certs/ns/".to_owned(),
            "certs/ns/bare".to_owned(),
            account_key("ns"),
        ] {
            s.put(&k, b"x").unwrap();
        }
        let keys = s.list(&certs_prefix("ns")).unwrap();
        assert_eq!(keys.len(), 5);
        assert!(keys.iter().all(|k| k.starts_with("certs/ns/")));
        assert_eq!(domains_in("ns", &keys), vec!["a.example", "b.example"]);
        assert_eq!(s.get(&account_key("ns")).unwrap(), Some(b"x".to_vec()));
        assert_eq!(s.get("missing").unwrap(), None);
        s.put(&account_key("ns"), b"y").unwrap();
        assert_eq!(s.get(&account_key("ns")).unwrap(), Some(b"y".to_vec()));
    }
}
