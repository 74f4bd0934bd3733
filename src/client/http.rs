//! The deploy CLI's requests: the kernel's blocking HTTP/1.1 client with deploy-sized
//! timeouts (an upload may take minutes), HTTPS through `super::tls`, and reading the
//! API's JSON answers and `{"error":{…}}` envelopes.

use std::time::Duration;

use crate::kernel::http_client::{self as httpc, Outgoing, Stream};
pub use crate::kernel::http_client::{ClientResponse, Url};

/// Deploy uploads go up to the server's upload cap; answers are small JSON, but the
/// listing of a big site is not: 64 MiB is far above any real answer.
const OPTIONS: httpc::Options = httpc::Options {
    connect_timeout: Duration::from_secs(10),
    read_timeout: Duration::from_secs(600),
    write_timeout: Duration::from_secs(120),
    max_response: 64 * 1024 * 1024,
    user_agent: concat!("fazt/", env!("CARGO_PKG_VERSION")),
};

/// Sends one request. `progress(sent, total)` is called as the body goes out.
pub fn request(
    url: &Url,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    insecure: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ClientResponse, String> {
    let wrap = |sock, host: &str| -> Result<Box<dyn Stream>, httpc::ClientError> {
        #[cfg(feature = "acme")]
        return super::tls::wrap(sock, host, insecure);
        #[cfg(not(feature = "acme"))]
        {
            let _ = (sock, host, insecure);
            Err(httpc::ClientError::Invalid(
                "this fazt was built without TLS (feature `acme`); use an http:// server URL"
                    .into(),
            ))
        }
    };
    let req = Outgoing {
        method,
        target,
        headers,
        body,
    };
    httpc::request(url, &req, &OPTIONS, &wrap, progress).map_err(|e| e.to_string())
}

/// Reading the API's answers.
pub trait ApiResponse {
    fn json(&self) -> Option<serde_json::Value>;
    /// The API's error message, or the start of the body.
    fn error_message(&self) -> String;
}

impl ApiResponse for ClientResponse {
    fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    fn error_message(&self) -> String {
        self.json()
            .and_then(|v| {
                let e = v.get("error")?;
                Some(format!(
                    "{} ({})",
                    e.get("message")?.as_str()?,
                    e.get("code")?.as_str()?
                ))
            })
            .unwrap_or_else(|| {
                let t = String::from_utf8_lossy(&self.body);
                t.chars().take(200).collect()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelopes_are_read() {
        let r = ClientResponse {
            status: 403,
            headers: vec![],
            body: br#"{"error":{"code":"forbidden","message":"scope deploy needed"}}"#.to_vec(),
        };
        assert_eq!(r.error_message(), "scope deploy needed (forbidden)");
        let r = ClientResponse {
            status: 502,
            headers: vec![],
            body: b"<html>bad gateway</html>".to_vec(),
        };
        assert_eq!(r.error_message(), "<html>bad gateway</html>");
    }
}
