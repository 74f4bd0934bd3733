#![cfg(feature = "acme")]
//! End-to-end ACME tests of `kernel::tls` against a real ACME server: Let's
//! Encrypt's pebble (Debian package `pebble`, which also ships
//! `pebble-challtestsrv`, used here as the DNS server mapping every name to
//! 127.0.0.1).
//!
//! Each test starts its own pebble + challtestsrv on free loopback ports and a
//! tiny front end on `may` that serves HTTP-01 tokens (plain HTTP) and
//! TLS-ALPN-01 / normal HTTPS through `TlsAcceptor`, exactly as fazt's edge will.
//!
//! Without pebble installed these tests FAIL (they never pass silently).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once, RwLock};
use std::time::{Duration, Instant};

use fazt::kernel::tls::{
    store, Accepted, CertManager, CertState, CertStore, ChallengeKind, MemStore, NamePolicy,
    RequestOutcome, SniResolver, TlsAcceptor, TlsError,
};

mod common;
use common::pebble::*;
use rustls_pki_types::pem::PemObject;

// ------------------------------------------------------- the front end on may

fn may_setup() {
    static ONCE: Once = Once::new();
    // 128 KiB coroutine stacks (may counts in words): the handshake needs ~21 KB.
    ONCE.call_once(|| {
        may::config()
            .set_workers(2)
            .set_stack_size(128 * 1024 / std::mem::size_of::<usize>());
    });
}

/// What fazt's edge does with this kernel: port 80 answers HTTP-01 tokens,
/// port 443 runs `TlsAcceptor` (TLS-ALPN-01 answered inside, HTTPS answered
/// with "hello <sni>"). The manager and acceptor can be swapped (restart).
struct Front {
    http_port: u16,
    tls_port: u16,
    mgr: RwLock<Option<CertManager>>,
    acceptor: RwLock<Option<TlsAcceptor>>,
    /// Make HTTP-01 fail (404 for every token) to exercise the fallback.
    break_http01: AtomicBool,
    http01_hits: AtomicUsize,
    alpn_hits: AtomicUsize,
}

impl Front {
    fn start() -> Arc<Self> {
        may_setup();
        let http = may::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tls = may::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let front = Arc::new(Self {
            http_port: http.local_addr().unwrap().port(),
            tls_port: tls.local_addr().unwrap().port(),
            mgr: RwLock::new(None),
            acceptor: RwLock::new(None),
            break_http01: AtomicBool::new(false),
            http01_hits: AtomicUsize::new(0),
            alpn_hits: AtomicUsize::new(0),
        });
        let f = front.clone();
        may::go!(move || {
            for s in http.incoming().flatten() {
                let f = f.clone();
                may::go!(move || f.serve_http(s));
            }
        });
        let f = front.clone();
        may::go!(move || {
            for s in tls.incoming().flatten() {
                let f = f.clone();
                may::go!(move || f.serve_tls(s));
            }
        });
        front
    }

    /// Install a manager and an acceptor over its resolver (with on-demand issuance).
    fn install(&self, mgr: &CertManager) {
        let acc = TlsAcceptor::new(mgr.resolver().clone())
            .unwrap()
            .with_handshake_timeout(Duration::from_secs(30))
            .with_on_demand(mgr.on_demand(), Duration::from_secs(25));
        *self.acceptor.write().unwrap() = Some(acc);
        *self.mgr.write().unwrap() = Some(mgr.clone());
    }

    fn serve_http(&self, s: may::net::TcpStream) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut r = BufReader::new(s);
        let mut line = String::new();
        if r.read_line(&mut line).is_err() {
            return;
        }
        // Skip the headers.
        let mut h = String::new();
        while r.read_line(&mut h).map(|n| n > 2).unwrap_or(false) {
            h.clear();
        }
        let path = line.split(' ').nth(1).unwrap_or("");
        let answer = path
            .strip_prefix("/.well-known/acme-challenge/")
            .filter(|_| !self.break_http01.load(Ordering::SeqCst))
            .and_then(|tok| self.mgr.read().unwrap().as_ref()?.http01_response(tok));
        let mut s = r.into_inner();
        let _ = match answer {
            Some(body) => {
                self.http01_hits.fetch_add(1, Ordering::SeqCst);
                write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
            None => s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
        };
    }

