//! Native HTTPS through the real binary against a real ACME server (pebble): issuance for the
//! domain and an existing site over HTTP-01 and TLS-ALPN-01, refusal of names without a site
//! (no order placed), `curl --cacert` gets the site, a restart reuses the stored certificate,
//! short-lived certificates are renewed and swapped while connections continue, port 80
//! redirects; and without ACME, a `--tls-cert/--tls-key` certificate serving sites and taking
//! `fazt deploy` over HTTPS. Without pebble the ACME tests fail with the install command.
#![cfg(feature = "acme")]

mod common;
use common::pebble::{client_config, free_port, https_get, Pebble};
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Setup {
    pebble: Pebble,
    dir: Arc<TempDir>,
    db: std::path::PathBuf,
    tls: u16,
    http: u16,
    root_pem: std::path::PathBuf,
}

fn setup(tag: &str, validity: Option<u64>) -> Setup {
    let (http, tls) = (free_port(), free_port());
    let pebble = Pebble::start(tag, http, tls, validity);
    let dir = Arc::new(TempDir::new(tag));
    let root_pem = dir.join("pebble-root.pem");
    std::fs::write(
        &root_pem,
        https_get(pebble.mgmt, "/roots/0", &pebble.listener_ca),
    )
    .unwrap();
    let db = dir.join("fazt.db");
    Setup {
        pebble,
        dir,
        db,
        tls,
        http,
        root_pem,
    }
}

fn start(s: &Setup, challenges: &str) -> Server {
    let (tls, http) = (
        format!("127.0.0.1:{}", s.tls),
        format!("127.0.0.1:{}", s.http),
    );
    Server::start_on(
        s.dir.clone(),
        s.db.clone(),
        &[
            "--domain",
            "example.test",
            "--https",
            "--https-listen",
            &tls,
            "--http-listen",
            &http,
            "--acme-directory",
            &s.pebble.directory_url,
            "--acme-ca-root",
            s.pebble.listener_ca.to_str().unwrap(),
            "--acme-challenges",
            challenges,
            "--email",
            "ops@example.test",
            "--acme-orders-per-minute",
            "60",
        ],
    )
}

