//! Serving a stored file: validators (strong ETag from the sha256, Last-Modified),
//! conditional requests (304), content negotiation with the stored gzip variant, byte ranges
//! (206/416, `If-Range`), and cache policy by file kind.

use crate::kernel::http::{Request, Response, ResponseBody};
use crate::kernel::http_date;
use crate::kernel::vfs::{FileMeta, Lookup, Vfs};

use super::paths::fingerprinted;

fn cache_control(meta: &FileMeta) -> &'static str {
    if meta.mime.starts_with("text/html") {
        "no-cache"
    } else if fingerprinted(&meta.path) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    }
}

fn accepts_gzip(req: &Request) -> bool {
    req.header("accept-encoding").is_some_and(|v| {
        v.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

fn etag_matches(header: &str, etags: &[&str]) -> bool {
    header.split(',').any(|t| {
        let t = t.trim();
        t == "*" || etags.contains(&t.trim_start_matches("W/"))
    })
}

/// A single `bytes=` range resolved against `len`: `Ok(Some((start, end_exclusive)))`,
/// `Ok(None)` to ignore the header (multi-range or not bytes), `Err(())` unsatisfiable.
fn parse_range(header: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Result<u64, ()> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(());
        }
        s.parse().map_err(|_| ())
    };
    if a.is_empty() {
        let n = num(b)?;
        if n == 0 || len == 0 {
            return Err(());
        }
        return Ok(Some((len.saturating_sub(n), len)));
    }
    let start = num(a)?;
    if start >= len {
        return Err(());
    }
    let end = if b.is_empty() {
        len - 1
    } else {
        num(b)?.min(len - 1)
    };
    if end < start {
        return Err(());
    }
    Ok(Some((start, end + 1)))
}

/// Builds the response for a found file. `status` is 200 normally, 404 for a 404 page.
pub fn respond(vfs: &Vfs, site: &str, found: Lookup, req: &Request, status: u16) -> Response {
    let meta = found.meta().clone();
    let etag = format!("\"{}\"", meta.hash);
    let gz_etag = format!("\"{}-gz\"", meta.hash);
    let modified = meta.updated_at.max(0);
    let last_modified = http_date::format(modified);
    let has_gzip = meta.gzip_size.is_some();
    let range_header = if status == 200 {
        req.header("range")
    } else {
        None
    };
    let use_gzip = has_gzip && accepts_gzip(req) && range_header.is_none();

    let mut resp = Response::new(status)
        .header("Content-Type", meta.mime.clone())
        .header("Cache-Control", cache_control(&meta))
        .header("X-Content-Type-Options", "nosniff")
        .header("Last-Modified", last_modified.clone());
    if status == 200 {
        resp.set_header(
            "ETag",
            if use_gzip {
                gz_etag.clone()
            } else {
                etag.clone()
            },
        );
        resp.set_header("Accept-Ranges", "bytes");
    }
    if has_gzip {
        resp.set_header("Vary", "Accept-Encoding");
    }

    if status == 200 {
        // Conditional GET: If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
        let not_modified = match req.header("if-none-match") {
            Some(inm) => etag_matches(inm, &[&etag, &gz_etag]),
            None => req
                .header("if-modified-since")
                .and_then(http_date::parse)
                .is_some_and(|since| modified <= since),
        };
        if not_modified {
            resp.status = 304;
            resp.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            return resp;
        }
    }

    let mut range = None;
    if let Some(h) = range_header {
        let if_range_ok = match req.header("if-range") {
            None => true,
            Some(v) if v.trim().starts_with('"') => v.trim() == etag,
            Some(v) => http_date::parse(v) == Some(modified),
        };
        if if_range_ok {
            match parse_range(h, meta.size) {
                Ok(r) => range = r,
                Err(()) => {
                    let mut r = Response::text(416, "requested range not satisfiable\n");
                    r.set_header("Content-Range", format!("bytes */{}", meta.size));
                    return r;
                }
            }
        }
    }

    if use_gzip {
        resp.set_header("Content-Encoding", "gzip");
    }
    let (start, end) = range.unwrap_or((0, meta.size));
    if range.is_some() {
        resp.status = 206;
        resp.set_header(
            "Content-Range",
            format!("bytes {}-{}/{}", start, end.saturating_sub(1), meta.size),
        );
    }
    resp.body = match found {
        Lookup::Inline(f) => {
            if use_gzip {
                let g = f.gzip.clone().unwrap_or_else(|| f.content.clone());
                let n = g.len();
                ResponseBody::Shared(g, 0..n)
            } else {
                let (s, e) = (start as usize, (end as usize).min(f.content.len()));
                ResponseBody::Shared(f.content.clone(), s..e.max(s))
            }
        }
        Lookup::Large(m) => {
            if use_gzip {
                let len = m.gzip_size.unwrap_or(0);
                ResponseBody::Stream {
                    producer: vfs.stream(site, &m, true, 0, len),
                    len,
                }
            } else {
                ResponseBody::Stream {
                    producer: vfs.stream(site, &m, false, start, end - start),
                    len: end - start,
                }
            }
        }
    };
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-0", 10), Ok(Some((0, 1))));
        assert_eq!(parse_range("bytes=2-", 10), Ok(Some((2, 10))));
        assert_eq!(parse_range("bytes=-3", 10), Ok(Some((7, 10))));
        assert_eq!(parse_range("bytes=-30", 10), Ok(Some((0, 10))));
        assert_eq!(parse_range("bytes=5-100", 10), Ok(Some((5, 10))));
        assert_eq!(parse_range("bytes=10-", 10), Err(()));
        assert_eq!(parse_range("bytes=5-2", 10), Err(()));
        assert_eq!(parse_range("bytes=-0", 10), Err(()));
        assert_eq!(parse_range("bytes=a-b", 10), Err(()));
        assert_eq!(parse_range("bytes=0-1,3-4", 10), Ok(None));
        assert_eq!(parse_range("items=0-1", 10), Ok(None));
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"abc\"", &["\"abc\""]));
        assert!(etag_matches("W/\"abc\", \"x\"", &["\"abc\""]));
        assert!(etag_matches("*", &["\"abc\""]));
        assert!(!etag_matches("\"abd\"", &["\"abc\""]));
    }

    proptest::proptest! {
        #[test]
        fn range_within_bounds(h in "bytes=[0-9]{0,4}-[0-9]{0,4}", len in 0u64..5000) {
            if let Ok(Some((s, e))) = parse_range(&h, len) {
                proptest::prop_assert!(s < e && e <= len);
            }
        }
    }
}
