//! may_minihttp hello-world: the ceiling of the request loop fazt is built on.
//!
//! Benchmark peer only (see `bench/README.md`). It answers every request with
//! one fixed `200` body and nothing else, so its requests/s is the most a
//! server on `may` + `httparse` can do on this machine; fazt's small-file
//! figure is read as a fraction of it.
//!
//! Usage: `minihttp-hello LISTEN_ADDR [BODY_FILE]`. With `BODY_FILE` the body
//! is that file's bytes (the benchmark passes the same 1 KB HTML page every
//! other server serves, so response sizes match); without it, `Hello, world!`.

use may_minihttp::{HttpServer, HttpService, Request, Response};
use std::{env, fs, io, process::ExitCode};

/// Serves one body, fixed at start-up.
#[derive(Clone)]
struct Hello {
    /// may_minihttp takes `&'static str` bodies only; the body is read once
    /// and leaked once at start-up, never per request.
    body: &'static str,
}

impl HttpService for Hello {
    fn call(&mut self, _req: Request, rsp: &mut Response) -> io::Result<()> {
        rsp.header("Content-Type: text/html; charset=utf-8");
        rsp.body(self.body);
        Ok(())
    }
}

/// Reads the body file, or the default greeting.
fn load_body(path: Option<&str>) -> Result<&'static str, String> {
    let Some(path) = path else {
        return Ok("Hello, world!");
    };
    let bytes = fs::read(path).map_err(|e| format!("cannot read body file {path}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("body file {path} is not UTF-8"))?;
    Ok(Box::leak(text.into_boxed_str()))
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some(addr) = args.first() else {
        eprintln!("usage: minihttp-hello LISTEN_ADDR [BODY_FILE]");
        return ExitCode::from(2);
    };
    let body = match load_body(args.get(1).map(String::as_str)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("minihttp-hello: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match HttpServer(Hello { body }).start(addr.as_str()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minihttp-hello: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The server coroutine runs until the process is killed.
    if server.join().is_err() {
        eprintln!("minihttp-hello: server coroutine panicked");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
