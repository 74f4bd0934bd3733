//! The engine's public data types: the [`Host`] interface the rest of fazt implements,
//! the [`Limits`] every script runs under, and the script / request / response values
//! that cross the boundary between the HTTP layer and the JS worker threads.

use std::sync::Arc;
use std::time::Duration;

/// What a script can reach outside its own QuickJS context. Implemented by the lead over
/// fazt.db. Every call names the site, and an implementation must only ever touch that
/// site's data: that is what keeps one site's script out of another site's KV and logs.
///
/// Called on the engine's JS worker threads (plain OS threads with large stacks), never on
/// a `may` coroutine, so blocking (SQLite I/O) is fine, but it holds up that worker: keep
/// calls bounded (e.g. a SQLite `busy_timeout`). Time spent in these calls counts against
/// the script's CPU-time budget only in that the budget is wall-clock (see [`Limits`]).
pub trait Host: Send + Sync {
    /// The raw stored value of `key`, `None` when missing. An `Err` becomes a JS `Error`
    /// thrown from `db.get` carrying the message.
    fn kv_get(&self, site: &str, key: &str) -> Result<Option<String>, String>;
    /// Store `value` under `key`. The host enforces the site's total KV quota and returns
    /// an error message (thrown as a JS `Error`) when it would be exceeded.
    fn kv_set(&self, site: &str, key: &str, value: &str) -> Result<(), String>;
    /// Remove `key`; removing a missing key is not an error.
    fn kv_delete(&self, site: &str, key: &str) -> Result<(), String>;
    /// Whether storing `value` under `key` keeps the site within its KV quota, counting
    /// `pending` bytes the run has set before (not committed yet). The error is thrown from
    /// `db.set`; the commit checks again. Hosts without a quota keep the default.
    fn kv_admit(&self, _site: &str, _key: &str, _value: &str, _pending: i64) -> Result<(), String> {
        Ok(())
    }
    /// Commits one run's writes (`Some` stores, `None` deletes) together, then calls `done`
    /// with the outcome — possibly later and from another thread; the request is answered
    /// from `done`. The default applies them one by one at once.
    fn kv_commit(
        &self,
        site: &str,
        writes: Vec<(String, Option<String>)>,
        done: Box<dyn FnOnce(Result<(), String>) + Send>,
    ) {
        let r = writes.iter().try_for_each(|(k, v)| match v {
            Some(v) => self.kv_set(site, k, v),
            None => self.kv_delete(site, k),
        });
        done(r)
    }
    /// Append a line to the site's logs. `level` is one of `debug`, `info`, `warn`,
    /// `error`. The engine already caps the count and size of lines per request.
    fn log(&self, site: &str, level: &str, message: &str);
    /// The text of the site's file at `path` for `require`, `None` when there is none or it
    /// is larger than `max` bytes (or not UTF-8). Hosts without files keep the default.
    fn read_module(&self, _site: &str, _path: &str, _max: usize) -> Result<Option<String>, String> {
        Ok(None)
    }
    /// A script's `fetch`: the host applies its address policy and follows redirects; the
    /// engine has checked the method, headers and the per-request count. The `Err` message
    /// is thrown as a `TypeError` (as browsers do for network errors).
    fn fetch(&self, _site: &str, _req: &FetchRequest) -> Result<FetchResponse, String> {
        Err("fetch is not available here".to_owned())
    }
    /// `socket.broadcast(msg)`: sends the text to every WebSocket client of the site and
    /// returns how many it went to. Hosts without sockets keep the default (none).
    fn socket_broadcast(&self, _site: &str, _msg: &str) -> usize {
        0
    }
    /// `socket.clients()`: the site's connected WebSocket clients.
    fn socket_clients(&self, _site: &str) -> usize {
        0
    }
}

/// An outgoing request from a script.
#[derive(Clone, Debug)]
pub struct FetchRequest {
    /// Upper-case method.
    pub method: String,
    /// Absolute `http(s)://` URL.
    pub url: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Vec<u8>,
    /// What is left of the script's time.
    pub timeout: std::time::Duration,
}

/// What a fetch got back (after redirects).
#[derive(Clone, Debug)]
pub struct FetchResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The final URL.
    pub url: String,
}

