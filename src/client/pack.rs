//! Packing a folder for deploy: walk it (sorted, no symlinks followed), skip dot-files
//! (but not a top-level `.well-known/`),
//! `node_modules` and what the folder's own `.gitignore` names (unless told to include
//! everything), and zip the rest in memory; or, for an incremental deploy, hash it into a
//! manifest and zip only the files the server asks for.

use std::path::Path;

use crate::deploy::{manifest, published};
use crate::kernel::vfs::content_hash;
use crate::kernel::vfs::versions::Entry;
use crate::kernel::zip::ZipWriter;

/// A `.gitignore` subset: `name`, `dir/`, `/anchored`, `*.ext`, `prefix*`, `a/*/b`; `!` lines
/// (negations) and `**` are not supported and are ignored.
#[derive(Default)]
pub struct Ignore {
    patterns: Vec<(String, bool, bool)>, // (glob, anchored, dir_only)
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with('!') || l.contains("**") {
                continue;
            }
            let dir_only = l.ends_with('/');
            let l = l.trim_end_matches('/');
            let anchored = l.starts_with('/') || l.contains('/');
            patterns.push((l.trim_start_matches('/').to_string(), anchored, dir_only));
        }
        Ignore { patterns }
    }

    /// Whether `rel` (a `/`-separated path relative to the folder) is ignored.
    pub fn ignored(&self, rel: &str, is_dir: bool) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.patterns.iter().any(|(pat, anchored, dir_only)| {
            if *dir_only && !is_dir {
                return false;
            }
            if *anchored {
                glob(pat, rel)
            } else {
                glob(pat, name)
            }
        })
    }
}

/// `*` matches within one path segment, `?` one character.
fn glob(pat: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                m(&p[1..], s) || (s.first().is_some_and(|&c| c != b'/') && m(p, &s[1..]))
            }
            (Some(b'?'), Some(&c)) => c != b'/' && m(&p[1..], &s[1..]),
            (Some(a), Some(b)) => a == b && m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(pat.as_bytes(), s.as_bytes())
}

/// Extensions already compressed: stored, not deflated again.
fn precompressed(name: &str) -> bool {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        ext.as_str(),
        "png"
            | "jpg"
            | "jpeg"
            | "gif"
            | "webp"
            | "avif"
            | "woff"
            | "woff2"
            | "zip"
            | "gz"
            | "br"
            | "mp4"
            | "webm"
            | "mp3"
            | "ogg"
            | "pdf"
    )
}

pub struct Packed {
    pub zip: Vec<u8>,
    pub files: usize,
    pub bytes: u64,
}

/// The files of `dir` to send, relative `/`-separated paths in walk order. With
/// `include_all`, nothing is skipped.
pub fn list(dir: &Path, include_all: bool) -> Result<Vec<String>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    let ignore = if include_all {
        Ignore::default()
    } else {
        std::fs::read_to_string(dir.join(".gitignore"))
            .map(|t| Ignore::parse(&t))
            .unwrap_or_default()
    };
    let mut files = Vec::new();
    walk(dir, "", include_all, &ignore, &mut files)?;
    if files.is_empty() {
        return Err(format!("{} has no files to deploy", dir.display()));
    }
    Ok(files)
}

fn read(dir: &Path, rel: &str) -> Result<Vec<u8>, String> {
    let full = dir.join(rel);
    std::fs::read(&full).map_err(|e| format!("reading {}: {e}", full.display()))
}

/// Zips `dir`. With `include_all`, nothing is skipped.
pub fn pack(dir: &Path, include_all: bool) -> Result<Packed, String> {
    let files = list(dir, include_all)?;
    let mut w = ZipWriter::new(Vec::new());
    let mut bytes = 0u64;
    for rel in &files {
        let data = read(dir, rel)?;
        bytes += data.len() as u64;
        w.add_file(rel, &data, !precompressed(rel))
            .map_err(|e| format!("zipping {rel}: {e}"))?;
    }
    let zip = w.finish().map_err(|e| format!("zipping: {e}"))?;
    Ok(Packed {
        zip,
        files: files.len(),
        bytes,
    })
}

/// A folder as an incremental deploy sees it: each published file's manifest entry and the
/// file it is read from.
pub struct Manifest {
    /// (entry, path relative to the folder), by published path.
    pub files: Vec<(Entry, String)>,
}

