//! The certificate chosen for each handshake: an in-memory map from server name
//! to certificate (filled from the store, swapped on renewal), an optional
//! default certificate (the static `--tls-cert`), and the TLS-ALPN-01 challenge
//! certificates for `acme-tls/1` handshakes.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::challenge::Challenges;

/// ALPN protocol id of TLS-ALPN-01 validation handshakes (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Picks a certificate by SNI. Cheap to read from many coroutines; writers
/// (issuance, renewal) replace one entry at a time, so a renewed certificate is
/// served from the next handshake on, without a restart.
pub struct SniResolver {
    certs: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    default: RwLock<Option<Arc<CertifiedKey>>>,
    challenges: Arc<Challenges>,
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver")
            .field("names", &self.names())
            .finish_non_exhaustive()
    }
}

impl Default for SniResolver {
    fn default() -> Self {
        Self::new()
    }
}

/// Lower-case `name` unless it already is (SNI is case-insensitive, map keys are lower case).
fn normalize(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

impl SniResolver {
    /// An empty resolver with its own (empty) challenge table.
    pub fn new() -> Self {
        Self {
            certs: RwLock::new(HashMap::new()),
            default: RwLock::new(None),
            challenges: Arc::new(Challenges::default()),
        }
    }

    /// The challenge table this resolver serves TLS-ALPN-01 certificates from.
    pub fn challenges(&self) -> &Arc<Challenges> {
        &self.challenges
    }

    /// Serve `cert` for `name` from the next handshake on (replaces any previous one).
    pub fn insert(&self, name: &str, cert: Arc<CertifiedKey>) {
        let name = normalize(name).into_owned();
        self.certs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, cert);
    }

    /// Stop serving a certificate for `name`.
    pub fn remove(&self, name: &str) {
        self.certs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(normalize(name).as_ref());
    }

    /// The certificate served for `name` (not counting the default).
    pub fn get(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.certs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(normalize(name).as_ref())
            .cloned()
    }

    /// Whether a handshake for `name` would get a certificate (own or default).
    pub fn can_serve(&self, name: &str) -> bool {
        self.get(name).is_some() || self.default_cert().is_some()
    }

    /// Certificate for handshakes whose name is unknown or absent (e.g. `--tls-cert`).
    pub fn set_default(&self, cert: Option<Arc<CertifiedKey>>) {
        *self.default.write().unwrap_or_else(|e| e.into_inner()) = cert;
    }

    fn default_cert(&self) -> Option<Arc<CertifiedKey>> {
        self.default
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Names with their own certificate, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .certs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        v.sort_unstable();
        v
    }

    /// The selection rule, separated from rustls' `ClientHello` for testing:
    /// an `acme-tls/1` handshake gets only its challenge certificate (never a
    /// real one, RFC 8737 §3); others get the name's certificate, else the default.
    pub fn select(&self, sni: Option<&str>, acme_alpn: bool) -> Option<Arc<CertifiedKey>> {
        if acme_alpn {
            return sni.and_then(|n| self.challenges.alpn_cert(normalize(n).as_ref()));
        }
        sni.and_then(|n| self.get(n))
            .or_else(|| self.default_cert())
    }
}

/// True when the client offered `acme-tls/1`.
pub fn offers_acme_alpn(hello: &ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protos| protos.any(|p| p == ACME_TLS_ALPN))
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme = offers_acme_alpn(&hello);
        let picked = self.select(hello.server_name(), acme);
        if picked.is_none() {
            log::debug!(
                "tls: no certificate for server name '{}'{}",
                hello.server_name().unwrap_or("(none)"),
                if acme { " (acme-tls/1)" } else { "" }
            );
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ck(name: &str) -> Arc<CertifiedKey> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        super::super::pem::load_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), name)
            .unwrap()
            .key
    }

    #[test]
    fn selects_by_name_case_insensitively() {
        let r = SniResolver::new();
        let a = ck("a.example");
        r.insert("A.Example", a.clone());
        assert!(Arc::ptr_eq(
            &r.select(Some("a.example"), false).unwrap(),
            &a
        ));
        assert!(Arc::ptr_eq(
            &r.select(Some("A.EXAMPLE"), false).unwrap(),
            &a
        ));
        assert!(r.select(Some("b.example"), false).is_none());
        assert!(r.select(None, false).is_none());
        assert_eq!(r.names(), vec!["a.example"]);
    }

    #[test]
    fn swap_replaces_the_served_certificate() {
        let r = SniResolver::new();
        let (old, new) = (ck("s.example"), ck("s.example"));
        r.insert("s.example", old.clone());
        assert!(Arc::ptr_eq(&r.get("s.example").unwrap(), &old));
        r.insert("s.example", new.clone());
        assert!(Arc::ptr_eq(&r.get("s.example").unwrap(), &new));
        r.remove("s.example");
        assert!(r.get("s.example").is_none());
    }

    #[test]
    fn default_covers_unknown_and_missing_names() {
        let r = SniResolver::new();
        let d = ck("static.example");
        r.set_default(Some(d.clone()));
        assert!(Arc::ptr_eq(
            &r.select(Some("other.example"), false).unwrap(),
            &d
        ));
        assert!(Arc::ptr_eq(&r.select(None, false).unwrap(), &d));
        assert!(r.can_serve("anything"));
        let own = ck("own.example");
        r.insert("own.example", own.clone());
        assert!(Arc::ptr_eq(
            &r.select(Some("own.example"), false).unwrap(),
            &own
        ));
    }

    #[test]
    fn acme_alpn_gets_only_challenge_certificates() {
        let r = SniResolver::new();
        r.insert("c.example", ck("c.example"));
        r.set_default(Some(ck("static.example")));
        assert!(r.select(Some("c.example"), true).is_none());
        assert!(r.select(None, true).is_none());
        let ch = ck("c.example");
        r.challenges().set_alpn("c.example", ch.clone());
        assert!(Arc::ptr_eq(
            &r.select(Some("C.example"), true).unwrap(),
            &ch
        ));
        assert!(!Arc::ptr_eq(
            &r.select(Some("c.example"), false).unwrap(),
            &ch
        ));
    }
}
