//! Go fazt v0.8's management routes that have a native form here, answered in Go's shapes
//! (its JSON keys, `{data}` envelope) so its clients and scripts keep working:
//! `/api/system/{limits,cache,db,config}` (and `/api/config`), `/api/envvars`, `/api/logs`
//! and a file's content. The events-based `/api/domains`, `/api/tags` and `/api/stats?format=v0`
//! live in the analytics vertical.

use serde_json::{json, Value};

use super::handlers::{env_target, existing_site, limit_param, query_param, set_env};
use super::Api;
use crate::access::Caller;
use crate::envelope::{bad_request, body_error, error, internal, ok};
use crate::kernel::http::{Body, Request, Response, ResponseBody};
use crate::kernel::vfs::Lookup;
use crate::scripts;

/// Largest file `GET /api/sites/{name}/files/{path}` returns (it is read into memory; the
/// site's own URL streams any size).
const FILE_CONTENT_MAX: u64 = 16 * 1024 * 1024;

/// A `/proc/meminfo` field in bytes.
fn meminfo(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The cgroup (v2) memory limit, when one is set: a container's RAM.
fn cgroup_limit() -> Option<u64> {
    std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `GET /api/system/limits`: Go's keys (RAM, CPUs, caps) with this server's real caps.
pub fn limits(api: &Api) -> Response {
    let total = match (meminfo("MemTotal:"), cgroup_limit()) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (_, _, cache_budget) = api.vfs.cache_stats();
    ok(json!({
        "TotalRAM": total,
        "AvailableRAM": meminfo("MemAvailable:"),
        "CPUCount": cpus,
        "MaxVFSBytes": cache_budget,
        "MaxUploadBytes": api.deploy_limits.max_upload,
        "max_concurrent_uploads": api.deploy_limits.max_concurrent,
    }))
}

/// `GET /api/system/cache`: the VFS hot cache.
pub fn cache(api: &Api) -> Response {
    let (files, bytes, budget) = api.vfs.cache_stats();
    ok(json!({"CachedFiles": files, "CacheSizeBytes": bytes, "budget_bytes": budget}))
}

/// `GET /api/system/db`: Go answered its connection pool; here one writer thread and a
/// reader per call, so the file itself is what there is to report.
pub fn db(api: &Api) -> Response {
    let wal = std::fs::metadata(format!("{}-wal", api.db.path().display())).map_or(0, |m| m.len());
    ok(json!({
        "path": api.db.path().display().to_string(),
        "size_bytes": api.db.file_size(),
        "wal_bytes": wal,
        "schema_version": api.db.schema_version(),
        "healthy": api.db.healthy(),
        "replicated": api.db.replicated(),
    }))
}

/// `GET /api/system/config` (and `/api/config`): the server's configuration, nothing secret.
pub fn config(api: &Api) -> Response {
    ok(json!({
        "version": crate::version::running(),
        "domain": api.domain,
        "env": "production",
        "https": api.https,
        "ntfy": false,
    }))
}

/// The `site_id` query parameter Go's routes take, checked like a site name.
fn site_param(api: &Api, req: &Request) -> Result<String, Response> {
    match query_param(req, "site_id").filter(|v| !v.is_empty()) {
        Some(s) => Ok(s.to_string()),
        None => Err(bad_request(format!(
            "{} {} needs ?site_id=NAME",
            req.method(),
            req.path()
        ))),
    }
    .and_then(|s| existing_site(api, &s))
}

/// `GET /api/envvars?site_id=`: `{vars: [{name, updated_at}]}`, never the values.
pub fn envvars_list(api: &Api, req: &Request) -> Response {
    let site = match site_param(api, req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match scripts::env::names(&api.db, &site) {
        Ok(rows) => ok(json!({"vars": rows.into_iter()
            .map(|(n, t)| json!({"name": n, "updated_at": t}))
            .collect::<Vec<_>>()})),
        Err(e) => internal(e),
    }
}

/// `POST /api/envvars` with `{site_id, name, value}`.
pub fn envvars_set(api: &Api, body: &mut Body<'_>, who: &Caller) -> Response {
    let raw = match body.read_all(64 * 1024) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let v: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let (site, name) = (field("site_id"), field("name"));
    if site.is_empty() {
        return bad_request("site_id is required");
    }
    let Some(value) = v.get("value").and_then(Value::as_str) else {
        return bad_request("value is required (a string)");
    };
    match env_target(api, site, name) {
        Ok(site) => set_env(api, &site, name, value.to_string(), who),
        Err(r) => r,
    }
}

/// `DELETE /api/envvars?site_id=&name=`. Go deleted by row id; variables here are keyed by
/// site and name, which is what this takes (`?id=` is answered with how to ask).
pub fn envvars_delete(api: &Api, req: &Request, who: &Caller) -> Response {
    let site = query_param(req, "site_id").filter(|v| !v.is_empty());
    let name = query_param(req, "name").filter(|v| !v.is_empty());
    match (site, name) {
        (Some(s), Some(n)) => super::handlers::delete_env(api, s, n, who),
        _ => error(
            400,
            "BAD_REQUEST",
            "DELETE /api/envvars needs ?site_id=SITE&name=VAR (variables are keyed by site and name here, not by id)",
        ),
    }
}

/// `GET /api/logs?site_id=&limit=`: `{logs: [...]}`, newest first, as Go answered.
pub fn logs(api: &Api, req: &Request) -> Response {
    let site = match site_param(api, req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let limit = limit_param(req, 50, 1000);
    match scripts::logs::recent(&api.db, &site, 0, limit) {
        Ok(lines) => ok(json!({"logs": lines.into_iter().rev()
            .map(|l| l.to_json())
            .collect::<Vec<_>>()})),
        Err(e) => internal(e),
    }
}

/// `GET /api/sites/{name}/files/{path…}`: the stored bytes of one file (scripts too: this is
/// the owner's API). Sent as a download, sandboxed, so a site's HTML never runs as the admin
/// host's page.
pub fn file_content(api: &Api, raw_site: &str, path: &str) -> Response {
    let site = match existing_site(api, raw_site) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let path = match crate::hosting::paths::clean(&format!("/{path}")) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => return bad_request("a file path is required"),
        Err(e) => return bad_request(format!("bad file path: {e}")),
    };
    let found = match api.vfs.lookup(&site, &path) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return error(
                404,
                "FILE_NOT_FOUND",
                format!("no file '{path}' in '{site}'"),
            )
        }
        Err(e) => return internal(e),
    };
    let mime = found.meta().mime.clone();
    let content = match found {
        Lookup::Inline(f) => f.content.to_vec(),
        Lookup::Large(meta) if meta.size > FILE_CONTENT_MAX => {
            return error(
                413,
                "FILE_TOO_LARGE",
                format!(
                    "'{path}' is {} bytes; this route returns files up to {FILE_CONTENT_MAX} bytes (download it from the site)",
                    meta.size
                ),
            )
        }
        Lookup::Large(meta) => match api.vfs.read_all(&site, &meta) {
            Ok(c) => c,
            Err(e) => return internal(e),
        },
    };
    Response::new(200)
        .header("Content-Type", mime)
        .header("Content-Disposition", "attachment")
        .header("Content-Security-Policy", "sandbox")
        .header("X-Content-Type-Options", "nosniff")
        .body(ResponseBody::Bytes(content))
}
