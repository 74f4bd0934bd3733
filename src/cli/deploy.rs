//! The client commands: `fazt deploy`, `fazt client set-auth-token`, `fazt sites`. They talk
//! to a server's API; nothing here opens a database.

use std::io::IsTerminal;
use std::path::PathBuf;

use pico_args::Arguments;
use serde_json::Value;

use super::common::{finish, opt, wants_help, CliError, Help};
use crate::client::config::{self, ClientConfig};
use crate::client::http::{request, ApiResponse, ClientResponse, Url};
use crate::client::pack;

const DEPLOY_HELP: Help = Help("deploy");

const CLIENT_HELP: Help = Help("client");

const SITES_HELP: Help = Help("sites");

pub(super) struct Conn {
    url: Url,
    pub(super) server: String,
    token: String,
    insecure: bool,
}

/// The connection flags, taken before the command's arguments are checked (so an unknown
/// flag is reported before a missing token); [`ConnFlags::resolve`] turns them into a
/// connection afterwards.
pub(super) struct ConnFlags {
    pub(super) server: Option<String>,
    token: Option<String>,
    insecure: bool,
}

pub(super) fn connection(args: &mut Arguments) -> Result<ConnFlags, CliError> {
    Ok(ConnFlags {
        server: opt(args, "--server")?,
        token: opt(args, "--token")?,
        insecure: args.contains("--insecure"),
    })
}

impl ConnFlags {
    pub(super) fn resolve(self) -> Result<Conn, CliError> {
        let insecure = self.insecure;
        let (server, token) = config::resolve(self.server, self.token).map_err(CliError::fail)?;
        let url = Url::parse(&server).map_err(|e| CliError::usage(e.to_string()))?;
        let token = token.ok_or_else(|| {
        CliError::fail(format!(
            "no token for {server}: pass --token, set FAZT_TOKEN, or run `fazt client set-auth-token --token T --server {server}`"
        ))
    })?;
        Ok(Conn {
            url,
            server,
            token,
            insecure,
        })
    }
}

pub(super) fn call(
    c: &Conn,
    method: &str,
    path: &str,
    body: &[u8],
    ctype: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ClientResponse, CliError> {
    let auth = format!("Bearer {}", c.token);
    let mut headers = vec![("Authorization", auth.as_str())];
    if !ctype.is_empty() {
        headers.push(("Content-Type", ctype));
    }
    request(&c.url, method, path, &headers, body, c.insecure, progress).map_err(|e| {
        let hint = if !c.insecure && e.contains("invalid peer certificate") {
            " (a self-signed or private-CA certificate? --insecure skips the check)"
        } else {
            ""
        };
        CliError::fail(format!("{}: {e}{hint}", c.server))
    })
}

pub(super) fn api_error(c: &Conn, r: &ClientResponse) -> CliError {
    let hint = match r.status {
        401 => " — the token was refused",
        403 => " — the token's scope does not allow this",
        429 => " — too many failed logins from this address; wait a minute",
        _ => "",
    };
    CliError::fail(format!(
        "{} answered {}: {}{hint}",
        c.server,
        r.status,
        r.error_message()
    ))
}

pub fn deploy(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, DEPLOY_HELP) {
        return Ok(());
    }
    // `--domain NAME` and `--path DIR`: Go fazt's names for the site and the folder.
    let site = match (opt(&mut args, "--site")?, opt(&mut args, "--domain")?) {
        (Some(_), Some(_)) => return Err(CliError::usage("give --site or --domain, not both")),
        (a, b) => a.or(b),
    };
    let path = opt(&mut args, "--path")?;
    let message = match (opt(&mut args, "-m")?, opt(&mut args, "--message")?) {
        (Some(_), Some(_)) => return Err(CliError::usage("give -m or --message, not both")),
        (a, b) => a.or(b),
    };
    let include_all = args.contains("--include-all");
    let force = args.contains("--force");
    let spa = match (args.contains("--spa"), args.contains("--no-spa")) {
        (true, true) => return Err(CliError::usage("give --spa or --no-spa, not both")),
        (true, false) => Some(true),
        (false, true) => Some(false),
        (false, false) => None,
    };
    let flags = connection(&mut args)?;
    let dir: Option<PathBuf> = args
        .opt_free_from_str()
        .map_err(|e| CliError::usage(e.to_string()))?;
    finish(args, "deploy")?;
    let dir = match (dir, path) {
        (Some(_), Some(_)) => return Err(CliError::usage("give DIR or --path DIR, not both")),
        (d, p) => d.or(p.map(PathBuf::from)),
    };
    let conn = flags.resolve()?;
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    if !dir.is_dir() {
        return Err(CliError::fail(format!("{} is not a folder", dir.display())));
    }
    let site = match site {
        Some(s) => s,
        None => std::fs::canonicalize(&dir)
            .ok()
            .and_then(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_ascii_lowercase)
            })
            .ok_or_else(|| {
                CliError::usage("cannot name the site after the folder: pass --site NAME")
            })?,
    };
    let mut query: Vec<String> = Vec::new();
    if force {
        query.push("force=true".into());
    }
    match spa {
        Some(true) => query.push("spa=true".into()),
        Some(false) => query.push("spa=false".into()),
        None => {}
    }
    if let Some(m) = &message {
        query.push(format!("message={}", encode_query(m)));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    let up = Upload {
        dir: &dir,
        include_all,
        site: &site,
        query: &query,
        tty: std::io::stderr().is_terminal(),
    };
    let r = match incremental(&conn, &up)? {
        Some(r) => r,
        None => full_zip(&conn, &up)?,
    };
    if r.status != 200 {
        return Err(api_error(&conn, &r));
    }
    let v = r.json().unwrap_or(Value::Null);
    let d = &v["data"];
    eprintln!(
        "deployed {} files ({} bytes) to '{}' (deployment {})",
        d["file_count"],
        d["size_bytes"],
        d["site"].as_str().unwrap_or(&site),
        d["deployment_id"]
    );
    println!("{}", d["url"].as_str().unwrap_or(""));
    Ok(())
}

