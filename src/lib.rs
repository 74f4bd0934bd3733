//! # fazt — a personal cloud in one static binary and one SQLite file
//!
//! "The binary is the computer; the database is the filesystem." Every byte of a server's
//! state lives in `fazt.db`; replacing the binary is an upgrade, copying the file a backup.
//!
//! ## Layout
//!
//! The crate is split in layers. The **kernel** is reusable plumbing and never imports the
//! layers above it; a few **shared** modules sit below the verticals; the **verticals** are
//! fazt's own features; [`app`] composes them and [`cli`] is on top. `tests/layers.rs` reads
//! the imports and keeps it so: no cycle, nothing shared imports a vertical, no vertical
//! imports `app` or `cli`, and `api` and `analytics` never name each other.
//!
//! - [`kernel`] — plumbing, the separate crate `fazt-kernel` in `kernel/` (see its
//!   README). It cannot import fazt: fazt hands it its schema ([`database`]), the VFS
//!   table, the `Server` header and its service ([`service_unit`]); `tests/kernel_is_generic.rs`
//!   fails on any fazt name in it, and `kernel/examples/pastebin` is a second product on it.
//!   - [`kernel::http`]: the HTTP/1.1 edge on `may` coroutines (limits, timeouts, pipelining,
//!     streaming, graceful shutdown), generic over the transport so TLS slots underneath;
//!     the caps that keep one hostile client from freezing it (empty-line floods, fair
//!     turns for pipelining clients, per-address connections, minimum body rate) and the
//!     client address behind a trusted proxy ([`kernel::http::client_addr()`]).
//!   - [`kernel::db`]: one SQLite file — pragmas for small boards, the single writer thread,
//!     pooled readers, Evolutionary Database Design over the caller's schema, and the EDD
//!     rails (`db::edd`) fazt's `tests/edd.rs` runs.
//!   - [`kernel::http_client`]: a small blocking HTTP/1.1 client (one request per
//!     connection, timeouts, capped answers), TLS plugged in by the caller; the deploy
//!     client and ACME use it.
//!   - [`kernel::zip`], [`kernel::multipart`]: hardened parsers for uploads.
//!   - [`kernel::provision`]: installing a product as a systemd service (unit, binary, state
//!     dir) and sd_notify.
//!   - [`kernel::backup`]: online snapshots (`VACUUM INTO`, checked, fsynced, renamed),
//!     scheduled snapshots with rotation, restore against the schema history.
//!   - [`kernel::release`]: signed releases (signify Ed25519 over a manifest pinning the
//!     binary), release sources, the release directory with atomic current/previous.
//!   - [`kernel::process`]: descriptors inherited across a restart, signals, lock holders.
//!   - [`kernel::civil`]: calendar arithmetic shared by certificates and analytics.
//!   - [`kernel::memory`]: handing freed heap memory back to the system when idle.
//!   - `kernel::tls` (feature `acme` → the kernel's `tls`): rustls edge with SNI, static PEM certificates, ACME
//!     (instant-acme on a short-lived Tokio thread, over `kernel::http_client`) with renewal, behind storage/policy traits.
//!   - [`kernel::vfs`]: files as rows keyed by (site, path), sha256 and gzip on write, a hot
//!     cache, BLOB streaming. [`kernel::compress`], [`kernel::mime`] support it.
//! - shared (each table of fazt.db has one owner module, `tests/table_owners.rs`):
//!   - [`database`]: fazt's schema and the name of its file table; opening `fazt.db`.
//!   - [`access`]: API tokens and scopes, the dashboard's password (PBKDF2) and login
//!     sessions, the failed-authentication and login limits, and
//!     [`access::Gate::authenticate`] (bearer token or session cookie → [`access::Caller`],
//!     or 401/403/429).
//!   - [`audit`]: the audit trail of state-changing API calls.
//!   - [`envelope`]: the API's `{data}` / `{error: {code, message}}` answers.
//!   - [`version`]: the version and the optional features built in.
//! - verticals:
//!   - [`hosting`]: host → site routing, static serving (404 pages, SPA fallback, ETag,
//!     ranges, gzip), the system sites seeded from the binary.
//!   - [`dashboard`]: the admin UI, the system site `admin` seeded from the files the
//!     binary carries (`src/dashboard/ui/`, deflated by `build.rs`), a client of the API.
//!   - [`deploy`]: ZIP upload → site, atomically, in one transaction.
//!   - `analytics` (feature `analytics`): request recording off the request path, tracking endpoints, short
//!     links, webhooks, rollups and stats.
//!   - [`backup`]: snapshots of fazt.db on the kernel's backup agent — the `backups`
//!     record, the schedule of a running server, the download from the API.
//!   - [`api`]: the management API's state and handlers (deploys, sites, env, keys, health).
//!   - `serverless` (feature `js`): QuickJS engine for `main.js` / `api/main.js` — worker
//!     threads, limits, bytecode cache; reaches fazt only through its `Host` trait.
//!   - [`scripts`]: runs a site's script for a request (source from the VFS, env vars, KV
//!     and logs in fazt.db) and takes its WebSocket clients on `/ws`; without `js`,
//!     scripts are served as static files.
//!   - `https` (feature `acme`): the TLS edge and ACME manager tied to fazt — certificates
//!     in the `certificates` table, only for names of existing sites; port-80 redirector.
//!   - [`upgrade`]: signed self-upgrade on the kernel's `release` module — fetch, verify,
//!     self-test on a copy, install, zero-downtime hand-over of the listeners, automatic
//!     rollback; `GET`/`POST /api/system/upgrade`.
//!   - [`metrics`]: `GET /metrics` (Prometheus text): request, latency, bytes and script
//!     counters, and gauges read at scrape time.
//!   - [`import_go`]: `fazt import-go`, a Go fazt `data.db` (v0.5–v0.29) brought into
//!     fazt.db in one transaction, idempotent, through each table's owner.
//!   - [`config`]: typed options (flag > `FAZT_<NAME>` > stored in fazt.db > default).
//!   - [`settings`]: the `configurations` table (stored options, fazt's own small state).
//!   - [`service_unit`]: fazt as that product — its unit template and `serve` flags.
//!   - [`client`]: the deploy client (API requests and `--insecure` TLS, folder packing,
//!     saved settings).
//! - [`app`]: the request handler composing the verticals. [`app::routes`] is the route
//!   table — method, host kind, path pattern, handler and token scope of every URL, in the
//!   order that decides who answers; [`app::route`] is how its rows match.
//! - [`cli`]: the `fazt` command line (`serve`, `status`, …).
//!
//! `schema.sql` (repository root) is the one schema; `tests/` start the real binary.

pub mod access;
#[cfg(feature = "analytics")]
pub mod analytics;
pub mod api;
pub mod app;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod client;
pub mod config;
pub mod dashboard;
pub mod database;
pub mod deploy;
pub mod envelope;
pub mod hosting;
#[cfg(feature = "acme")]
pub mod https;
pub mod import_go;
pub mod metrics;
pub mod scripts;
#[cfg(feature = "js")]
pub mod serverless;
pub mod service_unit;
pub mod settings;
pub mod upgrade;
pub mod version;

/// The kernel crate, under the name the verticals use for it.
pub use fazt_kernel as kernel;
