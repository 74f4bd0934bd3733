//! `fazt serve --https`: the HTTPS flags, and starting the TLS listener (rustls under the
//! same HTTP loop) plus the port-80 listener (ACME HTTP-01 and 308 to HTTPS).

use pico_args::Arguments;

use super::common::{opt, CliError};

#[cfg(feature = "acme")]
pub const HELP: &str = "\
HTTPS (feature `acme`):
    --https              Serve HTTPS on --https-listen and HTTP-01 + redirects on
                         --http-listen, with certificates from ACME (Let's Encrypt)
    --https-listen ADDR  TLS listener (default 0.0.0.0:443)
    --http-listen ADDR   Port-80 listener (default 0.0.0.0:80)
    --email ADDR         Contact for the ACME account
    --staging            Use Let's Encrypt's staging directory
    --acme-directory URL Another ACME directory (e.g. a private CA)
    --acme-ca-root FILE  Extra PEM root to trust when talking to the ACME server
    --acme-challenges L  Challenge types to try, in order (default http-01,tls-alpn-01)
    --acme-orders-per-minute N  Global cap on new ACME orders (default 5)
    --tls-cert FILE      Serve this PEM certificate chain instead of ACME (with --tls-key)
    --tls-key FILE       Its PEM private key
    With HTTPS on, --listen defaults to 127.0.0.1:4698 (local admin and healthcheck only).
";

#[derive(Default)]
pub struct HttpsFlags {
    pub enabled: bool,
    #[cfg(feature = "acme")]
    pub https_listen: String,
    #[cfg(feature = "acme")]
    pub http_listen: String,
    #[cfg(feature = "acme")]
    pub opts: crate::https::HttpsOptions,
}

pub fn parse(args: &mut Arguments) -> Result<HttpsFlags, CliError> {
    let mut enabled = args.contains("--https");
    let https_listen = opt(args, "--https-listen")?.unwrap_or_else(|| "0.0.0.0:443".into());
    let http_listen = opt(args, "--http-listen")?.unwrap_or_else(|| "0.0.0.0:80".into());
    let email = opt(args, "--email")?;
    let staging = args.contains("--staging");
    let directory = opt(args, "--acme-directory")?;
    let ca_root = opt(args, "--acme-ca-root")?;
    let challenges = opt(args, "--acme-challenges")?;
    let orders_per_minute = match opt(args, "--acme-orders-per-minute")? {
        Some(v) => Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            CliError::usage(format!(
                "--acme-orders-per-minute: '{v}' is not a positive number"
            ))
        })?),
        None => None,
    };
    let cert = opt(args, "--tls-cert")?;
    let key = opt(args, "--tls-key")?;
    enabled |= cert.is_some() || key.is_some();
    let any = email.is_some()
        || staging
        || directory.is_some()
        || ca_root.is_some()
        || challenges.is_some()
        || orders_per_minute.is_some();
    if any && !enabled {
        return Err(CliError::usage(
            "--email, --staging and --acme-* need --https",
        ));
    }
    if cert.is_some() != key.is_some() {
        return Err(CliError::usage("--tls-cert and --tls-key go together"));
    }
    #[cfg(not(feature = "acme"))]
    {
        let _ = (
            email,
            directory,
            ca_root,
            cert,
            key,
            https_listen,
            http_listen,
            challenges,
            orders_per_minute,
        );
        if enabled {
            return Err(CliError::usage(
                "this fazt was built without HTTPS (feature `acme`)",
            ));
        }
        Ok(HttpsFlags { enabled })
    }
    #[cfg(feature = "acme")]
    {
        use crate::kernel::tls::ChallengeKind;
        let path = |p: Option<String>| p.map(std::path::PathBuf::from);
        let mut kinds = Vec::new();
        for c in challenges
            .as_deref()
            .unwrap_or("http-01,tls-alpn-01")
            .split(',')
        {
            kinds.push(match c.trim() {
                "http-01" => ChallengeKind::Http01,
                "tls-alpn-01" => ChallengeKind::TlsAlpn01,
                other => {
                    return Err(CliError::usage(format!(
                        "--acme-challenges: unknown challenge '{other}' (http-01, tls-alpn-01)"
                    )))
                }
            });
        }
        Ok(HttpsFlags {
            enabled,
            https_listen,
            http_listen,
            opts: crate::https::HttpsOptions {
                email,
                directory,
                staging,
                ca_root: path(ca_root),
                cert: path(cert),
                key: path(key),
                challenges: kinds,
                orders_per_minute,
            },
        })
    }
}

/// Binds both HTTPS listeners and serves `app` over TLS. Returns the bound addresses.
#[cfg(feature = "acme")]
pub fn serve(
    flags: &HttpsFlags,
    https: &crate::https::Https,
    app: std::sync::Arc<crate::app::App>,
    limits: std::sync::Arc<crate::kernel::http::Limits>,
    life: std::sync::Arc<crate::kernel::http::Lifecycle>,
) -> Result<(std::net::SocketAddr, std::net::SocketAddr), CliError> {
    use crate::kernel::http::{conn, server};
    use crate::kernel::tls::Accepted;
    use std::sync::Arc;

    let bind = |a: &str| {
        may::net::TcpListener::bind(a)
            .map_err(|e| CliError::fail(format!("cannot listen on {a}: {e}")))
    };
    let tls = bind(&flags.https_listen)?;
    let plain = bind(&flags.http_listen)?;
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
            Ok(Accepted::Challenge) => {}
            Err(e) => log::debug!("TLS handshake with {peer} failed: {e}"),
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
