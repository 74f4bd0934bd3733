//! Signed releases and the directory they are installed into: the upgrade half of the
//! lifecycle.
//!
//! A release is a static binary, a [`Manifest`] naming its product, version, target, size
//! and sha256, and a signify (Ed25519) signature over the manifest. [`Verified`] is the only
//! way to hold a release's bytes: constructing one checks the signature against the
//! caller's trusted keys, the product and target, then the binary's size and digest.
//! [`Source`] fetches releases from a base URL or a directory; [`Releases`] keeps them by
//! version beside the database, switches `current` and `previous` atomically and records a
//! [`Trial`] until the new release reports ready, so a release that cannot start is rolled
//! back. The product decides when to restart; [`launch`] is what every start consults.

mod error;
mod manifest;
mod signify;
mod slots;
mod source;
mod version;

pub use error::ReleaseError;
pub use manifest::Manifest;
pub use signify::{verify, PublicKey, Signature};
pub use slots::{make_executable, Installed, Lock, Releases, RolledBack, Trial};
pub use source::Source;
pub use version::Version;

use sha2::{Digest, Sha256};

/// A release whose manifest signature, product, target, size and sha256 were checked.
#[derive(Debug)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// Its exact text (what was signed).
    pub manifest_text: String,
    /// The signature file.
    pub signature: String,
    /// The binary.
    pub binary: Vec<u8>,
}

impl Verified {
    /// Checks a manifest's signature with `keys` and that it is of `product` for `target`.
    pub fn check_manifest(
        manifest: &[u8],
        sig: &[u8],
        keys: &[PublicKey],
        product: &str,
        target: &str,
    ) -> Result<Manifest, ReleaseError> {
        if keys.is_empty() {
            return Err(ReleaseError::UntrustedKey(
                "(none: no release key is configured)".into(),
            ));
        }
        let sig_text = std::str::from_utf8(sig)
            .map_err(|_| ReleaseError::Format("the signature file is not text".into()))?;
        let sig = Signature::parse(sig_text)?;
        verify(manifest, &sig, keys)?;
        let text = std::str::from_utf8(manifest)
            .map_err(|_| ReleaseError::Manifest("the release manifest is not text".into()))?;
        let m = Manifest::parse(text)?;
        m.check_for(product, target)?;
        Ok(m)
    }

    /// Pairs a checked manifest with its binary, checking size and sha256.
    pub fn new(
        manifest: Manifest,
        manifest_text: Vec<u8>,
        signature: Vec<u8>,
        binary: Vec<u8>,
    ) -> Result<Verified, ReleaseError> {
        if binary.len() as u64 != manifest.size {
            return Err(ReleaseError::Tampered(format!(
                "the binary is {} bytes, the signed manifest says {}: it was changed",
                binary.len(),
                manifest.size
            )));
        }
        if Sha256::digest(&binary).as_slice() != manifest.sha256 {
            return Err(ReleaseError::Tampered(
                "the binary's sha256 differs from the signed manifest: it was changed".into(),
            ));
        }
        Ok(Verified {
            manifest,
            // Both were checked as UTF-8 text by `check_manifest`.
            manifest_text: String::from_utf8_lossy(&manifest_text).into_owned(),
            signature: String::from_utf8_lossy(&signature).into_owned(),
            binary,
        })
    }

    /// Reads a release from disk: `binary`, with `binary.manifest` and
    /// `binary.manifest.sig` beside it (as a release directory or `cross/release.sh` has
    /// them).
    pub fn from_files(
        binary: &std::path::Path,
        keys: &[PublicKey],
        product: &str,
        target: &str,
        max: u64,
    ) -> Result<Verified, ReleaseError> {
        let read = |p: std::path::PathBuf, cap: u64| -> Result<Vec<u8>, ReleaseError> {
            use std::io::Read;
            let mut out = Vec::new();
            std::fs::File::open(&p)
                .and_then(|f| f.take(cap + 1).read_to_end(&mut out))
                .map_err(|e| ReleaseError::Source(format!("{}: {e}", p.display())))?;
            if out.len() as u64 > cap {
                return Err(ReleaseError::Source(format!(
                    "{}: larger than {cap} bytes",
                    p.display()
                )));
            }
            Ok(out)
        };
        let with = |ext: &str| {
            let mut s = binary.as_os_str().to_os_string();
            s.push(ext);
            std::path::PathBuf::from(s)
        };
        let manifest = read(with(".manifest"), 4096)?;
        let sig = read(with(".manifest.sig"), 4096)?;
        let m = Self::check_manifest(&manifest, &sig, keys, product, target)?;
        let bin = read(binary.to_path_buf(), max)?;
        Self::new(m, manifest, sig, bin)
    }
}

