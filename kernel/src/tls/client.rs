//! The TLS client side: a rustls (ring) configuration trusting the compiled-in webpki roots
//! plus optional extra roots (a private CA such as pebble or step-ca), and wrapping a
//! connected socket for the kernel's blocking HTTP/1.1 client. No system trust store is
//! read, so it works in an empty (scratch) container. The ACME client talks to its CA
//! through this (`acme_http`, feature `acme`).

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::TlsError;
use crate::http_client::{ClientError, Stream};

/// Read every certificate of a PEM file as an extra trust root.
pub fn load_root_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path)
        .map_err(|e| TlsError::Config(format!("reading CA root {}: {e}", path.display())))?;
    let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Config(format!("CA root {}: {e}", path.display())))?;
    if roots.is_empty() {
        return Err(TlsError::Config(format!(
            "CA root {}: no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(roots)
}

/// The rustls client configuration: webpki roots + `extra_roots`.
pub fn client_tls_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra_roots {
        roots
            .add(root.clone())
            .map_err(|e| TlsError::Config(format!("extra CA root rejected: {e}")))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Config(format!("ACME client TLS versions: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Wrap a connected socket in a TLS client session for `host`.
pub fn wrap(
    sock: TcpStream,
    host: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<Box<dyn Stream>, ClientError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| ClientError::Invalid(format!("'{host}' is not a valid TLS server name")))?;
    let conn = rustls::ClientConnection::new(config, name)
        .map_err(|e| ClientError::Transport(format!("TLS: {e}")))?;
    Ok(Box::new(rustls::StreamOwned::new(conn, sock)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_roots_are_added_to_webpki_roots() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec![]).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = p.self_signed(&key).unwrap();
        let dir = std::env::temp_dir().join(format!("kernel-tls-root-{}", std::process::id()));
        std::fs::write(&dir, ca.pem()).unwrap();
        let roots = load_root_pem(&dir).unwrap();
        assert_eq!(roots.len(), 1);
        let _ = std::fs::remove_file(&dir);
        assert!(client_tls_config(&roots).is_ok());
        assert!(load_root_pem(Path::new("/nonexistent/root.pem"))
            .err()
            .unwrap()
            .to_string()
            .contains("/nonexistent/root.pem"));
    }

    #[test]
    fn empty_pem_is_refused() {
        let p = std::env::temp_dir().join(format!("kernel-tls-empty-{}", std::process::id()));
        std::fs::write(&p, "hello").unwrap();
        assert!(load_root_pem(&p).is_err());
        let _ = std::fs::remove_file(&p);
    }
}
