//! The public endpoints on the admin host, compatible with fazt's Go version: `POST /track`
//! (JSON `{h, d, p, e, t, q, ref}`), `GET /pixel.gif`, `GET /r/{slug}` short links,
//! `POST /webhook/{endpoint}` (HMAC-SHA256 signed when the webhook has a secret) and
//! `GET /track.js`. Tracking events go through the recorder's queue; a webhook's payload is
//! written before it is acknowledged. Methods are the route table's: a handler here is only
//! called with one it takes.

use hmac::{Hmac, KeyInit, Mac};
use rusqlite::OptionalExtension;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::event::{self, clip, Pending, Row, MAX_FIELD, MAX_REFERRER};
use super::{query, Analytics};
use crate::envelope::{body_error, error};
use crate::hosting::{Router, Target};
use crate::kernel::db::now;
use crate::kernel::http::request::normalize_host;
use crate::kernel::http::{client_addr, Body, Request, Response, ResponseBody};

/// Largest `/track` body (fazt's Go version: 10 KB).
pub const TRACK_MAX: u64 = 10 * 1024;

/// A transparent 1×1 GIF (the same bytes fazt's Go version sends).
pub const GIF: [u8; 42] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x01, 0x44, 0x00, 0x3b,
];

pub const TRACK_JS: &str = include_str!("track.js");

/// `GET /track.js`: the tracking snippet.
pub fn track_js() -> Response {
    Response::bytes(
        200,
        "application/javascript; charset=utf-8",
        TRACK_JS.as_bytes().to_vec(),
    )
    .header("Cache-Control", "public, max-age=3600")
}

/// The site a host name is served as, if any (`blog.example.com` → `blog`).
fn site_of_host(host: &str, router: &Router) -> Option<String> {
    match router.route(&normalize_host(host)) {
        Target::Site(s) => Some(s),
        _ => None,
    }
}

/// [`site_of_host`], else the site a custom domain (`example.org`) is registered to.
fn site_of(a: &Analytics, host: &str) -> Option<String> {
    site_of_host(host, &a.router).or_else(|| {
        let d = a.domains.as_ref()?;
        d.lookup(&normalize_host(host)).map(|m| m.site)
    })
}

fn header_referrer(req: &Request) -> Option<String> {
    req.header("referer")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| clip(r, MAX_REFERRER).to_string())
}

fn user_agent(req: &Request) -> String {
    clip(req.header("user-agent").unwrap_or(""), event::MAX_UA).to_string()
}

/// Go's `sanitizeInput`: trimmed, at most 500 bytes.
fn sanitize(s: &str) -> String {
    clip(s.trim(), MAX_FIELD).to_string()
}

/// A `/track` body, validated.
#[derive(Debug, Default, PartialEq)]
pub struct TrackRequest {
    pub hostname: String,
    pub domain: String,
    pub path: String,
    pub event: String,
    pub tags: Vec<String>,
    pub query: Map<String, Value>,
    pub referrer: String,
}

fn string_field(o: &Map<String, Value>, k: &str) -> Result<String, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("field '{k}' must be a string")),
    }
}

impl TrackRequest {
    pub fn parse(raw: &[u8]) -> Result<TrackRequest, String> {
        let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
        let Value::Object(o) = v else {
            return Err("expected a JSON object".into());
        };
        let tags = match o.get("t") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| match t {
                    Value::String(s) => Ok(s.trim().to_string()),
                    _ => Err("field 't' must be an array of strings".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err("field 't' must be an array of strings".into()),
        };
        let query = match o.get("q") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => {
                let mut out = Map::new();
                for (k, v) in m {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return Err(format!("field 'q.{k}' must be a string")),
                    };
                    out.insert(k.clone(), Value::String(s));
                }
                out
            }
            Some(_) => return Err("field 'q' must be an object of strings".into()),
        };
        Ok(TrackRequest {
            hostname: string_field(&o, "h")?,
            domain: string_field(&o, "d")?,
            path: string_field(&o, "p")?,
            event: string_field(&o, "e")?,
            tags,
            query,
            referrer: string_field(&o, "ref")?,
        })
    }
}

