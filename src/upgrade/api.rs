//! `GET /api/system/upgrade` (current and available versions) and `POST
//! /api/system/upgrade` (admin): the same upgrade as `fazt upgrade`, always from the
//! configured release source — a request can name a version, never a URL or a file. After
//! the release is verified, self-tested and installed, the server restarts itself into it
//! (SIGHUP to itself, see [`super::launch::restart`]); the answer is sent first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::{running_version, Request, UpgradeError, Upgrader, TARGET};
use crate::access::Caller;
use crate::envelope::{data, error, ok};
use crate::kernel::db::Db;
use crate::kernel::http::{Body, Response};
use crate::kernel::release::Version;

static UPGRADING: AtomicBool = AtomicBool::new(false);

/// Runs `f` on its own thread (fetching and self-testing take seconds), so the coroutine
/// waits without holding a serving thread.
fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = crate::kernel::oneshot::channel();
    std::thread::Builder::new()
        .name("fazt-upgrade".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .ok()?;
    rx.recv().ok()
}

/// `GET`: what runs, what the source offers, and the release directory's state.
pub fn status(up: &Arc<Upgrader>) -> Response {
    let u = up.clone();
    let available = off_thread(move || u.available())
        .unwrap_or_else(|| Err(UpgradeError::Failed("the upgrade thread stopped".into())));
    let releases = up.releases();
    let (avail, err) = match available {
        Ok(v) => (Value::String(v.to_string()), Value::Null),
        Err(e) => (Value::Null, Value::String(e.to_string())),
    };
    let running = running_version();
    let newer = avail
        .as_str()
        .and_then(|v| Version::parse(v).ok())
        .is_some_and(|v| v > running);
    ok(json!({
        "running": running.to_string(),
        "target": TARGET,
        "available": avail,
        "upgrade_available": newer,
        "error": err,
        "source": up.settings.source,
        "current_release": releases.current().map(|r| r.manifest.version.to_string()),
        "previous_release": releases.previous().map(|r| r.manifest.version.to_string()),
    }))
}

/// `POST`: body `{}` or `{"to": "1.2.3", "allow_downgrade": true}`.
pub fn upgrade(up: &Arc<Upgrader>, db: &Arc<Db>, body: &mut Body<'_>, who: &Caller) -> Response {
    let raw = match body.read_all(4096) {
        Ok(b) => b,
        Err(e) => return error(e.status(), "BAD_REQUEST", e.to_string()),
    };
    let v: Value = if raw.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&raw) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return error(400, "BAD_REQUEST", "the body must be a JSON object"),
            Err(e) => return error(400, "BAD_REQUEST", format!("invalid JSON: {e}")),
        }
    };
    if let Some(k) = v.as_object().and_then(|o| {
        o.keys()
            .find(|k| !matches!(k.as_str(), "to" | "allow_downgrade"))
    }) {
        return error(
            400,
            "BAD_REQUEST",
            format!("unknown field '{k}': releases come only from the configured source"),
        );
    }
    let to = match v.get("to") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match Version::parse(s) {
            Ok(v) => Some(v),
            Err(e) => return error(400, "BAD_REQUEST", e),
        },
        Some(_) => return error(400, "BAD_REQUEST", "'to' must be a version string"),
    };
    let allow_downgrade = match v.get("allow_downgrade") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return error(
                400,
                "BAD_REQUEST",
                "'allow_downgrade' must be true or false",
            )
        }
    };
    if UPGRADING.swap(true, Ordering::AcqRel) {
        return error(409, "BUSY", "an upgrade is already running");
    }
    let req = Request {
        to,
        from: None,
        allow_downgrade,
    };
    let u = up.clone();
    let done = off_thread(move || {
        u.fetch(&req)
            .and_then(|v| u.install(&v).map(|_| v.manifest))
    });
    UPGRADING.store(false, Ordering::Release);
    let manifest = match done {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            let (status, code) = match &e {
                UpgradeError::Usage(_) => (400, "NOT_CONFIGURED"),
                UpgradeError::Refused(_) => (422, "REFUSED"),
                UpgradeError::Current(_) => (409, "UP_TO_DATE"),
                UpgradeError::Failed(_) => (502, "UPGRADE_FAILED"),
            };
            return error(status, code, e.to_string());
        }
        None => return crate::envelope::internal("the upgrade thread stopped"),
    };
    let version = manifest.version.to_string();
    crate::audit::record(db, who, "system.upgrade", &version, "");
    // Restart after this answer is on its way: the handover keeps the socket open.
    let _ = std::thread::Builder::new().spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(200));
        crate::kernel::process::signal(std::process::id(), crate::kernel::process::SIGHUP);
    });
    data(
        202,
        json!({
            "installed": version,
            "from": running_version().to_string(),
            "restarting": true,
        }),
    )
}
