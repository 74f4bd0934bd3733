//! Running a site's script for a request: picks `main.js` or `api/main.js`, loads its source
//! from the VFS and the site's env vars (cached per site, dropped when the site changes),
//! hands the request to the serverless engine and turns its answer into an HTTP response.
//! Without the `js` feature, sites with scripts are served as static files (logged once per
//! site). A site with `main.js` also takes WebSocket clients on `GET /ws` (`websocket.rs`).

pub mod env;
#[cfg(feature = "js")]
pub mod fetch;
#[cfg(feature = "js")]
pub mod host;
pub mod kv;
pub mod logs;

#[cfg(feature = "js")]
mod runner;
#[cfg(feature = "js")]
mod websocket;
#[cfg(feature = "js")]
pub use runner::Scripts;

#[cfg(not(feature = "js"))]
mod disabled;
#[cfg(not(feature = "js"))]
pub use disabled::Scripts;

/// Removes everything a site's scripts kept (KV rows, env vars, logs) inside the caller's
/// transaction, when the site is deleted (in every build: rows a `js` build wrote go too).
pub fn forget_site(conn: &rusqlite::Connection, site: &str) -> rusqlite::Result<()> {
    kv::clear_site(conn, site)?;
    env::clear_site(conn, site)?;
    logs::clear_site(conn, site)?;
    Ok(())
}
