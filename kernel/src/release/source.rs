//! Where releases come from: a base URL (`https://…`, fetched with the kernel's HTTP client
//! through the caller's TLS) or a local directory, both laid out the same way:
//!
//! ```text
//! BASE/latest                                   the newest version, one line
//! BASE/<version>/<product>-<target>.manifest    the signed manifest
//! BASE/<version>/<product>-<target>.manifest.sig
//! BASE/<version>/<file named by the manifest>   the binary
//! ```
//!
//! `latest` is only a pointer: what is trusted is the signed manifest, whose version must be
//! the one asked for, so a source cannot pass off an old signed release as the newest one
//! without the caller's downgrade check seeing it.

use std::path::PathBuf;
use std::time::Duration;

use super::ReleaseError;
use crate::http_client::{self as httpc, Outgoing, TlsWrap, Url};

/// A release source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `http://` or `https://` base URL (without a trailing slash).
    Url(String),
    /// A directory.
    Dir(PathBuf),
}

/// Largest manifest, signature or `latest` file read.
const SMALL: usize = 4096;

impl Source {
    /// A URL when it starts with `http://` or `https://`, else a directory path.
    pub fn parse(s: &str) -> Result<Source, ReleaseError> {
        if s.is_empty() {
            return Err(ReleaseError::Source("the release source is empty".into()));
        }
        if s.starts_with("https://") || s.starts_with("http://") {
            let (_, path) = Url::split(s).map_err(|e| ReleaseError::Source(e.to_string()))?;
            if path.contains('?') {
                return Err(ReleaseError::Source(
                    "the release source URL must not have a query".into(),
                ));
            }
            Ok(Source::Url(s.trim_end_matches('/').to_string()))
        } else if s.contains("://") {
            Err(ReleaseError::Source(format!(
                "release source '{s}': only http://, https:// or a directory"
            )))
        } else {
            Ok(Source::Dir(PathBuf::from(s)))
        }
    }

    /// Reads `rel` (a `/`-separated path made of names a manifest allows) from the source,
    /// at most `max` bytes. `wrap` makes the TLS session for `https://`.
    pub fn get(
        &self,
        rel: &str,
        max: usize,
        wrap: TlsWrap<'_>,
        user_agent: &'static str,
    ) -> Result<Vec<u8>, ReleaseError> {
        match self {
            Source::Dir(d) => {
                let p = d.join(rel);
                let f = std::fs::File::open(&p)
                    .map_err(|e| ReleaseError::Source(format!("{}: {e}", p.display())))?;
                let mut out = Vec::new();
                use std::io::Read;
                f.take(max as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| ReleaseError::Source(format!("{}: {e}", p.display())))?;
                if out.len() > max {
                    return Err(ReleaseError::Source(format!(
                        "{}: larger than {max} bytes",
                        p.display()
                    )));
                }
                Ok(out)
            }
            Source::Url(base) => {
                let full = format!("{base}/{rel}");
                let (url, target) =
                    Url::split(&full).map_err(|e| ReleaseError::Source(e.to_string()))?;
                let opts = httpc::Options {
                    connect_timeout: Duration::from_secs(15),
                    read_timeout: Duration::from_secs(60),
                    write_timeout: Duration::from_secs(15),
                    max_response: max + 16 * 1024,
                    user_agent,
                };
                let req = Outgoing {
                    method: "GET",
                    target: &target,
                    headers: &[],
                    body: &[],
                };
                let resp = httpc::request(&url, &req, &opts, wrap, &mut |_, _| {})
                    .map_err(|e| ReleaseError::Source(format!("{full}: {e}")))?;
                if resp.status != 200 {
                    return Err(ReleaseError::Source(format!(
                        "{full}: HTTP {}",
                        resp.status
                    )));
                }
                if resp.body.len() > max {
                    return Err(ReleaseError::Source(format!(
                        "{full}: larger than {max} bytes"
                    )));
                }
                Ok(resp.body)
            }
        }
    }

    /// The version `latest` names.
    pub fn latest(
        &self,
        wrap: TlsWrap<'_>,
        user_agent: &'static str,
    ) -> Result<super::Version, ReleaseError> {
        let raw = self.get("latest", SMALL, wrap, user_agent)?;
        let text = String::from_utf8_lossy(&raw);
        super::Version::parse(text.trim())
            .map_err(|e| ReleaseError::Source(format!("{self}: latest: {e}")))
    }

    /// Fetches and verifies the release `version` of `product` for `target`: the manifest's
    /// signature against `keys`, its product, target and version, then the binary against the
    /// manifest's size and sha256. `max` caps the binary.
    #[allow(clippy::too_many_arguments)]
    pub fn fetch(
        &self,
        product: &str,
        target: &str,
        version: &super::Version,
        keys: &[super::PublicKey],
        max: u64,
        wrap: TlsWrap<'_>,
        user_agent: &'static str,
    ) -> Result<super::Verified, ReleaseError> {
        let name = format!("{version}/{product}-{target}.manifest");
        let manifest = self.get(&name, SMALL, wrap, user_agent)?;
        let sig = self.get(&format!("{name}.sig"), SMALL, wrap, user_agent)?;
        let head = super::Verified::check_manifest(&manifest, &sig, keys, product, target)?;
        if &head.version != version {
            return Err(ReleaseError::Mismatch(format!(
                "{name} is signed for version {}, not {version}",
                head.version
            )));
        }
        if head.size > max {
            return Err(ReleaseError::Mismatch(format!(
                "the release binary is {} bytes, more than the {max} accepted",
                head.size
            )));
        }
        let binary = self.get(
            &format!("{version}/{}", head.file),
            head.size as usize,
            wrap,
            user_agent,
        )?;
        super::Verified::new(head, manifest, sig, binary)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Url(u) => f.write_str(u),
            Source::Dir(d) => write!(f, "{}", d.display()),
        }
    }
}
