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
/// scripts (their source is the site's code, and may hold secrets), its rules
/// (`_redirects`, `_headers`), and dot-files and
/// dot-directories (`.env`, `.git/…`) except `.well-known/`, which exists to be public.
pub fn never_served(path: &str) -> bool {
    if matches!(path, "main.js" | "api/main.js" | "_redirects" | "_headers") {
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

/// Whether a file name carries a content hash, so it can be cached forever. The bundlers'
/// shapes:
/// - a dot segment of hex or base36 with letters and digits (webpack
///   `main.3f2a1b9c4d5e6f70.js`, `787.8a4b2c1d.chunk.js`; Parcel `index.1a2b3c4d.js`);
/// - a `-` segment of 8 to 64 with letters and digits (esbuild `index-5JDMFSQ2.js`, Next.js
///   `main-abcdef0123456789.js`);
/// - the last 8 characters of the stem after a `-`, in base64url, for Vite and Rollup
///   (`index-DiwrgTda.js`, `index-Bk_VxDe3.js`, `vendor-C-3kQx9A.css`) and esbuild's base32
///   (`chunk-ABCDEFGH.js`): with a digit, a `-` or `_`, all capitals, or at least two capitals
///   and two small letters. One lowercase word (`my-homepage.js`) is not a hash.
pub fn fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, _ext)) = name.rsplit_once('.') else {
        return false;
    };
    let hexish = |t: &str| {
        (8..=64).contains(&t.len())
            && t.bytes().all(|b| b.is_ascii_alphanumeric())
            && t.bytes().any(|b| b.is_ascii_digit())
            && t.bytes().any(|b| b.is_ascii_alphabetic())
    };
    // Dot segments between the name and the extension(s).
    let mut dots = stem.split('.');
    let first = dots.next().unwrap_or("");
    if dots.any(hexish) {
        return true;
    }
    // `name-hash` at the end of the first dot segment.
    if let Some((base, tag)) = first.rsplit_once(['-', '_']) {
        if !base.is_empty() && hexish(tag) {
            return true;
        }
    }
    rollup_hash(first)
}

/// Vite/Rollup's (and esbuild's) `[name]-[hash]` with an 8-character hash that may itself
/// hold `-` and `_`.
fn rollup_hash(stem: &str) -> bool {
    let b = stem.as_bytes();
    if b.len() < 10 || b[b.len() - 9] != b'-' {
        return false;
    }
    let tag = &b[b.len() - 8..];
    let (mut upper, mut lower, mut digit, mut sep) = (0, 0, 0, 0);
    for &c in tag {
        match c {
            b'A'..=b'Z' => upper += 1,
            b'a'..=b'z' => lower += 1,
            b'0'..=b'9' => digit += 1,
            b'-' | b'_' => sep += 1,
            _ => return false,
        }
    }
    upper + lower > 0 && (digit > 0 || sep > 0 || upper == 8 || (upper >= 2 && lower >= 2))
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
    fn bundler_names_are_fingerprinted() {
        for p in [
            // Vite and Rollup: [name]-[hash:8], base64url.
            "assets/index-DiwrgTda.js",
            "assets/index-Bk_VxDe3.js",
            "assets/vendor-C-3kQx9A.css",
            "assets/logo-a1b2c3d4.svg",
            "chunk-Dq3nP9xZ.js",
            // webpack: [name].[contenthash].js, CRA's [id].[contenthash:8].chunk.js.
            "main.3f2a1b9c4d5e6f708192.js",
            "static/js/787.8a4b2c1d.chunk.js",
            "static/css/main.0c1d2e3f.css",
            // esbuild: [name]-[hash:8], base32.
            "out/index-5JDMFSQ2.js",
            "chunk-ABCDEFGH.js",
            // Parcel, Next.js.
            "index.1a2b3c4d.js",
            "_next/static/chunks/main-abcdef0123456789.js",
            "app.3f2a1b9c.js",
        ] {
            assert!(fingerprinted(p), "{p}");
        }
        for p in [
            "index.html",
            "app.js",
            "my-homepage.js",
            "about-us.html",
            "styles.min.css",
            "jquery-3.7.1.min.js",
            "logo-dark.svg",
            "README-FIRST.txt",
            "index-CHANGELOG.md",
            "-DiwrgTda.js",
            "photo-2024.jpg",
            "deadbeef.js",
            "a.b",
            "noext",
        ] {
            assert!(!fingerprinted(p), "{p}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fingerprint_never_panics(p in "\\PC{0,40}") {
            let _ = fingerprinted(&p);
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
