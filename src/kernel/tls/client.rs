//! The HTTPS client instant-acme talks to the CA with: hyper + rustls (ring),
//! trusting the compiled-in webpki roots plus optional extra roots (a private
//! ACME server such as pebble or step-ca). No system trust store is read, so it
//! works in an empty (scratch) container.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::HttpClient;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::TlsError;

/// How long connecting to the CA may take before the attempt fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

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

/// An instant-acme HTTP client over HTTPS only. Must be created and used
/// inside one Tokio runtime (its pooled connections belong to that runtime).
pub fn http_client(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Box<dyn HttpClient>, TlsError> {
    let tls = client_tls_config(extra_roots)?;
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    Ok(Box::new(Client::builder(TokioExecutor::new()).build(https)))
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
        let dir = std::env::temp_dir().join(format!("fazt-tls-root-{}", std::process::id()));
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
        let p = std::env::temp_dir().join(format!("fazt-tls-empty-{}", std::process::id()));
        std::fs::write(&p, "hello").unwrap();
        assert!(load_root_pem(&p).is_err());
        let _ = std::fs::remove_file(&p);
    }
}
