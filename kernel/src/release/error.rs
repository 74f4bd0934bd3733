//! [`ReleaseError`]: why a release was refused. Each message is one line a user can act on;
//! nothing has been installed when one is returned.

use std::fmt;

/// Why a release, a key or a release directory could not be used.
#[derive(Debug)]
pub enum ReleaseError {
    /// A public key or signature file is not in signify's format.
    Format(String),
    /// The signature was made by a key that is not trusted here (its key number in hex).
    UntrustedKey(String),
    /// The signature does not verify: the manifest was changed, or signed by another key.
    BadSignature,
    /// The manifest is malformed.
    Manifest(String),
    /// The manifest is for another product or target, or names another version than asked.
    Mismatch(String),
    /// The binary's size or sha256 differs from the signed manifest: it was changed.
    Tampered(String),
    /// The release source could not be read (missing file, network, HTTP status).
    Source(String),
    /// Reading or writing the release directory failed.
    Io(String, std::io::Error),
}

impl ReleaseError {
    pub(crate) fn io(what: impl Into<String>, e: std::io::Error) -> ReleaseError {
        ReleaseError::Io(what.into(), e)
    }
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReleaseError::Format(m)
            | ReleaseError::Manifest(m)
            | ReleaseError::Mismatch(m)
            | ReleaseError::Tampered(m)
            | ReleaseError::Source(m) => f.write_str(m),
            ReleaseError::UntrustedKey(k) => write!(
                f,
                "the release is signed by key {k}, which is not trusted here (see --trust-key)"
            ),
            ReleaseError::BadSignature => f.write_str(
                "the release manifest's signature does not verify: it was changed after signing",
            ),
            ReleaseError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for ReleaseError {}
