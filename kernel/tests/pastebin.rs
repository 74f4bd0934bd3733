//! The example vertical (`examples/pastebin`) as a product would be tested: its schema held
//! to the kernel's EDD rails, the built binary started on a free port and spoken to over
//! HTTP (routes, limits, errors, persistence across a restart), and the same handler served
//! in-process with `server::run`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fazt_kernel::db::{edd, Db};
use fazt_kernel::http::{server, Limits, TcpListener};

#[path = "../examples/pastebin/app.rs"]
#[allow(dead_code)]
mod app;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pastebin");

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// One request on its own connection (`Connection: close`), the answer read to the end.
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: paste.test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A refused upload may be answered before the body is sent: ignore a reset here.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head[9..12].parse().unwrap();
    Reply {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pastebin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The example binary cargo built next to this test (`target/<profile>/examples/`).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("examples/pastebin");
    assert!(
        bin.exists(),
        "{} is not built: `cargo test -p fazt-kernel` builds the examples (`--test pastebin` alone does not)",
        bin.display()
    );
    bin
}

struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Running {
    fn start(db: &Path) -> Running {
        let mut child = Command::new(example_binary())
            .args(["serve", "--db"])
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Running { child, addr }
    }

    /// Closes stdin (the example's stop signal) and waits for a clean exit.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
    }
}

#[test]
fn schema_keeps_the_edd_rails() {
    edd::assert_kept(edd::steps_only_add(app::SCHEMA));
    let lock = Path::new(EXAMPLE).join("schema.lock");
    edd::assert_kept(edd::pinned(
        app::SCHEMA,
        &lock,
        std::env::var_os("PIN_SCHEMA").is_some(),
    ));
    edd::assert_kept(edd::names_its_columns(Path::new(EXAMPLE)));
}

#[test]
fn the_binary_serves_pastes_and_keeps_them() {
    let dir = temp_dir("bin");
    let db = dir.join("pastebin.db");
    let srv = Running::start(&db);
    let home = call(srv.addr, "GET", "/", &[], b"");
    assert_eq!(home.status, 200);
    assert!(home.head.contains("Server: pastebin"), "{}", home.head);
    assert!(home.text().contains("<form"));

    let made = call(
        srv.addr,
        "POST",
        "/",
        &[],
        "hello from the kernel ✓".as_bytes(),
    );
    assert_eq!(made.status, 201, "{}", made.text());
    let v = made.json();
    let url = v["url"].as_str().unwrap().to_string();
    let token = v["delete_token"].as_str().unwrap().to_string();
    assert_eq!(
        call(srv.addr, "GET", &url, &[], b"").text(),
        "hello from the kernel ✓"
    );

    // Bad input: each a clear error, nothing stored.
    let big = vec![b'x'; app::MAX_PASTE as usize + 1];
    let r = call(srv.addr, "POST", "/", &[], &big);
    assert_eq!(r.status, 413);
    assert_eq!(
        call(srv.addr, "POST", "/", &[], b"\xff\xfe").json()["error"]["code"],
        "NOT_UTF8"
    );
    assert_eq!(call(srv.addr, "POST", "/", &[], b"").status, 400);
    assert_eq!(call(srv.addr, "PUT", "/", &[], b"x").status, 405);
    assert_eq!(
        call(srv.addr, "GET", "/p/../../etc/passwd", &[], b"").status,
        404
    );
    assert_eq!(call(srv.addr, "GET", "/nowhere", &[], b"").status, 404);
    assert_eq!(call(srv.addr, "DELETE", &url, &[], b"").status, 401);
    let wrong = call(
        srv.addr,
        "DELETE",
        &url,
        &[("Authorization", "Bearer nope")],
        b"",
    );
    assert_eq!(wrong.status, 403);
    assert_eq!(call(srv.addr, "GET", "/health", &[], b"").text(), "ok");
    srv.stop();

    // A restart on the same file: the paste is still there, and its token still works.
    let srv = Running::start(&db);
    assert_eq!(call(srv.addr, "GET", &url, &[], b"").status, 200);
    let auth = format!("Bearer {token}");
    let gone = call(srv.addr, "DELETE", &url, &[("Authorization", &auth)], b"");
    assert_eq!(gone.status, 200, "{}", gone.text());
    assert_eq!(call(srv.addr, "GET", &url, &[], b"").status, 404);
    srv.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn its_unit_file_comes_from_the_provisioning_api() {
    let out = Command::new(example_binary())
        .args(["unit", "--listen", "[::]:8080"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = String::from_utf8(out.stdout).unwrap();
    let exec: Vec<&str> = unit
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(
        exec,
        ["ExecStart=/usr/local/bin/pastebin serve --listen [::]:8080"]
    );
    assert!(unit.contains("StateDirectory=pastebin\n"));
    // A value systemd would expand is refused, and nothing is printed.
    let bad = Command::new(example_binary())
        .args(["unit", "--listen", "%h:80"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(bad.stdout.is_empty());
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("pastebin: "));
}

#[test]
fn the_handler_runs_in_process() {
    let dir = temp_dir("inproc");
    let db = Arc::new(Db::open(&dir.join("p.db"), app::SCHEMA).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let handler = Arc::new(app::Pastebin::new(db));
    let served = std::thread::spawn(move || {
        server::run(
            listener,
            handler,
            Limits::default(),
            Duration::from_secs(5),
            move || {
                let _ = stopped.recv();
            },
        )
    });
    let made = call(addr, "POST", "/", &[], b"in-process");
    assert_eq!(made.status, 201);
    let url = made.json()["url"].as_str().unwrap().to_string();
    let got = call(addr, "GET", &url, &[], b"");
    assert_eq!(got.text(), "in-process");
    assert!(
        !got.head.contains("Server:"),
        "no Server header unless the product names one"
    );
    stop.send(()).unwrap();
    assert!(
        served.join().unwrap().unwrap(),
        "in-flight requests finished"
    );
    // Stopped: a new connection is refused, or (still in the backlog as the listener goes)
    // never answered.
    if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut b = [0u8; 1];
        assert!(
            !matches!(s.read(&mut b), Ok(1)),
            "a stopped server answered"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
