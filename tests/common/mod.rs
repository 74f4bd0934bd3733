//! Test harness: starts the real `fazt` binary on a free port with a temporary database and
//! speaks raw HTTP/1.1 to it, so tests see exactly what a client on the network sees.
#![allow(dead_code)]

pub mod litestream;
#[cfg(feature = "acme")]
pub mod pebble;
pub mod ws;
pub mod zipbuild;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test: cargo's build of this crate, or `FAZT_TEST_BIN` (for example a
/// shipped `target/dist/fazt-x86_64-unknown-linux-musl`, to check that the size-optimised
/// release build behaves like the debug one). Its feature set must match the tests'.
pub fn bin() -> PathBuf {
    match std::env::var_os("FAZT_TEST_BIN") {
        Some(p) if !p.is_empty() => std::fs::canonicalize(&p)
            .unwrap_or_else(|e| panic!("FAZT_TEST_BIN={}: {e}", Path::new(&p).display())),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_fazt")),
    }
}

/// The resident memory of process `pid` in KiB (`VmRSS`; 0 once it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A loopback port free now (for servers started beside fazt), never one this test process
/// handed out before: the kernel may give a just-released port to the next `bind(0)`, and two
/// servers told the same port (pebble's management port and its DNS server's, once) fail.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "fazt-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, s: &str) -> PathBuf {
        self.0.join(s)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    pub child: Child,
    /// The binary serving (the one [`Server::cli`] runs too).
    pub bin: PathBuf,
    pub addr: SocketAddr,
    pub db: PathBuf,
    pub logs: Arc<Mutex<String>>,
    pub dir: Arc<TempDir>,
}

impl Server {
    /// Starts `fazt serve` with a fresh database in a new temp dir.
    pub fn start(extra: &[&str]) -> Server {
        let dir = Arc::new(TempDir::new("srv"));
        let db = dir.join("fazt.db");
        Server::start_on(dir, db, extra)
    }

    /// Starts `fazt serve` under a wrapper command (e.g. `prlimit --nofile=40:40 --`).
    pub fn start_wrapped(wrapper: &[&str], extra: &[&str]) -> Server {
        let dir = Arc::new(TempDir::new("srv"));
        let db = dir.join("fazt.db");
        let mut cmd = Command::new(wrapper[0]);
        cmd.args(&wrapper[1..]).arg(bin());
        Server::spawn(cmd, bin(), dir, db, extra)
    }

    pub fn start_on(dir: Arc<TempDir>, db: PathBuf, extra: &[&str]) -> Server {
        Server::start_bin_on(&bin(), dir, db, extra)
    }

    /// `start_on` with another fazt binary (an older release's, in tests/old_releases.rs).
    pub fn start_bin_on(bin: &Path, dir: Arc<TempDir>, db: PathBuf, extra: &[&str]) -> Server {
        Server::spawn(Command::new(bin), bin.to_path_buf(), dir, db, extra)
    }

    /// `start_on` with these environment variables set for the server.
    pub fn start_on_env(
        dir: Arc<TempDir>,
        db: PathBuf,
        env: &[(&str, &str)],
        extra: &[&str],
    ) -> Server {
        let mut cmd = Command::new(bin());
        Server::clear_fazt_env(&mut cmd);
        cmd.envs(env.iter().copied());
        Server::spawn_prepared(cmd, bin(), dir, db, extra)
    }

