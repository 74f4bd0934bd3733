//! Deploy: turning an uploaded ZIP into a site, atomically. The archive is parsed and every
//! entry's name validated before anything is written; then, on the database writer thread
//! (an OS thread with room for deflate's stack), the site's files are replaced in ONE
//! transaction, inflating one entry at a time, so memory stays near the upload plus one entry
//! and readers see the old site until the commit and the new one after it.
//!
//! Not every entry becomes a file: junk that tools add (`__MACOSX/`, `.DS_Store`) and every
//! dot-file — any path with a segment starting with `.`, such as `.env`, `.git/config`,
//! `.htpasswd` or `sub/.secret` — are skipped, as they hold secrets and tool state, not
//! content. The one exception is `.well-known/` at the site's root (RFC 8615:
//! `security.txt`, app links), which is kept, though dot-segments inside it are still skipped.
//! A single top-level folder is unwrapped first, so `dist/.well-known/x` is kept too.

pub mod history;
pub mod manifest;
pub mod rollback;

use std::sync::Arc;

use crate::database::{FILES, VERSIONS};
use crate::hosting::{rules, Sites};
use crate::kernel::db::Db;
use crate::kernel::vfs::versions::{self, Switch, SwitchError};
use crate::kernel::vfs::{self, PreparedFile};
use crate::kernel::zip::{ZipArchive, ZipError, ZipLimits};

#[derive(Clone, Debug)]
pub struct DeployLimits {
    /// Largest upload accepted (bytes). Over it: 413.
    pub max_upload: u64,
    /// Uploads received and deployed at once; one more is refused with 503 before its body
    /// is read, so memory is bounded by this many uploads whatever clients send.
    pub max_concurrent: usize,
    pub zip: ZipLimits,
    /// Deployments of a site kept restorable (the newest ones, and the live one).
    pub keep_deployments: usize,
}

impl Default for DeployLimits {
    fn default() -> Self {
        DeployLimits {
            max_upload: 100 * 1024 * 1024,
            max_concurrent: 2,
            zip: ZipLimits::default(),
            keep_deployments: 10,
        }
    }
}

#[derive(Debug)]
pub struct Deployed {
    pub deployment_id: i64,
    pub file_count: u64,
    pub size_bytes: u64,
}

#[derive(Debug)]
pub enum DeployError {
    /// The upload was refused; nothing changed.
    Refused {
        status: u16,
        code: &'static str,
        message: String,
    },
    /// An incremental deploy lacks these paths' contents (send them); nothing changed.
    Missing(Vec<String>),
    Internal(String),
}

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> DeployError {
    DeployError::Refused {
        status,
        code,
        message: message.into(),
    }
}

impl From<ZipError> for DeployError {
    fn from(e: ZipError) -> Self {
        if e.is_limit() {
            refused(413, "ZIP_LIMIT", e.to_string())
        } else {
            refused(400, "INVALID_ZIP", e.to_string())
        }
    }
}

/// Entries that tools add and nobody means to publish.
pub(crate) fn skipped(name: &str) -> bool {
    name.starts_with("__MACOSX/") || name.rsplit('/').next() == Some(".DS_Store")
}

/// A site path that must not be published: a segment starts with `.`, other than a leading
/// `.well-known`.
pub fn hidden(path: &str) -> bool {
    let rest = path.strip_prefix(".well-known/").unwrap_or(path);
    rest.split('/').any(|segment| segment.starts_with('.'))
}

/// Which entries become which stored paths: skips junk and dot-files (see the module doc),
/// and unwraps a single top-level folder (`dist/index.html` → `index.html`) as many tools
/// zip that way.
pub fn plan(archive: &ZipArchive<'_>) -> Vec<(usize, String)> {
    let files: Vec<(usize, &str)> = archive
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.is_dir)
        .map(|(i, e)| (i, e.name.as_str()))
        .collect();
    published(&files)
}

/// The paths that (index, file name) pairs are published at, by the rules of [`plan`]. Whether
/// to unwrap is decided on the names that are published either way; a top-level folder whose
/// own name starts with `.` is never unwrapped. The deploy client applies the same rules to
/// its manifest, so both ways of deploying a folder publish the same paths.
pub fn published<T: Copy>(files: &[(T, &str)]) -> Vec<(T, String)> {
    let files: Vec<(T, &str)> = files.iter().copied().filter(|(_, n)| !skipped(n)).collect();
    let mut visible = files.iter().filter(|(_, n)| !hidden(n));
    let top = visible
        .clone()
        .next()
        .and_then(|(_, n)| n.split_once('/'))
        .map(|(t, _)| t)
        .filter(|t| !t.starts_with('.'));
    let unwrap = match top {
        Some(t) => visible.all(|(_, n)| n.split_once('/').is_some_and(|(x, _)| x == t)),
        None => false,
    };
    files
        .into_iter()
        .filter_map(|(i, n)| {
            let path = match (unwrap, top) {
                (true, Some(t)) => n.strip_prefix(t)?.strip_prefix('/')?,
                _ => n,
            };
            (!hidden(path)).then(|| (i, path.to_string()))
        })
        .collect()
}

