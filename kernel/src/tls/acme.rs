//! The ACME conversation (instant-acme, async, run on the ACME worker's Tokio
//! runtime): load or create the account, and obtain one certificate for one name
//! with HTTP-01 or TLS-ALPN-01, falling back to the next challenge type when
//! validation fails. Problem documents from the CA are kept in the error text.

use std::fmt;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, HttpClient, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy,
};

use super::challenge::{mint_alpn_cert, Challenges};
use super::store::{account_key, CertStore};
use super::TlsError;

/// A challenge type the manager can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeKind {
    /// A token served on port 80 at `/.well-known/acme-challenge/{token}`.
    Http01,
    /// A self-minted certificate served to `acme-tls/1` handshakes on port 443.
    TlsAlpn01,
}

impl ChallengeKind {
    fn acme_type(self) -> ChallengeType {
        match self {
            Self::Http01 => ChallengeType::Http01,
            Self::TlsAlpn01 => ChallengeType::TlsAlpn01,
        }
    }

    /// The RFC 8555 name (`http-01`, `tls-alpn-01`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

impl fmt::Display for ChallengeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly issued certificate, as PEM.
pub(crate) struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub challenge: ChallengeKind,
}

/// How long to poll for the CA's validation and for the certificate.
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(250))
    .backoff(1.5)
    .timeout(Duration::from_secs(90));

/// Restore the stored account for this directory, or register a new one and store it
/// (always a new one when `fresh`: the CA no longer accepts the stored one).
pub(crate) async fn open_account(
    store: &dyn CertStore,
    ns: &str,
    directory_url: &str,
    contact: &[String],
    http: Box<dyn HttpClient>,
    fresh: bool,
) -> Result<Account, TlsError> {
    let key = account_key(ns);
    let stored = if fresh { None } else { store.get(&key)? };
    if let Some(json) = stored {
        let creds: AccountCredentials =
            serde_json::from_slice(&json).map_err(|e| TlsError::Store(format!("{key}: {e}")))?;
        return Account::builder_with_http(http)
            .from_credentials(creds)
            .await
            .map_err(|e| TlsError::Acme(format!("restoring ACME account from {key}: {e}")));
    }
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, creds) = Account::builder_with_http(http)
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory_url.to_owned(),
            None,
        )
        .await
        .map_err(|e| TlsError::Acme(format!("creating ACME account at {directory_url}: {e}")))?;
    let json = serde_json::to_vec(&creds)
        .map_err(|e| TlsError::Store(format!("serializing account: {e}")))?;
    store.put(&key, &json)?;
    log::info!(
        "acme: registered account {} at {directory_url}",
        account.id()
    );
    Ok(account)
}

/// An order attempt failed: `Validation` errors are worth retrying with another
/// challenge type, `Fatal` ones (rate limits, network, rejected name) are not.
enum Attempt {
    Validation(String),
    Fatal(String),
    AccountGone(String),
}

/// Why [`issue`] gave up.
pub(crate) enum IssueError {
    /// The CA refused the account itself (deactivated, or unknown: a CA reset, a key
    /// revoked elsewhere). Registering a new account and ordering again can succeed.
    AccountGone(String),
    Failed(TlsError),
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AccountGone(e) => write!(f, "the CA refused the ACME account: {e}"),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

/// Whether the CA's answer says the account is no longer usable (RFC 8555 §7.3.6:
/// a deactivated account gets `unauthorized`; an unknown key `accountDoesNotExist`).
fn account_gone(e: &instant_acme::Error) -> bool {
    let instant_acme::Error::Api(p) = e else {
        return false;
    };
    let kind = p.r#type.as_deref().unwrap_or("");
    let detail = p.detail.as_deref().unwrap_or("").to_ascii_lowercase();
    kind.ends_with(":accountDoesNotExist")
        || (kind.ends_with(":unauthorized")
            && (detail.contains("deactivated") || detail.contains("revoked")))
}

/// Removes this order's challenge responses however the attempt ends.
struct Cleanup<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
    alpn_name: Option<String>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for t in &self.tokens {
            self.challenges.clear_http01(t);
        }
        if let Some(n) = &self.alpn_name {
            self.challenges.clear_alpn(n);
        }
    }
}

/// Obtain a certificate for `name`, trying `kinds` in order. `gate` is asked
/// before each new order and returns how long to wait when the global order
/// cap is reached; each order (not the wait for the gate) is bounded by `timeout`.
pub(crate) async fn issue(
    account: &Account,
    name: &str,
    kinds: &[ChallengeKind],
    challenges: &Challenges,
    gate: &(dyn Fn() -> Result<(), Duration> + Sync),
    timeout: Duration,
) -> Result<Issued, IssueError> {
    let mut failures = Vec::new();
    for &kind in kinds {
        while let Err(wait) = gate() {
            log::info!(
                "acme: order cap reached, waiting {} s before ordering {name}",
                wait.as_secs()
            );
            tokio::time::sleep(wait).await;
        }
        let outcome = tokio::time::timeout(timeout, attempt(account, name, kind, challenges))
            .await
            .unwrap_or_else(|_| {
                Err(Attempt::Fatal(format!(
                    "order timed out after {} s",
                    timeout.as_secs()
                )))
            });
        match outcome {
            Ok(issued) => return Ok(issued),
            Err(Attempt::Validation(e)) => {
                log::warn!("acme: {kind} validation for {name} failed: {e}");
                failures.push(format!("{kind}: {e}"));
            }
            Err(Attempt::Fatal(e)) => {
                failures.push(format!("{kind}: {e}"));
                break;
            }
            Err(Attempt::AccountGone(e)) => return Err(IssueError::AccountGone(e)),
        }
    }
    if failures.is_empty() {
        failures.push("no challenge types enabled".to_owned());
    }
    Err(IssueError::Failed(TlsError::Acme(format!(
        "certificate for {name}: {}",
        failures.join("; ")
    ))))
}

