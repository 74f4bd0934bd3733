//! `fazt servers add|list|default|remove|ping` (Go fazt v0.8's): several servers in the
//! client settings, each under a name that `--server NAME` and `FAZT_SERVER` accept in
//! place of its URL.

use std::time::Instant;

use pico_args::Arguments;

use super::common::{finish, opt, wants_help, CliError, Help};
use super::deploy::{api_error, call, connection};
use crate::client::config::ClientConfig;
use crate::client::http::{ApiResponse, Url};

const HELP: Help = Help("servers");

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && !n.contains("://")
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn name_arg(args: &mut Arguments, what: &str) -> Result<String, CliError> {
    let name: Option<String> = args
        .opt_free_from_str()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let name = name.ok_or_else(|| CliError::usage(format!("usage: fazt servers {what} NAME")))?;
    if !valid_name(&name) {
        return Err(CliError::usage(format!(
            "'{name}' is not a server name: use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(name)
}

fn load() -> Result<ClientConfig, CliError> {
    ClientConfig::load().map_err(CliError::fail)
}

fn known(cfg: &ClientConfig, name: &str) -> Result<String, CliError> {
    cfg.names
        .get(name)
        .and_then(|u| u.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            CliError::fail(format!(
                "no server named '{name}' (see `fazt servers list`)"
            ))
        })
}

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let sub = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    match sub.as_deref() {
        Some("add") => {
            let url = opt(&mut args, "--url")?;
            let token = opt(&mut args, "--token")?;
            let name = name_arg(&mut args, "add")?;
            finish(args, "servers add")?;
            let url = url.ok_or_else(|| CliError::usage("servers add needs --url URL"))?;
            let token = token.ok_or_else(|| CliError::usage("servers add needs --token T"))?;
            Url::parse(&url).map_err(|e| CliError::usage(format!("--url: {e}")))?;
            let url = url.trim_end_matches('/').to_string();
            let mut cfg = load()?;
            let first = cfg.names.is_empty();
            let default = cfg.default_server.clone();
            cfg.set(&url, &token);
            // `set` makes it the default; only the first server added should be.
            cfg.default_server = if first || default.is_none() {
                Some(url.clone())
            } else {
                default
            };
            cfg.names.insert(name.clone(), url.clone().into());
            let p = cfg.save().map_err(CliError::fail)?;
            println!("added server '{name}' ({url}) to {}", p.display());
            Ok(())
        }
        Some("list") => {
            finish(args, "servers list")?;
            let cfg = load()?;
            if cfg.names.is_empty() && cfg.tokens.is_empty() {
                println!("no servers yet: fazt servers add NAME --url URL --token T");
                return Ok(());
            }
            println!("  {:<16} URL", "NAME");
            let mut urls: Vec<&String> = cfg.tokens.keys().collect();
            urls.sort_unstable();
            for url in urls {
                let mark = if cfg.default_server.as_deref() == Some(url.as_str()) { "*" } else { " " };
                println!("{mark} {:<16} {url}", cfg.name_of(url).unwrap_or("-"));
            }
            Ok(())
        }
        Some("default") => {
            let name = name_arg(&mut args, "default")?;
            finish(args, "servers default")?;
            let mut cfg = load()?;
            let url = known(&cfg, &name)?;
            cfg.default_server = Some(url.clone());
            cfg.save().map_err(CliError::fail)?;
            println!("'{name}' ({url}) is the default server");
            Ok(())
        }
        Some("remove") => {
            let name = name_arg(&mut args, "remove")?;
            finish(args, "servers remove")?;
            let mut cfg = load()?;
            let url = known(&cfg, &name)?;
            cfg.names.remove(&name);
            if cfg.name_of(&url).is_none() {
                cfg.tokens.remove(&url);
            }
            if cfg.default_server.as_deref() == Some(url.as_str()) {
                cfg.default_server = None;
            }
            cfg.save().map_err(CliError::fail)?;
            println!("removed server '{name}' ({url})");
            Ok(())
        }
        Some("ping") => {
            let mut flags = connection(&mut args)?;
            let name: Option<String> = args
                .opt_free_from_str()
                .map_err(|e| CliError::usage(e.to_string()))?;
            finish(args, "servers ping")?;
            if let Some(n) = name {
                let cfg = load()?;
                flags.server = Some(known(&cfg, &n)?);
            }
            let conn = flags.resolve()?;
            let t = Instant::now();
            let r = call(&conn, "GET", "/api/system/health", b"", "", &mut |_, _| {})?;
            let ms = t.elapsed().as_millis();
            if r.status != 200 {
                return Err(api_error(&conn, &r));
            }
            let v = r.json().unwrap_or_default();
            let d = &v["data"];
            println!(
                "{}: {} — fazt {}, up {} s, {} ms",
                conn.server,
                d["status"].as_str().unwrap_or("?"),
                d["version"].as_str().unwrap_or("?"),
                d["uptime_seconds"].as_u64().unwrap_or(0),
                ms
            );
            Ok(())
        }
        _ => Err(CliError::usage(
            "usage: fazt servers add NAME --url URL --token T | list | default NAME | remove NAME | ping [NAME]",
        )),
    }
}
