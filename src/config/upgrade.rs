//! The upgrade options: where releases come from (`--release-source`), which keys may sign
//! them (`--trust-key`), and an extra TLS root for a private release server
//! (`--release-ca-root`). Stored in fazt.db like any server option, so `fazt upgrade`, the
//! API and the server read the same ones: a release source is configured, never given per
//! request.

use super::opt::{AnyOpt, Opt, Spec};
use super::parse;
use super::sources::Sources;
use crate::upgrade::Settings;

pub static RELEASE_SOURCE: Opt<String> = Opt {
    spec: Spec::value(
        "--release-source",
        "URL|DIR",
        "Where `fazt upgrade` finds signed releases: an https:// base URL\nor a directory (README: Upgrading)",
    ),
    parse: |raw| {
        crate::kernel::release::Source::parse(raw)
            .map(|_| raw.to_string())
            .map_err(|e| e.to_string())
    },
};
pub static TRUST_KEY: Opt<String> = Opt {
    spec: Spec::value(
        "--trust-key",
        "KEY|FILE",
        "A signify public key (its file, or its base64 line) whose signed\nreleases are trusted, besides the keys built in",
    ),
    parse: |raw| crate::upgrade::keys::parse_trusted(raw).map(|_| raw.to_string()),
};
pub static RELEASE_CA_ROOT: Opt<std::path::PathBuf> = Opt {
    spec: Spec::value(
        "--release-ca-root",
        "FILE",
        "Extra PEM root to trust for an https:// release source",
    ),
    parse: parse::path,
};

pub static AUTO_UPGRADE: Opt<crate::upgrade::auto::Window> = Opt {
    spec: Spec::value(
        "--auto-upgrade",
        "HH:MM-HH:MM",
        "Check the release source daily inside this window (UTC) and\nupgrade to a newer release, with the same checks and rollback",
    ),
    parse: crate::upgrade::auto::Window::parse,
};

/// The upgrade options, in help order.
pub static OPTIONS: &[&dyn AnyOpt] =
    &[&RELEASE_SOURCE, &TRUST_KEY, &RELEASE_CA_ROOT, &AUTO_UPGRADE];

/// The upgrade settings given by flag or environment only.
pub fn resolve_pinned(src: &Sources) -> Result<Settings, String> {
    use super::sources::Source;
    // Stored values are not parsed here: a bad one must not stop the server from starting.
    fn pinned<T>(src: &Sources, opt: &Opt<T>) -> Result<Option<T>, String> {
        match src.source(&opt.spec) {
            Source::Flag | Source::Env(_) => src.given(opt),
            Source::Stored | Source::Default => Ok(None),
        }
    }
    Ok(Settings {
        source: pinned(src, &RELEASE_SOURCE)?,
        trust_key: pinned(src, &TRUST_KEY)?,
        ca_root: pinned(src, &RELEASE_CA_ROOT)?,
    })
}

/// `pinned` (flags, environment) over the settings stored in `db` now.
pub fn current(pinned: &Settings, db: &crate::kernel::db::Db) -> Result<Settings, String> {
    let stored = resolve(&Sources::default().load_stored(db)?)?;
    Ok(Settings {
        source: pinned.source.clone().or(stored.source),
        trust_key: pinned.trust_key.clone().or(stored.trust_key),
        ca_root: pinned.ca_root.clone().or(stored.ca_root),
    })
}

/// The upgrade settings the options describe.
pub fn resolve(src: &Sources) -> Result<Settings, String> {
    Ok(Settings {
        source: src.given(&RELEASE_SOURCE)?,
        trust_key: src.given(&TRUST_KEY)?,
        ca_root: src.given(&RELEASE_CA_ROOT)?,
    })
}