/// One order with one challenge type.
async fn attempt(
    account: &Account,
    name: &str,
    kind: ChallengeKind,
    challenges: &Challenges,
) -> Result<Issued, Attempt> {
    let ids = [Identifier::Dns(name.to_owned())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.map_err(|e| {
        if account_gone(&e) {
            Attempt::AccountGone(e.to_string())
        } else {
            Attempt::Fatal(format!("new order: {e}"))
        }
    })?;
    log::info!("acme: order for {name} placed ({kind})");
    let mut cleanup = Cleanup {
        challenges,
        tokens: Vec::new(),
        alpn_name: None,
    };

    let mut authzs = order.authorizations();
    while let Some(authz) = authzs.next().await {
        let mut authz = authz.map_err(|e| Attempt::Fatal(format!("authorization: {e}")))?;
        match authz.status {
            AuthorizationStatus::Valid => continue,
            AuthorizationStatus::Pending => {}
            other => {
                return Err(Attempt::Validation(format!(
                    "authorization is {}",
                    authorization_status(&other)
                )));
            }
        }
        let mut ch = authz
            .challenge(kind.acme_type())
            .ok_or_else(|| Attempt::Validation(format!("the CA offered no {kind} challenge")))?;
        let key_auth = ch.key_authorization();
        match kind {
            ChallengeKind::Http01 => {
                challenges.set_http01(&ch.token, key_auth.as_str());
                cleanup.tokens.push(ch.token.clone());
            }
            ChallengeKind::TlsAlpn01 => {
                let cert = mint_alpn_cert(name, key_auth.digest().as_ref())
                    .map_err(|e| Attempt::Fatal(e.to_string()))?;
                challenges.set_alpn(name, cert);
                cleanup.alpn_name = Some(name.to_owned());
            }
        }
        ch.set_ready()
            .await
            .map_err(|e| Attempt::Validation(format!("challenge ready: {e}")))?;
    }

    let status = order
        .poll_ready(&POLL)
        .await
        .map_err(|e| Attempt::Validation(format!("waiting for validation: {e}")))?;
    if status != OrderStatus::Ready {
        let mut problems = Vec::new();
        let mut authzs = order.authorizations();
        while let Some(Ok(mut authz)) = authzs.next().await {
            if let Ok(state) = authz.refresh().await {
                problems.extend(
                    state
                        .challenges
                        .iter()
                        .filter_map(|c| c.error.as_ref().map(|p| p.to_string())),
                );
            }
        }
        if problems.is_empty() {
            problems.push(format!("order is {}", order_status(&status)));
        }
        return Err(Attempt::Validation(problems.join("; ")));
    }
    drop(cleanup);

    let fatal = |what: &str, e: &dyn fmt::Display| Attempt::Fatal(format!("{what}: {e}"));
    let (csr, key_pem) = super::mint::csr(name).map_err(|e| fatal("CSR", &e))?;
    order
        .finalize_csr(&csr)
        .await
        .map_err(|e| fatal("finalize", &e))?;
    let cert_pem = order
        .poll_certificate(&POLL)
        .await
        .map_err(|e| fatal("certificate", &e))?;
    Ok(Issued {
        cert_pem,
        key_pem,
        challenge: kind,
    })
}

// Statuses by name, not by `Debug`: shipped builds format `{:?}` as nothing (size).
fn authorization_status(s: &AuthorizationStatus) -> &'static str {
    match s {
        AuthorizationStatus::Pending => "pending",
        AuthorizationStatus::Valid => "valid",
        AuthorizationStatus::Invalid => "invalid",
        AuthorizationStatus::Revoked => "revoked",
        AuthorizationStatus::Expired => "expired",
        _ => "in an unknown state",
    }
}

fn order_status(s: &OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "pending",
        OrderStatus::Ready => "ready",
        OrderStatus::Processing => "processing",
        OrderStatus::Valid => "valid",
        OrderStatus::Invalid => "invalid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(kind: &str, detail: &str) -> instant_acme::Error {
        let json = serde_json::json!({"type": kind, "detail": detail, "status": 403});
        instant_acme::Error::Api(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn account_refusals_are_told_from_other_problems() {
        let gone = [
            problem(
                "urn:ietf:params:acme:error:accountDoesNotExist",
                "no such key",
            ),
            problem(
                "urn:ietf:params:acme:error:unauthorized",
                "Account has been deactivated",
            ),
        ];
        assert!(gone.iter().all(account_gone));
        let other = [
            problem("urn:ietf:params:acme:error:rateLimited", "too many orders"),
            problem(
                "urn:ietf:params:acme:error:unauthorized",
                "Error creating new order :: policy forbids issuing",
            ),
            instant_acme::Error::Str("network"),
        ];
        assert!(!other.iter().any(account_gone));
    }
}
