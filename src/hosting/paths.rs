//! Turning a request path into stored file paths: percent-decoding, refusing traversal, and
//! the lookup order (`/` → `index.html`, `/about` → `about`, `about.html`, `about/index.html`).

/// Percent-decodes `raw` and checks it. Returns the path without its leading `/`, or `Err`
/// with a reason for a 400.
pub fn clean(raw: &str) -> Result<String, &'static str> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("bad percent-encoding")?;
            let s = std::str::from_utf8(hex).map_err(|_| "bad percent-encoding")?;
            out.push(u8::from_str_radix(s, 16).map_err(|_| "bad percent-encoding")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).map_err(|_| "path is not UTF-8")?;
    if path.contains('\0') {
        return Err("NUL in path");
    }
    if path.contains('\\') {
        return Err("backslash in path");
    }
    if !path.starts_with('/') {
        return Err("path must start with /");
    }
    if path.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err("dot segments in path");
    }
    // Empty segments are collapsed (`//api///main.js` is `api/main.js`): every reader of
    // the path — script selection, static lookup, the script's `req.path` — must see the
    // same name, or one of them can be walked around.
    let trailing = path.len() > 1 && path.ends_with('/');
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(seg);
    }
    if trailing && !out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Stored paths static serving never answers with, whatever the site holds: the site's
/// scripts (their source is the site's code, and may hold secrets), and dot-files and
/// dot-directories (`.env`, `.git/…`) except `.well-known/`, which exists to be public.
pub fn never_served(path: &str) -> bool {
    if path == "main.js" || path == "api/main.js" {
        return true;
    }
    path.split('/')
        .enumerate()
        .any(|(i, seg)| seg.starts_with('.') && !(i == 0 && seg == ".well-known"))
}

/// Stored paths to try, in order, for a cleaned request path.
pub fn candidates(path: &str) -> Vec<String> {
    if path.is_empty() || path.ends_with('/') {
        return vec![format!("{path}index.html")];
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    let mut c = vec![path.to_string()];
    if !last.contains('.') {
        c.push(format!("{path}.html"));
    }
    c.push(format!("{path}/index.html"));
    c
}

/// Whether a file name carries a content hash (`app.3f2a1b9c.js`, `index-BkVxDeQ3.js`), so it
/// can be cached forever.
pub fn fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, _ext)) = name.rsplit_once('.') else {
        return false;
    };
    let tag = stem.rsplit(['.', '-', '_']).next().unwrap_or("");
    tag.len() >= 8
        && tag.len() <= 64
        && tag != stem
        && tag.bytes().all(|b| b.is_ascii_alphanumeric())
        && tag.bytes().any(|b| b.is_ascii_digit())
        && tag.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("/").unwrap(), "");
        assert_eq!(clean("/a%20b/c.html").unwrap(), "a b/c.html");
        assert!(clean("/../etc/passwd").is_err());
        assert!(clean("/a/%2e%2e/b").is_err());
        assert!(clean("/a%00b").is_err());
        assert!(clean("/a%5cb").is_err());
        assert!(clean("/a\\b").is_err());
        assert!(clean("/%zz").is_err());
        assert!(clean("/%e2%82").is_err());
        assert_eq!(clean("//api///main.js").unwrap(), "api/main.js");
        assert_eq!(clean("/%61pi/main.js").unwrap(), "api/main.js");
        assert_eq!(clean("/api%2fmain.js").unwrap(), "api/main.js");
        assert_eq!(clean("//docs//").unwrap(), "docs/");
        assert_eq!(clean("//").unwrap(), "");
    }

    #[test]
    fn scripts_and_dot_files_are_never_served() {
        for p in [
            "main.js",
            "api/main.js",
            ".env",
            ".git/config",
            "a/.secret",
            ".well-known/.x",
        ] {
            assert!(never_served(p), "{p}");
        }
        for p in [
            "index.html",
            ".well-known/security.txt",
            "lib/main.js",
            "api/x.js",
            "a.b/c",
        ] {
            assert!(!never_served(p), "{p}");
        }
    }

    #[test]
    fn lookup_order() {
        assert_eq!(candidates(""), ["index.html"]);
        assert_eq!(candidates("docs/"), ["docs/index.html"]);
        assert_eq!(
            candidates("about"),
            ["about", "about.html", "about/index.html"]
        );
        assert_eq!(candidates("a/b.css"), ["a/b.css", "a/b.css/index.html"]);
    }

    #[test]
    fn fingerprints() {
        assert!(fingerprinted("assets/index-BkVxDeQ3.js"));
        assert!(fingerprinted("main.3f2a1b9c.css"));
        assert!(!fingerprinted("main.css"));
        assert!(!fingerprinted("photo-20240101.jpg"));
        assert!(!fingerprinted("background.png"));
    }

    proptest::proptest! {
        #[test]
        fn clean_never_yields_traversal(s in "[/a-z.%0-9\\\\]{0,40}") {
            if let Ok(p) = clean(&s) {
                proptest::prop_assert!(!p.split('/').any(|x| x == ".."));
                proptest::prop_assert!(!p.contains('\\'));
            }
        }
    }
}
