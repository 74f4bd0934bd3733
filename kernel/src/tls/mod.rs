//! HTTPS for the edge: rustls (ring) handshakes inside `may` coroutines with the
//! certificate picked by SNI, static PEM certificates, and ACME certificates
//! (instant-acme on a short-lived Tokio thread) kept in a key/value store and
//! renewed without restart.
//!
//! This module knows nothing about the product's sites or database: storage comes in
//! through [`CertStore`], the decision of which names deserve a certificate
//! through a `NamePolicy` closure (feature `acme`).
//!
//! Wiring (see each type for details):
//! ```text
//! let resolver = Arc::new(SniResolver::new());
//! // static:  resolver.set_default(Some(load_pem_files(cert, key)?.key));
//! // ACME:    let mgr = CertManager::new(cfg, store, policy, resolver.clone())?;
//! let acceptor = TlsAcceptor::new(resolver)?                    // + .with_on_demand(mgr.on_demand(), wait)
//! // per connection (coroutine, ≥ 64 KiB stack):
//! match acceptor.accept(tcp_stream)? { Accepted::Stream(s) => serve_http(s), Accepted::Challenge => {} }
//! // port 80: mgr.http01_response(token); deploy: mgr.request(name); status: mgr.status()
//! ```

use std::fmt;

// Feature `tls`: the edge (handshakes, SNI, static certificates, challenge answers), the
// rustls client configuration, the certificate store and X.509 reading. Feature `acme`
// adds the ACME client (instant-acme, Tokio, the CSR and challenge certificate of `mint`) and the manager that renews.
#[cfg(feature = "acme")]
mod acme;
#[cfg(feature = "acme")]
pub mod acme_http;
#[cfg(feature = "acme")]
pub mod ari;
pub mod challenge;
pub mod client;
pub mod edge;
#[cfg(feature = "acme")]
pub mod manager;
#[cfg(feature = "acme")]
pub mod mint;
pub mod pem;
pub mod renew;
pub mod sni;
pub mod store;
#[cfg(feature = "acme")]
mod worker;
pub mod x509;

#[cfg(feature = "acme")]
pub use acme::ChallengeKind;
pub use edge::{Accepted, HandshakeError, OnDemand, Socket, TlsAcceptor, TlsStream};
#[cfg(feature = "acme")]
pub use manager::{
    AcmeConfig, CertManager, CertState, CertStatus, NamePolicy, RequestOutcome,
    LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING,
};
pub use pem::{load_pem, load_pem_files, LoadedCert};
pub use sni::SniResolver;
pub use store::{CertStore, MemStore};

/// Errors of the TLS/ACME kernel. Each message names what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// Bad configuration (TLS settings, CA root file, thread start).
    Config(String),
    /// A PEM certificate or key could not be used.
    Pem(String),
    /// The certificate store failed.
    Store(String),
    /// The ACME exchange failed (with the CA's problem document when it sent one).
    Acme(String),
    /// Not a plain DNS name.
    InvalidName(String),
    /// The name policy does not allow a certificate for this name.
    Refused(String),
    /// The manager was shut down.
    Stopped,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "TLS configuration: {m}"),
            Self::Pem(m) => write!(f, "TLS certificate: {m}"),
            Self::Store(m) => write!(f, "certificate store: {m}"),
            Self::Acme(m) => write!(f, "ACME: {m}"),
            Self::InvalidName(n) => write!(f, "not a valid DNS name for a certificate: {n:?}"),
            Self::Refused(n) => write!(f, "no certificate allowed for {n} (no such site)"),
            Self::Stopped => f.write_str("certificate manager is shut down"),
        }
    }
}

impl std::error::Error for TlsError {}
