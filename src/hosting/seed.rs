//! System sites carried by the binary: `root` (the bare domain), `404` (unknown hosts) and
//! `admin` (the dashboard, which its own vertical seeds and updates). `root` and `404` are
//! seeded when missing at start; a deployed one is never overwritten.

use std::sync::Arc;

use crate::database::FILES;
use crate::kernel::db::Db;
use crate::kernel::vfs::{self, PreparedFile};

use super::sites::Sites;

pub const SYSTEM_SITES: [&str; 3] = ["root", "404", "admin"];

const SEEDS: [(&str, &str, &str); 2] = [
    ("root", "index.html", include_str!("seed/root.html")),
    ("404", "index.html", include_str!("seed/404.html")),
];

/// Seeds each system site that has no files yet. Returns the names seeded.
pub fn seed_system_sites(db: &Arc<Db>) -> Result<Vec<String>, String> {
    db.write(|c| -> rusqlite::Result<Vec<String>> {
        let tx = c.transaction()?;
        let mut seeded = Vec::new();
        for (site, path, body) in SEEDS {
            if vfs::has_files(&tx, FILES, site)? {
                continue;
            }
            vfs::put(&tx, FILES, site, &PreparedFile::new(path, body.as_bytes()))?;
            Sites::register(&tx, site, true)?;
            seeded.push(site.to_string());
        }
        tx.commit()?;
        Ok(seeded)
    })
    .map_err(|e| format!("seeding system sites: {e}"))
}
