//! The certificate manager: which names have certificates, which are due, and
//! the threads that get them.
//!
//! - Certificates found in the store are loaded into the [`SniResolver`] at start.
//! - [`CertManager::request`] (a site was deployed) and the on-demand hook (first
//!   handshake for a name) queue a name, but only if the name policy allows it:
//!   a refused name never reaches the CA.
//! - A ticker thread wakes at the next renewal or retry time (and at least every
//!   `renew_check_interval`) and queues names whose certificate has one third of
//!   its lifetime left, or whose back-off has expired.
//! - Queued names are ordered by an ACME worker thread with a current-thread
//!   Tokio runtime that exists only while there is work, so the request path
//!   stays on `may`. New certificates are written to the store first and then
//!   swapped into the resolver; until then the old one keeps serving.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls_pki_types::CertificateDer;

use super::acme::ChallengeKind;
use super::client;
use super::edge::OnDemand;
use super::pem::LoadedCert;
use super::renew::{renew_at, OrderLimiter, WeeklyBudget};
use super::sni::SniResolver;
use super::store::{self, CertStore};
use super::worker::load_stored;
use super::TlsError;

/// Let's Encrypt's production directory (the default).
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, generous limits).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Decides whether a name may get a certificate (for example: the name is the product's
/// domain or a subdomain of something that exists).
pub type NamePolicy = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// ACME settings.
#[derive(Clone, Debug)]
pub struct AcmeConfig {
    /// The CA's directory URL.
    pub directory_url: String,
    /// A PEM file of extra roots to trust when talking to the CA (private ACME server).
    pub extra_root_pem: Option<PathBuf>,
    /// Account contact URIs, e.g. `mailto:me@example.com` (may be empty).
    pub contact: Vec<String>,
    /// Challenge types to try, in order (the next is tried when one fails validation).
    pub challenges: Vec<ChallengeKind>,
    /// Longest time between two renewal checks.
    pub renew_check_interval: Duration,
    /// First retry delay after a failure; doubles per failure…
    pub retry_min: Duration,
    /// …up to this.
    pub retry_max: Duration,
    /// Global cap on new orders per minute.
    pub orders_per_minute: u32,
    /// Global budget of new orders in any 7 days, kept in the store across restarts (Let's
    /// Encrypt allows 50 certificates per registered domain a week).
    pub orders_per_week: u32,
    /// Upper bound for one order (new order → validation → certificate); the
    /// next challenge type, if any, gets a fresh bound.
    pub order_timeout: Duration,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        Self {
            directory_url: LETS_ENCRYPT_PRODUCTION.to_owned(),
            extra_root_pem: None,
            contact: Vec::new(),
            challenges: vec![ChallengeKind::Http01, ChallengeKind::TlsAlpn01],
            renew_check_interval: Duration::from_secs(3 * 3600),
            retry_min: Duration::from_secs(10 * 60),
            retry_max: Duration::from_secs(8 * 3600),
            orders_per_minute: 5,
            orders_per_week: 40,
            order_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// What [`CertManager::request`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A valid certificate that is not yet due is already served.
    Present,
    /// The name is queued or being ordered.
    Queued,
    /// A recent attempt failed; the next one is at this Unix time.
    BackingOff {
        /// Unix time of the next attempt.
        until: i64,
    },
}

/// Where a name stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertState {
    /// A certificate is served and is not due for renewal.
    Valid,
    /// Queued or being ordered.
    Pending,
    /// The last attempt failed; waiting for the retry time.
    Failed,
    /// Served, and due for renewal (not queued yet).
    Due,
}

impl CertState {
    /// Lower-case name for status output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Due => "due",
        }
    }
}