    fn serve_tls(&self, s: may::net::TcpStream) {
        let Some(acc) = self.acceptor.read().unwrap().clone() else {
            return;
        };
        match acc.accept(s) {
            Ok(Accepted::Challenge) => {
                self.alpn_hits.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Accepted::Stream(mut t)) => {
                let _ = t.set_read_timeout(Some(Duration::from_secs(5)));
                // Read the whole request head before answering (closing with
                // unread input would reset the connection).
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match t.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                        Err(e) => {
                            eprintln!("front: read: {e}");
                            return;
                        }
                    }
                }
                let body = format!("hello {}", t.server_name().unwrap_or("-"));
                let _ = write!(
                    t,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = t.close();
            }
            Err(e) => eprintln!("front: handshake: {e}"),
        }
    }
}

/// HTTPS GET / on the front end with SNI `name`, verifying against `roots`.
/// Returns the body and the leaf certificate the server presented.
fn fetch(port: u16, name: &str, roots: rustls::RootCertStore) -> Result<(String, Vec<u8>), String> {
    let conn = rustls::ClientConnection::new(
        client_config(roots, &[b"http/1.1"]),
        name.to_owned().try_into().unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(40)))
        .unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let leaf = s
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&out).into_owned();
    Ok((
        text.split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned(),
        leaf,
    ))
}

fn allow(names: &'static [&'static str]) -> NamePolicy {
    Arc::new(move |n: &str| names.contains(&n))
}

fn init_log() {
    fazt::kernel::logger::init(log::LevelFilter::Info, &[("may", log::LevelFilter::Warn)]);
}

