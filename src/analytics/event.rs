//! What an event is: the cheap capture taken on the request path ([`Hit`]: a few strings
//! appended to a reused buffer, no parsing), the ready-made events of the tracking endpoints ([`Pending`]), and the row
//! written to `events` ([`Row`]), plus the pure classifiers the recorder thread applies
//! (user-agent class, referrer host, page-or-asset).

use std::net::IpAddr;

use crate::kernel::http::Request;

/// Longest stored path, referrer, user agent and host (bytes, cut at a char boundary).
pub const MAX_PATH: usize = 512;
pub const MAX_REFERRER: usize = 512;
pub const MAX_UA: usize = 256;
pub const MAX_HOST: usize = 253;
/// Go's `sanitizeInput` limit for fields of `/track`.
pub const MAX_FIELD: usize = 500;

/// `s` cut to at most `max` bytes without splitting a character.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// A request to a site, as captured on the request path: its numbers, and where its strings
/// (site, host, path, referrer, user agent) sit in the text of the buffer it was appended to.
/// No parsing or allocation beyond appending those strings; everything else happens on the
/// recorder thread.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    /// Unix seconds, and the nanoseconds within that second (to keep arrival order across
    /// threads; rows only store the seconds).
    pub at: i64,
    pub nanos: u32,
    pub ip: IpAddr,
    pub status: u16,
    pub bytes: u64,
    /// GET or HEAD (only those can be page views).
    pub get: bool,
    start: usize,
    /// End offsets, from `start`, of site, host, path, referrer and user agent.
    ends: [u16; 5],
}

impl Hit {
    /// Appends the strings of `req` to `text` and returns the capture pointing at them.
    pub fn capture(
        text: &mut String,
        site: &str,
        req: &Request,
        ip: IpAddr,
        status: u16,
        bytes: u64,
        (at, nanos): (i64, u32),
    ) -> Hit {
        let parts = [
            clip(site, 63),
            clip(req.header("host").unwrap_or(""), MAX_HOST + 6),
            clip(req.path(), MAX_PATH),
            clip(req.header("referer").unwrap_or(""), MAX_REFERRER),
            clip(req.header("user-agent").unwrap_or(""), MAX_UA),
        ];
        let start = text.len();
        let mut ends = [0u16; 5];
        for (end, part) in ends.iter_mut().zip(parts) {
            text.push_str(part);
            // At most 63 + 259 + 512 + 512 + 256 bytes: always fits.
            *end = u16::try_from(text.len() - start).unwrap_or(u16::MAX);
        }
        let m = req.method();
        Hit {
            at,
            nanos,
            ip,
            status,
            bytes,
            get: m == "GET" || m == "HEAD",
            start,
            ends,
        }
    }

    /// The hit with the text of the buffer it was captured into.
    pub fn with<'a>(&'a self, text: &'a str) -> HitRef<'a> {
        let len = usize::from(self.ends[4]);
        HitRef {
            hit: self,
            text: text.get(self.start..self.start + len).unwrap_or(""),
        }
    }
}

/// A [`Hit`] and its strings. Equal (and hashed alike) when everything but the byte count
/// is: the recorder writes such requests, in the same second, as one row.
#[derive(Debug, Clone, Copy)]
pub struct HitRef<'a> {
    pub hit: &'a Hit,
    text: &'a str,
}

impl<'a> HitRef<'a> {
    fn part(&self, i: usize) -> &'a str {
        let start = match i.checked_sub(1) {
            None => 0,
            Some(j) => usize::from(self.hit.ends.get(j).copied().unwrap_or(0)),
        };
        let end = usize::from(self.hit.ends.get(i).copied().unwrap_or(0));
        self.text.get(start..end).unwrap_or("")
    }
    pub fn site(&self) -> &'a str {
        self.part(0)
    }
    pub fn host(&self) -> &'a str {
        self.part(1)
    }
    pub fn path(&self) -> &'a str {
        self.part(2)
    }
    pub fn referrer(&self) -> &'a str {
        self.part(3)
    }
    pub fn user_agent(&self) -> &'a str {
        self.part(4)
    }
}

impl PartialEq for HitRef<'_> {
    fn eq(&self, o: &Self) -> bool {
        let (a, b) = (self.hit, o.hit);
        a.at == b.at
            && a.status == b.status
            && a.get == b.get
            && a.ip == b.ip
            && a.ends == b.ends
            && self.text == o.text
    }
}
impl Eq for HitRef<'_> {}
impl std::hash::Hash for HitRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.hit.at.hash(h);
        self.hit.status.hash(h);
        self.hit.ip.hash(h);
        self.text.hash(h);
    }
}

/// An event built by a tracking endpoint (`/track`, pixel, short link), finished by the
/// recorder (user-agent class, visitor hash, raw details only when enabled).
pub struct Pending {
    pub row: Row,
    pub ip: IpAddr,
    pub user_agent: String,
    /// A short link whose click count goes up when this event is written.
    pub redirect_id: Option<i64>,
}