fn cert_state(srv: &Server, tok: &str, name: &str) -> Option<serde_json::Value> {
    let h = api(srv, tok, "GET", "/api/system/health", b"").json();
    h["data"]["certificates"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
}

fn wait_valid(srv: &Server, tok: &str, name: &str) {
    let t = Instant::now();
    loop {
        if let Some(c) = cert_state(srv, tok, name) {
            if c["state"] == "valid" {
                return;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "no certificate for {name}: {:?}\n{}",
            cert_state(srv, tok, name),
            srv.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The leaf certificate (DER) served for `name`, or the handshake error.
fn served_cert(s: &Setup, name: &str) -> Result<Vec<u8>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&s.root_pem).unwrap();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let conn = rustls::ClientConnection::new(
        client_config(roots, &[b"http/1.1"]),
        name.to_string().try_into().unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(("127.0.0.1", s.tls)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(
        format!("GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    let certs = tls.conn.peer_certificates().ok_or("no certificate")?;
    Ok(certs[0].to_vec())
}

fn curl(s: &Setup, name: &str) -> (bool, String) {
    curl_with(s, name, &[])
}

fn curl_with(s: &Setup, name: &str, extra: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("curl")
        .args(extra)
        .args([
            "-s",
            "--max-time",
            "20",
            "--cacert",
            s.root_pem.to_str().unwrap(),
        ])
        .args(["--resolve", &format!("{name}:{}:127.0.0.1", s.tls)])
        .arg(format!("https://{name}:{}/", s.tls))
        .output()
        .expect("curl is needed: apt-get install -y curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn http01_issuance_refusal_curl_and_restart_reuse() {
    let s = setup("e2e-http01", None);
    let srv = start(&s, "http-01");
    let tok = token(&srv, "admin");
    // The domain and admin host are requested at start.
    wait_valid(&srv, &tok, "example.test");
    wait_valid(&srv, &tok, "admin.example.test");
    let r = put_zip(
        &srv,
        &tok,
        "blog",
        &common::zipbuild::site(&[("index.html", b"<h1>secure blog</h1>")]),
    );
    assert_eq!(r.status, 200);
    assert!(r.json()["data"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://blog.example.test"));
    wait_valid(&srv, &tok, "blog.example.test");
    let (ok, body) = curl(&s, "blog.example.test");
    assert!(ok && body == "<h1>secure blog</h1>", "curl: {ok} {body}");
    // TLS 1.3 only, unless built with feature `tls12`: a client that stops at 1.2 is
    // refused in the handshake.
    let (ok, _) = curl_with(&s, "blog.example.test", &["--tlsv1.2", "--tls-max", "1.2"]);
    assert_eq!(ok, cfg!(feature = "tls12"), "a TLS 1.2-only client");
    let orders = s.pebble.orders();
    assert_eq!(orders, 3, "{}", s.pebble.log());

    // A name with no site: refused at the handshake, and no order reaches the CA.
    assert!(served_cert(&s, "nosite.example.test").is_err());
    assert!(!curl(&s, "nosite.example.test").0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        s.pebble.orders(),
        orders,
        "a name without a site must not be ordered"
    );

    // Port 80 redirects to HTTPS, keeping path and query.
    let mut c = TcpStream::connect(("127.0.0.1", s.http)).unwrap();
    c.write_all(b"GET /a/b?x=1 HTTP/1.1\r\nHost: blog.example.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut c, false).unwrap();
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location").unwrap(),
        format!("https://blog.example.test:{}/a/b?x=1", s.tls)
    );

    // The certificates live in fazt.db, and a restart reuses them without a new order.
    let first = served_cert(&s, "blog.example.test").unwrap();
    assert!(srv.stop().success());
    let c = rusqlite::Connection::open(&s.db).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM certificates WHERE key LIKE 'certs/%blog.example.test/cert.pem'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(c);
    let srv = start(&s, "http-01");
    assert_eq!(served_cert(&s, "blog.example.test").unwrap(), first);
    assert_eq!(curl(&s, "blog.example.test").1, "<h1>secure blog</h1>");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.pebble.orders(), orders, "restart must not order again");
    let out = srv.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("blog.example.test"),
        "status should list certificates:\n{text}"
    );

    // Deleting the site forgets its certificate: not served, not renewed, not in fazt.db.
    let r = api(&srv, &tok, "DELETE", "/api/sites/blog", b"");
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert!(cert_state(&srv, &tok, "blog.example.test").is_none());
    assert!(cert_state(&srv, &tok, "admin.example.test").is_some());
    assert!(served_cert(&s, "blog.example.test").is_err());
    assert!(srv.logs().contains("blog.example.test names no site now"));
    assert!(srv.stop().success());
    let c = rusqlite::Connection::open(&s.db).unwrap();
    let keys: Vec<String> = c
        .prepare("SELECT key FROM certificates WHERE key LIKE '%blog.example.test%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(keys.is_empty(), "left in fazt.db: {keys:?}");
}

#[test]
fn tls_alpn01_issuance_on_demand_and_hsts() {
    let s = setup("e2e-alpn", None);
    let srv = start(&s, "tls-alpn-01");
    let tok = token(&srv, "deploy");
    let r = put_zip(
        &srv,
        &tok,
        "shop",
        &common::zipbuild::site(&[("index.html", b"shop")]),
    );
    assert_eq!(r.status, 200);
    // The first handshake for the new site waits for its certificate (on demand).
    let (ok, body) = curl(&s, "shop.example.test");
    assert!(ok && body == "shop", "curl: {ok} {body}\n{}", srv.logs());
    let out = std::process::Command::new("curl")
        .args([
            "-sI",
            "--cacert",
            s.root_pem.to_str().unwrap(),
            "--resolve",
            &format!("shop.example.test:{}:127.0.0.1", s.tls),
        ])
        .arg(format!("https://shop.example.test:{}/", s.tls))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(
        head.contains("strict-transport-security: max-age=31536000"),
        "{head}"
    );
}

#[test]
fn short_lived_certificates_are_renewed_while_connections_continue() {
    let s = setup("e2e-renew", Some(30));
    let srv = start(&s, "http-01");
    let tok = token(&srv, "deploy");
    assert_eq!(
        put_zip(
            &srv,
            &tok,
            "live",
            &common::zipbuild::site(&[("index.html", b"live")])
        )
        .status,
        200
    );
    wait_valid(&srv, &tok, "live.example.test");
    let first = served_cert(&s, "live.example.test").unwrap();
    // Hold a keep-alive HTTPS connection open across the renewal.
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(&std::fs::read(&s.root_pem).unwrap())
    {
        roots.add(c.unwrap()).unwrap();
    }
    let conn = rustls::ClientConnection::new(
        client_config(roots, &[b"http/1.1"]),
        "live.example.test".try_into().unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(("127.0.0.1", s.tls)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut held = rustls::StreamOwned::new(conn, sock);
    let t = Instant::now();
    let renewed = loop {
        held.write_all(b"GET / HTTP/1.1\r\nHost: live.example.test\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut held, false).unwrap().text(), "live");
        let now =
            served_cert(&s, "live.example.test").unwrap_or_else(|e| panic!("{e}\n{}", srv.logs()));
        if now != first {
            break now;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "not renewed in time\n{}",
            srv.logs()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_ne!(renewed, first);
    // The old connection keeps working after the swap.
    held.write_all(b"GET / HTTP/1.1\r\nHost: live.example.test\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut held, false).unwrap().text(), "live");
}

/// `fazt deploy` to `https://localhost:PORT` served with `--tls-cert/--tls-key` (no ACME):
/// exercises the deploy client's TLS through the kernel HTTP client.
#[test]
fn static_certificate_serves_and_takes_deploys_over_https() {
    let dir = Arc::new(TempDir::new("static-tls"));
    let http = free_port();
    let (srv, cert, tls) = start_with_self_signed(
        &dir,
        &["localhost", "blog.localhost"],
        &[
            "--domain",
            "localhost",
            "--http-listen",
            &format!("127.0.0.1:{http}"),
        ],
    );
    let tok = token(&srv, "deploy");
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<h1>over tls</h1>").unwrap();
    let server = format!("https://localhost:{tls}");
    let deploy = |extra: &[&str]| {
        std::process::Command::new(bin())
            .args(["deploy", site.to_str().unwrap(), "--site", "blog"])
            .args(["--server", &server, "--token", &tok])
            .args(extra)
            .env("FAZT_CLIENT_CONFIG", dir.join("client.json"))
            .output()
            .unwrap()
    };

    // A self-signed certificate is refused unless asked, with a clear one-line error.
    let refused = deploy(&[]);
    assert!(!refused.status.success());
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        msg.contains("certificate") && msg.contains("--insecure") && msg.lines().count() == 1,
        "{msg}"
    );
    let ok = deploy(&["--insecure"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // The site answers over HTTPS with the configured certificate.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let conn = rustls::ClientConnection::new(
        client_config(roots, &[b"http/1.1"]),
        "blog.localhost".try_into().unwrap(),
    )
    .unwrap();
    let sock = TcpStream::connect(("127.0.0.1", tls)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    s.write_all(b"GET / HTTP/1.1\r\nHost: blog.localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>over tls</h1>"));
    assert_eq!(
        s.conn.peer_certificates().unwrap()[0].as_ref(),
        cert.der().as_ref()
    );
}

#[test]
fn custom_domains_get_certificates_on_demand_only_once_registered() {
    let s = setup("e2e-domains", None);
    let srv = start(&s, "tls-alpn-01");
    let tok = token(&srv, "admin");
    let site = common::zipbuild::site(&[("index.html", b"shop")]);
    assert_eq!(put_zip(&srv, &tok, "shop", &site).status, 200);
    // Not registered: no certificate is ordered, the handshake fails.
    let (ok, _) = curl(&s, "shop.example.org");
    assert!(
        !ok,
        "an unregistered name got a certificate\n{}",
        srv.logs()
    );
    let r = api(
        &srv,
        &tok,
        "POST",
        "/api/sites/shop/domains",
        br#"{"domains": ["shop.example.org"]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (ok, body) = curl(&s, "shop.example.org");
    assert!(ok && body == "shop", "curl: {ok} {body}\n{}", srv.logs());
    let (ok, _) = curl(&s, "other.example.org");
    assert!(!ok, "only registered names get certificates");
}
