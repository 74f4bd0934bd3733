//! `fazt serve`'s HTTPS options and [`HttpsConfig`]. They are read in every build, so a build
//! without the `acme` feature refuses `--https` clearly instead of calling it unknown.

use std::path::PathBuf;

use super::opt::{AnyOpt, Opt, Spec};
use super::parse;
use super::sources::Sources;

pub static HTTPS: Opt<bool> = Opt {
    spec: Spec::switch(
        "--https",
        "Serve HTTPS on --https-listen and HTTP-01 + redirects on\n--http-listen, with certificates from ACME (Let's Encrypt)",
    ),
    parse: parse::switch,
};
pub static HTTPS_LISTEN: Opt<String> = Opt {
    spec: Spec::value(
        "--https-listen",
        "ADDR",
        "TLS listener (default 0.0.0.0:443)",
    )
    .default("0.0.0.0:443"),
    parse: parse::listen_addr,
};
pub static HTTP_LISTEN: Opt<String> = Opt {
    spec: Spec::value(
        "--http-listen",
        "ADDR",
        "Port-80 listener (default 0.0.0.0:80)",
    )
    .default("0.0.0.0:80"),
    parse: parse::listen_addr,
};
pub static EMAIL: Opt<String> = Opt {
    spec: Spec::value("--email", "ADDR", "Contact for the ACME account"),
    parse: parse::text,
};
pub static STAGING: Opt<bool> = Opt {
    spec: Spec::switch("--staging", "Use Let's Encrypt's staging directory"),
    parse: parse::switch,
};
pub static ACME_DIRECTORY: Opt<String> = Opt {
    spec: Spec::value(
        "--acme-directory",
        "URL",
        "Another ACME directory (e.g. a private CA)",
    ),
    parse: parse::text,
};
pub static ACME_CA_ROOT: Opt<PathBuf> = Opt {
    spec: Spec::value(
        "--acme-ca-root",
        "FILE",
        "Extra PEM root to trust when talking to the ACME server",
    ),
    parse: parse::path,
};
pub static ACME_CHALLENGES: Opt<Vec<&'static str>> = Opt {
    spec: Spec::value(
        "--acme-challenges",
        "L",
        "Challenge types to try, in order (default http-01,tls-alpn-01)",
    ),
    parse: parse::challenges,
};
pub static ACME_ORDERS_PER_MINUTE: Opt<u32> = Opt {
    spec: Spec::value(
        "--acme-orders-per-minute",
        "N",
        "Global cap on new ACME orders (default 5)",
    ),
    parse: parse::positive,
};
pub static ACME_ORDERS_PER_WEEK: Opt<u32> = Opt {
    spec: Spec::value(
        "--acme-orders-per-week",
        "N",
        "Budget of new ACME orders in any 7 days, kept across restarts (default 40)",
    ),
    parse: parse::positive,
};
pub static TLS_CERT: Opt<PathBuf> = Opt {
    spec: Spec::value(
        "--tls-cert",
        "FILE",
        "Serve this PEM certificate chain instead of ACME (with --tls-key)",
    ),
    parse: parse::path,
};
pub static TLS_KEY: Opt<PathBuf> = Opt {
    spec: Spec::value("--tls-key", "FILE", "Its PEM private key"),
    parse: parse::path,
};

pub static OPTIONS: &[&dyn AnyOpt] = &[
    &HTTPS,
    &HTTPS_LISTEN,
    &HTTP_LISTEN,
    &EMAIL,
    &STAGING,
    &ACME_DIRECTORY,
    &ACME_CA_ROOT,
    &ACME_CHALLENGES,
    &ACME_ORDERS_PER_MINUTE,
    &ACME_ORDERS_PER_WEEK,
    &TLS_CERT,
    &TLS_KEY,
];

#[cfg(feature = "acme")]
pub const HELP_FOOTER: &str =
    "    With HTTPS on, --listen defaults to 127.0.0.1:4698 (local admin and healthcheck only).\n";

/// HTTPS as `fazt serve` runs it.
#[derive(Debug, Default)]
pub struct HttpsConfig {
    /// `--https`, or a static certificate given.
    pub enabled: bool,
    #[cfg(feature = "acme")]
    pub https_listen: String,
    #[cfg(feature = "acme")]
    pub http_listen: String,
    #[cfg(feature = "acme")]
    pub opts: crate::https::HttpsOptions,
}