/// What a starting process should do about the release directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Run on: no release is newer than this binary.
    Stay,
    /// Execute this release's binary instead (with the same arguments).
    Exec(Installed),
}

/// Decides what a start runs, given the running binary's `own` version: a trial that
/// already started once and never reported ready is rolled back first (`rolled` says to
/// what, for the log); a pending trial is marked started. Then `current` runs when it is
/// newer than `own`.
pub fn launch(
    releases: &Releases,
    own: &Version,
) -> Result<(Launch, Option<(String, RolledBack)>), ReleaseError> {
    if !releases.dir().is_dir() {
        return Ok((Launch::Stay, None));
    }
    let lock = releases.lock()?;
    let mut rolled = None;
    match releases.trial() {
        Some(Trial::Started(v)) => rolled = Some((v, releases.rollback(&lock)?)),
        Some(Trial::Pending(v)) => releases.set_trial(&Trial::Started(v))?,
        None => {}
    }
    Ok(match releases.current() {
        Some(cur) if &cur.manifest.version > own => (Launch::Exec(cur), rolled),
        _ => (Launch::Stay, rolled),
    })
}

#[cfg(test)]
mod tests {
    use super::signify::tests::Signer;
    use super::*;
    use crate::testdir::TempDir;

    fn release(signer: &Signer, v: &str, target: &str, body: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let m = Manifest {
            product: "app".into(),
            version: Version::parse(v).unwrap(),
            target: target.into(),
            file: format!("app-{target}"),
            size: body.len() as u64,
            sha256: Sha256::digest(body).into(),
        };
        let text = m.render();
        let sig = signer.sign(text.as_bytes());
        (text.into_bytes(), sig.into_bytes())
    }

    #[test]
    fn verified_checks_signature_target_size_and_digest() {
        let s = Signer::new(*b"k1k1k1k1");
        let keys = [PublicKey::parse(&s.public()).unwrap()];
        let (m, sig) = release(&s, "1.0.0", "t", b"binary");
        let head = Verified::check_manifest(&m, &sig, &keys, "app", "t").unwrap();
        Verified::new(head.clone(), m.clone(), sig.clone(), b"binary".to_vec()).unwrap();
        let e = Verified::new(head.clone(), m.clone(), sig.clone(), b"binarY".to_vec());
        assert!(matches!(e, Err(ReleaseError::Tampered(_))));
        let e = Verified::new(head, m.clone(), sig.clone(), b"binary!".to_vec());
        assert!(matches!(e, Err(ReleaseError::Tampered(_))));
        let e = Verified::check_manifest(&m, &sig, &keys, "app", "other").unwrap_err();
        assert!(matches!(e, ReleaseError::Mismatch(_)), "{e}");
        let e = Verified::check_manifest(&m, &sig, &[], "app", "t").unwrap_err();
        assert!(matches!(e, ReleaseError::UntrustedKey(_)), "{e}");
        let mut changed = m.clone();
        changed[0] ^= 1;
        let e = Verified::check_manifest(&changed, &sig, &keys, "app", "t").unwrap_err();
        assert!(matches!(e, ReleaseError::BadSignature), "{e}");
    }

