//! The admin dashboard: the system site `admin`, served from the VFS like any site, seeded
//! from the files the binary carries ([`bundle`], packed from `src/dashboard/ui/`). It is a
//! client of the public JSON API and nothing else, so it holds no server logic.
//!
//! [`seed`] puts the binary's dashboard into `fazt.db` when the site is empty, and replaces
//! it when this binary carries another version — unless the site holds something else (put
//! there by hand on the server; the API never deploys `admin`), which is never overwritten
//! (`fazt admin reset-ui` does it on purpose).
//! "Ours" is known by a digest of the site's paths and hashes, recorded at each seeding.

pub mod bundle;

use crate::database::FILES;
use crate::hosting::Sites;
use crate::kernel::db::Db;
use crate::kernel::vfs::{self, PreparedFile};
use crate::settings;

/// The site the dashboard is.
pub const SITE: &str = "admin";

/// The `configurations` key of the digest of the files fazt last seeded.
const SEEDED_KEY: &str = "ui.admin_seeded";

/// sha256 of the one start page (`index.html`) that versions before the dashboard seeded.
const START_PAGE: &str = "35e4e7411e26d2a9665c16ba1867ecb844ce6e1d7cfe397d9c9eea0e4bf3b014";

/// What [`seed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The site was empty: the dashboard is there now.
    Seeded,
    /// An earlier dashboard (or the start page) was replaced by this binary's.
    Updated,
    /// The site already is this binary's dashboard.
    Current,
    /// The `admin` site holds files that are not a dashboard of fazt's; they are left alone.
    OwnerDeployed,
}

/// Seeds or updates the dashboard (see the module doc); `force` replaces even an owner's site.
pub fn seed(db: &Db, force: bool) -> Result<Outcome, String> {
    let prepared: Vec<PreparedFile<'static>> = bundle::files()?
        .into_iter()
        .map(|(name, body)| PreparedFile::new(name, body))
        .collect();
    let ours = bundle::digest(prepared.iter().map(|p| (p.path.as_str(), p.hash.as_str())));
    db.write(move |c| {
        let tx = c.transaction()?;
        let live = vfs::hashes(&tx, FILES, SITE)?;
        let current = bundle::digest(live.iter().map(|(p, h)| (p.as_str(), h.as_str())));
        let recorded = settings::read(&tx, SEEDED_KEY)?;
        let start_page = bundle::digest([("index.html", START_PAGE)]);
        let outcome = if live.is_empty() {
            Outcome::Seeded
        } else if current == ours {
            Outcome::Current
        } else if force || recorded.as_deref() == Some(current.as_str()) || current == start_page {
            Outcome::Updated
        } else {
            Outcome::OwnerDeployed
        };
        if matches!(outcome, Outcome::Seeded | Outcome::Updated) {
            vfs::clear_site(&tx, FILES, SITE)?;
            for p in &prepared {
                vfs::put(&tx, FILES, SITE, p)?;
            }
            Sites::register(&tx, SITE, true)?;
        }
        if outcome != Outcome::OwnerDeployed && recorded.as_deref() != Some(ours.as_str()) {
            settings::write(&tx, SEEDED_KEY, &ours)?;
        }
        tx.commit()?;
        Ok(outcome)
    })
    .map_err(|e| format!("seeding the dashboard: {e}"))
}