/// One row of `events`: fazt's Go columns first, then the ones step 4 added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub domain: Option<String>,
    pub tags: Option<String>,
    pub source_type: String,
    pub event_type: String,
    pub path: Option<String>,
    pub referrer: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub query_params: Option<String>,
    pub created_at: i64,
    pub site: Option<String>,
    pub status: Option<u16>,
    pub bytes: Option<i64>,
    pub referrer_host: Option<String>,
    pub ua_class: Option<&'static str>,
    pub visitor: Option<String>,
    /// Identical requests in the same second this row stands for (`NULL` means 1).
    pub hits: Option<i64>,
}

pub const INSERT_SQL: &str = "INSERT INTO events (domain, tags, source_type, event_type, path,
    referrer, user_agent, ip_address, query_params, created_at, site, status, bytes,
    referrer_host, ua_class, visitor, hits)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

/// Every column of a row but its counts (see [`Row::identity`]).
type Identity<'a> = (
    (
        &'a Option<String>,
        &'a Option<String>,
        &'a str,
        &'a str,
        &'a Option<String>,
        &'a Option<String>,
        &'a Option<String>,
        &'a Option<String>,
    ),
    (
        &'a Option<String>,
        i64,
        &'a Option<String>,
        Option<u16>,
        &'a Option<String>,
        Option<&'static str>,
        &'a Option<String>,
    ),
);

impl Row {
    /// Everything but the counts (`hits`, `bytes`): two rows equal on this record the same
    /// thing and can be written as one.
    pub fn identity(&self) -> Identity<'_> {
        (
            (
                &self.domain,
                &self.tags,
                &self.source_type,
                &self.event_type,
                &self.path,
                &self.referrer,
                &self.user_agent,
                &self.ip_address,
            ),
            (
                &self.query_params,
                self.created_at,
                &self.site,
                self.status,
                &self.referrer_host,
                self.ua_class,
                &self.visitor,
            ),
        )
    }

    pub fn insert(&self, stmt: &mut rusqlite::CachedStatement<'_>) -> rusqlite::Result<usize> {
        stmt.execute(rusqlite::params![
            self.domain,
            self.tags,
            self.source_type,
            self.event_type,
            self.path,
            self.referrer,
            self.user_agent,
            self.ip_address,
            self.query_params,
            self.created_at,
            self.site,
            self.status,
            self.bytes,
            self.referrer_host,
            self.ua_class,
            self.visitor,
            self.hits,
        ])
    }
}

/// Coarse client class: `browser`, `bot` or `cli` (anything else that is not a browser).
pub fn ua_class(ua: &str) -> &'static str {
    const BOTS: [&str; 16] = [
        "bot",
        "crawl",
        "spider",
        "slurp",
        "archiver",
        "facebookexternalhit",
        "preview",
        "headless",
        "lighthouse",
        "pingdom",
        "uptime",
        "monitor",
        "scanner",
        "feedfetcher",
        "mediapartners",
        "python-requests/",
    ];
    let ua = ua.trim();
    if ua.is_empty() {
        return "cli";
    }
    // Lowercased once into a stack buffer (user agents are cut to MAX_UA bytes), then plain
    // substring searches: this runs for every distinct request.
    let mut buf = [0u8; MAX_UA];
    let n = ua.len().min(MAX_UA);
    let (Some(dst), Some(src)) = (buf.get_mut(..n), ua.as_bytes().get(..n)) else {
        return "cli";
    };
    dst.copy_from_slice(src);
    dst.make_ascii_lowercase();
    let lower = String::from_utf8_lossy(dst);
    if BOTS.iter().any(|b| lower.contains(b)) {
        return "bot";
    }
    if lower.starts_with("mozilla/") || lower.starts_with("opera") {
        "browser"
    } else {
        "cli"
    }
}

/// Host of a referrer URL (`https://www.Example.com:8080/x?y` → `example.com`), lowercased,
/// without port, user info or a leading `www.`; `None` unless it looks like a host name.
pub fn referrer_host(referrer: &str) -> Option<String> {
    // A Referer is an absolute URI; anything else (`about:blank`, junk) has no host.
    let (scheme, rest) = referrer.trim().split_once("://")?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    if !scheme_ok {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))?
    } else {
        authority
            .split(':')
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_ascii_lowercase()
    };
    let host = match host.strip_prefix("www.") {
        Some(h) => h.to_string(),
        None => host,
    };
    let ok = !host.is_empty()
        && host.len() <= MAX_HOST
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        });
    ok.then_some(host)
}

