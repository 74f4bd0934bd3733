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
    Ok(Box::new(Described(rustls::StreamOwned::new(conn, sock))))
}

/// A TLS stream whose errors name their cause in words. rustls writes several causes with
/// `Debug` (`invalid peer certificate: UnknownIssuer`), and shipped builds format `Debug` as
/// nothing to save space, which would leave "invalid peer certificate: " alone.
struct Described<S>(S);

impl<S: std::io::Read> std::io::Read for Described<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(describe_io)
    }
}

impl<S: std::io::Write> std::io::Write for Described<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(describe_io)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(describe_io)
    }
}

fn describe_io(e: std::io::Error) -> std::io::Error {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => std::io::Error::new(e.kind(), describe(t)),
        None => e,
    }
}

/// A rustls error in words, without `Debug`.
pub fn describe(e: &rustls::Error) -> String {
    use rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(c) => {
            let why = match c {
                C::UnknownIssuer => "it is not signed by a trusted root (unknown issuer)".into(),
                C::BadEncoding => "it is malformed".into(),
                C::Expired => "it has expired".into(),
                C::NotValidYet => "it is not valid yet".into(),
                C::Revoked => "it was revoked".into(),
                C::BadSignature => "its signature is wrong".into(),
                C::NotValidForName => "it is not valid for this name".into(),
                C::InvalidPurpose => "it is not for server authentication".into(),
                C::UnhandledCriticalExtension => "it has an unknown critical extension".into(),
                other => other.to_string(),
            };
            format!("invalid peer certificate: {why}")
        }
        E::AlertReceived(a) => format!("the peer sent TLS alert {}", u8::from(*a)),
        E::PeerIncompatible(_) => {
            "the peer is incompatible (no common TLS version, cipher suite or signature scheme)"
                .into()
        }
        E::PeerMisbehaved(_) => "the peer broke the TLS protocol".into(),
        E::InvalidMessage(_) => "the peer sent a malformed TLS message".into(),
        other => other.to_string(),
    }
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
    fn certificate_errors_are_described_in_words() {
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(describe(&e).contains("unknown issuer"), "{}", describe(&e));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        assert!(describe_io(io)
            .to_string()
            .contains("not signed by a trusted root"));
    }

    #[test]
    fn empty_pem_is_refused() {
        let p = std::env::temp_dir().join(format!("kernel-tls-empty-{}", std::process::id()));
        std::fs::write(&p, "hello").unwrap();
        assert!(load_root_pem(&p).is_err());
        let _ = std::fs::remove_file(&p);
    }
}
