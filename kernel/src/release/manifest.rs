//! [`Manifest`]: what a release signs. One `key value` per line, in this order:
//!
//! ```text
//! product app
//! version 1.4.0
//! target aarch64-unknown-linux-musl
//! file app-aarch64-unknown-linux-musl
//! size 4181336
//! sha256 5f0c…(64 hex digits)
//! ```
//!
//! The signature covers the manifest's bytes, and the manifest pins the binary by size and
//! sha256, so one small signature vouches for the whole download. A fixed order and no
//! unknown keys keep "what was signed" and "what was read" the same thing.

use super::signify::hex;
use super::{ReleaseError, Version};

/// A release manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The product the binary is (a release of another product is refused).
    pub product: String,
    /// Its version.
    pub version: Version,
    /// The Rust target triple it was built for.
    pub target: String,
    /// The binary's file name, beside the manifest.
    pub file: String,
    /// The binary's size in bytes.
    pub size: u64,
    /// The binary's sha256.
    pub sha256: [u8; 32],
}

const KEYS: [&str; 6] = ["product", "version", "target", "file", "size", "sha256"];

impl Manifest {
    /// Parses a manifest; refuses anything but the six lines in order.
    pub fn parse(text: &str) -> Result<Manifest, ReleaseError> {
        let bad = |m: String| ReleaseError::Manifest(format!("release manifest: {m}"));
        // Exactly `\n`-terminated lines: what is read is byte for byte what was signed.
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the last line must end with a newline".into()))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() != KEYS.len() {
            return Err(bad(format!(
                "expected {} lines, found {}",
                KEYS.len(),
                lines.len()
            )));
        }
        let mut v = [""; 6];
        for (i, (line, key)) in lines.iter().zip(KEYS).enumerate() {
            match line.split_once(' ') {
                Some((k, val)) if k == key && !val.is_empty() && !val.contains(' ') => v[i] = val,
                _ => return Err(bad(format!("line {} must be '{key} VALUE'", i + 1))),
            }
        }
        let name_ok = |s: &str| {
            s.len() <= 128
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                && !s.starts_with('.')
        };
        for (i, key) in [(0, "product"), (2, "target"), (3, "file")] {
            if !name_ok(v[i]) {
                return Err(bad(format!(
                    "{key} '{}' has characters outside [A-Za-z0-9._-]",
                    v[i]
                )));
            }
        }
        let version = Version::parse(v[1]).map_err(&bad)?;
        let size = v[4]
            .parse::<u64>()
            .ok()
            .filter(|_| v[4] == "0" || !v[4].starts_with('0'))
            .ok_or_else(|| bad(format!("size '{}' is not a number", v[4])))?;
        let sha256 =
            unhex32(v[5]).ok_or_else(|| bad("sha256 is not 64 lower-case hex digits".into()))?;
        Ok(Manifest {
            product: v[0].into(),
            version,
            target: v[2].into(),
            file: v[3].into(),
            size,
            sha256,
        })
    }

    /// The manifest's text, as [`Manifest::parse`] reads it.
    pub fn render(&self) -> String {
        format!(
            "product {}\nversion {}\ntarget {}\nfile {}\nsize {}\nsha256 {}\n",
            self.product,
            self.version,
            self.target,
            self.file,
            self.size,
            hex(&self.sha256)
        )
    }

    /// Refuses a manifest of another product or target.
    pub fn check_for(&self, product: &str, target: &str) -> Result<(), ReleaseError> {
        if self.product != product {
            return Err(ReleaseError::Mismatch(format!(
                "the release is of '{}', not {product}",
                self.product
            )));
        }
        if self.target != target {
            return Err(ReleaseError::Mismatch(format!(
                "the release {} is built for {}, this machine runs {target}",
                self.version, self.target
            )));
        }
        Ok(())
    }
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nib(b[2 * i])? << 4 | nib(b[2 * i + 1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            product: "app".into(),
            version: Version::parse("1.4.0-rc.1").unwrap(),
            target: "aarch64-unknown-linux-musl".into(),
            file: "app-aarch64-unknown-linux-musl".into(),
            size: 4_181_336,
            sha256: [0xab; 32],
        }
    }

    #[test]
    fn renders_and_parses_back() {
        let m = sample();
        assert_eq!(Manifest::parse(&m.render()).unwrap(), m);
        m.check_for("app", "aarch64-unknown-linux-musl").unwrap();
        assert!(m.check_for("other", "aarch64-unknown-linux-musl").is_err());
        let e = m
            .check_for("app", "x86_64-unknown-linux-musl")
            .unwrap_err()
            .to_string();
        assert!(e.contains("built for aarch64-unknown-linux-musl"), "{e}");
    }

    #[test]
    fn refuses_anything_else() {
        let good = sample().render();
        let cases = [
            good.replace("product app\n", ""),
            good.replace("size 4181336", "size 4181336 "),
            good.replace("size 4181336", "size -1"),
            good.replace("file app-", "file ../app-"),
            good.replace("file app-", "file /app-"),
            good.replace("version 1.4.0-rc.1", "version 1.4"),
            good.replace(&"ab".repeat(32), &"AB".repeat(32)),
            good.replace(&"ab".repeat(32), &"ab".repeat(31)),
            format!("{good}extra 1\n"),
            good.replacen("product", "target", 1),
        ];
        for bad in cases {
            assert!(Manifest::parse(&bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = Manifest::parse(&s);
        }

        #[test]
        fn mutated_manifests_never_panic(i in 0usize..200, c in any::<char>()) {
            let mut s: Vec<char> = sample().render().chars().collect();
            let i = i % s.len();
            s[i] = c;
            let text: String = s.into_iter().collect();
            if let Ok(m) = Manifest::parse(&text) {
                prop_assert_eq!(m.render(), text);
            }
        }
    }
}
