//! Pending ACME challenge responses: the HTTP-01 token → key-authorization map
//! read by the port-80 handler, and the TLS-ALPN-01 `acmeIdentifier`
//! certificates (RFC 8737) served to `acme-tls/1` handshakes.
//!
//! Entries live only while an order is being validated; the ACME worker adds
//! them before telling the CA it is ready and removes them afterwards.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustls::sign::CertifiedKey;
#[cfg(feature = "acme")]
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

#[cfg(feature = "acme")]
use super::TlsError;

/// Both kinds of challenge response, shared by the ACME worker and the edges.
#[derive(Default)]
pub struct Challenges {
    http01: RwLock<HashMap<String, String>>,
    alpn: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

// Poisoning only means another thread panicked between two map operations;
// each map is still consistent, so keep serving.
fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
#[cfg_attr(not(feature = "acme"), allow(dead_code))]
fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Challenges {
    /// Body to answer `GET /.well-known/acme-challenge/{token}` with, if that token is pending.
    pub fn http01_response(&self, token: &str) -> Option<String> {
        read(&self.http01).get(token).cloned()
    }

    /// The `acmeIdentifier` certificate for `name`, if a TLS-ALPN-01 challenge is pending.
    pub fn alpn_cert(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        read(&self.alpn).get(name).cloned()
    }

    #[cfg_attr(not(feature = "acme"), allow(dead_code))]
    pub(crate) fn set_http01(&self, token: &str, key_authorization: &str) {
        write(&self.http01).insert(token.to_owned(), key_authorization.to_owned());
    }

    #[cfg_attr(not(feature = "acme"), allow(dead_code))]
    pub(crate) fn clear_http01(&self, token: &str) {
        write(&self.http01).remove(token);
    }

    #[cfg_attr(not(feature = "acme"), allow(dead_code))]
    pub(crate) fn set_alpn(&self, name: &str, cert: Arc<CertifiedKey>) {
        write(&self.alpn).insert(name.to_owned(), cert);
    }

    #[cfg_attr(not(feature = "acme"), allow(dead_code))]
    pub(crate) fn clear_alpn(&self, name: &str) {
        write(&self.alpn).remove(name);
    }

    /// Number of pending responses of both kinds (status/tests).
    pub fn pending(&self) -> usize {
        read(&self.http01).len() + read(&self.alpn).len()
    }
}

#[cfg(feature = "acme")]
/// Mint the self-signed TLS-ALPN-01 certificate for `name`: its only SAN is
/// `name` and its critical `acmeIdentifier` extension holds the SHA-256 digest
/// of the key authorization (RFC 8737 §3).
pub fn mint_alpn_cert(name: &str, key_auth_digest: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let Ok(digest) = <&[u8; 32]>::try_from(key_auth_digest) else {
        return Err(TlsError::Acme(format!(
            "TLS-ALPN-01 digest for {name} is {} bytes, expected 32",
            key_auth_digest.len()
        )));
    };
    let (cert, key) = super::mint::alpn_cert(name, digest)
        .map_err(|e| TlsError::Acme(format!("minting TLS-ALPN-01 cert for {name}: {e}")))?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
    let signing = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|e| TlsError::Acme(format!("TLS-ALPN-01 key for {name}: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(cert)],
        signing,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http01_tokens_come_and_go() {
        let c = Challenges::default();
        assert_eq!(c.http01_response("tok"), None);
        c.set_http01("tok", "tok.thumb");
        assert_eq!(c.http01_response("tok").as_deref(), Some("tok.thumb"));
        assert_eq!(c.pending(), 1);
        c.clear_http01("tok");
        assert_eq!(c.http01_response("tok"), None);
        assert_eq!(c.pending(), 0);
    }

    #[cfg(feature = "acme")]
    #[test]
    fn alpn_cert_carries_acme_identifier() {
        let digest = [7u8; 32];
        let ck = mint_alpn_cert("x.example", &digest).unwrap();
        let der = ck.cert[0].as_ref();
        let info = super::super::x509::parse_cert(der).unwrap();
        assert_eq!(info.dns_names, vec!["x.example"]);
        // id-pe-acmeIdentifier 1.3.6.1.5.5.7.1.31, critical, OCTET STRING(OCTET STRING(digest)).
        let oid = [0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1F];
        let pos = der.windows(oid.len()).position(|w| w == oid).unwrap();
        let tail = &der[pos + oid.len()..];
        assert_eq!(&tail[..3], &[0x01, 0x01, 0xFF]);
        assert_eq!(&tail[3..7], &[0x04, 0x22, 0x04, 0x20]);
        assert_eq!(&tail[7..39], &digest);

        let c = Challenges::default();
        c.set_alpn("x.example", ck);
        assert!(c.alpn_cert("x.example").is_some());
        c.clear_alpn("x.example");
        assert!(c.alpn_cert("x.example").is_none());
    }

    #[cfg(feature = "acme")]
    #[test]
    fn wrong_digest_length_is_an_error() {
        assert!(mint_alpn_cert("x.example", &[0; 31]).is_err());
    }
}
