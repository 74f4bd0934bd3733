//! The HTTPS client instant-acme talks to the CA with: the kernel's blocking HTTP/1.1
//! client over [`super::client`]'s rustls configuration.
//!
//! Each request runs on Tokio's blocking pool, so the worker's order timeout still fires
//! while a request waits on the network. One connection per request: an order is a dozen
//! requests every 60 days, not worth a pool (or hyper, h2 and their 0.5 MB).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body::Body as _;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls_pki_types::CertificateDer;

use super::client::{client_tls_config, wrap};
use super::TlsError;
use crate::http_client::{self as httpc, Outgoing, Url};

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
