//! A small blocking HTTP/1.1 client for the deploy CLI: one request per connection
//! (`Connection: close`), the body written in chunks with a progress callback, HTTPS through
//! rustls with compiled-in roots (feature `acme`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "server URL '{s}' must start with http:// or https://"
            ));
        };
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() {
            return Err(format!("server URL '{s}' has no host"));
        }
        let (host, port) = if authority.starts_with('[') {
            let end = authority
                .find(']')
                .ok_or_else(|| format!("bad IPv6 host in '{s}'"))?;
            let host = &authority[..=end];
            let port = authority[end + 1..].strip_prefix(':');
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("bad port in '{s}'"))?,
            None if https => 443,
            None => 80,
        };
        Ok(Url {
            https,
            host: host.to_string(),
            port,
        })
    }

    fn host_header(&self) -> String {
        if (self.https && self.port == 443) || (!self.https && self.port == 80) {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug)]
pub struct ClientResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl ClientResponse {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The API's error message, or the start of the body.
    pub fn error_message(&self) -> String {
        self.json()
            .and_then(|v| {
                let e = v.get("error")?;
                Some(format!(
                    "{} ({})",
                    e.get("message")?.as_str()?,
                    e.get("code")?.as_str()?
                ))
            })
            .unwrap_or_else(|| {
                let t = String::from_utf8_lossy(&self.body);
                t.chars().take(200).collect()
            })
    }
}

pub trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect(url: &Url, insecure: bool) -> Result<Box<dyn Stream>, String> {
    let addrs: Vec<_> = (url.host.trim_matches(['[', ']']), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(600)));
                let _ = s.set_write_timeout(Some(Duration::from_secs(120)));
                if url.https {
                    #[cfg(feature = "acme")]
                    return super::tls::wrap(s, &url.host, insecure);
                    #[cfg(not(feature = "acme"))]
                    {
                        let _ = insecure;
                        return Err("this fazt was built without TLS (feature `acme`); use an http:// server URL".into());
                    }
                }
                return Ok(Box::new(s));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => format!("cannot connect to {}:{}: {e}", url.host, url.port),
        None => format!("no address for {}", url.host),
    })
}

/// Sends one request. `progress(sent, total)` is called as the body goes out.
pub fn request(
    url: &Url,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    insecure: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ClientResponse, String> {
    let mut s = connect(url, insecure)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: fazt/{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let io = |e: std::io::Error| format!("talking to {}: {e}", url.host_header());
    s.write_all(head.as_bytes()).map_err(io)?;
    let total = body.len() as u64;
    let mut sent = 0u64;
    for chunk in body.chunks(256 * 1024) {
        if let Err(e) = s.write_all(chunk) {
            // The server may have answered early (401, 413) and closed: read that answer.
            return match read_response(&mut s) {
                Ok(r) => Ok(r),
                Err(_) => Err(io(e)),
            };
        }
        sent += chunk.len() as u64;
        progress(sent, total);
    }
    s.flush().map_err(io)?;
    read_response(&mut s)
}

fn read_response(s: &mut Box<dyn Stream>) -> Result<ClientResponse, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > 64 * 1024 * 1024 {
                    return Err("response too large".into());
                }
            }
            // rustls reports a peer that closed without close_notify as an error; we have
            // what was sent.
            Err(_) if !raw.is_empty() => break,
            Err(e) => return Err(format!("reading the response: {e}")),
        }
    }
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the server closed the connection without a complete response")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("malformed response status line")?;
    let mut body = raw[end + 4..].to_vec();
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body).ok_or("malformed chunked response")?;
    } else if let Some(len) = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    }) {
        body.truncate(len);
    }
    Ok(ClientResponse { status, body })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let i = data.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&data[..i]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        data = &data[i + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://localhost:4698").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (false, "localhost", 4698)
        );
        let u = Url::parse("https://admin.example.com/").unwrap();
        assert_eq!(
            (u.https, u.port, u.host_header()),
            (true, 443, "admin.example.com".into())
        );
        let u = Url::parse("http://[::1]:8080").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 8080));
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://x:notaport").is_err());
        assert!(Url::parse("http://").is_err());
    }

    #[test]
    fn dechunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"zz\r\n").is_none());
    }
}
