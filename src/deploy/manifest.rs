//! The manifest of an incremental deploy: one line per file, `<sha256> <size> <path>`, sent
//! as the `.fazt/manifest` entry of the upload's ZIP (a dot-folder, so never a site file),
//! beside the contents the server does not have yet. The client writes it with [`format()`];
//! the server reads it with [`parse`], which refuses anything a ZIP deploy would refuse.

use crate::kernel::vfs::versions::Entry;
use crate::kernel::zip::{check_paths, ZipLimits};

/// The ZIP entry that carries the manifest.
pub const ENTRY: &str = ".fazt/manifest";

/// The manifest's text for `entries`.
pub fn format(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!("{} {} {}\n", e.hash, e.size, e.path));
    }
    out
}

fn is_sha256(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses a manifest, checking each line, each path (safe, published, unique) and the ZIP
/// limits (entries, total size). The error names the line.
pub fn parse(text: &str, limits: &ZipLimits) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut total = 0u64;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(hash), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "manifest line {n}: expected '<sha256> <size> <path>'"
            ));
        };
        if !is_sha256(hash) {
            return Err(format!(
                "manifest line {n}: '{hash}' is not a lowercase hex sha256"
            ));
        }
        let Ok(size) = size.parse::<u64>() else {
            return Err(format!(
                "manifest line {n}: '{size}' is not a size in bytes"
            ));
        };
        check_paths([path]).map_err(|e| format!("manifest line {n}: {e}"))?;
        if path.ends_with('/') || super::hidden(path) || super::skipped(path) {
            return Err(format!(
                "manifest line {n}: {path:?} is a folder or a dot-file, which is never published"
            ));
        }
        if size > limits.max_entry_uncompressed {
            return Err(format!(
                "manifest line {n}: {path} is larger than the {} byte cap",
                limits.max_entry_uncompressed
            ));
        }
        total = total.saturating_add(size);
        entries.push(Entry {
            path: path.to_string(),
            hash: hash.to_string(),
            size,
        });
        if entries.len() > limits.max_entries {
            return Err(format!(
                "the manifest lists more than {} files",
                limits.max_entries
            ));
        }
    }
    if total > limits.max_total_uncompressed {
        return Err(format!(
            "the manifest's files add up to more than the {} byte cap",
            limits.max_total_uncompressed
        ));
    }
    check_paths(entries.iter().map(|e| e.path.as_str())).map_err(|e| format!("manifest: {e}"))?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn e(path: &str, size: u64) -> Entry {
        Entry {
            path: path.into(),
            hash: H.into(),
            size,
        }
    }

    #[test]
    fn round_trips_and_refuses_bad_lines() {
        let list = vec![e("index.html", 4), e("a b/c d.txt", 0), e("_redirects", 9)];
        let l = ZipLimits::default();
        assert_eq!(parse(&format(&list), &l).unwrap(), list);
        for (bad, says) in [
            ("x 1 a", "line 1: 'x' is not"),
            (&format!("{H} -1 a"), "not a size"),
            (&format!("{H} 1"), "expected"),
            (&format!("{H} 1 .env"), "dot-file"),
            (&format!("{H} 1 a/.git/config"), "dot-file"),
            (&format!("{H} 1 ../x"), "unsafe name"),
            (&format!("{H} 1 /etc/passwd"), "unsafe name"),
            (&format!("{H} 1 a\n{H} 1 A"), "manifest:"),
            (&format!("{H} 1 a\n{H} 1 a/b"), "manifest:"),
            (&format!("{H} 1 dir/"), "folder"),
        ] {
            let err = parse(bad, &l).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        let small = ZipLimits {
            max_entries: 1,
            ..ZipLimits::default()
        };
        assert!(parse(&format(&list), &small)
            .unwrap_err()
            .contains("more than 1 files"));
        let tight = ZipLimits {
            max_total_uncompressed: 10,
            ..ZipLimits::default()
        };
        assert!(parse(&format(&list), &tight)
            .unwrap_err()
            .contains("add up"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text, &ZipLimits::default());
        }
    }
}
