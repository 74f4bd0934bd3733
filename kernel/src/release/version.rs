//! [`Version`]: `MAJOR.MINOR.PATCH` with an optional `-PRERELEASE`, ordered as semantic
//! versioning orders them (a pre-release sorts before its release; numeric identifiers
//! compare as numbers and before alphanumeric ones). Build metadata (`+…`) is refused: two
//! releases that differ only there could not be told apart by the downgrade check.

use std::cmp::Ordering;
use std::fmt;

/// A release version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch.
    pub core: [u64; 3],
    /// The pre-release identifiers (`rc.1` → `["rc", "1"]`); empty for a release.
    pub pre: Vec<String>,
}

impl Version {
    /// Parses `1.2.3` or `1.2.3-rc.1`; no leading `v`, no spaces.
    pub fn parse(s: &str) -> Result<Version, String> {
        let bad = || format!("'{s}' is not a version (MAJOR.MINOR.PATCH[-PRE])");
        if s.len() > 64 {
            return Err(bad());
        }
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut nums = [0u64; 3];
        let mut parts = core.split('.');
        for n in nums.iter_mut() {
            *n = number(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => {
                let ids: Vec<String> = p.split('.').map(str::to_string).collect();
                let ok = |id: &String| {
                    !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && (!id.bytes().all(|b| b.is_ascii_digit()) || number(id).is_some())
                };
                if !ids.iter().all(ok) {
                    return Err(bad());
                }
                ids
            }
        };
        Ok(Version { core: nums, pre })
    }
}

/// A numeric identifier: digits, no leading zero (except `0` itself), fits in a u64.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.core;
        write!(f, "{a}.{b}.{c}")?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        Ok(())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (number(a), number(b)) {
                            (Some(x), Some(y)) => x.cmp(&y),
                            (Some(_), None) => Ordering::Less,
                            (None, Some(_)) => Ordering::Greater,
                            (None, None) => a.cmp(b),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::Version;
    use proptest::prelude::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn orders_as_semver_does() {
        // The example chain of the semantic versioning specification, in order.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
            "10.0.0",
        ];
        for w in chain.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("0.1.0"), v("0.1.0"));
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "v1.2.3",
            "01.2.3",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3+meta",
            "1.2.3-01",
            " 1.2.3",
            "1.2.x",
            "99999999999999999999.0.0",
            "1.2.3-a_b",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn display_round_trips(a in 0u64..1000, b in 0u64..1000, c in 0u64..1000,
                               pre in proptest::option::of("[a-z][a-z0-9-]{0,5}(\\.(0|[1-9][0-9]{0,3}))?")) {
            let s = match &pre { Some(p) => format!("{a}.{b}.{c}-{p}"), None => format!("{a}.{b}.{c}") };
            let parsed = Version::parse(&s).unwrap();
            prop_assert_eq!(parsed.to_string(), s);
            // A pre-release always sorts before its release.
            let release = Version::parse(&format!("{a}.{b}.{c}")).unwrap();
            prop_assert!(pre.is_none() || parsed < release);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Version::parse(&s);
        }
    }
}