/// Status of one name, for a status command or a health endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertStatus {
    /// The server name.
    pub name: String,
    /// End of validity of the served certificate (Unix seconds), if there is one.
    pub not_after: Option<i64>,
    /// When the next renewal or retry is planned (Unix seconds).
    pub next_renewal: Option<i64>,
    /// Consecutive failures.
    pub failures: u32,
    /// The last failure, with the CA's problem document when there was one.
    pub last_error: Option<String>,
    /// Summary state.
    pub state: CertState,
}

impl CertStatus {
    /// Status lines for a static (`--tls-cert`) certificate: one per DNS name
    /// (or `*` when it names none), never renewed.
    pub fn from_static(cert: &LoadedCert) -> Vec<Self> {
        let mut names = cert.info.dns_names.clone();
        if names.is_empty() {
            names.push("*".to_owned());
        }
        let now = now_unix();
        names
            .into_iter()
            .map(|name| Self {
                name,
                not_after: Some(cert.info.not_after),
                next_renewal: None,
                failures: 0,
                last_error: (cert.info.not_after <= now)
                    .then(|| "static certificate has expired".to_owned()),
                state: if cert.info.not_after <= now {
                    CertState::Failed
                } else {
                    CertState::Valid
                },
            })
            .collect()
    }

    /// As a JSON object: `{"name","state","not_after","next_renewal","failures","last_error"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "state": self.state.as_str(),
            "not_after": self.not_after,
            "next_renewal": self.next_renewal,
            "failures": self.failures,
            "last_error": self.last_error,
        })
    }
}

/// Per-name bookkeeping.
#[derive(Clone, Debug, Default)]
pub(super) struct Entry {
    pub(super) not_before: Option<i64>,
    pub(super) not_after: Option<i64>,
    pub(super) failures: u32,
    pub(super) retry_at: Option<i64>,
    pub(super) last_error: Option<String>,
    pub(super) queued: bool,
    /// The certificate's renewal-information id (RFC 9773), when it has one.
    pub(super) ari_id: Option<String>,
    /// When the CA's renewal window says to renew, if it was asked.
    pub(super) ari_at: Option<i64>,
    /// When to ask the CA (again); `None`: not at all.
    pub(super) ari_check: Option<i64>,
}

impl Entry {
    /// One third of the lifetime left, or earlier when the CA's renewal window says so.
    pub(super) fn renew_time(&self) -> Option<i64> {
        let own = renew_at(self.not_before?, self.not_after?);
        Some(self.ari_at.map_or(own, |a| a.min(own)))
    }

    /// The entry for a certificate just installed or loaded (its ARI is asked at once).
    pub(super) fn for_cert(info: &super::x509::CertInfo) -> Entry {
        let ari_id = super::ari::cert_id(info);
        Entry {
            not_before: Some(info.not_before),
            not_after: Some(info.not_after),
            ari_check: ari_id.as_ref().map(|_| now_unix()),
            ari_id,
            ..Entry::default()
        }
    }

    /// When this entry next needs work (None: never, or already queued).
    pub(super) fn next_due(&self) -> Option<i64> {
        if self.queued {
            return None;
        }
        match (self.renew_time(), self.retry_at) {
            (Some(r), Some(t)) => Some(r.max(t)),
            (Some(r), None) => Some(r),
            (None, Some(t)) => Some(t),
            (None, None) => None,
        }
    }
}

pub(super) struct State {
    pub(super) names: BTreeMap<String, Entry>,
    pub(super) queue: VecDeque<String>,
    pub(super) in_flight: Option<String>,
    pub(super) worker: bool,
    pub(super) stopped: bool,
    pub(super) limiter: OrderLimiter,
    pub(super) week: WeeklyBudget,
}

pub(super) struct Inner {
    pub(super) cfg: AcmeConfig,
    pub(super) ns: String,
    pub(super) extra_roots: Vec<CertificateDer<'static>>,
    /// The HTTPS client configuration for renewal information requests.
    pub(super) ari_tls: Arc<rustls::ClientConfig>,
    pub(super) store: Arc<dyn CertStore>,
    pub(super) policy: NamePolicy,
    pub(super) resolver: Arc<SniResolver>,
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
    pub(super) orders: AtomicU64,
}

