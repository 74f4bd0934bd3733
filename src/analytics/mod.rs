//! Analytics: what happens on fazt's sites, counted without slowing them down.
//!
//! - **Recording** ([`Analytics::record`]): every request served for a site appends a small
//!   capture to its thread's bounded buffer ([`buffer`]) — no hashing, parsing or database
//!   work on the request path, and no allocation once warm; when the buffer is full the event
//!   is dropped and counted ([`Analytics::dropped`], shown in `/api/system/health`). The recorder thread
//!   ([`recorder`]) classifies, hashes the client address with a daily-rotating salt, and
//!   writes batches through the single writer.
//! - **Public endpoints** on the admin host ([`public`]): `POST /track`, `GET /pixel.gif`,
//!   `GET /r/{slug}` short links, `POST /webhook/{endpoint}`, `GET /track.js` — compatible
//!   with fazt's Go version.
//! - **API** ([`api`], [`manage`]): `/api/stats`, `/api/events`, `/api/redirects`,
//!   `/api/webhooks`.
//!
//! Which URL reaches which of these, with which method and scope, is the route table's
//! business (`app::routes`); this module never sees the management API.
//! - **Housekeeping** ([`rollup`]): hourly and daily rollups, retention of raw events.
//! - [`stats`] computes the numbers for the API and `fazt stats`.

pub mod api;
pub mod buffer;
pub mod dates;
pub mod event;
pub mod go_api;
pub mod import;
pub mod manage;
pub mod public;
pub mod query;
pub mod recorder;
pub mod rollup;
pub mod settings;
pub mod stats;
pub mod visitor;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};

use crate::hosting::Router;
use crate::kernel::db::{now, Db};
use crate::kernel::http::Request;

use buffer::Buffers;
use event::{Hit, Pending};
use recorder::{Counters, Recorder, Shared};
pub use settings::Settings;

pub struct Analytics {
    db: Arc<Db>,
    settings: Settings,
    /// Host names of `/track` and the pixel → sites: the site hosts, then custom domains.
    router: Router,
    domains: Option<Arc<crate::hosting::domains::Domains>>,
    shared: Arc<Shared>,
    recorder: std::thread::Thread,
    /// One housekeeping run at a time (the thread's and any caller's).
    housekeeping: Mutex<()>,
}

impl Analytics {
    /// Starts the recorder thread and the hourly housekeeping thread (first run at once).
    pub fn start(
        db: Arc<Db>,
        settings: Settings,
        domains: Option<Arc<crate::hosting::domains::Domains>>,
    ) -> Result<Arc<Analytics>, String> {
        let shared = Arc::new(Shared {
            buffers: Buffers::new(settings.buffer),
            acks: Mutex::new(Vec::new()),
            counters: Counters::default(),
        });
        let recorder = Recorder::new(db.clone(), settings.clone());
        let weak = Arc::downgrade(&shared);
        let handle = std::thread::Builder::new()
            .name("fazt-analytics".into())
            .stack_size(256 * 1024)
            .spawn(move || recorder.run(weak))
            .map_err(|e| format!("cannot start the analytics recorder: {e}"))?;
        shared.buffers.set_recorder(handle.thread().clone());
        let a = Arc::new(Analytics {
            db,
            router: Router::new(&settings.domain),
            domains,
            settings,
            shared,
            recorder: handle.thread().clone(),
            housekeeping: Mutex::new(()),
        });
        let weak = Arc::downgrade(&a);
        let every = a.settings.housekeeping_every;
        std::thread::Builder::new()
            .name("fazt-analytics-housekeeping".into())
            .stack_size(256 * 1024)
            .spawn(move || loop {
                match weak.upgrade() {
                    Some(a) => a.housekeeping(),
                    None => return,
                }
                std::thread::sleep(every);
            })
            .map_err(|e| format!("cannot start analytics housekeeping: {e}"))?;
        Ok(a)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Records one request served for `site` (static or script). Cheap: appends a few header
    /// values to this thread's buffer; never blocks on the database, never allocates once the
    /// buffer is warm, drops (and counts) the event when the buffer is full.
    pub fn record(&self, site: &str, req: &Request, status: u16, bytes: u64) {
        if !self.settings.enabled {
            return;
        }
        let ip = crate::kernel::http::client_addr(req, &self.settings.trusted_proxies);
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or((0, 0), |d| {
                (i64::try_from(d.as_secs()).unwrap_or(0), d.subsec_nanos())
            });
        self.shared.buffers.push(|l| {
            let hit = Hit::capture(&mut l.text, site, req, ip, status, bytes, at);
            l.hits.push(hit);
        });
    }

    pub(crate) fn push_event(&self, p: Pending) -> bool {
        self.shared.buffers.push(|l| l.events.push(p))
    }

    /// Writes everything recorded so far; blocks until it is in the database (at most 10 s).
    /// For shutdown: call after the server stopped taking requests, before the checkpoint.
    pub fn flush(&self) {
        let (ack, done) = crate::kernel::oneshot::channel();
        self.shared
            .acks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ack);
        self.recorder.unpark();
        if done.recv_timeout(Duration::from_secs(10)).is_none() {
            log::warn!("analytics: flush did not finish within 10 s");
        }
    }

    /// Events dropped because a buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.buffers.dropped()
    }

    /// The recorder's state for `/api/system/health`.
    pub fn health(&self) -> Value {
        let c = &self.shared.counters;
        json!({
            "enabled": self.settings.enabled,
            "buffer": self.settings.buffer,
            "queued": self.shared.buffers.queued(),
            "written": c.written.load(Ordering::Relaxed),
            "dropped": self.dropped(),
            "failed": c.failed.load(Ordering::Relaxed),
            "last_error": c.last_error.lock().ok().and_then(|e| e.clone()),
        })
    }

    /// Rolls up finished days, deletes raw events past retention (in small batches) and old
    /// rollups. Runs hourly on its own thread; safe to call from elsewhere too.
    pub fn housekeeping(&self) {
        let Ok(_one) = self.housekeeping.lock() else {
            return;
        };
        if let Err(e) = rollup::housekeeping(&self.db, &self.settings, now()) {
            log::error!("analytics housekeeping: {e}");
        }
    }
}
