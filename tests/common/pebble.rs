//! A real ACME server for tests: Let's Encrypt's pebble and pebble-challtestsrv (Debian
//! package `pebble`) on free loopback ports, every name resolving to 127.0.0.1. Without pebble
//! installed, tests using it FAIL with the install command: they never pass silently.
#![cfg(feature = "acme")]
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fazt::kernel::tls::{AcmeConfig, ChallengeKind};
use rustls_pki_types::pem::PemObject;

pub const INSTALL: &str = "apt-get update && apt-get install -y pebble";

// ---------------------------------------------------------------- pebble

pub use super::free_port;

pub fn require(bin: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{bin}` is not installed; these ACME tests need Let's Encrypt's pebble. Install it with: {INSTALL}"
    );
}

/// A running pebble + pebble-challtestsrv pair; killed on drop.
pub struct Pebble {
    pub children: Vec<Child>,
    pub dir: PathBuf,
    pub directory_url: String,
    pub mgmt: SocketAddr,
    /// The CA of pebble's own HTTPS listener (what `extra_root_pem` points at).
    pub listener_ca: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn wait_port(addr: SocketAddr, what: &str, log: &Path) {
    let t0 = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if t0.elapsed() > Duration::from_secs(20) {
            panic!(
                "{what} did not listen on {addr}; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A test CA (named `cn`) and a leaf for `names` signed by it, as PEM files.
pub fn write_ca_and_leaf(cn: &str, names: &[&str], ca: &Path, cert: &Path, key: &Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
    std::fs::write(ca, ca_cert.pem()).unwrap();
    std::fs::write(cert, leaf.pem()).unwrap();
    std::fs::write(key, leaf_key.serialize_pem()).unwrap();
}

impl Pebble {
    /// Start pebble validating HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`;
    /// `validity` sets `certificateValidityPeriod` (seconds).
    pub fn start(tag: &str, http_port: u16, tls_port: u16, validity: Option<u64>) -> Self {
        require("pebble");
        require("pebble-challtestsrv");
        let dir = std::env::temp_dir().join(format!("fazt-pebble-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        // A CA and a 127.0.0.1 leaf for pebble's own HTTPS listener.
        let listener_ca = dir.join("listener-ca.pem");
        write_ca_and_leaf(
            "fazt test pebble listener CA",
            &["127.0.0.1", "localhost"],
            &listener_ca,
            &dir.join("cert.pem"),
            &dir.join("key.pem"),
        );

        let (listen, mgmt, dns, cts_mgmt) = (free_port(), free_port(), free_port(), free_port());
        let mut pebble = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": dir.join("cert.pem"),
            "privateKey": dir.join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(v) = validity {
            pebble["certificateValidityPeriod"] = v.into();
        }
        let cfg = dir.join("pebble-config.json");
        std::fs::write(&cfg, serde_json::json!({ "pebble": pebble }).to_string()).unwrap();

        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let cts = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{cts_mgmt}")])
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting pebble-challtestsrv ({INSTALL}): {e}"));
        let mut me = Self {
            children: vec![cts],
            dir: dir.clone(),
            directory_url: format!("https://127.0.0.1:{listen}/dir"),
            mgmt: ([127, 0, 0, 1], mgmt).into(),
            listener_ca,
        };
        wait_port(
            ([127, 0, 0, 1], cts_mgmt).into(),
            "pebble-challtestsrv",
            &dir.join("challtestsrv.log"),
        );
        let p = Command::new("pebble")
            .arg("-config")
            .arg(&cfg)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_AUTHZREUSE", "0")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting pebble ({INSTALL}): {e}"));
        me.children.push(p);
        wait_port(
            ([127, 0, 0, 1], listen).into(),
            "pebble",
            &dir.join("pebble.log"),
        );
        me
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default()
    }

    /// Orders pebble accepted, counted from its log.
    pub fn orders(&self) -> usize {
        self.log().matches("Added order").count()
    }

    pub fn config(&self, kinds: &[ChallengeKind]) -> AcmeConfig {
        AcmeConfig {
            directory_url: self.directory_url.clone(),
            extra_root_pem: Some(self.listener_ca.clone()),
            challenges: kinds.to_vec(),
            retry_min: Duration::from_secs(2),
            retry_max: Duration::from_secs(4),
            orders_per_minute: 20,
            order_timeout: Duration::from_secs(60),
            ..AcmeConfig::default()
        }
    }

    /// Pebble's issuing root (from its management interface), as a client trust store.
    pub fn issuing_roots(&self) -> rustls::RootCertStore {
        let body = https_get(self.mgmt, "/roots/0", &self.listener_ca);
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pki_types::CertificateDer::pem_slice_iter(&body) {
            roots.add(c.unwrap()).unwrap();
        }
        assert!(!roots.is_empty(), "no root from pebble management");
        roots
    }
}

pub fn client_config(roots: rustls::RootCertStore, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// GET over HTTPS/1.0 trusting only `ca_file`; returns the body.
pub fn https_get(addr: SocketAddr, path: &str, ca_file: &Path) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca_file).unwrap();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(&pem).unwrap())
        .unwrap();
    let conn =
        rustls::ClientConnection::new(client_config(roots, &[]), "127.0.0.1".try_into().unwrap())
            .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out); // Go may close without close_notify
    let text = String::from_utf8_lossy(&out);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.as_bytes().to_vec()
}