fn leaf_of(store: &dyn CertStore, ns: &str, name: &str) -> Vec<u8> {
    let pem = store.get(&store::cert_key(ns, name)).unwrap().unwrap();
    rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

fn meta_of(store: &dyn CertStore, ns: &str, name: &str) -> serde_json::Value {
    serde_json::from_slice(&store.get(&store::meta_key(ns, name)).unwrap().unwrap()).unwrap()
}

// ------------------------------------------------------------------- tests

#[test]
fn account_http01_issuance_and_restart_reuses_store() {
    init_log();
    let front = Front::start();
    let pebble = Pebble::start("http01", front.http_port, front.tls_port, None);
    let store = Arc::new(MemStore::new());
    let ns = store::directory_namespace(&pebble.directory_url);
    let mgr = CertManager::new(
        pebble.config(&[ChallengeKind::Http01]),
        store.clone(),
        allow(&["a.fazt.test"]),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr);

    assert_eq!(mgr.request("a.fazt.test").unwrap(), RequestOutcome::Queued);
    assert!(
        mgr.wait_idle(Duration::from_secs(60)),
        "issuance did not finish"
    );
    let st = mgr.status();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].state, CertState::Valid, "{st:?}");
    assert!(st[0].last_error.is_none());
    assert_eq!(mgr.orders_placed(), 1);
    assert_eq!(pebble.orders(), 1);
    assert!(front.http01_hits.load(Ordering::SeqCst) >= 1);
    assert_eq!(front.alpn_hits.load(Ordering::SeqCst), 0);
    assert_eq!(
        mgr.resolver().challenges().pending(),
        0,
        "challenge responses left behind"
    );

    // Account and certificate live only in the store.
    let account = store
        .get(&store::account_key(&ns))
        .unwrap()
        .expect("account stored");
    assert_eq!(
        meta_of(store.as_ref(), &ns, "a.fazt.test")["challenge"],
        "http-01"
    );
    let leaf = leaf_of(store.as_ref(), &ns, "a.fazt.test");

    // The chain verifies against pebble's root through our edge, over may.
    let roots = pebble.issuing_roots();
    let t0 = Instant::now();
    let (body, served) = fetch(front.tls_port, "a.fazt.test", roots.clone()).unwrap();
    eprintln!("first verified HTTPS fetch: {:?}", t0.elapsed());
    assert_eq!(body, "hello a.fazt.test");
    assert_eq!(served, leaf);

    // Handshake timing (full handshake, new connection each time).
    let mut times: Vec<Duration> = (0..40)
        .map(|_| {
            let t = Instant::now();
            fetch(front.tls_port, "a.fazt.test", roots.clone()).unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    eprintln!(
        "HTTPS connect+handshake+GET over may: median {:?}, p90 {:?}",
        times[times.len() / 2],
        times[times.len() * 9 / 10]
    );

    // Restart: a new manager on the same store serves the stored cert, no order.
    mgr.shutdown();
    let mgr2 = CertManager::new(
        pebble.config(&[ChallengeKind::Http01]),
        store.clone(),
        allow(&["a.fazt.test"]),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr2);
    assert_eq!(
        mgr2.request("a.fazt.test").unwrap(),
        RequestOutcome::Present
    );
    assert!(mgr2.wait_idle(Duration::from_secs(5)));
    let (body, served) = fetch(front.tls_port, "a.fazt.test", roots).unwrap();
    assert_eq!(body, "hello a.fazt.test");
    assert_eq!(served, leaf);
    assert_eq!(mgr2.orders_placed(), 0);
    assert_eq!(pebble.orders(), 1);
    assert_eq!(
        store.get(&store::account_key(&ns)).unwrap().unwrap(),
        account
    );
    mgr2.shutdown();
}

#[test]
fn tls_alpn01_issuance() {
    init_log();
    let front = Front::start();
    let pebble = Pebble::start("alpn", front.http_port, front.tls_port, None);
    let store = Arc::new(MemStore::new());
    let ns = store::directory_namespace(&pebble.directory_url);
    let mgr = CertManager::new(
        pebble.config(&[ChallengeKind::TlsAlpn01]),
        store.clone(),
        allow(&["b.fazt.test"]),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr);
    assert_eq!(mgr.request("b.fazt.test").unwrap(), RequestOutcome::Queued);
    assert!(mgr.wait_idle(Duration::from_secs(60)));
    let st = mgr.status();
    assert_eq!(st[0].state, CertState::Valid, "{st:?}");
    assert!(front.alpn_hits.load(Ordering::SeqCst) >= 1);
    assert_eq!(front.http01_hits.load(Ordering::SeqCst), 0);
    assert_eq!(
        meta_of(store.as_ref(), &ns, "b.fazt.test")["challenge"],
        "tls-alpn-01"
    );
    let (body, served) = fetch(front.tls_port, "b.fazt.test", pebble.issuing_roots()).unwrap();
    assert_eq!(body, "hello b.fazt.test");
    assert_eq!(served, leaf_of(store.as_ref(), &ns, "b.fazt.test"));
    mgr.shutdown();
}

#[test]
fn http01_failure_falls_back_to_tls_alpn01() {
    init_log();
    let front = Front::start();
    front.break_http01.store(true, Ordering::SeqCst);
    let pebble = Pebble::start("fallback", front.http_port, front.tls_port, None);
    let store = Arc::new(MemStore::new());
    let ns = store::directory_namespace(&pebble.directory_url);
    let mgr = CertManager::new(
        pebble.config(&[ChallengeKind::Http01, ChallengeKind::TlsAlpn01]),
        store.clone(),
        allow(&["c.fazt.test"]),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr);
    mgr.request("c.fazt.test").unwrap();
    assert!(mgr.wait_idle(Duration::from_secs(90)));
    let st = mgr.status();
    assert_eq!(st[0].state, CertState::Valid, "{st:?}");
    assert_eq!(mgr.orders_placed(), 2, "one order per challenge type");
    assert_eq!(pebble.orders(), 2);
    assert_eq!(
        meta_of(store.as_ref(), &ns, "c.fazt.test")["challenge"],
        "tls-alpn-01"
    );
    assert_eq!(front.http01_hits.load(Ordering::SeqCst), 0);
    assert!(front.alpn_hits.load(Ordering::SeqCst) >= 1);
    mgr.shutdown();
}

#[test]
fn policy_refusal_makes_no_order_and_on_demand_issues_allowed_names() {
    init_log();
    let front = Front::start();
    let pebble = Pebble::start("policy", front.http_port, front.tls_port, None);
    let store = Arc::new(MemStore::new());
    let ns = store::directory_namespace(&pebble.directory_url);
    let mgr = CertManager::new(
        pebble.config(&[ChallengeKind::Http01, ChallengeKind::TlsAlpn01]),
        store.clone(),
        allow(&["site.fazt.test"]),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr);
    let roots = pebble.issuing_roots();

    // Refused: by request and by handshake; the CA is never contacted.
    assert_eq!(
        mgr.request("nosite.fazt.test"),
        Err(TlsError::Refused("nosite.fazt.test".into()))
    );
    let t0 = Instant::now();
    assert!(fetch(front.tls_port, "nosite.fazt.test", roots.clone()).is_err());
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "refused name was waited for"
    );
    assert!(mgr.wait_idle(Duration::from_secs(2)));
    assert_eq!(mgr.orders_placed(), 0);
    assert_eq!(pebble.orders(), 0);
    assert!(
        store.list("").unwrap().is_empty(),
        "refused name touched the store / CA"
    );
    assert!(mgr.status().is_empty());

    // Allowed, never requested: the first handshake obtains the certificate and succeeds.
    let t0 = Instant::now();
    let (body, served) = fetch(front.tls_port, "site.fazt.test", roots).unwrap();
    eprintln!(
        "on-demand first handshake (incl. issuance): {:?}",
        t0.elapsed()
    );
    assert_eq!(body, "hello site.fazt.test");
    assert_eq!(served, leaf_of(store.as_ref(), &ns, "site.fazt.test"));
    assert_eq!(mgr.orders_placed(), 1);
    mgr.shutdown();
}

