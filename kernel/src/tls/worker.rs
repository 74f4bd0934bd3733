//! The background side of [`super::CertManager`]: loading stored certificates at
//! start, the renewal ticker thread, and the ACME worker thread (a current-thread
//! Tokio runtime that lives only while names are queued) which orders, checks,
//! stores and installs certificates and records failures with back-off.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use instant_acme::Account;

use super::acme::{self, IssueError};
use super::acme_http;
use super::ari;
use super::manager::{normalize_name, now_unix, Entry, Inner};
use super::pem::load_pem;
use super::renew::backoff;
use super::sni::SniResolver;
use super::store::{self, CertStore};
use super::x509::CertInfo;

/// A renewal-information answer: (name, certificate id, window and when to ask again).
type AriAnswer = (String, String, Result<(ari::Window, Duration), String>);

/// Read every certificate of namespace `ns` from the store into `resolver`.
pub(super) fn load_stored(
    store: &dyn CertStore,
    ns: &str,
    resolver: &SniResolver,
) -> BTreeMap<String, Entry> {
    let mut names = BTreeMap::new();
    let keys = match store.list(&store::certs_prefix(ns)) {
        Ok(k) => k,
        Err(e) => {
            log::error!("tls: listing stored certificates: {e}");
            return names;
        }
    };
    for domain in store::domains_in(ns, &keys) {
        if normalize_name(&domain).ok().as_deref() != Some(domain.as_str()) {
            log::warn!("tls: ignoring stored certificate with invalid name {domain:?}");
            continue;
        }
        let mut entry = read_meta(store, ns, &domain);
        let cert = store.get(&store::cert_key(ns, &domain));
        let key = store.get(&store::key_key(ns, &domain));
        match (cert, key) {
            (Ok(Some(c)), Ok(Some(k))) => match load_pem(&c, &k, &domain) {
                Ok(l) => {
                    let fresh = Entry::for_cert(&l.info);
                    entry.not_before = fresh.not_before;
                    entry.not_after = fresh.not_after;
                    entry.ari_id = fresh.ari_id;
                    entry.ari_check = fresh.ari_check;
                    resolver.insert(&domain, l.key);
                }
                Err(e) => log::error!("tls: stored certificate unusable: {e}"),
            },
            (Err(e), _) | (_, Err(e)) => log::error!("tls: reading certificate of {domain}: {e}"),
            _ => {}
        }
        names.insert(domain, entry);
    }
    log::info!("tls: loaded {} stored certificate(s) for {ns}", names.len());
    names
}

/// Back-off state persisted in meta.json (so a crash loop does not hammer the CA).
fn read_meta(store: &dyn CertStore, ns: &str, domain: &str) -> Entry {
    let mut e = Entry::default();
    let Ok(Some(raw)) = store.get(&store::meta_key(ns, domain)) else {
        return e;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&raw) else {
        return e;
    };
    e.failures = v
        .get("failures")
        .and_then(serde_json::Value::as_u64)
        .and_then(|f| u32::try_from(f).ok())
        .unwrap_or(0);
    e.retry_at = v.get("retry_at").and_then(serde_json::Value::as_i64);
    e.last_error = v
        .get("last_error")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    e
}