/// Resource limits. Every field is enforced by the engine itself except the per-site KV
/// total, which only the host can know.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Wall-clock budget for one request's script run on its worker (evaluation, promise
    /// jobs, host calls). Exceeded → the script is interrupted (uncatchably) and the run
    /// ends with [`JsError::Timeout`](super::JsError::Timeout). Default 1 s.
    pub cpu_time: Duration,
    /// QuickJS heap limit per worker runtime, enforced by the runtime's allocator (see
    /// `alloc.rs`); the runtime itself and the fresh context of each request (~0.3 MiB
    /// together) count against it. Default 32 MiB.
    pub memory_bytes: usize,
    /// Largest `req.body` accepted; bigger → [`JsError::RequestTooLarge`](super::JsError::RequestTooLarge). Default 1 MiB.
    pub max_request_body: usize,
    /// Largest response body a script may build; growing past it throws a `RangeError`
    /// inside the script. Default 8 MiB.
    pub max_response_body: usize,
    /// Most response headers a script may set; one more throws a `RangeError`. Default 64.
    pub max_headers: usize,
    /// Longest KV key in bytes (UTF-8); longer throws a `RangeError`. Default 512.
    pub max_key_bytes: usize,
    /// Longest KV value in bytes after serialisation; longer throws a `RangeError`.
    /// Default 1 MiB.
    pub max_value_bytes: usize,
    /// Console lines passed to [`Host::log`] per request; the rest are counted and
    /// reported in one final line. Default 100.
    pub max_log_lines: usize,
    /// Longest console line in bytes; longer lines are cut at a char boundary and marked
    /// with `…`. Default 4096.
    pub max_log_bytes: usize,
    /// Number of JS worker threads, each owning one QuickJS runtime. Default 2, at least 1.
    pub threads: usize,
    /// Requests queued or running at once; one more is refused at once with
    /// [`JsError::Overloaded`](super::JsError::Overloaded). Default 64.
    pub max_pending: usize,
    /// A request that waited in the queue longer than this is answered
    /// [`JsError::Overloaded`](super::JsError::Overloaded) without running. Default 5 s.
    pub queue_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_time: Duration::from_secs(1),
            memory_bytes: 32 << 20,
            max_request_body: 1 << 20,
            max_response_body: 8 << 20,
            max_headers: 64,
            max_key_bytes: 512,
            max_value_bytes: 1 << 20,
            max_log_lines: 100,
            max_log_bytes: 4096,
            threads: 2,
            max_pending: 64,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

/// Which of a site's two script conventions is being run (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScriptKind {
    /// `main.js` at the site root: runs for every request; globals `req`, `res`.
    Main,
    /// `api/main.js`: runs for `/api` and `/api/*`; globals `request`, `respond`, and the
    /// script's completion value is the response.
    Api,
}

impl ScriptKind {
    /// The file name shown in stack traces and error messages.
    pub fn file_name(self) -> &'static str {
        match self {
            ScriptKind::Main => "main.js",
            ScriptKind::Api => "api/main.js",
        }
    }
}

/// One deployed script. `source` is only read when the engine has no bytecode cached for
/// (`site`, `kind`, `hash`), so a caller may hand in the same `Arc` every time.
#[derive(Clone, Debug)]
pub struct Script {
    /// The site's name; the key for the bytecode cache and every [`Host`] call.
    pub site: String,
    pub kind: ScriptKind,
    /// Content hash (fazt uses sha256 hex); any change means "recompile".
    pub hash: String,
    pub source: Arc<str>,
}

/// The request as the script sees it (`req` / `request`).
#[derive(Clone, Debug, Default)]
pub struct JsRequest {
    pub method: String,
    /// The URL path, without the query string.
    pub path: String,
    /// The raw query string, without the leading `?` (empty when none).
    pub query: String,
    /// Header names as sent. Repeated names are joined with `, ` into one property.
    pub headers: Vec<(String, String)>,
    /// The body bytes; the script sees them as a string (invalid UTF-8 replaced by U+FFFD).
    pub body: Vec<u8>,
}

/// The response the script produced. Headers are already validated: names are HTTP
/// tokens, values hold no CR/LF/NUL, and framing headers (`Content-Length`,
/// `Transfer-Encoding`, `Connection`, …) can never appear, so the HTTP layer can write
/// them as they are and add its own framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl JsResponse {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