/// A `_redirects` or `_headers` that would not work refuses the deploy, naming the line.
fn check_rules(path: &str, data: &[u8]) -> Result<(), DeployError> {
    let bad = |m: String| refused(400, "INVALID_RULES", m);
    let text = std::str::from_utf8(data).map_err(|_| bad(format!("{path}: not UTF-8 text")))?;
    let parsed = if path == rules::REDIRECTS {
        rules::parse_redirects(text).map(|_| ())
    } else {
        rules::parse_headers(text).map(|_| ())
    };
    parsed.map_err(|e| bad(e.to_string()))
}

/// Who deploys what, beside the upload.
#[derive(Clone, Debug, Default)]
pub struct DeployMeta {
    /// The site.
    pub site: String,
    /// The token's name.
    pub actor: String,
    /// The client's address.
    pub from: String,
    /// What the deployer says of it (may be empty).
    pub message: String,
    /// A new SPA flag, when given.
    pub spa: Option<bool>,
}

/// Replaces `meta.site`'s files with the ZIP's content, as a new deployment. With
/// `incremental`, the ZIP carries a [`manifest`] of the whole site and only the contents the
/// server lacks ([`DeployError::Missing`] says which, and nothing changes). On any error
/// nothing changes.
pub fn deploy(
    db: &Arc<Db>,
    zip: Vec<u8>,
    limits: &DeployLimits,
    meta: DeployMeta,
    incremental: bool,
) -> Result<Deployed, DeployError> {
    if zip.len() as u64 > limits.max_upload {
        return Err(refused(
            413,
            "UPLOAD_TOO_LARGE",
            format!("upload is larger than the {} byte cap", limits.max_upload),
        ));
    }
    let (zl, keep) = (limits.zip, limits.keep_deployments);
    db.write_job(move |conn| -> Result<Deployed, DeployError> {
        let archive = ZipArchive::parse(&zip, &zl)?;
        let site = meta.site.as_str();
        let internal = |e: rusqlite::Error| DeployError::Internal(format!("deploy of {site}: {e}"));
        let tx = conn.transaction().map_err(internal)?;
        rollback::adopt_live(&tx, site).map_err(internal)?;
        let mut sw = Switch::begin(&tx, VERSIONS, site).map_err(internal)?;
        let mut inflated = 0u64;
        if incremental {
            upload_manifest(&tx, &archive, &zl, &mut sw, &mut inflated)?;
        } else {
            let plan = plan(&archive);
            if plan.is_empty() {
                return Err(refused(400, "EMPTY_SITE", "the ZIP contains no files"));
            }
            for (index, path) in &plan {
                // An error here (CRC, zip bomb, cap) drops `tx`: a rollback, the old site stays.
                let data = archive.read(*index, &mut inflated)?;
                if path == rules::REDIRECTS || path == rules::HEADERS {
                    check_rules(path, &data)?;
                }
                let hash = vfs::content_hash(&data);
                if !sw.keep(path, &hash, data.len() as u64) {
                    sw.put(&PreparedFile::hashed(path, data, hash))
                        .map_err(internal)?;
                }
            }
        }
        let entries = sw.finish().map_err(internal)?;
        let size_bytes = entries.iter().map(|e| e.size).sum();
        let file_count = entries.len() as u64;
        Sites::register(&tx, site, false).map_err(internal)?;
        if let Some(spa) = meta.spa {
            Sites::set_spa(&tx, site, spa).map_err(internal)?;
        }
        let deployment_id = history::record(
            &tx,
            site,
            size_bytes,
            file_count,
            &meta.actor,
            &meta.from,
            &meta.message,
        )
        .map_err(internal)?;
        versions::record(&tx, VERSIONS, deployment_id, &entries).map_err(internal)?;
        Sites::set_deployment(&tx, site, deployment_id).map_err(internal)?;
        rollback::prune(&tx, site, keep).map_err(internal)?;
        tx.commit().map_err(internal)?;
        Ok(Deployed {
            deployment_id,
            file_count,
            size_bytes,
        })
    })
    .map_err(|e| DeployError::Internal(e.to_string()))?
}