/// Percent-encodes a query parameter's value.
fn encode_query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn progress(tty: bool) -> impl FnMut(u64, u64) {
    move |sent: u64, total: u64| {
        if tty && total > 0 {
            eprint!(
                "\ruploading {:>3}% ({sent}/{total} bytes)",
                sent * 100 / total
            );
        }
    }
}

/// What `fazt deploy` sends where.
struct Upload<'a> {
    dir: &'a std::path::Path,
    include_all: bool,
    site: &'a str,
    /// `?force=…&spa=…&message=…`, or empty.
    query: &'a str,
    tty: bool,
}

/// The incremental deploy: the manifest first, then only the files the server lacks. `None`
/// when the server predates it (it answers 404 or 405): the caller sends the whole folder.
fn incremental(conn: &Conn, up: &Upload<'_>) -> Result<Option<ClientResponse>, CliError> {
    let (dir, tty) = (up.dir, up.tty);
    let m = pack::Manifest::of(dir, up.include_all).map_err(CliError::fail)?;
    let path = format!("/api/sites/{}/deployments{}", up.site, up.query);
    let mut send: Vec<String> = Vec::new();
    let mut sent = 0u64;
    // A content the server had when it answered may be gone by the next request (another
    // deploy dropped it): ask again, a few times, before giving up.
    for _ in 0..3 {
        let zip = m.zip(dir, &send).map_err(CliError::fail)?;
        sent += zip.len() as u64;
        let r = call(
            conn,
            "POST",
            &path,
            &zip,
            "application/zip",
            &mut progress(tty),
        )?;
        if tty {
            eprintln!();
        }
        if matches!(r.status, 404 | 405) && send.is_empty() {
            return Ok(None);
        }
        let v = r.json().unwrap_or(Value::Null);
        if r.status == 409 && v["error"]["code"] == "MISSING_CONTENT" {
            send = v["error"]["missing"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(String::from))
                .collect();
            continue;
        }
        if r.status == 200 {
            eprintln!(
                "sent {sent} bytes: {} of {} files ({} bytes) were new to the server",
                send.len(),
                m.files.len(),
                m.bytes()
            );
        }
        return Ok(Some(r));
    }
    Err(CliError::fail(format!(
        "{}: the server kept asking for contents; deploy again",
        conn.server
    )))
}

