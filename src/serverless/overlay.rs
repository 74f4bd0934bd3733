//! A run's KV writes between its end and their commit. A run keeps its `db.set`/`db.delete`
//! to itself (its own batch, read back by its own `db.get`) and, if it ends well, publishes
//! them here just before it lets go of its site's lock, then hands them to the host to
//! commit in one transaction; the request is answered when they are committed. The next run
//! of the site therefore reads them here without waiting for the commit, and the writer's
//! round trip is no longer inside the site's lock (it was most of a Counter's time).
//!
//! An entry leaves when its own commit is done, unless a later run wrote the key since
//! (then that run's commit removes it). Entries exist only between a run's end and its
//! commit, so the map stays as small as the writer's queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One run's writes: `Some(value)` stores, `None` deletes.
pub(super) type Writes = HashMap<String, Option<String>>;

type Sites = HashMap<Arc<str>, HashMap<String, (Option<String>, u64)>>;

#[derive(Default)]
pub(super) struct Overlay {
    sites: Mutex<Sites>,
    seq: AtomicU64,
}

impl Overlay {
    fn lock(&self) -> MutexGuard<'_, Sites> {
        self.sites.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write still on its way for `key`: `Some(None)` is a pending delete.
    pub fn get(&self, site: &str, key: &str) -> Option<Option<String>> {
        self.lock().get(site)?.get(key).map(|(v, _)| v.clone())
    }

    /// Makes a finished run's writes visible to the site's next runs; the number names them
    /// for [`Overlay::settle`].
    pub fn publish(&self, site: &Arc<str>, writes: &Writes) -> u64 {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let mut sites = self.lock();
        let keys = sites.entry(site.clone()).or_default();
        for (k, v) in writes {
            keys.insert(k.clone(), (v.clone(), seq));
        }
        seq
    }

    /// The writes published as `seq` are committed (or failed): their entries go, unless a
    /// later run has written the key since.
    pub fn settle(&self, site: &str, written: &[String], seq: u64) {
        let mut sites = self.lock();
        let Some(keys) = sites.get_mut(site) else {
            return;
        };
        for k in written {
            if keys.get(k).is_some_and(|(_, s)| *s == seq) {
                keys.remove(k);
            }
        }
        if keys.is_empty() {
            sites.remove(site);
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_write_outlives_an_earlier_commit() {
        let o = Overlay::default();
        let site: Arc<str> = "blog".into();
        let w1: Writes = [("n".to_string(), Some("1".to_string()))].into();
        let w2: Writes = [
            ("n".to_string(), Some("2".to_string())),
            ("gone".to_string(), None),
        ]
        .into();
        let s1 = o.publish(&site, &w1);
        let s2 = o.publish(&site, &w2);
        assert_eq!(o.get("blog", "n"), Some(Some("2".into())));
        assert_eq!(o.get("blog", "gone"), Some(None));
        assert_eq!(o.get("other", "n"), None);
        let keys = |w: &Writes| w.keys().cloned().collect::<Vec<_>>();
        o.settle("blog", &keys(&w1), s1);
        assert_eq!(o.get("blog", "n"), Some(Some("2".into())));
        o.settle("blog", &keys(&w2), s2);
        assert_eq!(o.get("blog", "n"), None);
        assert!(o.is_empty());
    }
}
