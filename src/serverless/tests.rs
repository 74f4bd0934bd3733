//! Engine tests against an in-memory [`Host`]: the script contract (`contract`), the
//! `api/main.js` conventions (`api_mode`), limits and isolation (`limits`), and calls
//! from small-stack `may` coroutines (`coroutine`).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use super::*;

mod api_mode;
mod contract;
mod coroutine;
mod limits;

/// KV keyed by (site, key); logs as (site, level, message).
#[derive(Default)]
pub(super) struct MemHost {
    pub kv: Mutex<HashMap<(String, String), String>>,
    pub logs: Mutex<Vec<(String, String, String)>>,
    /// Per-site total bytes of keys + values, like the real host's quota.
    pub quota: Option<usize>,
}

impl MemHost {
    pub fn logs_of(&self, site: &str) -> Vec<(String, String)> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _, _)| s == site)
            .map(|(_, l, m)| (l.clone(), m.clone()))
            .collect()
    }

    pub fn stored(&self, site: &str, key: &str) -> Option<String> {
        self.kv
            .lock()
            .unwrap()
            .get(&(site.to_owned(), key.to_owned()))
            .cloned()
    }
}

impl Host for MemHost {
    fn kv_get(&self, site: &str, key: &str) -> Result<Option<String>, String> {
        if key == "panic!" {
            panic!("host bug");
        }
        Ok(self.stored(site, key))
    }

    fn kv_set(&self, site: &str, key: &str, value: &str) -> Result<(), String> {
        let mut kv = self.kv.lock().unwrap();
        if let Some(quota) = self.quota {
            let used: usize = kv
                .iter()
                .filter(|((s, k), _)| s == site && k != key)
                .map(|((_, k), v)| k.len() + v.len())
                .sum();
            if used + key.len() + value.len() > quota {
                return Err(format!("site {site} KV quota of {quota} bytes exceeded"));
            }
        }
        kv.insert((site.to_owned(), key.to_owned()), value.to_owned());
        Ok(())
    }

    fn kv_admit(&self, site: &str, key: &str, value: &str, pending: i64) -> Result<(), String> {
        let Some(quota) = self.quota else {
            return Ok(());
        };
        let kv = self.kv.lock().unwrap();
        let used: usize = kv
            .iter()
            .filter(|((s, k), _)| s == site && k != key)
            .map(|((_, k), v)| k.len() + v.len())
            .sum();
        if used as i64 + pending + (key.len() + value.len()) as i64 > quota as i64 {
            return Err(format!("site {site} KV quota of {quota} bytes exceeded"));
        }
        Ok(())
    }

    fn kv_delete(&self, site: &str, key: &str) -> Result<(), String> {
        self.kv
            .lock()
            .unwrap()
            .remove(&(site.to_owned(), key.to_owned()));
        Ok(())
    }

    fn log(&self, site: &str, level: &str, message: &str) {
        self.logs
            .lock()
            .unwrap()
            .push((site.to_owned(), level.to_owned(), message.to_owned()));
    }
}

pub(super) fn engine_with(limits: Limits, host: MemHost) -> (Arc<MemHost>, Engine) {
    let host = Arc::new(host);
    let engine = Engine::new(host.clone(), limits).expect("spawn workers");
    (host, engine)
}

pub(super) fn engine() -> (Arc<MemHost>, Engine) {
    engine_with(Limits::default(), MemHost::default())
}

pub(super) fn script(site: &str, kind: ScriptKind, source: &str) -> Script {
    let mut h = DefaultHasher::new();
    source.hash(&mut h);
    Script {
        site: site.to_owned(),
        kind,
        hash: format!("{:016x}", h.finish()),
        source: Arc::from(source),
    }
}

pub(super) fn main_js(site: &str, source: &str) -> Script {
    script(site, ScriptKind::Main, source)
}

pub(super) fn get(path: &str) -> JsRequest {
    JsRequest {
        method: "GET".into(),
        path: path.into(),
        ..JsRequest::default()
    }
}

/// Runs a `main.js` source for `GET /` and returns the response.
pub(super) fn run_main(engine: &Engine, site: &str, source: &str) -> Result<JsResponse, JsError> {
    engine.run(&main_js(site, source), &[], get("/"))
}

pub(super) fn body(r: &JsResponse) -> &str {
    std::str::from_utf8(&r.body).expect("utf-8 body")
}

/// The body of a successful run, or a panic naming the error.
pub(super) fn ok_body(r: Result<JsResponse, JsError>) -> String {
    match r {
        Ok(r) => {
            assert_eq!(r.status, 200, "status of {:?}", body(&r));
            body(&r).to_owned()
        }
        Err(e) => panic!("script failed: {e:?}"),
    }
}