fn cors(r: Response) -> Response {
    r.header("Access-Control-Allow-Origin", "*")
}

/// `OPTIONS /track`: the CORS preflight of a cross-origin `POST /track`.
pub fn track_preflight() -> Response {
    cors(Response::new(204))
        .header("Access-Control-Allow-Methods", "POST, OPTIONS")
        .header("Access-Control-Allow-Headers", "Content-Type")
        .header("Access-Control-Max-Age", "86400")
}

/// `POST /track`.
pub fn track(a: &Analytics, req: &Request, body: &mut Body<'_>) -> Response {
    let raw = match body.read_all(TRACK_MAX) {
        Ok(b) => b,
        Err(e) => return cors(body_error(e)),
    };
    let t = match TrackRequest::parse(&raw) {
        Ok(t) => t,
        Err(e) => return cors(error(400, "INVALID_JSON", format!("invalid JSON: {e}"))),
    };
    // Domain: explicit > hostname > the Referer's host > "unknown" (as the Go version).
    let domain = [t.domain.trim(), t.hostname.trim()]
        .into_iter()
        .find(|d| !d.is_empty())
        .map(str::to_string)
        .or_else(|| {
            header_referrer(req)
                .as_deref()
                .and_then(event::referrer_host)
        })
        .unwrap_or_else(|| "unknown".into());
    let domain = sanitize(&domain);
    let referrer = if t.referrer.trim().is_empty() {
        header_referrer(req)
    } else {
        Some(sanitize(&t.referrer))
    };
    let tags: Vec<&str> = t
        .tags
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let event_type = if t.event.trim().is_empty() {
        "pageview".to_string()
    } else {
        sanitize(&t.event)
    };
    let path = sanitize(&t.path);
    let row = Row {
        site: site_of(a, &domain),
        domain: Some(domain),
        tags: (!tags.is_empty()).then(|| sanitize(&tags.join(","))),
        source_type: "web".into(),
        event_type,
        path: (!path.is_empty()).then_some(path),
        referrer_host: referrer.as_deref().and_then(event::referrer_host),
        referrer,
        query_params: (!t.query.is_empty())
            .then(|| serde_json::to_string(&t.query).unwrap_or_default()),
        created_at: now(),
        ..Row::default()
    };
    push_from(a, req, row, None);
    cors(Response::new(204))
}

/// `/pixel.gif`, any method: the image always, an event for `GET` only.
pub fn pixel(a: &Analytics, req: &Request) -> Response {
    if req.method() == "GET" {
        let q = req.query();
        let referrer = header_referrer(req);
        let domain = query::non_empty(q, "domain")
            .or_else(|| referrer.as_deref().and_then(event::referrer_host))
            .unwrap_or_else(|| "unknown".into());
        let domain = sanitize(&domain);
        let row = Row {
            site: site_of(a, &domain),
            domain: Some(domain),
            tags: query::non_empty(q, "tags").map(|t| sanitize(&t)),
            source_type: "pixel".into(),
            event_type: query::non_empty(q, "source")
                .map_or_else(|| "pixel".to_string(), |s| sanitize(&s)),
            referrer_host: referrer.as_deref().and_then(event::referrer_host),
            referrer,
            created_at: now(),
            ..Row::default()
        };
        push_from(a, req, row, None);
    }
    // Always the image, whatever happened above: a tracking pixel must never show broken.
    Response::new(200)
        .header("Content-Type", "image/gif")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
        .header("Expires", "0")
        .body(ResponseBody::Static(&GIF))
}