impl Inner {
    pub(super) fn tick_loop(self: Arc<Self>) {
        let mut st = self.lock();
        loop {
            if st.stopped {
                return;
            }
            let now = now_unix();
            let due: Vec<String> = st
                .names
                .iter()
                .filter(|(n, e)| {
                    st.in_flight.as_deref() != Some(n.as_str())
                        && e.next_due().is_some_and(|t| t <= now)
                })
                .map(|(n, _)| n.clone())
                .collect();
            for name in due {
                if let Some(e) = st.names.get_mut(&name) {
                    e.queued = true;
                }
                log::info!("acme: {name} is due for issuance/renewal");
                st.queue.push_back(name);
            }
            self.kick(&mut st);
            let asks: Vec<(String, String)> = st
                .names
                .iter()
                .filter(|(_, e)| !e.queued && e.ari_check.is_some_and(|t| t <= now))
                .filter_map(|(n, e)| Some((n.clone(), e.ari_id.clone()?)))
                .collect();
            if !asks.is_empty() {
                // The CA is asked without the lock: handshakes and requests go on.
                drop(st);
                let answers = self.ask_ari(&asks, now);
                st = self.lock();
                self.apply_ari(&mut st.names, answers, now);
                continue;
            }
            let next = st
                .names
                .values()
                .filter_map(|e| match (e.next_due(), e.ari_check) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                })
                .min();
            let mut sleep = self.cfg.renew_check_interval;
            if let Some(t) = next {
                let secs = u64::try_from(t.saturating_sub(now)).unwrap_or(0).max(1);
                sleep = sleep.min(Duration::from_secs(secs));
            }
            st = self
                .changed
                .wait_timeout(st, sleep)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Asks the CA's renewal information for each (name, id); `None` when the directory
    /// offers none (or cannot be read).
    fn ask_ari(&self, asks: &[(String, String)], now: i64) -> Option<Vec<AriAnswer>> {
        let base = match ari::renewal_info_url(&self.ari_tls, &self.cfg.directory_url) {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(e) => {
                log::warn!("acme: reading the directory for renewal information: {e}");
                return None;
            }
        };
        Some(
            asks.iter()
                .map(|(n, id)| {
                    (
                        n.clone(),
                        id.clone(),
                        ari::fetch(&self.ari_tls, &base, id, now),
                    )
                })
                .collect(),
        )
    }

    fn apply_ari(
        &self,
        names: &mut BTreeMap<String, Entry>,
        answers: Option<Vec<AriAnswer>>,
        now: i64,
    ) {
        let later = now.saturating_add(self.cfg.renew_check_interval.as_secs() as i64);
        let Some(answers) = answers else {
            // No ARI at this CA (or its directory is unreadable): ask again much later.
            for e in names
                .values_mut()
                .filter(|e| e.ari_check.is_some_and(|t| t <= now))
            {
                e.ari_check = Some(now.saturating_add(ari::RECHECK_MAX.as_secs() as i64));
            }
            return;
        };
        for (name, id, answer) in answers {
            // Renewed meanwhile: the answer is about a certificate no longer served.
            let Some(e) = names
                .get_mut(&name)
                .filter(|e| e.ari_id.as_deref() == Some(&id))
            else {
                continue;
            };
            match answer {
                Ok((w, again)) => {
                    let seed = name.bytes().fold(w.start as u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                    });
                    let at = w.pick(now, seed);
                    let own = e.renew_time();
                    e.ari_at = Some(at);
                    if own.is_some_and(|o| at < o) {
                        log::info!("acme: the CA's renewal window moves {name}'s renewal to {at}");
                    }
                    e.ari_check = Some(now.saturating_add(again.as_secs() as i64));
                }
                Err(err) => {
                    log::warn!("acme: renewal information for {name}: {err}");
                    e.ari_check = Some(later);
                }
            }
        }
    }

