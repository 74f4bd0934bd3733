//! A site's own rules, in Netlify's file formats at the root of the deployed folder:
//! `_redirects` (`FROM TO [STATUS][!]` per line: 301/302/303/307/308 redirects, 200 rewrites,
//! 404 pages; `:name` placeholders and a final `*` splat) and `_headers` (a path pattern,
//! then indented `Name: value` lines). Parsed when deployed — a bad line refuses the deploy
//! with its line number — and again when the site is first served, then kept with the
//! site's cached info.
//!
//! Matching: rules are tried in order and the first that matches wins. A rule applies only
//! when no file answers the path (Netlify's shadowing), unless it ends in `!`. Every
//! `_headers` block that matches adds its headers to the static response.

use std::fmt;

/// The files' names, at the site's root.
pub const REDIRECTS: &str = "_redirects";
pub const HEADERS: &str = "_headers";

/// Largest `_redirects` or `_headers` accepted.
pub const MAX_FILE: usize = 64 * 1024;
/// Rules per file.
const MAX_RULES: usize = 1000;

/// A line that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: &'static str,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{} line {}: {}", self.file, self.line, self.message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Param(String),
}

/// A path pattern: literal segments, `:name` segments, and an optional final `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segs: Vec<Seg>,
    splat: bool,
}

/// What a matched pattern captured: `(name, value)`, `splat` last.
pub type Captures = Vec<(String, String)>;

impl Pattern {
    fn parse(p: &str) -> Result<Pattern, String> {
        if !p.starts_with('/') {
            return Err(format!("'{p}' must start with /"));
        }
        if p.contains(['?', '#']) {
            return Err(format!(
                "'{p}': query strings and fragments are not matched"
            ));
        }
        let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        let mut segs = Vec::new();
        let mut splat = false;
        for (i, s) in parts.iter().enumerate() {
            if *s == "*" {
                if i + 1 != parts.len() {
                    return Err(format!("'{p}': * may only be the last segment"));
                }
                splat = true;
            } else if let Some(name) = s.strip_prefix(':') {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!("'{p}': bad placeholder ':{name}'"));
                }
                segs.push(Seg::Param(name.to_string()));
            } else if s.contains('*') {
                return Err(format!("'{p}': * must be a whole segment"));
            } else {
                segs.push(Seg::Lit((*s).to_string()));
            }
        }
        Ok(Pattern { segs, splat })
    }

    /// Matches a cleaned request path (no leading `/`, as [`super::paths::clean`] gives).
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() < self.segs.len() || (!self.splat && parts.len() != self.segs.len()) {
            return None;
        }
        let mut caps = Captures::new();
        for (seg, part) in self.segs.iter().zip(&parts) {
            match seg {
                Seg::Lit(l) if l == part => {}
                Seg::Lit(_) => return None,
                Seg::Param(n) => caps.push((n.clone(), (*part).to_string())),
            }
        }
        if self.splat {
            caps.push(("splat".into(), parts[self.segs.len()..].join("/")));
        }
        Some(caps)
    }
}

/// One `_redirects` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub from: Pattern,
    /// A path (`/…`) or, for redirects, an absolute `http(s)://` URL; may use `:name`s.
    pub to: String,
    pub status: u16,
    pub force: bool,
}

impl Redirect {
    /// `to` with the captures put in.
    pub fn target(&self, caps: &Captures) -> String {
        let mut out = String::with_capacity(self.to.len());
        let mut rest = self.to.as_str();
        while let Some(i) = rest.find(':') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let n = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            match caps.iter().find(|(k, _)| k == &after[..n]) {
                Some((_, v)) if n > 0 => out.push_str(v),
                _ => {
                    out.push(':');
                    out.push_str(&after[..n]);
                }
            }
            rest = &after[n..];
        }
        out.push_str(rest);
        out
    }
}

/// One `_headers` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRule {
    pub path: Pattern,
    pub headers: Vec<(String, String)>,
}

/// A site's parsed rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub redirects: Vec<Redirect>,
    pub headers: Vec<HeaderRule>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.redirects.is_empty() && self.headers.is_empty()
    }

    /// The headers every matching `_headers` block adds for `path`, in file order.
    pub fn headers_for<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a (String, String)> {
        self.headers
            .iter()
            .filter(move |h| h.path.matches(path).is_some())
            .flat_map(|h| h.headers.iter())
    }
}