/// Whether a stored destination can go into a `Location` header as is.
fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// `GET|HEAD /r/{slug}`: the short link's redirect (a `GET` counts as a click).
pub fn redirect(a: &Analytics, req: &Request, raw_slug: &str) -> Response {
    let slug = query::decode(raw_slug);
    if slug.is_empty() {
        // As Go fazt answers `/r/`: a request without a slug is malformed, not a miss.
        return Response::text(400, "missing short link slug: /r/{slug}\n");
    }
    if slug.contains('/') || slug.len() > 200 {
        return Response::text(404, "short link not found\n");
    }
    let found = a.db.read(|c| {
        c.query_row(
            "SELECT id, COALESCE(destination, ''), COALESCE(tags, '') FROM redirects
             WHERE slug = ?1",
            [&slug],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()
    });
    let (id, destination, mut tags) = match found {
        Ok(Some(f)) => f,
        Ok(None) => return Response::text(404, "short link not found\n"),
        Err(e) => {
            log::error!("reading short link '{slug}': {e}");
            return Response::text(500, "storage error\n");
        }
    };
    if !header_safe(&destination) {
        log::error!("short link '{slug}' has an unusable destination");
        return Response::text(500, "this short link's destination is invalid\n");
    }
    if req.method() == "GET" {
        if let Some(extra) = query::non_empty(req.query(), "tags") {
            if !tags.is_empty() {
                tags.push(',');
            }
            tags.push_str(&extra);
        }
        let referrer = header_referrer(req);
        let row = Row {
            domain: Some(sanitize(&slug)),
            tags: (!tags.is_empty()).then(|| sanitize(&tags)),
            source_type: "redirect".into(),
            event_type: "click".into(),
            path: Some(format!("/r/{}", sanitize(&slug))),
            referrer_host: referrer.as_deref().and_then(event::referrer_host),
            referrer,
            created_at: now(),
            ..Row::default()
        };
        push_from(a, req, row, Some(id));
    }
    Response::new(302)
        .header("Location", destination)
        .header("Cache-Control", "no-store")
}

/// `hex` or `sha256=hex` → the 32 signature bytes.
fn signature_bytes(header: &str) -> Option<[u8; 32]> {
    let h = header.trim();
    let h = h.strip_prefix("sha256=").unwrap_or(h);
    if h.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(h.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Constant-time check that `header` is the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature_valid(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(sig) = signature_bytes(header) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// `POST /webhook/{endpoint}`.
pub fn webhook(a: &Analytics, req: &Request, body: &mut Body<'_>, raw_endpoint: &str) -> Response {
    let endpoint = query::decode(raw_endpoint);
    if endpoint.is_empty() {
        // As Go fazt answers `/webhook/`.
        return error(
            400,
            "BAD_REQUEST",
            "missing webhook endpoint: POST /webhook/{endpoint}",
        );
    }
    if endpoint.contains('/') || endpoint.len() > 200 {
        return error(404, "NOT_FOUND", "no such webhook endpoint");
    }
    let found = a.db.read(|c| {
        c.query_row(
            "SELECT COALESCE(name, ''), COALESCE(secret, ''), is_active FROM webhooks
             WHERE endpoint = ?1",
            [&endpoint],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?.unwrap_or(1) != 0,
                ))
            },
        )
        .optional()
    });
    let (name, secret, active) = match found {
        Ok(Some(f)) => f,
        Ok(None) => {
            return error(
                404,
                "NOT_FOUND",
                format!("no webhook endpoint '{endpoint}'"),
            )
        }
        Err(e) => {
            log::error!("reading webhook '{endpoint}': {e}");
            return error(500, "INTERNAL", "storage error");
        }
    };
    if !active {
        return error(
            403,
            "WEBHOOK_DISABLED",
            format!("webhook '{endpoint}' is disabled"),
        );
    }
    let raw = match body.read_all(a.settings.webhook_max_bytes) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    if !secret.is_empty() {
        let Some(sig) = req.header("x-webhook-signature") else {
            return error(
                401,
                "MISSING_SIGNATURE",
                "this webhook needs X-Webhook-Signature: the hex HMAC-SHA256 of the body",
            );
        };
        if !signature_valid(&secret, &raw, sig) {
            return error(
                401,
                "INVALID_SIGNATURE",
                "X-Webhook-Signature does not match the body",
            );
        }
    }
    // JSON payloads are stored as sent; anything else as {"raw": text} (as the Go version).
    let payload: Value = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&raw) }));
    let event_type = ["event", "type"]
        .iter()
        .find_map(|k| payload.get(k).and_then(Value::as_str))
        .map_or_else(|| "webhook".to_string(), sanitize);
    let ua = user_agent(req);
    let ip = client_addr(req, &a.settings.trusted_proxies);
    let raw_details = a.settings.store_ip;
    let row = Row {
        domain: Some(endpoint.clone()),
        source_type: "webhook".into(),
        event_type,
        path: Some(format!("/webhook/{endpoint}")),
        user_agent: (raw_details && !ua.is_empty()).then(|| ua.clone()),
        ip_address: raw_details.then(|| ip.to_string()),
        query_params: Some(payload.to_string()),
        created_at: now(),
        ua_class: Some(event::ua_class(&ua)),
        ..Row::default()
    };
    let stored = a.db.write(move |c| {
        let mut st = c.prepare_cached(event::INSERT_SQL)?;
        row.insert(&mut st)
    });
    match stored {
        Ok(_) => Response::json(
            200,
            &json!({"status": "success", "message": "Webhook received", "webhook": name}),
        ),
        Err(e) => {
            log::error!("storing webhook '{endpoint}': {e}");
            error(500, "INTERNAL", "could not store the payload")
        }
    }
}

