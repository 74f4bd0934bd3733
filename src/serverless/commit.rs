//! Committing a finished run's KV writes and answering its request once they are in. The
//! writes are handed to the host while the run still holds its site's lock, so one site's
//! commits reach the writer in the order their runs published them (a later run's value is
//! never overwritten by an earlier run's commit). The answer waits for two things that
//! finish on different threads — the run's result (the JS thread) and the commit (the
//! host's writer) — and whichever comes second sends it.

use std::sync::{Arc, Mutex};

use super::engine::Shared;
use super::overlay::Writes;
use super::{JsError, JsResponse};

type Answer = Result<JsResponse, JsError>;
/// What has arrived: the run's result, the commit's outcome.
type Arrived = (Option<Answer>, Option<Result<(), String>>);

/// The meeting point of a run's result and its commit.
pub(super) struct Meet {
    state: Mutex<Arrived>,
    reply: crate::kernel::oneshot::Sender<Answer>,
}

impl Meet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Arrived> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The run's result (not called when the watchdog answered the caller already).
    pub fn answered(&self, result: Answer) {
        let mut st = self.lock();
        st.0 = Some(result);
        self.send_if_both(&mut st);
    }

    fn committed(&self, outcome: Result<(), String>) {
        let mut st = self.lock();
        st.1 = Some(outcome);
        self.send_if_both(&mut st);
    }

    fn send_if_both(&self, st: &mut Arrived) {
        if st.0.is_none() || st.1.is_none() {
            return;
        }
        let (Some(result), Some(outcome)) = (st.0.take(), st.1.take()) else {
            return;
        };
        let answer = match outcome {
            Ok(()) => result,
            Err(message) => Err(JsError::Exception {
                message,
                stack: None,
            }),
        };
        // The caller may have given up waiting.
        let _ = self.reply.send(answer);
    }
}

/// Publishes `writes` for the site's next runs and hands them to the host to commit; call
/// with the site's lock held. The returned meeting point takes the run's result.
pub(super) fn submit(
    shared: &Arc<Shared>,
    site: &Arc<str>,
    writes: Writes,
    reply: crate::kernel::oneshot::Sender<Answer>,
) -> Arc<Meet> {
    let meet = Arc::new(Meet {
        state: Mutex::new((None, None)),
        reply,
    });
    let seq = shared.overlay.publish(site, &writes);
    let keys: Vec<String> = writes.keys().cloned().collect();
    let list: Vec<(String, Option<String>)> = writes.into_iter().collect();
    let (overlay, host, at, m) = (
        shared.overlay.clone(),
        shared.host.clone(),
        site.clone(),
        meet.clone(),
    );
    shared.host.kv_commit(
        site,
        list,
        Box::new(move |outcome| {
            overlay.settle(&at, &keys, seq);
            let outcome = outcome.map_err(|e| {
                let message = format!("the request's db writes were not saved: {e}");
                host.log(&at, "error", &message);
                message
            });
            m.committed(outcome);
        }),
    );
    meet
}