#[test]
fn short_lived_certificate_is_renewed_and_swapped() {
    init_log();
    let front = Front::start();
    // 30 s certificates: renewal due 20 s after issuance (one third left).
    let pebble = Pebble::start("renew", front.http_port, front.tls_port, Some(30));
    let store = Arc::new(MemStore::new());
    let ns = store::directory_namespace(&pebble.directory_url);
    let mgr = CertManager::new(
        pebble.config(&[ChallengeKind::Http01]),
        store.clone(),
        allow(&["r.fazt.test"]),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr);
    mgr.request("r.fazt.test").unwrap();
    assert!(mgr.wait_idle(Duration::from_secs(60)));
    let first = mgr.status()[0].clone();
    assert_eq!(first.state, CertState::Valid, "{first:?}");
    let (nb_na, renew) = (first.not_after.unwrap(), first.next_renewal.unwrap());
    assert!(
        nb_na - renew >= 9 && nb_na - renew <= 11,
        "renew at {renew}, not_after {nb_na}"
    );
    let old_leaf = leaf_of(store.as_ref(), &ns, "r.fazt.test");
    let roots = pebble.issuing_roots();
    assert_eq!(
        fetch(front.tls_port, "r.fazt.test", roots.clone())
            .unwrap()
            .1,
        old_leaf
    );

    // Nobody calls request(): the ticker must notice, renew, store and swap.
    let t0 = Instant::now();
    loop {
        let cur = mgr.resolver().get("r.fazt.test").unwrap();
        if cur.cert[0].as_ref() != old_leaf.as_slice() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(45),
            "certificate was not renewed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(mgr.wait_idle(Duration::from_secs(30)));
    let new_leaf = leaf_of(store.as_ref(), &ns, "r.fazt.test");
    assert_ne!(new_leaf, old_leaf, "store not updated");
    let second = mgr.status()[0].clone();
    assert!(second.not_after.unwrap() > first.not_after.unwrap());
    assert_eq!(mgr.orders_placed(), 2);
    // Served without restart.
    let (body, served) = fetch(front.tls_port, "r.fazt.test", roots).unwrap();
    assert_eq!(body, "hello r.fazt.test");
    assert_eq!(served, new_leaf);
    mgr.shutdown();
}

#[test]
fn account_deactivated_at_the_ca_is_registered_anew() {
    init_log();
    let front = Front::start();
    let pebble = Pebble::start("deact", front.http_port, front.tls_port, None);
    let store = Arc::new(MemStore::new());
    let ns = store::directory_namespace(&pebble.directory_url);
    let manager = || {
        CertManager::new(
            pebble.config(&[ChallengeKind::Http01]),
            store.clone(),
            allow(&["one.fazt.test", "two.fazt.test"]),
            Arc::new(SniResolver::new()),
        )
        .unwrap()
    };
    let mgr = manager();
    front.install(&mgr);
    assert_eq!(
        mgr.request("one.fazt.test").unwrap(),
        RequestOutcome::Queued
    );
    assert!(mgr.wait_idle(Duration::from_secs(60)));
    assert_eq!(mgr.status()[0].state, CertState::Valid);
    mgr.shutdown();
    let first = store.get(&store::account_key(&ns)).unwrap().unwrap();

    // Someone deactivates the account at the CA (with the key from fazt's own store).
    let roots = fazt::kernel::tls::client::load_root_pem(&pebble.listener_ca).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = fazt::kernel::tls::acme_http::http_client(&roots).unwrap();
        let creds: instant_acme::AccountCredentials = serde_json::from_slice(&first).unwrap();
        let account = instant_acme::Account::builder_with_http(http)
            .from_credentials(creds)
            .await
            .unwrap();
        account.deactivate().await.unwrap();
    });

    // The next order is refused for the account; fazt registers a new one and succeeds.
    let mgr = manager();
    front.install(&mgr);
    assert_eq!(
        mgr.request("two.fazt.test").unwrap(),
        RequestOutcome::Queued
    );
    assert!(mgr.wait_idle(Duration::from_secs(60)));
    let st = mgr.status();
    let two = st.iter().find(|s| s.name == "two.fazt.test").unwrap();
    assert_eq!(two.state, CertState::Valid, "{st:?}\n{}", pebble.log());
    let second = store.get(&store::account_key(&ns)).unwrap().unwrap();
    assert_ne!(first, second, "the new account was not stored");
    let (body, _) = fetch(front.tls_port, "two.fazt.test", pebble.issuing_roots()).unwrap();
    assert_eq!(body, "hello two.fazt.test");
    mgr.shutdown();
}