fn too_big(file: &'static str, text: &str) -> Result<(), RuleError> {
    if text.len() > MAX_FILE {
        return Err(RuleError {
            file,
            line: 0,
            message: format!("larger than {MAX_FILE} bytes"),
        });
    }
    Ok(())
}

/// Parses a `_redirects` file.
pub fn parse_redirects(text: &str) -> Result<Vec<Redirect>, RuleError> {
    const FILE: &str = "_redirects";
    too_big(FILE, text)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |message: String| RuleError {
            file: FILE,
            line: i + 1,
            message,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (from, to) = match fields[..] {
            [from, to, ..] => (from, to),
            _ => return Err(err("expected FROM TO [STATUS]".into())),
        };
        if fields.len() > 3 {
            return Err(err(format!(
                "unexpected '{}': conditions (country, language, role, query) are not supported",
                fields[3]
            )));
        }
        let (status, force) = match fields.get(2) {
            None => (301, false),
            Some(s) => {
                let (num, force) = s.strip_suffix('!').map_or((*s, false), |n| (n, true));
                match num.parse::<u16>() {
                    Ok(n @ (200 | 301 | 302 | 303 | 307 | 308 | 404 | 410)) => (n, force),
                    _ => {
                        return Err(err(format!(
                            "status '{s}' is not one of 200, 301, 302, 303, 307, 308, 404, 410"
                        )))
                    }
                }
            }
        };
        let from = Pattern::parse(from).map_err(&err)?;
        let external = to.starts_with("http://") || to.starts_with("https://");
        if external && (status == 200 || status == 404 || status == 410) {
            return Err(err(format!(
                "'{to}': only redirects (3xx) may go to another host; proxying is not supported"
            )));
        }
        if !external && !to.starts_with('/') {
            return Err(err(format!(
                "'{to}' must be a path (/…) or an http(s):// URL"
            )));
        }
        if to.bytes().any(|b| b < 0x21 || b == 0x7f) {
            return Err(err(format!("'{to}' has control characters")));
        }
        if out.len() == MAX_RULES {
            return Err(err(format!("more than {MAX_RULES} rules")));
        }
        out.push(Redirect {
            from,
            to: to.to_string(),
            status,
            force,
        });
    }
    Ok(out)
}

/// Response headers a site may not set: the connection's framing and encoding belong to the
/// server.
const RESERVED: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "date",
    "server",
];

