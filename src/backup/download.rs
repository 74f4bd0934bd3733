//! `GET /api/system/backup`: a consistent snapshot of the running server's database as a
//! download, made the same way as `fazt backup` (checked before a byte is sent), into an
//! unlinked scratch file beside the database, so a client that goes away leaves nothing
//! behind. One at a time: a second request while one is being made gets 503.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::access::Caller;
use crate::envelope::error;
use crate::kernel::backup::snapshot_file;
use crate::kernel::db::{now, Db};
use crate::kernel::http::{Response, ResponseBody};

static MAKING: AtomicBool = AtomicBool::new(false);

/// Bytes read from the snapshot per write into the connection.
const CHUNK: usize = 64 * 1024;

/// The snapshot as `application/vnd.sqlite3`, named `fazt-<UTC stamp>.db`.
pub fn download(db: &Arc<Db>, who: &Caller) -> Response {
    if MAKING.swap(true, Ordering::AcqRel) {
        return error(503, "BUSY", "a backup is being made; try again shortly")
            .header("Retry-After", "5");
    }
    let started = now();
    // VACUUM INTO of a large database takes seconds: on its own thread, so this coroutine
    // waits without holding one of the few serving threads.
    let (tx, rx) = crate::kernel::oneshot::channel();
    let db2 = db.clone();
    let spawned = std::thread::Builder::new()
        .name("backup-download".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            use crate::kernel::priority::{lower_this_thread, BACKGROUND_NICE};
            lower_this_thread(BACKGROUND_NICE);
            let dir = crate::kernel::backup::scratch_dir(db2.path());
            let _ = tx.send(snapshot_file(db2.path(), &dir));
        });
    let made = match spawned {
        Ok(_) => rx.recv().ok(),
        Err(e) => {
            MAKING.store(false, Ordering::Release);
            return crate::envelope::internal(format!("cannot start the backup: {e}"));
        }
    };
    MAKING.store(false, Ordering::Release);
    let Some(made) = made else {
        return crate::envelope::internal("the backup thread stopped");
    };
    super::record::add(db, "api", started, made.as_ref().map(|(_, s)| s));
    let (mut file, snap) = match made {
        Ok(m) => m,
        Err(e) => return crate::envelope::internal(format!("backup download: {e}")),
    };
    crate::audit::record(
        db,
        who,
        "backup.download",
        "fazt.db",
        &snap.bytes.to_string(),
    );
    log::info!(
        "backup: {} bytes (schema {}) made in {} ms for {}",
        snap.bytes,
        snap.schema_version,
        snap.took.as_millis(),
        who.name
    );
    let name = format!("fazt-{}.db", crate::kernel::civil::compact_utc(started));
    let len = snap.bytes;
    Response::new(200)
        .header("Content-Type", "application/vnd.sqlite3")
        .header(
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        )
        .header("X-Fazt-Schema-Version", snap.schema_version.to_string())
        .header("Cache-Control", "no-store")
        .body(ResponseBody::Stream {
            len,
            producer: Box::new(move |out| {
                let mut buf = vec![0u8; CHUNK];
                let mut left = len;
                while left > 0 {
                    let n = file.read(&mut buf[..left.min(CHUNK as u64) as usize])?;
                    if n == 0 {
                        return Err(std::io::Error::other("snapshot shorter than announced"));
                    }
                    out.write_all(&buf[..n])?;
                    left -= n as u64;
                }
                Ok(())
            }),
        })
}