/// The site's files from a manifest: each uploaded entry checked against it, everything
/// else from what is stored; the rules files checked whatever their source.
fn upload_manifest(
    tx: &rusqlite::Connection,
    archive: &ZipArchive<'_>,
    zl: &ZipLimits,
    sw: &mut Switch<'_>,
    inflated: &mut u64,
) -> Result<(), DeployError> {
    let internal = |e: rusqlite::Error| DeployError::Internal(format!("deploy: {e}"));
    let bad = |m: String| refused(400, "INVALID_MANIFEST", m);
    let find = |name: &str| archive.entries().iter().position(|e| e.name == name);
    let Some(mi) = find(manifest::ENTRY) else {
        return Err(bad(format!("the ZIP has no {} entry", manifest::ENTRY)));
    };
    let text = archive.read(mi, inflated)?;
    let text = std::str::from_utf8(&text).map_err(|_| bad("the manifest is not UTF-8".into()))?;
    let entries = manifest::parse(text, zl).map_err(bad)?;
    if entries.is_empty() {
        return Err(refused(400, "EMPTY_SITE", "the manifest lists no files"));
    }
    let listed: std::collections::HashMap<&str, &versions::Entry> =
        entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut uploaded = std::collections::HashSet::new();
    for (i, e) in archive.entries().iter().enumerate() {
        if i == mi || e.is_dir {
            continue;
        }
        let Some(want) = listed.get(e.name.as_str()) else {
            return Err(bad(format!(
                "{} is uploaded but not in the manifest",
                e.name
            )));
        };
        let data = archive.read(i, inflated)?;
        let file = PreparedFile::new(&e.name, data);
        if file.hash != want.hash || file.content.len() as u64 != want.size {
            return Err(bad(format!(
                "{}: the uploaded content does not match its manifest line",
                e.name
            )));
        }
        sw.put(&file).map_err(internal)?;
        uploaded.insert(e.name.as_str());
    }
    let stored: Vec<&versions::Entry> = entries
        .iter()
        .filter(|e| !uploaded.contains(e.path.as_str()))
        .collect();
    let lacking = versions::missing(tx, VERSIONS, stored.iter().map(|e| e.hash.as_str()))
        .map_err(internal)?;
    if !lacking.is_empty() {
        let paths = stored
            .iter()
            .filter(|e| lacking.contains(&e.hash))
            .map(|e| e.path.clone())
            .collect();
        return Err(DeployError::Missing(paths));
    }
    for e in stored {
        sw.put_stored(e).map_err(|e| match e {
            SwitchError::Missing(path, _) => DeployError::Missing(vec![path]),
            SwitchError::Db(e) => internal(e),
        })?;
    }
    for path in [rules::REDIRECTS, rules::HEADERS] {
        if listed.contains_key(path) {
            let data = vfs::read_small(tx, FILES, sw.site(), path, rules::MAX_FILE)
                .map_err(internal)?
                .ok_or_else(|| {
                    let m = format!("{path}: larger than {} bytes", rules::MAX_FILE);
                    refused(400, "INVALID_RULES", m)
                })?;
            check_rules(path, &data)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::zip::ZipWriter;

    fn planned(names: &[&str]) -> Vec<String> {
        let mut w = ZipWriter::new(Vec::new());
        for n in names {
            w.add_file(n, b"x", false).unwrap();
        }
        let data = w.finish().unwrap();
        let archive = ZipArchive::parse(&data, &ZipLimits::default()).unwrap();
        plan(&archive).into_iter().map(|(_, p)| p).collect()
    }

    #[test]
    fn plan_skips_dot_files_but_keeps_well_known() {
        assert_eq!(
            planned(&[
                ".env",
                ".git/config",
                ".htpasswd",
                "sub/.secret",
                "a/.b/c.txt",
                ".well-known/security.txt",
                ".well-known/.hidden",
                "sub/.well-known/x",
                "index.html",
                "sub/x.y",
                "__MACOSX/._index.html",
                ".DS_Store",
            ]),
            [".well-known/security.txt", "index.html", "sub/x.y"]
        );
        // Unwrapping a single top-level folder, decided on what is published.
        assert_eq!(
            planned(&[".env", "dist/.env", "dist/.well-known/a", "dist/index.html"]),
            [".well-known/a", "index.html"]
        );
        // A dot-folder alone is not unwrapped into the site's root.
        assert_eq!(
            planned(&[".well-known/a", ".well-known/b"]),
            [".well-known/a", ".well-known/b"]
        );
        assert!(planned(&[".env", ".git/HEAD"]).is_empty());
    }
}
