//! The HTTPS client instant-acme talks to the CA with: the kernel's blocking HTTP/1.1
//! client over rustls (ring), trusting the compiled-in webpki roots plus optional extra
//! roots (a private ACME server such as pebble or step-ca). No system trust store is read,
//! so it works in an empty (scratch) container.
//!
//! Each request runs on Tokio's blocking pool, so the worker's order timeout still fires
//! while a request waits on the network. One connection per request: an order is a dozen
//! requests every 60 days, not worth a pool (or hyper, h2 and their 0.5 MB).

use std::future::Future;
use std::net::TcpStream;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body::Body as _;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::TlsError;
use crate::http_client::{self as httpc, ClientError, Outgoing, Stream, Url};

/// Timeouts for talking to the CA, and the largest answer accepted (a certificate chain
/// is a few KiB; a directory or an order less).
const OPTIONS: httpc::Options = httpc::Options {
    connect_timeout: Duration::from_secs(30),
    read_timeout: Duration::from_secs(60),
    write_timeout: Duration::from_secs(60),
    max_response: 1024 * 1024,
    // instant-acme names itself in every request.
    user_agent: "",
};

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

/// An instant-acme HTTP client over HTTPS only.
pub fn http_client(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Box<dyn HttpClient>, TlsError> {
    let tls = Arc::new(client_tls_config(extra_roots)?);
    Ok(Box::new(AcmeHttp { tls }))
}

struct AcmeHttp {
    tls: Arc<rustls::ClientConfig>,
}

fn other(msg: String) -> instant_acme::Error {
    instant_acme::Error::Other(msg.into())
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let tls = self.tls.clone();
        Box::pin(async move {
            let (parts, mut body) = req.into_parts();
            let body = collect(&mut body).await;
            tokio::task::spawn_blocking(move || send(&tls, &parts, &body))
                .await
                .map_err(|e| other(format!("ACME request thread: {e}")))?
        })
    }
}

/// The request body's bytes (instant-acme's body is one in-memory frame).
async fn collect(body: &mut BodyWrapper<Bytes>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
        let Ok(frame) = frame;
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
        }
    }
    out
}

/// One blocking request to the CA.
fn send(
    tls: &Arc<rustls::ClientConfig>,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<BytesResponse, instant_acme::Error> {
    let (url, target) = Url::split(&parts.uri.to_string()).map_err(|e| other(e.to_string()))?;
    if !url.https {
        return Err(other(format!("refusing plain-HTTP ACME URL {}", parts.uri)));
    }
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (k, v) in &parts.headers {
        let v = v
            .to_str()
            .map_err(|_| other(format!("non-ASCII value for request header {k}")))?;
        headers.push((k.as_str(), v));
    }
    let req = Outgoing {
        method: parts.method.as_str(),
        target: &target,
        headers: &headers,
        body,
    };
    let wrap = |sock, host: &str| wrap(sock, host, tls.clone());
    let rsp = httpc::request(&url, &req, &OPTIONS, &wrap, &mut |_, _| {})
        .map_err(|e| other(format!("{}: {e}", parts.uri)))?;
    let mut builder = http::Response::builder().status(rsp.status);
    for (k, v) in &rsp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let (parts, ()) = builder
        .body(())
        .map_err(|e| other(format!("CA response: {e}")))?
        .into_parts();
    Ok(BytesResponse {
        parts,
        body: Box::new(Bytes::from(rsp.body)),
    })
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
