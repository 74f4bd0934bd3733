//! HTTPS for fazt: ties the kernel's TLS edge and ACME manager to fazt's own facts — the
//! certificate store is the `certificates` table, a name deserves a certificate only when it
//! is the domain, `admin.<domain>` or an existing site's `<site>.<domain>`, and a first deploy
//! asks for its site's certificate. Also the port-80 redirector and HSTS.

pub mod redirect;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::hosting::domains::Domains;
use crate::hosting::{valid_site_name, Sites};
use crate::kernel::db::Db;
use crate::kernel::tls::{
    load_pem_files, AcmeConfig, CertManager, CertStatus, ChallengeKind, NamePolicy, SniResolver,
    TlsAcceptor, TlsError, LETS_ENCRYPT_STAGING,
};

/// `Strict-Transport-Security` value sent on every HTTPS response.
pub const HSTS: &str = "max-age=31536000";

#[derive(Clone, Debug, Default)]
pub struct HttpsOptions {
    pub email: Option<String>,
    pub directory: Option<String>,
    pub staging: bool,
    pub ca_root: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Challenge types in the order tried (empty: the default order).
    pub challenges: Vec<ChallengeKind>,
    /// Global cap on new orders per minute (default: the manager's).
    pub orders_per_minute: Option<u32>,
    /// Budget of new orders in any 7 days (default: the manager's).
    pub orders_per_week: Option<u32>,
}

pub struct Https {
    pub acceptor: Arc<TlsAcceptor>,
    pub manager: Option<Arc<CertManager>>,
    static_status: Vec<CertStatus>,
    domain: String,
}

/// Whether `name` may get a certificate: the domain, its admin host, an existing site, or a
/// registered custom domain (`fazt domains add`).
pub fn allowed(name: &str, domain: &str, sites: &Sites, domains: &Domains) -> bool {
    if name == domain || name == format!("admin.{domain}") {
        return true;
    }
    if domains.lookup(name).is_some() {
        return true;
    }
    match name.strip_suffix(&format!(".{domain}")) {
        Some(label) if valid_site_name(label) => sites.info(label).exists,
        _ => false,
    }
}

impl Https {
    pub fn start(
        opts: &HttpsOptions,
        domain: &str,
        db: Arc<Db>,
        sites: Arc<Sites>,
        domains: Arc<Domains>,
    ) -> Result<Https, String> {
        let resolver = Arc::new(SniResolver::new());
        let mut static_status = Vec::new();
        let mut manager = None;
        match (&opts.cert, &opts.key) {
            (Some(c), Some(k)) => {
                let loaded = load_pem_files(c, k).map_err(|e| e.to_string())?;
                static_status = CertStatus::from_static(&loaded);
                resolver.set_default(Some(loaded.key));
                log::info!("HTTPS with the certificate from {}", c.display());
            }
            (None, None) => {
                let mut cfg = AcmeConfig::default();
                if opts.staging {
                    cfg.directory_url = LETS_ENCRYPT_STAGING.to_string();
                }
                if let Some(d) = &opts.directory {
                    cfg.directory_url = d.clone();
                }
                cfg.extra_root_pem = opts.ca_root.clone();
                if let Some(n) = opts.orders_per_minute {
                    cfg.orders_per_minute = n;
                }
                if let Some(n) = opts.orders_per_week {
                    cfg.orders_per_week = n;
                }
                if !opts.challenges.is_empty() {
                    cfg.challenges = opts.challenges.clone();
                }
                cfg.contact = opts.email.iter().map(|e| format!("mailto:{e}")).collect();
                let d = domain.to_string();
                let s2 = sites.clone();
                let policy: NamePolicy =
                    Arc::new(move |name: &str| allowed(name, &d, &s2, &domains));
                let store = Arc::new(store::DbCertStore(db));
                let m = CertManager::new(cfg.clone(), store, policy, resolver.clone())
                    .map_err(|e| e.to_string())?;
                log::info!("HTTPS with ACME certificates from {}", cfg.directory_url);
                let m = Arc::new(m);
                for name in [domain.to_string(), format!("admin.{domain}")] {
                    if let Err(e) = m.request(&name) {
                        log::warn!("certificate for {name}: {e}");
                    }
                }
                manager = Some(m);
            }
            _ => return Err("--tls-cert and --tls-key go together".into()),
        }
        let mut acceptor = TlsAcceptor::new(resolver)
            .map_err(|e| e.to_string())?
            .with_handshake_timeout(Duration::from_secs(20));
        if let Some(m) = &manager {
            acceptor = acceptor.with_on_demand(m.on_demand(), Duration::from_secs(15));
        }
        Ok(Https {
            acceptor: Arc::new(acceptor),
            manager,
            static_status,
            domain: domain.to_string(),
        })
    }

    /// Called when a site changes: a new site gets its certificate requested now; a
    /// deleted one has its certificate forgotten (no renewals, nothing left in fazt.db).
    pub fn site_changed(&self, site: &str) {
        if let Some(m) = &self.manager {
            let name = if site == "root" {
                self.domain.clone()
            } else {
                format!("{site}.{}", self.domain)
            };
            match m.request(&name) {
                Ok(_) => {}
                Err(TlsError::Refused(_)) => match m.forget(&name) {
                    Ok(true) => {
                        log::info!("https: {name} names no site now; its certificate is forgotten")
                    }
                    Ok(false) => {}
                    Err(e) => log::warn!("https: forgetting the certificate of {name}: {e}"),
                },
                Err(e) => log::debug!("no certificate requested for {name}: {e}"),
            }
        }
    }

    /// Each certificate's names, expiry, next renewal and last error.
    pub fn status(&self) -> Vec<CertStatus> {
        match &self.manager {
            Some(m) => m.status(),
            None => self.static_status.clone(),
        }
    }
}