/// Obtains, stores, serves and renews ACME certificates. Cheap to clone.
#[derive(Clone)]
pub struct CertManager {
    inner: Arc<Inner>,
}

pub(super) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Lower-case `name`, drop one trailing dot, and check it is a plain DNS name
/// (at least two labels of `[a-z0-9-]`, no IP literal, ≤ 253 bytes). Names are
/// used in store keys, so nothing else may pass.
pub fn normalize_name(name: &str) -> Result<String, TlsError> {
    let bad = || TlsError::InvalidName(name.chars().take(80).collect());
    let n = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if n.is_empty() || n.len() > 253 {
        return Err(bad());
    }
    let labels: Vec<&str> = n.split('.').collect();
    if labels.len() < 2 {
        return Err(bad());
    }
    for l in &labels {
        if l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad());
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    Ok(n)
}

impl CertManager {
    /// Load this directory's certificates from `store` into `resolver` and start
    /// the renewal ticker. Store read errors are logged, not fatal; an unreadable
    /// `extra_root_pem` is.
    pub fn new(
        cfg: AcmeConfig,
        store: Arc<dyn CertStore>,
        policy: NamePolicy,
        resolver: Arc<SniResolver>,
    ) -> Result<Self, TlsError> {
        let extra_roots = match &cfg.extra_root_pem {
            Some(p) => client::load_root_pem(p)?,
            None => Vec::new(),
        };
        // Fail early on a TLS config rustls would refuse, not in the worker.
        let ari_tls = Arc::new(client::client_tls_config(&extra_roots)?);
        let ns = store::directory_namespace(&cfg.directory_url);
        let names = load_stored(store.as_ref(), &ns, &resolver);
        let limiter = OrderLimiter::new(cfg.orders_per_minute, Duration::from_secs(60));
        let stored = store.get(&store::orders_key(&ns)).ok().flatten();
        let week = WeeklyBudget::new(cfg.orders_per_week, stored.as_deref());
        let inner = Arc::new(Inner {
            cfg,
            ns,
            extra_roots,
            ari_tls,
            store,
            policy,
            resolver,
            state: Mutex::new(State {
                names,
                queue: VecDeque::new(),
                in_flight: None,
                worker: false,
                stopped: false,
                limiter,
                week,
            }),
            changed: Condvar::new(),
            orders: AtomicU64::new(0),
        });
        let ticker = inner.clone();
        std::thread::Builder::new()
            .name("acme-ticker".into())
            .spawn(move || ticker.tick_loop())
            .map_err(|e| TlsError::Config(format!("starting the renewal thread: {e}")))?;
        Ok(Self { inner })
    }

    /// Make sure `name` has (or gets) a certificate. Refused without contacting
    /// the CA when the policy says no.
    pub fn request(&self, name: &str) -> Result<RequestOutcome, TlsError> {
        self.inner.request(name)
    }

    /// Drop `name` for good: its queued order, its renewals, the certificate served for
    /// it and everything stored for it. For a name the policy no longer allows (a deleted
    /// site). Returns whether the manager knew the name.
    pub fn forget(&self, name: &str) -> Result<bool, TlsError> {
        let name = normalize_name(name)?;
        let known = {
            let mut st = self.inner.lock();
            st.queue.retain(|n| *n != name);
            st.names.remove(&name).is_some()
        };
        self.inner.resolver.remove(&name);
        for key in store::domain_keys(&self.inner.ns, &name) {
            self.inner.store.delete(&key)?;
        }
        Ok(known)
    }