/// Whether a path names a page rather than an asset: `/`, `/docs/`, `/about`, `/a.html`.
pub fn is_page(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    if !last.contains('.') {
        return true;
    }
    let lower = last.to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

/// A page view: a GET/HEAD of a page answered 2xx or 304, by something that is not a bot.
pub fn is_pageview(get: bool, path: &str, status: u16, class: &str) -> bool {
    get && ((200..300).contains(&status) || status == 304) && class != "bot" && is_page(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::http::request::parse_head;
    use crate::kernel::http::Limits;

    fn req(raw: &str) -> Request {
        parse_head(
            raw.as_bytes(),
            &Limits::default(),
            "127.0.0.1:9".parse().unwrap(),
            false,
        )
        .unwrap()
        .unwrap()
        .0
    }

    #[test]
    fn hit_keeps_its_parts_apart() {
        let mut text = String::from("earlier");
        let r = req("GET /a/b?x=1 HTTP/1.1\r\nHost: Blog.localhost:4698\r\nReferer: https://x.org/p\r\nUser-Agent: curl/8\r\n\r\n");
        let h = Hit::capture(
            &mut text,
            "blog",
            &r,
            "10.0.0.1".parse().unwrap(),
            200,
            5,
            (7, 0),
        );
        let r2 = req("POST / HTTP/1.1\r\nHost: b\r\n\r\n");
        let h2 = Hit::capture(&mut text, "b", &r2, "::1".parse().unwrap(), 405, 0, (7, 0));
        let v = h.with(&text);
        assert_eq!(v.site(), "blog");
        assert_eq!(v.host(), "Blog.localhost:4698");
        assert_eq!(v.path(), "/a/b");
        assert_eq!(v.referrer(), "https://x.org/p");
        assert_eq!(v.user_agent(), "curl/8");
        assert!(h.get);
        let v2 = h2.with(&text);
        assert_eq!((v2.site(), v2.host(), v2.path()), ("b", "b", "/"));
        assert_eq!((v2.referrer(), v2.user_agent(), h2.get), ("", "", false));
        assert_ne!(v2, v);
        // Same request again: equal as a key, whatever its size.
        let h3 = Hit::capture(
            &mut text,
            "blog",
            &r,
            "10.0.0.1".parse().unwrap(),
            200,
            99,
            (7, 5),
        );
        // Same second, later within it: still the same row.
        assert_eq!(h3.with(&text), h.with(&text));
        // A text that does not hold the hit reads as empty, never panics.
        assert_eq!(h2.with("short").site(), "");
    }

    #[test]
    fn classes() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36";
        assert_eq!(ua_class(chrome), "browser");
        assert_eq!(
            ua_class("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
            "bot"
        );
        assert_eq!(ua_class("Mozilla/5.0 HeadlessChrome/120"), "bot");
        assert_eq!(ua_class("curl/8.5.0"), "cli");
        assert_eq!(ua_class("Wget/1.21"), "cli");
        assert_eq!(ua_class(""), "cli");
        assert_eq!(ua_class("python-requests/2.31"), "bot");
    }

    #[test]
    fn referrer_hosts() {
        let h = |s: &str| referrer_host(s);
        assert_eq!(
            h("https://www.Example.com:8080/x?y"),
            Some("example.com".into())
        );
        assert_eq!(
            h("http://user:pw@news.ycombinator.com/item"),
            Some("news.ycombinator.com".into())
        );
        assert_eq!(
            h("android-app://com.google.android.gm/"),
            Some("com.google.android.gm".into())
        );
        assert_eq!(h("http://[::1]:80/"), Some("[::1]".into()));
        assert_eq!(h(""), None);
        assert_eq!(h("https://"), None);
        assert_eq!(h("https://bad host/"), None);
        assert_eq!(h("example.org/path"), None);
        assert_eq!(h("about:blank"), None);
        assert_eq!(h("ht tp://x.org/"), None);
    }

    #[test]
    fn pages() {
        for p in ["/", "/docs/", "/about", "/a.html", "/B.HTM", "/v1.2/"] {
            assert!(is_page(p), "{p}");
        }
        for p in ["/style.css", "/img/logo.png", "/favicon.ico", "/v1.2"] {
            assert!(!is_page(p), "{p}");
        }
        assert!(is_pageview(true, "/", 200, "cli"));
        assert!(is_pageview(true, "/", 304, "browser"));
        assert!(!is_pageview(true, "/", 404, "browser"));
        assert!(!is_pageview(true, "/", 200, "bot"));
        assert!(!is_pageview(false, "/", 200, "browser"));
    }

    #[test]
    fn clip_respects_chars() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("abc", 10), "abc");
    }

    proptest::proptest! {
        #[test]
        fn classifiers_never_panic(s in ".{0,300}") {
            let _ = ua_class(&s);
            let _ = referrer_host(&s);
            let _ = is_page(&s);
            for n in 0..s.len() + 1 {
                proptest::prop_assert!(clip(&s, n).len() <= n);
            }
        }
    }
}