#[test]
fn the_weekly_order_budget_holds_across_restarts() {
    init_log();
    let front = Front::start();
    let pebble = Pebble::start("budget", front.http_port, front.tls_port, None);
    let store = Arc::new(MemStore::new());
    let cfg = fazt_kernel::tls::AcmeConfig {
        orders_per_week: 1,
        ..pebble.config(&[ChallengeKind::Http01])
    };
    let names: &'static [&'static str] = &["a.fazt.test", "b.fazt.test", "c.fazt.test"];
    let mgr = CertManager::new(
        cfg.clone(),
        store.clone(),
        allow(names),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr);
    mgr.request("a.fazt.test").unwrap();
    assert!(mgr.wait_idle(Duration::from_secs(60)));
    mgr.request("b.fazt.test").unwrap();
    assert!(mgr.wait_idle(Duration::from_secs(60)));
    let st = mgr.status();
    let b = st
        .iter()
        .find(|c| c.name == "b.fazt.test")
        .expect("b is tracked");
    assert_ne!(b.state, CertState::Valid, "{st:?}");
    assert!(
        b.last_error
            .as_deref()
            .unwrap_or("")
            .contains("weekly budget of 1"),
        "{st:?}"
    );
    assert_eq!((mgr.orders_placed(), pebble.orders()), (1, 1));
    // A restart reads the budget back from the store: still no new order.
    mgr.shutdown();
    let mgr2 = CertManager::new(
        cfg,
        store.clone(),
        allow(names),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr2);
    mgr2.request("c.fazt.test").unwrap();
    assert!(mgr2.wait_idle(Duration::from_secs(60)));
    assert_eq!((mgr2.orders_placed(), pebble.orders()), (0, 1));
    mgr2.shutdown();
}

/// Pebble (2.4) has no renewal information, so this HTTPS server stands in front of its
/// directory: `/dir` is pebble's directory plus `renewalInfo` pointing at `/ari/`, which
/// answers each certificate id with the window `window(n)` for the n-th id it sees (and
/// records the ids). Everything else (accounts, orders) goes to pebble itself.
struct AriFront {
    url: String,
    ids: Arc<std::sync::Mutex<Vec<String>>>,
}

