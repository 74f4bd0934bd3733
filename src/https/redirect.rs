//! Port 80 under `--https`: answers ACME HTTP-01 challenges and sends everything else to
//! HTTPS with a 308 that keeps the path and query.

use std::sync::Arc;

use crate::kernel::http::{Body, Handler, Request, Response};
use crate::kernel::tls::CertManager;

pub struct RedirectToHttps {
    pub manager: Option<Arc<CertManager>>,
    /// The public HTTPS port (omitted from URLs when 443).
    pub https_port: u16,
}

const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

fn plausible_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

impl Handler for RedirectToHttps {
    fn handle(&self, req: &Request, _body: &mut Body<'_>) -> Response {
        if let Some(token) = req.path().strip_prefix(CHALLENGE_PREFIX) {
            let answer = self.manager.as_ref().and_then(|m| m.http01_response(token));
            return match answer {
                Some(key_auth) => {
                    Response::bytes(200, "application/octet-stream", key_auth.into_bytes())
                }
                None => Response::text(404, "unknown challenge\n"),
            };
        }
        let host = req.host();
        if !plausible_host(&host) {
            return Response::text(400, "missing or invalid Host header\n");
        }
        let port = if self.https_port == 443 {
            String::new()
        } else {
            format!(":{}", self.https_port)
        };
        let target = req.target();
        let path = if target.starts_with('/') { target } else { "/" };
        Response::text(308, "use HTTPS\n").header("Location", format!("https://{host}{port}{path}"))
    }
}