    pub(super) fn worker_main(self: Arc<Self>) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                log::error!("acme: cannot start Tokio runtime: {e}");
                let mut st = self.lock();
                st.worker = false;
                for name in std::mem::take(&mut st.queue) {
                    if let Some(e) = st.names.get_mut(&name) {
                        e.queued = false;
                    }
                }
                self.changed.notify_all();
                return;
            }
        };
        rt.block_on(self.work());
    }

    async fn work(self: &Arc<Self>) {
        let mut account: Option<Account> = None;
        loop {
            let name = {
                let mut st = self.lock();
                let next = if st.stopped {
                    None
                } else {
                    st.queue.pop_front()
                };
                let Some(name) = next else {
                    st.worker = false;
                    st.in_flight = None;
                    drop(st);
                    self.changed.notify_all();
                    return;
                };
                if let Some(e) = st.names.get_mut(&name) {
                    e.queued = false;
                }
                st.in_flight = Some(name.clone());
                name
            };
            let result = self.process(&name, &mut account).await;
            self.finish(&name, result);
            self.changed.notify_all();
        }
    }

    /// The account kept in `slot`, opened (or, when `fresh`, registered anew) on first use.
    async fn account(&self, slot: &mut Option<Account>, fresh: bool) -> Result<Account, String> {
        if let Some(a) = slot {
            return Ok(a.clone());
        }
        let http = acme_http::http_client(&self.extra_roots).map_err(|e| e.to_string())?;
        let a = acme::open_account(
            self.store.as_ref(),
            &self.ns,
            &self.cfg.directory_url,
            &self.cfg.contact,
            http,
            fresh,
        )
        .await
        .map_err(|e| e.to_string())?;
        *slot = Some(a.clone());
        Ok(a)
    }

    /// Obtain and install a certificate for `name`. `Ok(None)`: skipped by policy.
    async fn process(
        &self,
        name: &str,
        account: &mut Option<Account>,
    ) -> Result<Option<CertInfo>, String> {
        if !(self.policy)(name) {
            log::info!("acme: {name} is no longer allowed by the name policy; not ordering");
            return Ok(None);
        }
        // One lock, released before anything else (the guard of an `if let` scrutinee
        // would live through its block).
        let budget = {
            let mut st = self.lock();
            st.week
                .check(now_unix())
                .map_err(|frees| (frees, st.week.max()))
        };
        if let Err((frees, max)) = budget {
            return Err(format!(
                "not ordering {name}: the weekly budget of {max} new orders is used (the next frees in {} h)",
                (frees - now_unix()).max(0) / 3600 + 1
            ));
        }
        let mut acct = self.account(account, false).await?;
        let gate = || {
            let mut st = self.lock();
            let granted = st.limiter.try_acquire(Instant::now());
            if granted.is_ok() {
                st.week.record(now_unix());
                let json = st.week.to_json();
                drop(st);
                self.orders.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self
                    .store
                    .put(&store::orders_key(&self.ns), json.as_bytes())
                {
                    log::warn!("acme: storing the order budget: {e}");
                }
            }
            granted
        };
        let issue = |acct: Account| async move {
            acme::issue(
                &acct,
                name,
                &self.cfg.challenges,
                self.resolver.challenges(),
                &gate,
                self.cfg.order_timeout,
            )
            .await
        };
        let issued = match issue(acct).await {
            Ok(issued) => issued,
            Err(IssueError::AccountGone(why)) => {
                // Once, not in a loop: a CA that refuses a brand-new account has a
                // different problem, reported as the order's error.
                log::warn!(
                    "acme: the CA refused the stored account ({why}); registering a new one"
                );
                *account = None;
                acct = self.account(account, true).await?;
                issue(acct).await.map_err(|e| e.to_string())?
            }
            Err(e) => return Err(e.to_string()),
        };

        // Check what the CA sent before storing or serving it.
        let loaded = load_pem(
            issued.cert_pem.as_bytes(),
            issued.key_pem.as_bytes(),
            &format!("certificate issued for {name}"),
        )
        .map_err(|e| e.to_string())?;
        if !loaded.info.dns_names.iter().any(|n| n == name) {
            return Err(format!(
                "certificate issued for {name} does not name it (names: {:?})",
                loaded.info.dns_names
            ));
        }
        // The name may have been dropped while the order ran (its site deleted and the
        // certificate forgotten): do not bring it back.
        if !(self.policy)(name) {
            log::info!("acme: {name} was dropped while its order ran; discarding the certificate");
            return Ok(None);
        }
        // Store first: the old certificate keeps serving until the new one is saved.
        let (ns, store) = (&self.ns, &self.store);
        store
            .put(&store::key_key(ns, name), issued.key_pem.as_bytes())
            .and_then(|()| store.put(&store::cert_key(ns, name), issued.cert_pem.as_bytes()))
            .map_err(|e| format!("storing certificate for {name}: {e}"))?;
        let meta = serde_json::json!({
            "domain": name,
            "directory": self.cfg.directory_url,
            "challenge": issued.challenge.as_str(),
            "issued_at": now_unix(),
            "not_before": loaded.info.not_before,
            "not_after": loaded.info.not_after,
            "failures": 0,
            "retry_at": null,
            "last_error": null,
        });
        if let Err(e) = store.put(&store::meta_key(ns, name), meta.to_string().as_bytes()) {
            log::warn!("acme: storing metadata of {name}: {e}");
        }
        self.resolver.insert(name, loaded.key);
        log::info!(
            "acme: certificate for {name} installed via {} (valid until {})",
            issued.challenge,
            loaded.info.not_after
        );
        Ok(Some(loaded.info))
    }

    /// Record the outcome of `process` for `name`.
    fn finish(&self, name: &str, result: Result<Option<CertInfo>, String>) {
        let mut st = self.lock();
        st.in_flight = None;
        match result {
            Ok(Some(info)) => {
                let e = st.names.entry(name.to_owned()).or_default();
                *e = Entry::for_cert(&info);
                // Its renewal information is asked at once: wake the ticker.
                self.changed.notify_all();
            }
            Ok(None) => {
                // Refused by policy: forget names that never had a certificate;
                // for served ones, ask the policy again after a check interval
                // (without this a due certificate would be re-queued at once).
                let later =
                    i64::try_from(self.cfg.renew_check_interval.as_secs()).unwrap_or(i64::MAX);
                match st.names.get_mut(name) {
                    Some(e) if e.not_after.is_some() => {
                        e.retry_at = Some(now_unix().saturating_add(later));
                        e.last_error = Some(format!("{name} is not allowed by the name policy"));
                    }
                    Some(_) => {
                        st.names.remove(name);
                    }
                    None => {}
                }
            }
            Err(err) => {
                log::error!("acme: {err}");
                let (min, max) = (self.cfg.retry_min, self.cfg.retry_max);
                let e = st.names.entry(name.to_owned()).or_default();
                e.failures = e.failures.saturating_add(1);
                let delay =
                    i64::try_from(backoff(e.failures, min, max).as_secs()).unwrap_or(i64::MAX);
                let retry_at = now_unix().saturating_add(delay);
                e.retry_at = Some(retry_at);
                e.last_error = Some(err.clone());
                let failures = e.failures;
                drop(st);
                self.persist_failure(name, failures, retry_at, &err);
            }
        }
    }

    /// Merge the failure state into meta.json, keeping the issuance fields.
    fn persist_failure(&self, name: &str, failures: u32, retry_at: i64, err: &str) {
        let key = store::meta_key(&self.ns, name);
        let mut meta = self
            .store
            .get(&key)
            .ok()
            .flatten()
            .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({ "domain": name }));
        if let Some(obj) = meta.as_object_mut() {
            obj.insert("failures".into(), failures.into());
            obj.insert("retry_at".into(), retry_at.into());
            obj.insert("last_error".into(), err.into());
        }
        if let Err(e) = self.store.put(&key, meta.to_string().as_bytes()) {
            log::warn!("acme: storing failure state of {name}: {e}");
        }
    }
}