    /// A hook for [`super::TlsAcceptor::with_on_demand`]: requests the name and
    /// says whether a certificate is on its way. Holds no strong reference.
    pub fn on_demand(&self) -> OnDemand {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        Arc::new(move |name: &str| {
            weak.upgrade().is_some_and(|i| match i.request(name) {
                Ok(RequestOutcome::Queued | RequestOutcome::Present) => true,
                Ok(RequestOutcome::BackingOff { .. }) => false,
                Err(e) => {
                    log::debug!("tls: on-demand certificate refused: {e}");
                    false
                }
            })
        })
    }

    /// The response body for `GET /.well-known/acme-challenge/{token}` on port 80.
    pub fn http01_response(&self, token: &str) -> Option<String> {
        self.inner.resolver.challenges().http01_response(token)
    }

    /// The resolver this manager fills.
    pub fn resolver(&self) -> &Arc<SniResolver> {
        &self.inner.resolver
    }

    /// Every known name, sorted.
    pub fn status(&self) -> Vec<CertStatus> {
        let st = self.inner.lock();
        st.names
            .iter()
            .map(|(name, e)| {
                let pending = e.queued || st.in_flight.as_deref() == Some(name.as_str());
                let now = now_unix();
                let state = if pending {
                    CertState::Pending
                } else if e.retry_at.is_some_and(|t| t > now) || e.not_after.is_none() {
                    CertState::Failed
                } else if e.renew_time().is_some_and(|r| r <= now) {
                    CertState::Due
                } else {
                    CertState::Valid
                };
                CertStatus {
                    name: name.clone(),
                    not_after: e.not_after,
                    next_renewal: e.next_due(),
                    failures: e.failures,
                    last_error: e.last_error.clone(),
                    state,
                }
            })
            .collect()
    }

    /// New orders placed since start (each challenge-type attempt is one order).
    pub fn orders_placed(&self) -> u64 {
        self.inner.orders.load(Ordering::Relaxed)
    }

