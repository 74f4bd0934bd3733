//! Serverless JavaScript: runs a site's `main.js` or `api/main.js` on QuickJS (rquickjs)
//! for a request, compatible with fazt's Go runtime. Owns script compilation and caching,
//! the JS worker threads, the per-request global scope and every script limit; talks to
//! the database and logs only through the [`Host`] trait.
//!
//! # Contract seen by scripts
//!
//! **`main.js`** (site root) runs for every request to the site (see [`select_script`]).
//! Globals:
//! - `req` = `{method, path, query, headers, body}`: `query` is the raw query string
//!   (no `?`), `headers` an object keyed by header names as sent (repeats joined with
//!   `, `), `body` a string (invalid UTF-8 replaced; at most
//!   [`Limits::max_request_body`] bytes, or the run is refused with
//!   [`JsError::RequestTooLarge`]).
//! - `res.send(s)`, `res.json(v)`, `res.status(code)`, `res.header(name, value)`: see
//!   `response.rs`; `send` defaults Content-Type to `text/html; charset=utf-8` and appends
//!   on repeated calls, `json` to `application/json`. A script that never responds gives
//!   an empty 200.
//!
//! **`api/main.js`** handles `/api` and `/api/*` only. Globals `request` (same shape as
//! `req`) and `respond(status?, body?, headers?)`; the script's completion value is the
//! response — a string → `text/html` body, an object → JSON, a `{status, body, headers}`
//! envelope (what `respond` returns) honoured; exact rules in `api.rs`.
//!
//! Both get:
//! - `db.get(key)`, `db.set(key, value)`, `db.delete(key)`, `db.incr(key, by)` on the
//!   site's own KV: strings stored raw, other values as JSON; `get` parses JSON when it
//!   can, else returns the raw string, `null` when missing (details and caps in `kv.rs`).
//!   A run's `db` calls are serialisable against the site's other runs (`site_lock.rs`). So the Counter example
//!   `var n = (db.get('count') || 0) + 1; db.set('count', n); res.send('<h1>Count: ' + n + '</h1>');`
//!   counts up.
//! - `process.env`: the site's env vars (strings), nothing from fazt's own environment.
//! - `console.log/info/debug/warn/error` → [`Host::log`] with level `info` (log and
//!   info), `debug`, `warn`, `error`; capped per request (see `console.rs`).
//! - `require('./lib/x.js')`: CommonJS modules from the site's own files (relative paths
//!   only; see `require.rs`).
//! - `fetch(url, {method, headers, body})`, synchronous as in Go fazt: `{status, ok, url,
//!   headers, text(), json()}`; at most 16 per request, inside the script's time; the host's
//!   SSRF guard decides which addresses may be reached (see `fetch.rs`).
//! - `socket.broadcast(msg)` → the number of the site's WebSocket clients (`GET /ws`) it
//!   went to; `socket.clients()` → how many are connected (see `socket.rs`).
//! - QuickJS's standard ECMAScript library (JSON, Date, RegExp, Map, Promise, typed
//!   arrays, …). No `std`/`os` modules, no timers, no file access.
//!
//! Promise jobs (async functions, `.then`) run to completion before the response is taken.
//!
//! # Failures
//! An uncaught exception → [`JsError::Exception`] (500) with `Name: message` and the
//! stack; a syntax error → [`JsError::Compile`] (500); running past
//! [`Limits::cpu_time`] → an uncatchable interrupt and [`JsError::Timeout`] (503); heap
//! past [`Limits::memory_bytes`] → a catchable error inside the script (`InternalError:
//! out of memory`, or `null` when even that object does not fit — QuickJS's convention),
//! [`JsError::OutOfMemory`] (500) if uncaught; recursion past QuickJS's 2 MiB stack
//! budget → a catchable `RangeError: Maximum call stack size exceeded`. The time limit
//! also holds across host calls (`db` throws once it has passed), allocations (refused
//! once it has passed), and native calls QuickJS cannot interrupt (the watchdog of
//! `pool.rs` answers 503 and replaces the worker 20% past the limit). All of these are
//! written to the site's logs (level `error`, with the stack) through [`Host::log`] before
//! [`Engine::run`] returns, so the HTTP layer only answers with
//! [`JsError::http_status`] and the short [`Display`](std::fmt::Display) text, which never
//! includes the stack.
//!
//! # Isolation
//! `main.js` runs as the body of a function in a context kept warm per site on each
//! worker (`worker.rs`): top-level declarations and the installed globals are fresh on
//! every request; what a script puts on `globalThis` or changes in the built-ins may
//! reach its own site's next request on that worker, and never another site's (each site
//! has its own contexts; a failed run drops its context). `api/main.js` gets a fresh
//! context per request. The only ways out are the [`Host`] calls, each passed the
//! script's own site name.
//!
//! # Speed
//! A script is compiled once per (site, kind, content hash) and the bytecode kept in
//! memory (a new hash recompiles and replaces it; [`Engine::forget`] drops a site). Each
//! of [`Limits::threads`] worker threads reuses one runtime; a `main.js` request to a warm
//! site costs a function call and its globals, an `api/main.js` one a fresh context and a
//! bytecode load. See `engine.rs` for why JS runs on its own threads.

mod alloc;
mod api;
mod arena_pins;
mod bytecode;
mod commit;
mod console;
mod convert;
mod engine;
mod error;
mod fetch;
mod globals;
mod headers;
mod kv;
mod overlay;
mod pool;
mod require;
mod response;
mod routing;
mod site_lock;
mod socket;
mod types;
mod worker;

#[cfg(test)]
mod tests;

pub use engine::Engine;
pub use error::JsError;
pub use routing::{is_api_path, select_script};
pub use types::{
    FetchRequest, FetchResponse, Host, JsRequest, JsResponse, Limits, Script, ScriptKind,
};
