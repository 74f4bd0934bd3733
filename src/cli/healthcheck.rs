//! `fazt healthcheck`: GET /health on the local listener and exit 0 only on `200 ok`. It is
//! the Docker HEALTHCHECK of a `scratch` image, where there is no curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use pico_args::Arguments;

use super::common::{finish, opt, wants_help, CliError, Help};

const HELP: Help = Help("healthcheck");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let listen = opt(&mut args, "--listen")?
        .or_else(|| std::env::var("FAZT_LISTEN").ok())
        .unwrap_or_else(|| "127.0.0.1:4698".into());
    finish(args, "healthcheck")?;
    let mut addr: SocketAddr = listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| CliError::usage(format!("bad --listen address '{listen}'")))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let fail = |e: std::io::Error| CliError::fail(format!("{addr}: {e}"));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(fail)?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(fail)?;
    let mut resp = Vec::new();
    let _ = s.take(4096).read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    if text.starts_with("HTTP/1.1 200") && text.ends_with("ok") {
        println!("ok");
        Ok(())
    } else {
        let line = text.lines().next().unwrap_or("no answer");
        Err(CliError::fail(format!("unhealthy: {line}")))
    }
}
