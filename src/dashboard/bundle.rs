//! The dashboard's files as the binary carries them: deflated by `build.rs` into one blob
//! with an index of (name, packed length, length).

use sha2::{Digest, Sha256};

use crate::kernel::db::migrate::hex;

static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dashboard.bin"));
static INDEX: &[(&str, usize, usize)] = include!(concat!(env!("OUT_DIR"), "/dashboard_index.rs"));

/// Every file of the bundle, inflated, by name.
pub fn files() -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    INDEX
        .iter()
        .map(|&(name, _, _)| {
            crate::kernel::compress::unpack(BLOB, INDEX, name)
                .map(|raw| (name, raw))
                .ok_or_else(|| format!("unpacking the dashboard's {name}"))
        })
        .collect()
}

/// What a site's files are, as one hash: sha256 over its sorted `path NUL sha256 LF` lines.
/// Equal digests mean the same paths with the same contents.
pub fn digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut v: Vec<_> = files.into_iter().collect();
    v.sort_unstable();
    let mut h = Sha256::new();
    for (path, hash) in v {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        h.update([b'\n']);
    }
    hex(&h.finalize())
}

/// The gzipped size of the bundle's files, each compressed on its own as they are served.
pub fn packed_size() -> usize {
    INDEX.iter().map(|&(_, packed, _)| packed).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_unpacks_to_the_repository_files() {
        let files = files().unwrap();
        let names: Vec<_> = files.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["app.css", "app.js", "index.html"]);
        for (name, body) in &files {
            let src = std::fs::read_to_string(format!("src/dashboard/ui/{name}")).unwrap();
            let body = String::from_utf8(body.clone()).unwrap();
            if name.ends_with(".html") {
                assert_eq!(body, src, "{name}");
                continue;
            }
            // The packed script and style sheet are the repository's lines, trimmed, with
            // whole-line comments gone; nothing else differs.
            let want: Vec<&str> = src
                .lines()
                .map(str::trim_start)
                .filter(|l| !l.is_empty() && !l.starts_with("// ") && *l != "//")
                .collect();
            assert_eq!(body.lines().collect::<Vec<_>>(), want, "{name}");
            assert!(body.len() <= src.len(), "{name}");
        }
        // The budget: the whole UI under 60 KB compressed.
        assert!(packed_size() < 60 * 1024, "{}", packed_size());
    }

    #[test]
    fn the_digest_ignores_order_only() {
        let a = digest([("a", "1"), ("b", "2")]);
        assert_eq!(a, digest([("b", "2"), ("a", "1")]));
        assert_ne!(a, digest([("a", "1"), ("b", "3")]));
        assert_ne!(a, digest([("a", "1")]));
        // The separators keep path and hash apart.
        assert_ne!(digest([("ab", "c")]), digest([("a", "bc")]));
    }
}