    /// Block until nothing is queued or being ordered, or `timeout` passes.
    /// Returns true when idle. (Tests; CLI one-shot requests.)
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.inner.lock();
        loop {
            if st.queue.is_empty() && st.in_flight.is_none() && !st.worker {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .inner
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stop the ticker and, after its current order, the worker. Certificates
    /// already in the resolver keep being served.
    pub fn shutdown(&self) {
        self.inner.lock().stopped = true;
        self.inner.changed.notify_all();
    }
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn request(self: &Arc<Self>, name: &str) -> Result<RequestOutcome, TlsError> {
        let name = normalize_name(name)?;
        if !(self.policy)(&name) {
            return Err(TlsError::Refused(name));
        }
        let mut st = self.lock();
        if st.stopped {
            return Err(TlsError::Stopped);
        }
        let now = now_unix();
        let in_flight = st.in_flight.as_deref() == Some(name.as_str());
        let e = st.names.entry(name.clone()).or_default();
        if e.queued || in_flight {
            return Ok(RequestOutcome::Queued);
        }
        if let Some(until) = e.retry_at.filter(|&t| t > now) {
            return Ok(RequestOutcome::BackingOff { until });
        }
        if e.renew_time().is_some_and(|r| now < r) {
            return Ok(RequestOutcome::Present);
        }
        e.queued = true;
        st.queue.push_back(name);
        self.kick(&mut st);
        Ok(RequestOutcome::Queued)
    }

    /// Start the worker thread if there is work and none runs.
    pub(super) fn kick(self: &Arc<Self>, st: &mut State) {
        if st.worker || st.queue.is_empty() || st.stopped {
            return;
        }
        st.worker = true;
        let me = self.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("acme-worker".into())
            .spawn(move || me.worker_main())
        {
            st.worker = false;
            log::error!("acme: cannot start worker thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::MemStore;
    use super::*;

    fn self_signed(name: &str, nb: (i32, u8, u8), na: (i32, u8, u8)) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        p.not_before = rcgen::date_time_ymd(nb.0, nb.1, nb.2);
        p.not_after = rcgen::date_time_ymd(na.0, na.1, na.2);
        (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    /// A config whose CA cannot be reached (nothing listens on port 9 of loopback).
    fn unreachable_cfg() -> AcmeConfig {
        AcmeConfig {
            directory_url: "https://127.0.0.1:9/dir".into(),
            retry_min: Duration::from_secs(600),
            ..AcmeConfig::default()
        }
    }

    fn allow(names: &'static [&'static str]) -> NamePolicy {
        Arc::new(move |n: &str| names.contains(&n))
    }

    #[test]
    fn refused_name_is_never_ordered() {
        let store = Arc::new(MemStore::new());
        let m = CertManager::new(
            unreachable_cfg(),
            store.clone(),
            allow(&["ok.example"]),
            Arc::new(SniResolver::new()),
        )
        .unwrap();
        assert!(
            matches!(m.request("nosite.example"), Err(TlsError::Refused(n)) if n == "nosite.example")
        );
        assert!(matches!(
            m.request("bad name"),
            Err(TlsError::InvalidName(_))
        ));
        assert!(!(m.on_demand())("nosite.example"));
        assert!(m.wait_idle(Duration::from_secs(1)));
        assert_eq!(m.orders_placed(), 0);
        assert!(m.status().is_empty());
        assert!(store.list("").unwrap().is_empty());
        m.shutdown();
    }

    #[test]
    fn stored_certificate_is_served_without_an_order() {
        let store = Arc::new(MemStore::new());
        let ns = store::directory_namespace(&unreachable_cfg().directory_url);
        let (c, k) = self_signed("ok.example", (2025, 1, 1), (2099, 1, 1));
        store
            .put(&store::cert_key(&ns, "ok.example"), c.as_bytes())
            .unwrap();
        store
            .put(&store::key_key(&ns, "ok.example"), k.as_bytes())
            .unwrap();
        let resolver = Arc::new(SniResolver::new());
        let m = CertManager::new(
            unreachable_cfg(),
            store,
            allow(&["ok.example"]),
            resolver.clone(),
        )
        .unwrap();
        assert!(resolver.get("ok.example").is_some());
        assert_eq!(m.request("OK.example.").unwrap(), RequestOutcome::Present);
        assert!(m.wait_idle(Duration::from_secs(1)));
        assert_eq!(m.orders_placed(), 0);
        let st = m.status();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].state, CertState::Valid);
        assert_eq!(st[0].not_after, Some(4_070_908_800));
        assert_eq!(
            st[0].next_renewal,
            Some(renew_at(1_735_689_600, 4_070_908_800))
        );
        assert_eq!(st[0].to_json()["state"], "valid");
        m.shutdown();
    }

    #[test]
    fn failure_backs_off_keeps_old_cert_and_persists() {
        let store = Arc::new(MemStore::new());
        let ns = store::directory_namespace(&unreachable_cfg().directory_url);
        // Expired: due at once, so the ticker queues it on start.
        let (c, k) = self_signed("old.example", (2020, 1, 1), (2020, 4, 1));
        store
            .put(&store::cert_key(&ns, "old.example"), c.as_bytes())
            .unwrap();
        store
            .put(&store::key_key(&ns, "old.example"), k.as_bytes())
            .unwrap();
        let resolver = Arc::new(SniResolver::new());
        let served = |r: &SniResolver| r.get("old.example").map(|ck| ck.cert[0].clone());
        let m = CertManager::new(
            unreachable_cfg(),
            store.clone(),
            allow(&["old.example"]),
            resolver.clone(),
        )
        .unwrap();
        let before = served(&resolver);
        assert!(before.is_some());
        std::thread::sleep(Duration::from_millis(200));
        assert!(m.wait_idle(Duration::from_secs(60)));
        let st = &m.status()[0];
        assert_eq!(st.state, CertState::Failed, "{st:?}");
        assert_eq!(st.failures, 1);
        assert!(
            st.last_error
                .as_deref()
                .unwrap_or("")
                .contains("127.0.0.1:9"),
            "{st:?}"
        );
        let retry = st.next_renewal.unwrap();
        assert!(
            retry >= now_unix() + 590 && retry <= now_unix() + 600,
            "{retry}"
        );
        assert_eq!(
            served(&resolver),
            before,
            "old certificate must keep serving"
        );
        assert_eq!(m.orders_placed(), 0);
        assert!(matches!(
            m.request("old.example"),
            Ok(RequestOutcome::BackingOff { .. })
        ));
        m.shutdown();

        // The back-off survives a restart.
        let meta: serde_json::Value = serde_json::from_slice(
            &store
                .get(&store::meta_key(&ns, "old.example"))
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(meta["failures"], 1);
        let m2 = CertManager::new(
            unreachable_cfg(),
            store,
            allow(&["old.example"]),
            Arc::new(SniResolver::new()),
        )
        .unwrap();
        assert!(
            matches!(m2.request("old.example"), Ok(RequestOutcome::BackingOff { until }) if until == retry)
        );
        m2.shutdown();
    }

    #[test]
    fn due_certificate_of_a_refused_name_is_not_ordered_and_not_spun_on() {
        let store = Arc::new(MemStore::new());
        let ns = store::directory_namespace(&unreachable_cfg().directory_url);
        let (c, k) = self_signed("gone.example", (2020, 1, 1), (2020, 4, 1));
        store
            .put(&store::cert_key(&ns, "gone.example"), c.as_bytes())
            .unwrap();
        store
            .put(&store::key_key(&ns, "gone.example"), k.as_bytes())
            .unwrap();
        let calls = Arc::new(AtomicU64::new(0));
        let policy: NamePolicy = {
            let calls = calls.clone();
            Arc::new(move |_: &str| {
                calls.fetch_add(1, Ordering::SeqCst);
                false
            })
        };
        let m = CertManager::new(
            unreachable_cfg(),
            store,
            policy,
            Arc::new(SniResolver::new()),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(m.wait_idle(Duration::from_secs(5)));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "policy asked again and again"
        );
        assert_eq!(m.orders_placed(), 0);
        let st = &m.status()[0];
        let interval = AcmeConfig::default().renew_check_interval.as_secs() as i64;
        assert!(
            st.next_renewal.unwrap() >= now_unix() + interval - 5,
            "{st:?}"
        );
        assert!(st.last_error.as_deref().unwrap().contains("not allowed"));
        m.shutdown();
    }

    #[test]
    fn static_certificate_status() {
        let (c, k) = self_signed("static.example", (2025, 1, 1), (2099, 1, 1));
        let l = super::super::pem::load_pem(c.as_bytes(), k.as_bytes(), "t").unwrap();
        let st = CertStatus::from_static(&l);
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].name, "static.example");
        assert_eq!(st[0].state, CertState::Valid);
        assert_eq!(st[0].next_renewal, None);
        let (c, k) = self_signed("old.example", (2020, 1, 1), (2020, 4, 1));
        let l = super::super::pem::load_pem(c.as_bytes(), k.as_bytes(), "t").unwrap();
        assert_eq!(CertStatus::from_static(&l)[0].state, CertState::Failed);
    }

    #[test]
    fn names_are_normalized_and_checked() {
        assert_eq!(
            normalize_name("Blog.Example.COM.").unwrap(),
            "blog.example.com"
        );
        assert_eq!(normalize_name("a-b.example").unwrap(), "a-b.example");
        for bad in [
            "",
            ".",
            "localhost",
            "a..b",
            ".a.b",
            "-a.b",
            "a-.b",
            "a_b.c",
            "a/b.c",
            "*.example.com",
            "1.2.3.4",
            "a.b:443",
            &"x".repeat(64),
        ] {
            assert!(normalize_name(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert!(normalize_name(&long).is_err());
    }
}
