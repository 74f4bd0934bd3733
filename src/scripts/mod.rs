//! Running a site's script for a request: picks `main.js` or `api/main.js`, loads its source
//! from the VFS and the site's env vars (cached per site, dropped when the site changes),
//! hands the request to the serverless engine and turns its answer into an HTTP response.
//! Without the `js` feature, sites with scripts are served as static files (logged once per
//! site).

#[cfg(feature = "js")]
pub mod host;

#[cfg(feature = "js")]
mod runner;
#[cfg(feature = "js")]
pub use runner::Scripts;

#[cfg(not(feature = "js"))]
mod disabled;
#[cfg(not(feature = "js"))]
pub use disabled::Scripts;

/// Keeps each site's newest `keep` log lines (`site_logs` grows with every `console.log`).
pub fn trim_logs(db: &crate::kernel::db::Db, keep: i64) {
    let _ = db.write(move |c| {
        c.execute(
            "DELETE FROM site_logs WHERE id IN (
                SELECT id FROM (
                    SELECT id, ROW_NUMBER() OVER (PARTITION BY site_id ORDER BY id DESC) AS n FROM site_logs
                ) WHERE n > ?1 LIMIT 10000)",
            [keep],
        )
    });
}
