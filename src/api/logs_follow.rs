//! `GET /api/sites/{name}/logs?follow=1`: a site's script logs as Server-Sent Events — each
//! new line an event `id: N` / `data: {"id","level","message","created_at"}`, and a comment
//! line after 2 quiet seconds, which keeps proxies from closing the stream and finds out
//! soon that a client has gone (only a write can tell). An `EventSource` that reconnects sends
//! `Last-Event-ID` and gets what it missed. A stream ends after [`MAX_LIFETIME`] (the browser
//! reconnects), when the client goes, or when the server shuts down; at most [`MAX_STREAMS`]
//! are open at once.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::envelope::error;
use crate::kernel::db::Db;
use crate::kernel::http::{BodySink, Response, ResponseBody};
use crate::scripts::logs;

/// Open follow streams at most (each holds a connection and a coroutine).
pub const MAX_STREAMS: usize = 16;
/// How long one stream lasts before the client is asked to reconnect.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How often the database is asked for new lines.
const POLL: Duration = Duration::from_secs(1);
const KEEPALIVE_EVERY: u32 = 2;

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Counts one open stream; uncounted when the stream ends, however it ends.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, SeqCst);
    }
}

/// The event stream of `site`'s lines after `after`.
pub fn follow(db: Arc<Db>, site: String, after: i64) -> Response {
    if OPEN.fetch_add(1, SeqCst) >= MAX_STREAMS {
        OPEN.fetch_sub(1, SeqCst);
        return error(
            503,
            "TOO_MANY_STREAMS",
            format!("{MAX_STREAMS} log streams are open already; poll with ?after= instead"),
        )
        .header("Retry-After", "5");
    }
    let slot = Slot;
    Response::new(200)
        .header("Content-Type", "text/event-stream")
        .header("Cache-Control", "no-store")
        .header("X-Accel-Buffering", "no")
        .body(ResponseBody::Open(Box::new(move |out| {
            let _slot = slot;
            stream(&db, &site, after, out)
        })))
        .closing()
}

fn stream(db: &Db, site: &str, mut after: i64, out: &mut dyn BodySink) -> std::io::Result<()> {
    let started = Instant::now();
    // Reconnect after 2 s if the stream breaks (the EventSource default is 3 s).
    out.write_all(b"retry: 2000\n\n")?;
    let mut quiet = 0;
    while !out.stopping() && started.elapsed() < MAX_LIFETIME {
        let lines = logs::recent(db, site, after, 200).unwrap_or_default();
        if lines.is_empty() {
            quiet += 1;
            if quiet >= KEEPALIVE_EVERY {
                quiet = 0;
                out.write_all(b": keep-alive\n\n")?;
            }
        } else {
            quiet = 0;
            let mut buf = String::new();
            for l in lines {
                buf.push_str(&format!("id: {}\ndata: {}\n\n", l.id, l.to_json()));
                after = l.id;
            }
            out.write_all(buf.as_bytes())?;
        }
        out.flush()?;
        may::coroutine::sleep(POLL);
    }
    Ok(())
}