    /// Every option of `fazt serve` also reads `FAZT_<NAME>`: none may leak in from the
    /// environment the tests run in.
    fn clear_fazt_env(cmd: &mut Command) {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FAZT_") && k != "FAZT_TEST_BIN" {
                cmd.env_remove(k);
            }
        }
    }

    fn spawn(
        mut cmd: Command,
        bin: PathBuf,
        dir: Arc<TempDir>,
        db: PathBuf,
        extra: &[&str],
    ) -> Server {
        Server::clear_fazt_env(&mut cmd);
        cmd.env_remove("FAZT_DB")
            .env_remove("FAZT_LISTEN")
            .env_remove("FAZT_DOMAIN");
        Server::spawn_prepared(cmd, bin, dir, db, extra)
    }

    fn spawn_prepared(
        mut cmd: Command,
        bin: PathBuf,
        dir: Arc<TempDir>,
        db: PathBuf,
        extra: &[&str],
    ) -> Server {
        cmd.arg("serve")
            .arg("--db")
            .arg(&db)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn fazt");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let logs2 = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Logged before the address is handed on: a test that checks the
                // "listening" line as soon as the server is up must find it.
                {
                    let mut l = logs2.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                if let Some(i) = line.find(" listening on ") {
                    let rest = &line[i + 14..];
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!("fazt did not start; logs:\n{}", logs.lock().unwrap());
            }
        };
        Server {
            child,
            bin,
            addr,
            db,
            logs,
            dir,
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    /// GET `path` on `host`, one request per connection.
    pub fn get(&self, host: &str, path: &str) -> Resp {
        self.req("GET", host, path, &[], b"")
    }

    pub fn req(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut s = self.connect();
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (k, v) in headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(body);
        // A server may answer early (401, 413) and close while a large body is still going
        // out; what it answered is what the test wants to see.
        let _ = s.write_all(&bytes);
        read_response(&mut s, method == "HEAD").unwrap_or_else(|| {
            panic!(
                "no response to {method} {host}{path} from {}",
                self.bin.display()
            )
        })
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("fazt did not stop on SIGTERM; logs:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: SIGKILL (what `Child::kill` sends on Unix), no chance to flush or clean up;
    /// waits until the process is gone. The server can be started again on the same `db`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs another `fazt` command of the served binary against this server's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin)
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .output()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn read_line(s: &mut impl Read) -> Option<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => {
                return if line.is_empty() {
                    None
                } else {
                    Some(String::from_utf8_lossy(&line).into())
                }
            }
            Ok(_) => {
                if b[0] == b'\n' {
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Some(String::from_utf8_lossy(&line).into());
                }
                line.push(b[0]);
            }
            Err(_) => return None,
        }
    }
}

/// Reads one response (Content-Length or chunked framing; none for HEAD/204/304).
pub fn read_response(s: &mut impl Read, head_only: bool) -> Option<Resp> {
    let status_line = read_line(s)?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let l = read_line(s)?;
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut r = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        return Some(r);
    }
    if let Some(len) = r.header("content-length") {
        let len: usize = len.parse().ok()?;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).ok()?;
        r.body = body;
    } else {
        let _ = s.read_to_end(&mut r.body);
    }
    Some(r)
}

/// Writes files into a site directly through the library (used before starting a server).
pub fn seed_files(db: &Path, site: &str, files: &[(&str, &[u8])]) {
    let db = std::sync::Arc::new(fazt::database::open(db).unwrap());
    let vfs = fazt::kernel::vfs::Vfs::new(db.clone(), fazt::database::FILES, 0);
    for (path, content) in files {
        vfs.write_file(site, path, content.to_vec()).unwrap();
    }
    let site = site.to_string();
    db.write(move |c| fazt::hosting::Sites::register(c, &site, false))
        .unwrap();
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    assert_eq!(&data[..2], &[0x1f, 0x8b], "not gzip");
    miniz_oxide::inflate::decompress_to_vec(&data[10..data.len() - 8]).expect("inflate")
}

/// `len` incompressible bytes (xorshift from `seed`): content gzip cannot shrink. Distinct
/// seeds give distinct bytes (the multiply keeps seeds 2k and 2k+1 apart).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Creates a token with `fazt token create` and returns it.
pub fn token(srv: &Server, scope: &str) -> String {
    let out = srv.cli(&[
        "token",
        "create",
        "--name",
        &format!("t-{scope}"),
        "--scope",
        scope,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// PUT a ZIP to /api/sites/NAME on the admin host.
pub fn put_zip(srv: &Server, tok: &str, site: &str, zip: &[u8]) -> Resp {
    let auth = format!("Bearer {tok}");
    srv.req(
        "PUT",
        "localhost",
        &format!("/api/sites/{site}"),
        &[("Authorization", &auth)],
        zip,
    )
}

pub fn api(srv: &Server, tok: &str, method: &str, path: &str, body: &[u8]) -> Resp {
    let auth = format!("Bearer {tok}");
    srv.req(method, "localhost", path, &[("Authorization", &auth)], body)
}

/// The stdout of a command that must have succeeded (else its exit, stdout and stderr).
pub fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A self-signed certificate for `names` (in `dir`'s `cert.pem`/`key.pem`) and fazt started on
/// `dir` serving HTTPS with it (`--tls-cert/--tls-key`) on a free port, plus `extra`:
/// the server, the certificate (for the client's roots) and the HTTPS port.
#[cfg(feature = "acme")]
pub fn start_with_self_signed(
    dir: &Arc<TempDir>,
    names: &[&str],
    extra: &[&str],
) -> (Server, rcgen::Certificate, u16) {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let tls = free_port();
    let mut args = vec![
        "--tls-cert".to_string(),
        cert_pem.display().to_string(),
        "--tls-key".to_string(),
        key_pem.display().to_string(),
        "--https-listen".to_string(),
        format!("127.0.0.1:{tls}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let srv = Server::start_on(dir.clone(), dir.join("fazt.db"), &args);
    (srv, cert, tls)
}
