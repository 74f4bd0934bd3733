//! The management API's handlers. The route table (`app::routes`) picks the handler and has
//! already checked the token's scope; each handler validates its input completely before
//! changing anything, and audits what it changed as the [`Caller`].

use serde_json::{json, Value};

use super::Api;
use crate::access::{tokens, Caller, Scope};
use crate::audit;
use crate::database::FILES;
use crate::deploy::{self, DeployError, DeployMeta};
use crate::envelope::{bad_request, body_error, data, error, internal, not_found, ok};
use crate::hosting::{seed::SYSTEM_SITES, valid_site_name, Sites};
use crate::kernel::http::{Body, Request, Response};
use crate::kernel::multipart;
use crate::kernel::vfs;
use crate::scripts;

/// Request bodies of ordinary API calls (not uploads).
const SMALL_BODY: u64 = 1024 * 1024;
const RESERVED: [&str; 3] = ["admin", "api", "www"];
const ENV_VALUE_MAX: usize = 32 * 1024;

/// The raw value of query parameter `name` (empty when given without `=`).
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query()
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A query parameter's text, percent-decoded (`+` is a space); lossy on bad UTF-8.
pub fn query_text(req: &Request, name: &str) -> Option<String> {
    let raw = query_param(req, name)?.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match raw[i] {
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The optional `spa` of a deploy (query parameter or form field): absent keeps the site's
/// setting.
fn spa_flag(v: Option<&[u8]>) -> Result<Option<bool>, Response> {
    match v {
        None => Ok(None),
        Some(b"true" | b"1" | b"on" | b"yes") => Ok(Some(true)),
        Some(b"false" | b"0" | b"off" | b"no") => Ok(Some(false)),
        Some(other) => Err(error(
            400,
            "INVALID_SPA",
            format!(
                "spa must be true or false, not '{}'",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "yes"))
}

/// Any other path under `/api` (after the analytics API's, when it is built in).
pub fn no_route(method: &str, path: &str) -> Response {
    not_found(format!("no API route {method} {path}"))
}

/// Validates and normalises a site name given by a client.
pub fn site_name(api: &Api, raw: &str) -> Result<String, Response> {
    let mut n = raw.trim().to_ascii_lowercase();
    let suffix = format!(".{}", api.domain);
    if let Some(s) = n.strip_suffix(&suffix) {
        n = s.to_string();
    }
    if !valid_site_name(&n) {
        return Err(error(
            400,
            "INVALID_SITE_NAME",
            format!("'{raw}' is not a valid site name: use a-z, 0-9 and '-', 1 to 63 characters, not starting or ending with '-'"),
        ));
    }
    Ok(n)
}

/// System sites an admin token may replace with `?force=true`. `admin` is not among them:
/// it is fazt's own host, and a deployed page there would run with the API's origin — and
/// use the dashboard's session of whoever logs in.
const FORCIBLE: [&str; 2] = ["root", "404"];

fn check_reserved(name: &str, scope: Scope, force: bool) -> Result<(), Response> {
    let reserved = RESERVED.contains(&name) || SYSTEM_SITES.contains(&name);
    if reserved && !FORCIBLE.contains(&name) {
        return Err(error(
            403,
            "RESERVED_SITE_NAME",
            format!("'{name}' is reserved for fazt itself and cannot be deployed or deleted"),
        ));
    }
    if reserved && !(force && scope == Scope::Admin) {
        return Err(error(
            403,
            "RESERVED_SITE_NAME",
            format!("'{name}' is reserved; an admin token with ?force=true may replace it"),
        ));
    }
    Ok(())
}

/// Holds one of the [`DeployLimits::max_concurrent`](crate::deploy::DeployLimits) upload
/// places until the deploy is answered.
struct UploadSlot<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// An upload place, or the 503 to answer before reading a byte of the body.
fn upload_slot(api: &Api) -> Result<UploadSlot<'_>, Response> {
    use std::sync::atomic::Ordering;
    let max = api.deploy_limits.max_concurrent.max(1);
    let before = api.uploads.fetch_add(1, Ordering::AcqRel);
    let slot = UploadSlot(&api.uploads);
    if before >= max {
        drop(slot);
        return Err(error(
            503,
            "UPLOADS_BUSY",
            format!("{max} deploys are already being uploaded; try again shortly"),
        )
        .header("Retry-After", "5")
        .closing());
    }
    Ok(slot)
}

/// `POST /api/deploy`: fazt's Go client's multipart form (`site_name`, `file`).
pub fn deploy_multipart(api: &Api, req: &Request, body: &mut Body<'_>, who: &Caller) -> Response {
    let _slot = match upload_slot(api) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(boundary) = req.header("content-type").and_then(multipart::boundary) else {
        return bad_request("expected multipart/form-data with fields site_name and file");
    };
    let raw = match body.read_all(api.deploy_limits.max_upload + 64 * 1024) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let parts = match multipart::parse(&raw, &boundary) {
        Ok(p) => p,
        Err(e) => return bad_request(format!("malformed multipart body: {e}")),
    };
    let field = |n: &str| parts.iter().find(|p| p.name == n);
    let Some(name) = field("site_name").map(|p| String::from_utf8_lossy(p.data).into_owned())
    else {
        return bad_request("missing form field 'site_name'");
    };
    let Some(file) = field("file") else {
        return bad_request("missing form file 'file' (a .zip)");
    };
    let force = is_true(query_param(req, "force"))
        || field("force").is_some_and(|f| matches!(f.data, b"true" | b"1"));
    let spa = match spa_flag(
        field("spa")
            .map(|f| f.data)
            .or_else(|| query_param(req, "spa").map(str::as_bytes)),
    ) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Copy the file part out and free the whole body, so a deploy holds one copy of the ZIP.
    let zip = file.data.to_vec();
    let message = field("message").map(|f| String::from_utf8_lossy(f.data).into_owned());
    drop(parts);
    drop(raw);
    run_deploy(api, req, &name, zip, who, (force, spa, message), false)
}

/// `PUT /api/sites/{name}`: the ZIP as the body; `POST /api/sites/{name}/deployments`
/// (`incremental`): a ZIP with the manifest and the contents the server lacks.
pub fn deploy_raw(
    api: &Api,
    req: &Request,
    body: &mut Body<'_>,
    who: &Caller,
    name: &str,
    incremental: bool,
) -> Response {
    // Refuse a bad name or flag before reading an upload of up to 100 MiB.
    if let Err(r) = site_name(api, name) {
        return r.closing();
    }
    let spa = match spa_flag(query_param(req, "spa").map(str::as_bytes)) {
        Ok(s) => s,
        Err(r) => return r.closing(),
    };
    let _slot = match upload_slot(api) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let zip = match body.read_all(api.deploy_limits.max_upload) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let force = is_true(query_param(req, "force"));
    run_deploy(api, req, name, zip, who, (force, spa, None), incremental)
}

/// A deploy's options: `force` (a reserved name), the SPA flag, the message (else the
/// `message` query parameter).
type DeployOptions = (bool, Option<bool>, Option<String>);

fn run_deploy(
    api: &Api,
    req: &Request,
    raw_name: &str,
    zip: Vec<u8>,
    p: &Caller,
    (force, spa, message): DeployOptions,
    incremental: bool,
) -> Response {
    let name = match site_name(api, raw_name) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if let Err(r) = check_reserved(&name, p.scope, force) {
        return r;
    }
    if zip.is_empty() {
        return bad_request("empty upload: send a .zip of the site");
    }
    let message = message
        .or_else(|| query_text(req, "message"))
        .unwrap_or_default();
    if message.len() > 1000 || message.chars().any(char::is_control) {
        return bad_request("the message must be one line of at most 1000 bytes");
    }
    let meta = DeployMeta {
        site: name.clone(),
        actor: p.name.clone(),
        from: p.ip.to_string(),
        message,
        spa,
    };
    match deploy::deploy(&api.db, zip, &api.deploy_limits, meta, incremental) {
        Ok(d) => {
            api.notify_site_changed(&name);
            // The replaced or deleted files left free pages: give them back to the disk.
            api.db.reclaim_in_background();
            audit::record(
                &api.db,
                p,
                "deploy",
                &name,
                &json!({"files": d.file_count, "bytes": d.size_bytes, "deployment_id": d.deployment_id}).to_string(),
            );
            log::info!(
                "deployed {name}: {} files, {} bytes (by {})",
                d.file_count,
                d.size_bytes,
                p.name
            );
            data(
                200,
                json!({
                    "site": name,
                    "file_count": d.file_count,
                    "size_bytes": d.size_bytes,
                    "deployment_id": d.deployment_id,
                    "spa": api.sites.info(&name).spa,
                    "url": api.site_url(&name, req),
                }),
            )
        }
        Err(DeployError::Refused {
            status,
            code,
            message,
        }) => error(status, code, message),
        Err(DeployError::Missing(paths)) => missing_content(paths),
        Err(DeployError::Internal(e)) => internal(e),
    }
}

/// 409 for an incremental deploy that lacks contents: the error names the paths to send.
fn missing_content(paths: Vec<String>) -> Response {
    let message = format!(
        "{} files' contents are not on the server; send them with the manifest",
        paths.len()
    );
    let body = json!({"error": {"code": "MISSING_CONTENT", "message": message, "missing": paths}});
    Response::json(409, &body)
}

/// `GET /api/sites`.
pub fn list_sites(api: &Api, req: &Request) -> Response {
    // The sites' rows (hosting) joined here with what the VFS stores for each.
    let rows = api.sites.list().and_then(|sites| {
        let usage: std::collections::HashMap<String, vfs::Usage> =
            api.vfs.usage_by_site()?.into_iter().collect();
        Ok((sites, usage))
    });
    match rows {
        Ok((sites, usage)) => ok(Value::Array(
            sites
                .into_iter()
                .map(|(name, system, updated)| {
                    let u = usage.get(&name).cloned().unwrap_or_default();
                    json!({"name": name, "url": api.site_url(&name, req), "system": system,
                           "file_count": u.files, "size_bytes": u.bytes, "updated_at": updated})
                })
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

/// `GET /api/sites/{name}`.
pub fn get_site(api: &Api, req: &Request, raw: &str) -> Response {
    let name = match site_name(api, raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let info = api.sites.info(&name);
    if !info.exists {
        return not_found(format!("no site '{name}'"));
    }
    let stats = api
        .vfs
        .site_usage(&name)
        .and_then(|u| Ok((u, deploy::history::last(&api.db, &name)?)));
    match stats {
        Ok((u, last)) => ok(json!({
            "name": name, "url": api.site_url(&name, req), "file_count": u.files, "size_bytes": u.bytes,
            "spa": info.spa, "has_script": info.main_js || info.api_main_js,
            "websocket": info.websocket,
            "websocket_clients": api.websocket_clients.as_ref().map_or(0, |f| f(&name)),
            "last_deployment": last.map(|(id, at)| json!({"id": id, "created_at": at})),
        })),
        Err(e) => internal(e),
    }
}

/// `DELETE /api/sites/{name}`: its files, KV, env vars and logs.
pub fn delete_site(api: &Api, req: &Request, raw: &str, who: &Caller) -> Response {
    let name = match site_name(api, raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if let Err(r) = check_reserved(&name, Scope::Admin, is_true(query_param(req, "force"))) {
        return r;
    }
    if !api.sites.info(&name).exists {
        return not_found(format!("no site '{name}'"));
    }
    let n2 = name.clone();
    let r = api.db.write(move |c| -> rusqlite::Result<usize> {
        let tx = c.transaction()?;
        let files = deploy::rollback::forget_site(&tx, &n2)?;
        scripts::forget_site(&tx, &n2)?;
        crate::hosting::domains::clear_site(&tx, &n2)?;
        Sites::unregister(&tx, &n2)?;
        tx.commit()?;
        Ok(files)
    });
    match r {
        Ok(files) => {
            api.notify_site_changed(&name);
            if let Some(d) = &api.domains {
                d.invalidate();
            }
            // The replaced or deleted files left free pages: give them back to the disk.
            api.db.reclaim_in_background();
            audit::record(
                &api.db,
                who,
                "site.delete",
                &name,
                &json!({"files": files}).to_string(),
            );
            ok(json!({"site": name, "deleted": true, "file_count": files}))
        }
        Err(e) => internal(e),
    }
}

/// The settings `PATCH /api/sites/{name}` changes, each a boolean.
const SITE_SETTINGS: [&str; 2] = ["spa", "websocket"];

/// `PATCH /api/sites/{name}` with `{"spa": true|false, "websocket": true|false}` (either or
/// both): a site's settings.
pub fn patch_site(api: &Api, body: &mut Body<'_>, raw: &str, who: &Caller) -> Response {
    let name = match site_name(api, raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let raw_body = match body.read_all(SMALL_BODY) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let v: Value = match serde_json::from_slice(&raw_body) {
        Ok(Value::Object(o)) => Value::Object(o),
        Ok(_) => return bad_request("expected a JSON object such as {\"spa\": true}"),
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let settable = SITE_SETTINGS.join(", ");
    let Some(o) = v.as_object().filter(|o| !o.is_empty()) else {
        return bad_request(format!("expected at least one setting ({settable})"));
    };
    if let Some(k) = o.keys().find(|k| !SITE_SETTINGS.contains(&k.as_str())) {
        return bad_request(format!("unknown setting '{k}' (settable: {settable})"));
    }
    let mut flags = [None; 2];
    for (i, k) in SITE_SETTINGS.iter().enumerate() {
        match o.get(*k) {
            None => {}
            Some(Value::Bool(b)) => flags[i] = Some(*b),
            Some(_) => return bad_request(format!("{k} must be true or false")),
        }
    }
    let [spa, websocket] = flags;
    let n = name.clone();
    // A site with files but no row (a database from fazt's Go version) gets its row here.
    let set = move |c: &mut rusqlite::Connection| -> rusqlite::Result<bool> {
        let tx = c.transaction()?;
        if Sites::system_flag(&tx, &n)?.is_none() {
            if !vfs::has_files(&tx, FILES, &n)? {
                return Ok(false);
            }
            Sites::register(&tx, &n, false)?;
        }
        if let Some(on) = spa {
            Sites::set_spa(&tx, &n, on)?;
        }
        if let Some(on) = websocket {
            Sites::set_websocket(&tx, &n, on)?;
        }
        tx.commit()?;
        Ok(true)
    };
    match api.db.write(set) {
        Ok(false) => not_found(format!("no site '{name}'")),
        Ok(true) => {
            api.notify_site_changed(&name);
            audit::record(
                &api.db,
                who,
                "site.update",
                &name,
                &Value::Object(o.clone()).to_string(),
            );
            let info = api.sites.info(&name);
            ok(json!({"site": name, "spa": info.spa, "websocket": info.websocket}))
        }
        Err(e) => internal(e),
    }
}

/// `GET /api/sites/{name}/files`.
pub fn list_files(api: &Api, raw: &str) -> Response {
    let name = match existing_site(api, raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match api.vfs.list(&name) {
        Ok(files) => ok(Value::Array(
            files
                .into_iter()
                .map(|f| json!({"path": f.path, "size_bytes": f.size, "mime_type": f.mime, "hash": f.hash,
                                "gzip_size": f.gzip_size, "updated_at": f.updated_at}))
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

fn valid_env_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !v.as_bytes()[0].is_ascii_digit()
}

/// A site name from the URL, checked, of a site that exists (404 otherwise).
pub fn existing_site(api: &Api, raw: &str) -> Result<String, Response> {
    let name = site_name(api, raw)?;
    if !api.sites.info(&name).exists {
        return Err(not_found(format!("no site '{name}'")));
    }
    Ok(name)
}

pub fn env_target(api: &Api, raw: &str, var: &str) -> Result<String, Response> {
    if !valid_env_name(var) {
        return Err(error(
            400,
            "INVALID_ENV_NAME",
            format!("'{var}' is not a valid variable name: use A-Z, a-z, 0-9 and _"),
        ));
    }
    existing_site(api, raw)
}

/// `GET /api/sites/{name}/env`: names only, never values.
pub fn list_env(api: &Api, raw: &str) -> Response {
    let name = match site_name(api, raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match scripts::env::names(&api.db, &name) {
        Ok(rows) => ok(Value::Array(
            rows.into_iter()
                .map(|(n, t)| json!({"name": n, "updated_at": t}))
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

/// `GET /api/sites/{name}/env/{VAR}`: whether it is set, never its value.
pub fn get_env(api: &Api, raw: &str, var: &str) -> Response {
    let name = match env_target(api, raw, var) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match scripts::env::updated_at(&api.db, &name, var) {
        Ok(Some(t)) => ok(json!({"name": var, "set": true, "updated_at": t})),
        Ok(None) => not_found(format!("{var} is not set for '{name}'")),
        Err(e) => internal(e),
    }
}

/// `PUT /api/sites/{name}/env/{VAR}`.
pub fn put_env(api: &Api, body: &mut Body<'_>, raw: &str, var: &str, who: &Caller) -> Response {
    let name = match env_target(api, raw, var) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let raw_body = match body.read_all(SMALL_BODY) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    // Either {"value": "..."} or the raw value itself.
    let value = match serde_json::from_slice::<Value>(&raw_body) {
        Ok(Value::Object(o)) => match o.get("value") {
            Some(Value::String(s)) => s.clone(),
            _ => return bad_request("expected {\"value\": \"…\"} or the raw value as the body"),
        },
        _ => match String::from_utf8(raw_body) {
            Ok(s) => s,
            Err(_) => return bad_request("the value must be UTF-8 text"),
        },
    };
    set_env(api, &name, var, value, who)
}

/// Stores one variable of a site already checked by [`env_target`] (also Go's
/// `POST /api/envvars`).
pub fn set_env(api: &Api, name: &str, var: &str, value: String, who: &Caller) -> Response {
    if value.len() > ENV_VALUE_MAX {
        return error(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("env values are limited to {ENV_VALUE_MAX} bytes"),
        );
    }
    match scripts::env::set(&api.db, name, var, value) {
        Ok(_) => {
            api.notify_site_changed(name);
            audit::record(&api.db, who, "env.set", &format!("{name}/{var}"), "");
            ok(json!({"site": name, "name": var, "set": true}))
        }
        Err(e) => internal(e),
    }
}

/// `DELETE /api/sites/{name}/env/{VAR}`.
pub fn delete_env(api: &Api, raw: &str, var: &str, who: &Caller) -> Response {
    let name = match env_target(api, raw, var) {
        Ok(n) => n,
        Err(r) => return r,
    };
    match scripts::env::delete(&api.db, &name, var) {
        Ok(false) => not_found(format!("{var} is not set for '{name}'")),
        Ok(true) => {
            api.notify_site_changed(&name);
            audit::record(&api.db, who, "env.delete", &format!("{name}/{var}"), "");
            ok(json!({"site": name, "name": var, "deleted": true}))
        }
        Err(e) => internal(e),
    }
}

pub fn limit_param(req: &Request, default: i64, max: i64) -> i64 {
    query_param(req, "limit")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

/// `GET /api/sites/{name}/logs?limit=&after=`: the latest `limit` lines, or those after the
/// line with id `after` (how `fazt logs -f` follows a remote server).
pub fn site_logs(api: &Api, req: &Request, raw: &str) -> Response {
    let name = match site_name(api, raw) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let limit = limit_param(req, 100, 1000);
    let after = match query_param(req, "after").map(str::parse::<i64>) {
        None => 0,
        Some(Ok(a)) if a >= 0 => a,
        Some(_) => return bad_request("'after' must be a line id (a number, 0 or more)"),
    };
    if matches!(query_param(req, "follow"), Some("1" | "true")) {
        // A reconnecting EventSource says where it was.
        let after = req
            .header("last-event-id")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|id| *id >= 0)
            .unwrap_or(after);
        return super::logs_follow::follow(api.db.clone(), name, after);
    }
    match scripts::logs::recent(&api.db, &name, after, limit) {
        Ok(lines) => ok(Value::Array(
            lines.into_iter().map(|l| l.to_json()).collect(),
        )),
        Err(e) => internal(e),
    }
}

/// `GET /api/deployments?limit=`, newest first.
pub fn deployments(api: &Api, req: &Request) -> Response {
    let limit = limit_param(req, 50, 500);
    match deploy::history::recent(&api.db, limit) {
        Ok(rows) => ok(Value::Array(
            rows.into_iter()
                .map(|d| {
                    json!({"id": d.id, "site": d.site, "file_count": d.file_count,
                           "size_bytes": d.size_bytes, "deployed_by": d.deployed_by,
                           "created_at": d.created_at})
                })
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

/// `GET /api/keys`.
pub fn list_keys(api: &Api) -> Response {
    match tokens::list(&api.db) {
        Ok(rows) => ok(Value::Array(
            rows.into_iter()
                .map(|k| {
                    json!({"id": k.id, "name": k.name, "scope": k.scope, "created_at": k.created_at,
                           "last_used_at": k.last_used_at})
                })
                .collect(),
        )),
        Err(e) => internal(e),
    }
}

/// `POST /api/keys`: the new token is in the answer, once.
pub fn create_key(api: &Api, body: &mut Body<'_>, who: &Caller) -> Response {
    let raw = match body.read_all(SMALL_BODY) {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let v: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("invalid JSON: {e}")),
    };
    let Some(name) = v
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 100)
    else {
        return bad_request("field 'name' (1 to 100 characters) is required");
    };
    let scope_s = v.get("scope").and_then(Value::as_str).unwrap_or("deploy");
    let Some(scope) = Scope::parse(scope_s) else {
        return bad_request(format!(
            "scope must be 'deploy' or 'admin', not '{scope_s}'"
        ));
    };
    match tokens::create(&api.db, name, scope) {
        Ok((id, token)) => {
            audit::record(&api.db, who, "key.create", name, scope.as_str());
            data(
                201,
                json!({"id": id, "name": name, "scope": scope.as_str(), "token": token}),
            )
        }
        Err(e) => internal(e),
    }
}

/// `DELETE /api/keys/{id}`.
pub fn delete_key(api: &Api, id: &str, who: &Caller) -> Response {
    if id.parse::<i64>().is_err() {
        return bad_request(format!("'{id}' is not a key id"));
    }
    match tokens::revoke(&api.db, id) {
        Ok(0) => not_found(format!("no key {id}")),
        Ok(_) => {
            audit::record(&api.db, who, "key.revoke", id, "");
            ok(json!({"id": id.parse::<i64>().unwrap_or(0), "revoked": true}))
        }
        Err(e) => internal(e),
    }
}

/// Resident memory of this process in bytes (Linux), if readable.
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `GET /api/system/health`.
pub fn system_health(api: &Api) -> Response {
    let (vfs_bytes, files) = api.vfs.usage().unwrap_or((0, 0));
    ok(json!({
        "status": if api.db.healthy() { "ok" } else { "degraded" },
        "version": crate::version::running(),
        "pid": std::process::id(),
        "uptime_seconds": api.started.elapsed().as_secs(),
        "memory": {"rss_bytes": rss_bytes(), "cache_bytes": api.vfs.cache_bytes()},
        "database": {"path": api.db.path().display().to_string(), "size_bytes": api.db.file_size(),
                     "schema_version": api.db.schema_version()},
        "vfs": {"files": files, "size_bytes": vfs_bytes},
        "domain": api.domain,
        "certificates": api.cert_status.as_ref().map_or(Value::Array(Vec::new()), |f| f()),
        "analytics": api.analytics_status.as_ref().map(|f| f()),
        "backup": backup_health(api),
    }))
}

/// The backup part of `/api/system/health`: the schedule, whether a replicator is attached,
/// and the newest snapshot recorded (any, and successful).
fn backup_health(api: &Api) -> Value {
    let (last, last_ok) = crate::backup::record::latest(&api.db).unwrap_or((None, None));
    let schedule = api.backup.schedule.as_ref().map(|s| {
        json!({
            "dir": s.dir.display().to_string(),
            "every_seconds": s.every.as_secs(),
            "keep": s.keep,
            "next_in_seconds": s.due_in(crate::kernel::db::now()),
        })
    });
    json!({
        "schedule": schedule,
        "replicated": api.db.replicated(),
        "last": last.map(|r| r.to_json()),
        "last_ok": last_ok.map(|r| r.to_json()),
    })
}