impl Manifest {
    /// Reads and hashes the files of `dir` that a deploy would publish (one at a time).
    pub fn of(dir: &Path, include_all: bool) -> Result<Manifest, String> {
        let rels = list(dir, include_all)?;
        let named: Vec<(usize, &str)> = rels.iter().map(String::as_str).enumerate().collect();
        let mut files = Vec::new();
        for (i, path) in published(&named) {
            let data = read(dir, &rels[i])?;
            let entry = Entry {
                path,
                hash: content_hash(&data),
                size: data.len() as u64,
            };
            files.push((entry, rels[i].clone()));
        }
        if files.is_empty() {
            return Err(format!(
                "{} has no files that would be published",
                dir.display()
            ));
        }
        files.sort_unstable_by(|a, b| a.0.path.cmp(&b.0.path));
        Ok(Manifest { files })
    }

    /// Bytes of all the files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|(e, _)| e.size).sum()
    }

    /// The upload: a ZIP of the manifest and the files at `send` (published paths).
    pub fn zip(&self, dir: &Path, send: &[String]) -> Result<Vec<u8>, String> {
        let entries: Vec<Entry> = self.files.iter().map(|(e, _)| e.clone()).collect();
        let mut w = ZipWriter::new(Vec::new());
        w.add_file(manifest::ENTRY, manifest::format(&entries).as_bytes(), true)
            .map_err(|e| format!("zipping the manifest: {e}"))?;
        for (e, rel) in &self.files {
            if send.contains(&e.path) {
                let data = read(dir, rel)?;
                if content_hash(&data) != e.hash {
                    return Err(format!("{rel} changed while deploying; deploy again"));
                }
                w.add_file(&e.path, &data, !precompressed(&e.path))
                    .map_err(|err| format!("zipping {rel}: {err}"))?;
            }
        }
        w.finish().map_err(|e| format!("zipping: {e}"))
    }
}

fn walk(
    root: &Path,
    rel: &str,
    all: bool,
    ignore: &Ignore,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_unstable_by_key(|e| e.file_name());
    for e in entries {
        let Some(name) = e.file_name().to_str().map(String::from) else {
            return Err(format!("{}: file names must be UTF-8", e.path().display()));
        };
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e
            .file_type()
            .map_err(|err| format!("{}: {err}", e.path().display()))?;
        if ft.is_symlink() {
            continue; // never follow links out of the folder
        }
        let is_dir = ft.is_dir();
        // `.well-known/` at the top is meant to be public (security.txt, ACME, app links):
        // the server publishes it, so the client sends it.
        let dot = name.starts_with('.') && !(rel.is_empty() && is_dir && name == ".well-known");
        if !all && (dot || name == "node_modules" || ignore.ignored(&path, is_dir)) {
            continue;
        }
        if is_dir {
            walk(root, &path, all, ignore, out)?;
        } else if ft.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_subset() {
        let ig = Ignore::parse("# c\n*.log\nbuild/\n/secret.txt\ndocs/*.tmp\n!keep.log\n");
        assert!(ig.ignored("a.log", false));
        assert!(ig.ignored("x/y/a.log", false));
        assert!(ig.ignored("build", true));
        assert!(!ig.ignored("build", false));
        assert!(ig.ignored("secret.txt", false));
        assert!(!ig.ignored("sub/secret.txt", false));
        assert!(ig.ignored("docs/a.tmp", false));
        assert!(!ig.ignored("docs/sub/a.tmp", false));
        assert!(!ig.ignored("index.html", false));
    }

    #[test]
    fn dot_files_are_skipped_but_not_the_top_well_known() {
        let root = std::env::temp_dir().join(format!("fazt-pack-{}", std::process::id()));
        for (p, body) in [
            ("index.html", "x"),
            (".env", "SECRET"),
            (".well-known/security.txt", "Contact: x"),
            ("sub/.well-known/x", "x"),
            (".git/config", "x"),
        ] {
            let f = root.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, body).unwrap();
        }
        let mut files = Vec::new();
        walk(&root, "", false, &Ignore::default(), &mut files).unwrap();
        files.sort_unstable();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(files, [".well-known/security.txt", "index.html"]);
    }

    #[test]
    fn globbing() {
        assert!(glob("*.js", "app.js"));
        assert!(!glob("*.js", "a/app.js"));
        assert!(glob("a?c", "abc"));
        assert!(glob("*", "anything"));
        assert!(!glob("x*", "y"));
    }
}