pub fn resolve(src: &Sources) -> Result<HttpsConfig, String> {
    let email = src.given(&EMAIL)?;
    let staging = src.value(&STAGING)?;
    let directory = src.given(&ACME_DIRECTORY)?;
    let ca_root = src.given(&ACME_CA_ROOT)?;
    let challenges = src.given(&ACME_CHALLENGES)?;
    let orders_per_minute = src.given(&ACME_ORDERS_PER_MINUTE)?;
    let orders_per_week = src.given(&ACME_ORDERS_PER_WEEK)?;
    let cert = src.given(&TLS_CERT)?;
    let key = src.given(&TLS_KEY)?;
    let enabled = src.value(&HTTPS)? || cert.is_some() || key.is_some();
    let acme_only = [
        (email.is_some(), &EMAIL.spec),
        (staging, &STAGING.spec),
        (directory.is_some(), &ACME_DIRECTORY.spec),
        (ca_root.is_some(), &ACME_CA_ROOT.spec),
        (challenges.is_some(), &ACME_CHALLENGES.spec),
        (orders_per_minute.is_some(), &ACME_ORDERS_PER_MINUTE.spec),
        (orders_per_week.is_some(), &ACME_ORDERS_PER_WEEK.spec),
    ];
    if let Some((_, spec)) = acme_only.iter().find(|(given, _)| *given && !enabled) {
        return Err(format!(
            "{}: --email, --staging and --acme-* need --https",
            src.origin(spec)
        ));
    }
    if cert.is_some() != key.is_some() {
        let given = if cert.is_some() { &TLS_CERT } else { &TLS_KEY };
        return Err(format!(
            "{}: --tls-cert and --tls-key go together",
            src.origin(&given.spec)
        ));
    }
    #[cfg(not(feature = "acme"))]
    {
        if enabled {
            return Err("this fazt was built without HTTPS (feature `acme`)".into());
        }
        Ok(HttpsConfig { enabled })
    }
    #[cfg(feature = "acme")]
    {
        use crate::kernel::tls::ChallengeKind;
        // `parse::challenges` only returns names from `parse::CHALLENGES`.
        let names = challenges.unwrap_or_else(|| parse::CHALLENGES.to_vec());
        let kinds = names
            .into_iter()
            .map(|c| {
                if c == "http-01" {
                    ChallengeKind::Http01
                } else {
                    ChallengeKind::TlsAlpn01
                }
            })
            .collect();
        Ok(HttpsConfig {
            enabled,
            https_listen: src.value(&HTTPS_LISTEN)?,
            http_listen: src.value(&HTTP_LISTEN)?,
            opts: crate::https::HttpsOptions {
                email,
                directory,
                staging,
                ca_root,
                cert,
                key,
                challenges: kinds,
                orders_per_minute,
                orders_per_week,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_with(env: &[(&str, &str)], stored: &[(&str, &str)]) -> Result<HttpsConfig, String> {
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let src = Sources::new(Default::default(), OPTIONS, |k| env.get(k).cloned()).with_stored(
            stored
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        resolve(&src)
    }

    #[test]
    fn acme_options_without_https_name_their_source() {
        assert!(!resolve_with(&[], &[]).unwrap().enabled);
        let e = resolve_with(&[], &[("email", "a@b.example")]).unwrap_err();
        assert_eq!(
            e,
            "stored setting email: --email, --staging and --acme-* need --https"
        );
        let e = resolve_with(&[("FAZT_TLS_KEY", "k.pem")], &[]).unwrap_err();
        assert_eq!(e, "FAZT_TLS_KEY: --tls-cert and --tls-key go together");
    }

    #[cfg(feature = "acme")]
    #[test]
    fn https_from_the_store() {
        let c = resolve_with(
            &[("FAZT_ACME_CHALLENGES", "tls-alpn-01")],
            &[
                ("https", "true"),
                ("email", "a@b.example"),
                ("https_listen", "127.0.0.1:8443"),
            ],
        )
        .unwrap();
        assert!(c.enabled);
        assert_eq!(c.https_listen, "127.0.0.1:8443");
        assert_eq!(c.http_listen, "0.0.0.0:80");
        assert_eq!(c.opts.email.as_deref(), Some("a@b.example"));
        assert_eq!(c.opts.challenges.len(), 1);
    }

    #[cfg(not(feature = "acme"))]
    #[test]
    fn https_is_refused_without_the_feature() {
        let e = resolve_with(&[("FAZT_HTTPS", "1")], &[]).unwrap_err();
        assert!(e.contains("built without HTTPS"), "{e}");
    }
}