/// The whole folder as one ZIP (servers before incremental deploys).
fn full_zip(conn: &Conn, up: &Upload<'_>) -> Result<ClientResponse, CliError> {
    let tty = up.tty;
    let packed = pack::pack(up.dir, up.include_all).map_err(CliError::fail)?;
    if tty {
        eprintln!(
            "packed {} files ({} bytes) into {} bytes",
            packed.files,
            packed.bytes,
            packed.zip.len()
        );
    }
    let path = format!("/api/sites/{}{}", up.site, up.query);
    let r = call(
        conn,
        "PUT",
        &path,
        &packed.zip,
        "application/zip",
        &mut progress(tty),
    )?;
    if tty {
        eprintln!();
    }
    Ok(r)
}

pub fn client(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, CLIENT_HELP) {
        return Ok(());
    }
    match args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?
        .as_deref()
    {
        Some("set-auth-token") => {
            let token = opt(&mut args, "--token")?
                .ok_or_else(|| CliError::usage("set-auth-token needs --token T"))?;
            let server =
                opt(&mut args, "--server")?.unwrap_or_else(|| "http://localhost:4698".into());
            finish(args, "client set-auth-token")?;
            Url::parse(&server).map_err(|e| CliError::usage(e.to_string()))?;
            let mut cfg = ClientConfig::load().map_err(CliError::fail)?;
            cfg.set(&server, &token);
            let p = cfg.save().map_err(CliError::fail)?;
            println!(
                "saved the token for {} in {}",
                server.trim_end_matches('/'),
                p.display()
            );
            Ok(())
        }
        // Go fazt's spellings of the client commands.
        Some("sites") => sites(args),
        Some("delete") => sites_do(Some("delete".into()), args),
        Some("logs") => super::logs::run(args),
        Some("deploy") => deploy(args),
        _ => Err(CliError::usage(
            "usage: fazt client set-auth-token --token T [--server URL] | sites | logs SITE | delete NAME | deploy [DIR]",
        )),
    }
}

pub fn sites(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, SITES_HELP) {
        return Ok(());
    }
    let sub = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    sites_do(sub, args)
}

/// `fazt sites [delete NAME]`, also reached as Go fazt's `fazt client sites|delete`.
fn sites_do(sub: Option<String>, mut args: Arguments) -> Result<(), CliError> {
    let force = args.contains("--force");
    let flags = connection(&mut args)?;
    match sub.as_deref() {
        None => {
            finish(args, "sites")?;
            let conn = flags.resolve()?;
            let r = call(&conn, "GET", "/api/sites", b"", "", &mut |_, _| {})?;
            if r.status != 200 {
                return Err(api_error(&conn, &r));
            }
            let v = r.json().unwrap_or(Value::Null);
            println!("{:<28} {:>7} {:>12}  URL", "SITE", "FILES", "BYTES");
            for s in v["data"].as_array().into_iter().flatten() {
                println!(
                    "{:<28} {:>7} {:>12}  {}",
                    s["name"].as_str().unwrap_or(""),
                    s["file_count"].as_i64().unwrap_or(0),
                    s["size_bytes"].as_i64().unwrap_or(0),
                    s["url"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
        Some("delete") => {
            let name: String = args
                .free_from_str()
                .map_err(|_| CliError::usage("sites delete needs a NAME"))?;
            finish(args, "sites delete")?;
            let conn = flags.resolve()?;
            let path = format!(
                "/api/sites/{name}{}",
                if force { "?force=true" } else { "" }
            );
            let r = call(&conn, "DELETE", &path, b"", "", &mut |_, _| {})?;
            if r.status != 200 {
                return Err(api_error(&conn, &r));
            }
            println!("deleted site '{name}'");
            Ok(())
        }
        Some(other) => Err(CliError::usage(format!(
            "unknown `fazt sites {other}` (see `fazt sites --help`)"
        ))),
    }
}