/// Parses a `_headers` file.
pub fn parse_headers(text: &str) -> Result<Vec<HeaderRule>, RuleError> {
    const FILE: &str = "_headers";
    too_big(FILE, text)?;
    let mut out: Vec<HeaderRule> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let err = |message: String| RuleError {
            file: FILE,
            line: i + 1,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if !indented {
            if out.len() == MAX_RULES {
                return Err(err(format!("more than {MAX_RULES} paths")));
            }
            out.push(HeaderRule {
                path: Pattern::parse(line).map_err(&err)?,
                headers: Vec::new(),
            });
            continue;
        }
        let Some(rule) = out.last_mut() else {
            return Err(err("a header before any path".into()));
        };
        let Some((name, value)) = line.split_once(':') else {
            return Err(err(format!("expected 'Name: value', got '{line}'")));
        };
        let (name, value) = (name.trim(), value.trim());
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(err(format!("'{name}' is not a header name")));
        }
        if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(err(format!("{name} is set by the server, not by a site")));
        }
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(err(format!("the value of {name} has control characters")));
        }
        if rule.headers.len() == 64 {
            return Err(err("more than 64 headers for one path".into()));
        }
        rule.headers.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn redirects_parse_and_match() {
        let r = parse_redirects(
            "# moved\n/old /new\n/blog/* /posts/:splat 302\n/news/:year/:slug /n/:year-:slug 308!\n\
             /app/* /index.html 200\n/go https://example.org/x?y=1 307\n/* /404.html 404\n",
        )
        .unwrap();
        assert_eq!(r.len(), 6);
        assert_eq!((r[0].status, r[0].force), (301, false));
        let caps = r[1].from.matches("blog/2024/hello").unwrap();
        assert_eq!(r[1].target(&caps), "/posts/2024/hello");
        assert_eq!(r[1].target(&r[1].from.matches("blog").unwrap()), "/posts/");
        let caps = r[2].from.matches("news/2024/launch").unwrap();
        assert_eq!(
            (r[2].target(&caps).as_str(), r[2].force),
            ("/n/2024-launch", true)
        );
        assert!(r[2].from.matches("news/2024").is_none());
        assert!(r[0].from.matches("old/x").is_none());
        assert!(r[0].from.matches("old/").is_some());
        assert!(r[5].from.matches("").is_some());
        // An unknown placeholder stays as written.
        let t = Redirect {
            to: "/a/:nope".into(),
            ..r[0].clone()
        };
        assert_eq!(t.target(&Captures::new()), "/a/:nope");
    }

    #[test]
    fn bad_redirect_lines_name_their_line() {
        for (text, line, has) in [
            ("/a\n", 1, "FROM TO"),
            ("\n/a /b 999\n", 2, "status"),
            ("/a /b 301 Country=us\n", 1, "conditions"),
            ("a /b\n", 1, "must start with /"),
            ("/a/*/b /c\n", 1, "last segment"),
            ("/a* /c\n", 1, "whole segment"),
            ("/:x-y /c\n", 1, "placeholder"),
            ("/a https://x.org 200\n", 1, "proxying"),
            ("/a b\n", 1, "must be a path"),
            ("/a?x=1 /b\n", 1, "query"),
        ] {
            let e = parse_redirects(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(has), "{text:?}: {e}");
        }
        assert!(parse_redirects(&"/a /b\n".repeat(1001)).is_err());
        assert!(parse_redirects(&"#".repeat(MAX_FILE + 1)).is_err());
    }

    #[test]
    fn headers_parse_and_apply_in_order() {
        let h = parse_headers(
            "/*\n  X-Frame-Options: DENY\n  # note\n\n/assets/*\n\tCache-Control: public, max-age=60\n/a/:id\n  X-Id: yes\n",
        )
        .unwrap();
        let rules = Rules {
            redirects: vec![],
            headers: h,
        };
        let got: Vec<_> = rules.headers_for("assets/app.js").cloned().collect();
        assert_eq!(
            got,
            [
                ("X-Frame-Options".to_string(), "DENY".to_string()),
                (
                    "Cache-Control".to_string(),
                    "public, max-age=60".to_string()
                )
            ]
        );
        assert_eq!(rules.headers_for("a/7").count(), 2);
        assert_eq!(rules.headers_for("index.html").count(), 1);
        for (text, line) in [
            ("  X-A: b\n", 1),
            ("/x\n  nocolon\n", 2),
            ("/x\n  Bad Name: v\n", 2),
            ("/x\n  Content-Length: 5\n", 2),
            ("/x\n  X: a\u{7}b\n", 2),
            ("x\n", 1),
        ] {
            let e = parse_headers(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
    }

    proptest! {
        // Any text: no panic, and a parse that succeeds matches any path without panicking.
        #[test]
        fn parsers_never_panic(text in "[ -~\t\n:*/!#]{0,200}", path in "[a-z0-9/:*.]{0,30}") {
            if let Ok(r) = parse_redirects(&text) {
                for rule in &r {
                    if let Some(c) = rule.from.matches(&path) {
                        let _ = rule.target(&c);
                    }
                }
            }
            if let Ok(h) = parse_headers(&text) {
                let rules = Rules { redirects: vec![], headers: h };
                let _ = rules.headers_for(&path).count();
            }
        }

        // A literal pattern matches exactly its own path.
        #[test]
        fn literal_patterns_match_themselves(segs in proptest::collection::vec("[a-z0-9]{1,8}", 0..5)) {
            let path = segs.join("/");
            let p = Pattern::parse(&format!("/{path}")).unwrap();
            prop_assert!(p.matches(&path).is_some());
            let longer = format!("{path}/x");
            prop_assert!(p.matches(&longer).is_none());
        }
    }
}
