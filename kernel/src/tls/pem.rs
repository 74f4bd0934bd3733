//! Turning PEM certificate chains and private keys into rustls [`CertifiedKey`]s:
//! for the static `--tls-cert`/`--tls-key` files and for chains kept in the store.

use std::path::Path;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::x509::{self, CertInfo};
use super::TlsError;

/// A certificate chain with its key, ready to serve, plus what we read from its leaf.
#[derive(Clone)]
pub struct LoadedCert {
    /// What rustls serves.
    pub key: Arc<CertifiedKey>,
    /// Validity and DNS names of the leaf.
    pub info: CertInfo,
}

/// Parse a PEM chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1)
/// into a servable certificate. `what` names the source in error messages.
pub fn load_pem(cert_pem: &[u8], key_pem: &[u8], what: &str) -> Result<LoadedCert, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(format!("{what}: certificate: {e}")))?;
    let leaf = chain
        .first()
        .ok_or_else(|| TlsError::Pem(format!("{what}: no CERTIFICATE block")))?;
    let info =
        x509::parse_cert(leaf.as_ref()).map_err(|e| TlsError::Pem(format!("{what}: {e}")))?;
    let key_der = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError::Pem(format!("{what}: private key: {e}")))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|e| TlsError::Pem(format!("{what}: private key: {e}")))?;
    let ck = CertifiedKey::new(chain, signing);
    // `Unknown` means rustls cannot tell for this key type; only a definite
    // mismatch (a key.pem from another issuance) is refused.
    if let Err(rustls::Error::InconsistentKeys(e)) = ck.keys_match() {
        return Err(TlsError::Pem(format!(
            "{what}: private key does not match the certificate ({e:?})"
        )));
    }
    Ok(LoadedCert {
        key: Arc::new(ck),
        info,
    })
}

/// Read the static certificate and key files given with `--tls-cert` / `--tls-key`.
pub fn load_pem_files(cert_path: &Path, key_path: &Path) -> Result<LoadedCert, TlsError> {
    let cert = std::fs::read(cert_path)
        .map_err(|e| TlsError::Pem(format!("reading {}: {e}", cert_path.display())))?;
    let key = std::fs::read(key_path)
        .map_err(|e| TlsError::Pem(format!("reading {}: {e}", key_path.display())))?;
    load_pem(&cert, &key, &cert_path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn loads_matching_pair() {
        let (c, k) = self_signed("static.example");
        let l = load_pem(c.as_bytes(), k.as_bytes(), "test").unwrap();
        assert_eq!(l.info.dns_names, vec!["static.example"]);
        assert_eq!(l.key.cert.len(), 1);
    }

    #[test]
    fn refuses_mismatched_key_and_garbage() {
        let (c, _) = self_signed("a.example");
        let (_, k2) = self_signed("b.example");
        let err = load_pem(c.as_bytes(), k2.as_bytes(), "mix")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("does not match"), "{err}");
        assert!(load_pem(b"", k2.as_bytes(), "empty").is_err());
        assert!(load_pem(c.as_bytes(), b"nope", "nokey").is_err());
        let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(load_pem(bad.as_bytes(), k2.as_bytes(), "bad").is_err());
    }

    #[test]
    fn file_errors_name_the_file() {
        let err = load_pem_files(Path::new("/nonexistent/c.pem"), Path::new("/x"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/nonexistent/c.pem"), "{err}");
    }
}
