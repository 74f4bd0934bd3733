//! Test helpers: a neutral product with a small unit template, self-removing
//! temporary directories and a comparable snapshot of a directory tree
//! (kinds, modes, contents, link targets).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::product::Product;

/// A small unit template in the shape a real product ships: one
/// `ExecStart=` line, a state directory named after the product.
pub(crate) const DEMO_TEMPLATE: &str = "\
# demo: a test product.
[Unit]
Description=demo service

[Service]
Type=notify
Environment=DEMO_DB=/var/lib/demo/demo.db
ExecStart=/usr/local/bin/demo run --listen 0.0.0.0:80
DynamicUser=yes
StateDirectory=demo

[Install]
WantedBy=multi-user.target
";

/// The product the kernel's own tests install.
pub(crate) const DEMO: Product = Product {
    name: "demo",
    db_file: "demo.db",
    unit_template: DEMO_TEMPLATE,
};

/// `&str`s as the owned arguments [`super::render`] takes.
pub(crate) fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

pub(crate) use crate::testdir::TempDir;

/// One entry of a [`snapshot`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Dir { mode: u32 },
    File { mode: u32, content: Vec<u8> },
    Link { target: PathBuf },
}

/// Every path under `root` (relative) with what it is.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Node>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let m = fs::symlink_metadata(&path).unwrap();
            let mode = m.mode() & 0o7777;
            if m.file_type().is_symlink() {
                out.insert(
                    rel,
                    Node::Link {
                        target: fs::read_link(&path).unwrap(),
                    },
                );
            } else if m.is_dir() {
                out.insert(rel, Node::Dir { mode });
                walk(root, &path, out);
            } else {
                out.insert(
                    rel,
                    Node::File {
                        mode,
                        content: fs::read(&path).unwrap(),
                    },
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}
