//! The server side of a script's `fetch`: the SSRF guard and redirects. Every connection —
//! the first and each redirect's — goes through the kernel's client with
//! `kernel::net_guard`: the name is resolved once, every address is
//! checked, and only a checked address is connected to (DNS rebinding cannot slip
//! through). `http`/`https` only. The operator may allow named hosts, or loopback
//! addresses, for their own services (`--js-fetch-allow`).

use std::time::{Duration, Instant};

use crate::kernel::http_client::{self as httpc, Outgoing, Stream, Url};
use crate::kernel::net_guard;
use crate::serverless::{FetchRequest, FetchResponse};

/// Redirects followed, at most.
const MAX_REDIRECTS: usize = 5;
/// Largest answer (head and body) a script may fetch.
pub const MAX_RESPONSE: usize = 4 << 20;

/// Who may be fetched beyond the public internet.
#[derive(Clone, Debug, Default)]
pub struct FetchPolicy {
    /// Host names (lower case, as in the URL) allowed whatever they resolve to.
    pub hosts: Vec<String>,
    /// Loopback addresses allowed (`--js-fetch-allow loopback`).
    pub loopback: bool,
}

impl FetchPolicy {
    /// From `--js-fetch-allow` entries: `loopback`, or host names.
    pub fn parse(entries: &[String]) -> FetchPolicy {
        let mut p = FetchPolicy::default();
        for e in entries {
            let e = e.trim().to_ascii_lowercase();
            match e.as_str() {
                "" => {}
                "loopback" => p.loopback = true,
                _ => p.hosts.push(e),
            }
        }
        p
    }

    fn check(&self, host: &str, ip: std::net::IpAddr) -> Result<(), String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if self.hosts.iter().any(|h| h == bare) || (self.loopback && ip.is_loopback()) {
            return Ok(());
        }
        match net_guard::refusal(ip) {
            Some(why) => Err(format!(
                "{why} (an operator can allow it with --js-fetch-allow)"
            )),
            None => Ok(()),
        }
    }
}

fn tls(sock: std::net::TcpStream, host: &str) -> Result<Box<dyn Stream>, httpc::ClientError> {
    #[cfg(feature = "acme")]
    return crate::client::tls::wrap(sock, host, false);
    #[cfg(not(feature = "acme"))]
    {
        let _ = (sock, host);
        Err(httpc::ClientError::Invalid(
            "https:// needs a fazt built with TLS (feature `acme`)".into(),
        ))
    }
}

/// Performs `req` within `req.timeout`, following redirects, each hop checked.
pub fn fetch(policy: &FetchPolicy, req: &FetchRequest) -> Result<FetchResponse, String> {
    let started = Instant::now();
    let mut url = req.url.clone();
    let mut method = req.method.clone();
    let mut body = req.body.clone();
    for _ in 0..=MAX_REDIRECTS {
        let left = req
            .timeout
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())
            .ok_or("the script's time ran out")?;
        let (u, target) = Url::split(&url).map_err(|e| e.to_string())?;
        let opts = httpc::Options {
            connect_timeout: left.min(Duration::from_secs(10)),
            read_timeout: left,
            write_timeout: left,
            max_response: MAX_RESPONSE,
            user_agent: concat!("fazt/", env!("CARGO_PKG_VERSION"), " (fetch)"),
        };
        let headers: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = Outgoing {
            method: &method,
            target: &target,
            headers: &headers,
            body: &body,
        };
        let host = u.host.to_ascii_lowercase();
        let check = |ip| policy.check(&host, ip);
        let r = httpc::request_checked(&u, &out, &opts, &tls, &check, &mut |_, _| {})
            .map_err(|e| e.to_string())?;
        let location = r.header("location").map(str::to_owned);
        match (r.status, location) {
            (301 | 302 | 303 | 307 | 308, Some(loc)) => {
                url = resolve(&url, &loc)?;
                // What browsers do: 303 (and 301/302 after a POST) turn into a GET.
                if r.status == 303 || (matches!(r.status, 301 | 302) && method == "POST") {
                    method = "GET".into();
                    body.clear();
                }
            }
            _ => {
                return Ok(FetchResponse {
                    status: r.status,
                    headers: r.headers,
                    body: r.body,
                    url,
                })
            }
        }
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// A `Location` against the URL it came from: absolute `http(s)://…`, or a path.
fn resolve(base: &str, loc: &str) -> Result<String, String> {
    let lower = loc.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(loc.to_string());
    }
    if loc.contains("://") {
        return Err(format!("refusing a redirect to {loc}: only http and https"));
    }
    let (u, _) = Url::split(base).map_err(|e| e.to_string())?;
    let scheme = if u.https { "https" } else { "http" };
    if let Some(rest) = loc.strip_prefix("//") {
        return Ok(format!("{scheme}://{rest}"));
    }
    let path = if loc.starts_with('/') {
        loc.to_string()
    } else {
        format!("/{loc}")
    };
    let default = if u.https { 443 } else { 80 };
    let port = if u.port == default {
        String::new()
    } else {
        format!(":{}", u.port)
    };
    Ok(format!("{scheme}://{}{port}{path}", u.host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets() {
        assert_eq!(
            resolve("http://a.test:8080/x/y", "/z?q").unwrap(),
            "http://a.test:8080/z?q"
        );
        assert_eq!(
            resolve("https://a.test/x", "https://b.test/").unwrap(),
            "https://b.test/"
        );
        assert_eq!(
            resolve("https://a.test/x", "//c.test/p").unwrap(),
            "https://c.test/p"
        );
        assert!(resolve("https://a.test/x", "file:///etc/passwd").is_err());
        assert!(resolve("https://a.test/x", "gopher://x/").is_err());
    }

    #[test]
    fn the_policy_allows_what_the_operator_named() {
        let p = FetchPolicy::parse(&["Loopback".into(), "Intranet.Example".into()]);
        assert!(p.check("x.test", "127.0.0.1".parse().unwrap()).is_ok());
        assert!(p.check("x.test", "10.0.0.1".parse().unwrap()).is_err());
        assert!(p
            .check("intranet.example", "10.0.0.1".parse().unwrap())
            .is_ok());
        let none = FetchPolicy::default();
        let e = none
            .check("x.test", "169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert!(e.contains("link-local"), "{e}");
        assert!(none.check("x.test", "1.1.1.1".parse().unwrap()).is_ok());
    }
}
