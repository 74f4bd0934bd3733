//! `fazt serve --https` (feature `acme`): starting the TLS listener (rustls under the same HTTP loop) plus the
//! port-80 listener (ACME HTTP-01 and 308 to HTTPS). The HTTPS options are in
//! [`crate::config::https`].

use super::common::CliError;
use crate::config::https::HttpsConfig;

/// Binds both HTTPS listeners and serves `app` over TLS. Returns the bound addresses.
pub fn serve(
    flags: &HttpsConfig,
    https: &crate::https::Https,
    app: std::sync::Arc<crate::app::App>,
    limits: std::sync::Arc<crate::kernel::http::Limits>,
    life: std::sync::Arc<crate::kernel::http::Lifecycle>,
) -> Result<(std::net::SocketAddr, std::net::SocketAddr), CliError> {
    use crate::kernel::http::{conn, server};
    use crate::kernel::tls::Accepted;
    use std::sync::Arc;

    let bind = |role: &'static str, a: &str| {
        crate::upgrade::handover::listener(role, a)
            .map_err(|e| CliError::fail(format!("cannot listen on {a}: {e}")))
    };
    let tls = bind("https", &flags.https_listen)?;
    let plain = bind("redirect", &flags.http_listen)?;
    let tls_addr = tls
        .local_addr()
        .map_err(|e| CliError::fail(e.to_string()))?;
    let plain_addr = plain
        .local_addr()
        .map_err(|e| CliError::fail(e.to_string()))?;
    let acceptor = https.acceptor.clone();
    let (l2, life2) = (limits.clone(), life.clone());
    server::run_listener(
        tls,
        limits.clone(),
        life.clone(),
        move |tcp, peer| match acceptor.accept(tcp) {
            Ok(Accepted::Stream(stream)) => {
                conn::serve_connection(*stream, peer, true, app.as_ref(), &l2, &life2)
            }
            Ok(Accepted::Challenge) => None,
            Err(e) => {
                log::debug!("TLS handshake with {peer} failed: {e}");
                None
            }
        },
    )
    .map_err(|e| CliError::fail(format!("cannot start HTTPS: {e}")))?;
    let redirect = Arc::new(crate::https::redirect::RedirectToHttps {
        manager: https.manager.clone(),
        https_port: tls_addr.port(),
    });
    server::serve_http(plain, redirect, limits, life)
        .map_err(|e| CliError::fail(format!("cannot start HTTP: {e}")))?;
    Ok((tls_addr, plain_addr))
}