impl AriFront {
    fn start(pebble: &Pebble, window: fn(usize) -> (i64, i64)) -> AriFront {
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let mut dir: serde_json::Value = {
            let addr: std::net::SocketAddr = pebble
                .directory_url
                .trim_start_matches("https://")
                .trim_end_matches("/dir")
                .parse()
                .unwrap();
            // (pebble names its URLs after the Host header, which https_get sends portless)
            let body = String::from_utf8(https_get(addr, "/dir", &pebble.listener_ca)).unwrap();
            let body = body.replace("https://127.0.0.1/", &format!("https://{addr}/"));
            serde_json::from_str(&body).unwrap()
        };
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("https://{}", l.local_addr().unwrap());
        dir["renewalInfo"] = format!("{base}/ari/").into();
        let dir = dir.to_string();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(pebble.dir.join("cert.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(pebble.dir.join("key.pem")).unwrap();
        let cfg = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let ids = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = ids.clone();
        std::thread::spawn(move || {
            for sock in l.incoming().flatten() {
                let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
                let mut s = rustls::StreamOwned::new(conn, sock);
                let mut line = String::new();
                if BufReader::new(&mut s).read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                let body = if path == "/dir" {
                    dir.clone()
                } else if let Some(id) = path.strip_prefix("/ari/") {
                    let mut ids = seen.lock().unwrap();
                    if !ids.iter().any(|i| i == id) {
                        ids.push(id.to_string());
                    }
                    let n = ids.iter().position(|i| i == id).unwrap();
                    let (a, b) = window(n);
                    let t = |s: i64| {
                        let (y, m, d) = fazt::kernel::civil::civil_from_days(s.div_euclid(86_400));
                        let r = s.rem_euclid(86_400);
                        format!(
                            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                            r / 3600,
                            r / 60 % 60,
                            r % 60
                        )
                    };
                    serde_json::json!({"suggestedWindow": {"start": t(a), "end": t(b)}}).to_string()
                } else {
                    String::new()
                };
                let status = if body.is_empty() {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nRetry-After: 21600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.flush();
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        });
        AriFront {
            url: format!("{base}/dir"),
            ids,
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn renewal_information_renews_early_when_the_ca_says_so() {
    init_log();
    let front = Front::start();
    // 90-day certificates: on its own schedule the manager would wait 60 days.
    let pebble = Pebble::start("ari", front.http_port, front.tls_port, None);
    // The first certificate's window is already open (as after a CA incident); every
    // later one's is two months away.
    let ari = AriFront::start(&pebble, |n| {
        let now = unix_now();
        if n == 0 {
            (now - 3600, now - 60)
        } else {
            (now + 60 * 86_400, now + 61 * 86_400)
        }
    });
    let store = Arc::new(MemStore::new());
    let mut cfg = pebble.config(&[ChallengeKind::Http01]);
    cfg.directory_url = ari.url.clone();
    let ns = store::directory_namespace(&cfg.directory_url);
    let mgr = CertManager::new(
        cfg,
        store.clone(),
        allow(&["ari.fazt.test"]),
        Arc::new(SniResolver::new()),
    )
    .unwrap();
    front.install(&mgr);
    mgr.request("ari.fazt.test").unwrap();
    assert!(mgr.wait_idle(Duration::from_secs(60)));
    let first = leaf_of(store.as_ref(), &ns, "ari.fazt.test");

    // Nobody asks: the ticker reads the renewal information and renews at once.
    let t0 = Instant::now();
    while leaf_of(store.as_ref(), &ns, "ari.fazt.test") == first {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "not renewed early; ids asked: {:?}",
            ari.ids.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(mgr.wait_idle(Duration::from_secs(30)));
    // The new certificate is asked about too, and its window is far: no third order.
    let t0 = Instant::now();
    while ari.ids.lock().unwrap().len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the renewed certificate's ARI was not asked"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(mgr.orders_placed(), 2);
    let ids = ari.ids.lock().unwrap().clone();
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        let (aki, serial) = id.split_once('.').expect("aki.serial");
        assert!(!aki.is_empty() && !serial.is_empty(), "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{id}"
        );
    }
    let next = mgr.status()[0].next_renewal.unwrap();
    assert!(next > unix_now() + 59 * 86_400, "next renewal {next}");
    mgr.shutdown();
}