/// Queues an event row from a public endpoint, with the client's address (the same
/// trusted-proxy rule as the API) and user agent for the recorder to hash and classify.
fn push_from(a: &Analytics, req: &Request, row: Row, redirect_id: Option<i64>) {
    a.push_event(Pending {
        row,
        ip: client_addr(req, &a.settings.trusted_proxies),
        user_agent: user_agent(req),
        redirect_id,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        crate::kernel::db::migrate::hex(&mac.finalize().into_bytes())
    }

    #[test]
    fn signatures() {
        let body = br#"{"event":"push"}"#;
        let good = sign("s3cret", body);
        assert!(signature_valid("s3cret", body, &good));
        assert!(signature_valid("s3cret", body, &format!("sha256={good}")));
        assert!(signature_valid("s3cret", body, &good.to_uppercase()));
        assert!(!signature_valid("other", body, &good));
        assert!(!signature_valid("s3cret", b"{}", &good));
        assert!(!signature_valid("s3cret", body, &good[..63]));
        assert!(!signature_valid("s3cret", body, ""));
        assert!(!signature_valid("s3cret", body, &"zz".repeat(32)));
        // Known answer (RFC 4231 test case 2).
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn track_requests() {
        let t = TrackRequest::parse(
            br#"{"h":"blog.example.com","p":"/x","e":"signup","t":["a","b"],"q":{"plan":"pro","n":3},"ref":"https://x.org/"}"#,
        )
        .unwrap();
        assert_eq!(t.hostname, "blog.example.com");
        assert_eq!(t.event, "signup");
        assert_eq!(t.tags, vec!["a", "b"]);
        assert_eq!(t.query.get("n"), Some(&Value::String("3".into())));
        assert_eq!(t.referrer, "https://x.org/");
        assert_eq!(TrackRequest::parse(b"{}").unwrap(), TrackRequest::default());
        assert_eq!(
            TrackRequest::parse(br#"{"d":null,"t":null}"#).unwrap(),
            TrackRequest::default()
        );
        for bad in [
            &b"not json"[..],
            b"[]",
            b"\"x\"",
            br#"{"h": 5}"#,
            br#"{"t": "a,b"}"#,
            br#"{"t": [1]}"#,
            br#"{"q": {"a": {"b": 1}}}"#,
            br#"{"q": []}"#,
        ] {
            assert!(
                TrackRequest::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn hosts_to_sites() {
        let ex = Router::new("example.com");
        let local = Router::new("localhost");
        assert_eq!(
            site_of_host("blog.example.com", &ex).as_deref(),
            Some("blog")
        );
        assert_eq!(
            site_of_host("Blog.localhost:4698", &local).as_deref(),
            Some("blog")
        );
        assert_eq!(site_of_host("example.com", &ex).as_deref(), Some("root"));
        assert_eq!(site_of_host("admin.example.com", &ex), None);
        assert_eq!(site_of_host("other.org", &ex), None);
    }

    #[test]
    fn gif_is_a_gif() {
        assert_eq!(&GIF[..6], b"GIF89a");
        assert_eq!(GIF.last(), Some(&0x3b));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = TrackRequest::parse(&data);
            let s = String::from_utf8_lossy(&data);
            let _ = signature_valid("k", &data, &s);
        }
    }
}