    #[test]
    fn a_directory_source_serves_verified_releases() {
        let t = TempDir::new("release-source");
        let s = Signer::new(*b"k1k1k1k1");
        let keys = [PublicKey::parse(&s.public()).unwrap()];
        std::fs::create_dir(t.join("1.1.0")).unwrap();
        std::fs::write(t.join("latest"), "1.1.0\n").unwrap();
        let (m, sig) = release(&s, "1.1.0", "t", b"new binary");
        std::fs::write(t.join("1.1.0/app-t.manifest"), &m).unwrap();
        std::fs::write(t.join("1.1.0/app-t.manifest.sig"), &sig).unwrap();
        std::fs::write(t.join("1.1.0/app-t"), b"new binary").unwrap();
        let src = Source::parse(t.path().to_str().unwrap()).unwrap();
        let no_tls: httpc_wrap::Wrap = &|_, _| unreachable!();
        let v = src.latest(no_tls, "").unwrap();
        assert_eq!(v.to_string(), "1.1.0");
        let got = src
            .fetch("app", "t", &v, &keys, 1 << 20, no_tls, "")
            .unwrap();
        assert_eq!(got.binary, b"new binary");
        let fetch = |v: &str, max: u64| {
            src.fetch(
                "app",
                "t",
                &Version::parse(v).unwrap(),
                &keys,
                max,
                no_tls,
                "",
            )
        };
        // The manifest's size is checked against the cap before the binary is read.
        let e = fetch("1.1.0", 4).unwrap_err();
        assert!(e.to_string().contains("more than the 4 accepted"), "{e}");
        std::fs::create_dir(t.join("1.2.0")).unwrap();
        for f in ["app-t.manifest", "app-t.manifest.sig", "app-t"] {
            std::fs::copy(t.join("1.1.0").join(f), t.join("1.2.0").join(f)).unwrap();
        }
        // A manifest signed for another version than the path claims is refused.
        let e = fetch("1.2.0", 1 << 20).unwrap_err();
        assert!(e.to_string().contains("signed for version 1.1.0"), "{e}");
        // Tampered binary.
        std::fs::write(t.join("1.1.0/app-t"), b"new binarY").unwrap();
        let e = src
            .fetch("app", "t", &v, &keys, 1 << 20, no_tls, "")
            .unwrap_err();
        assert!(matches!(e, ReleaseError::Tampered(_)), "{e}");
        assert!(Source::parse("ftp://x").is_err());
        assert!(Source::parse("").is_err());
    }

    mod httpc_wrap {
        pub type Wrap<'a> = crate::http_client::TlsWrap<'a>;
    }

    #[test]
    fn launch_runs_newer_releases_and_rolls_back_failed_trials() {
        let t = TempDir::new("release-launch");
        let r = Releases::beside(&t.join("app.db"));
        let own = Version::parse("1.0.0").unwrap();
        assert_eq!(launch(&r, &own).unwrap(), (Launch::Stay, None));
        let s = Signer::new(*b"k1k1k1k1");
        let (m, sig) = release(&s, "1.1.0", "t", b"bin");
        let keys = [PublicKey::parse(&s.public()).unwrap()];
        let head = Verified::check_manifest(&m, &sig, &keys, "app", "t").unwrap();
        let v = Verified::new(head, m, sig, b"bin".to_vec()).unwrap();
        let l = r.lock().unwrap();
        r.keep(&l, &v.binary, &v.manifest, &v.manifest_text, &v.signature)
            .unwrap();
        r.activate(&l, &v.manifest.version).unwrap();
        drop(l);
        // First start after the install: the trial starts, the release runs.
        let (what, rolled) = launch(&r, &own).unwrap();
        assert!(matches!(what, Launch::Exec(ref i) if i.manifest.version.to_string() == "1.1.0"));
        assert_eq!(rolled, None);
        assert_eq!(r.trial(), Some(Trial::Started("1.1.0".into())));
        // It never reported ready: the next start rolls back to the installed binary.
        let (what, rolled) = launch(&r, &own).unwrap();
        assert_eq!(what, Launch::Stay);
        assert_eq!(rolled, Some(("1.1.0".into(), RolledBack::ToInstalled)));
        // A binary as new as the release stays itself.
        let l = r.lock().unwrap();
        r.keep(&l, &v.binary, &v.manifest, &v.manifest_text, &v.signature)
            .unwrap();
        r.activate(&l, &v.manifest.version).unwrap();
        r.clear_trial().unwrap();
        drop(l);
        assert_eq!(
            launch(&r, &Version::parse("1.1.0").unwrap()).unwrap().0,
            Launch::Stay
        );
    }
}
