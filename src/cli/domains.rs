//! `fazt domains add|list|remove`: a site's custom domains, directly in the database (on the
//! server; a running server sees a change within seconds). Remotely:
//! `/api/sites/{name}/domains`.

use pico_args::Arguments;

use super::common::{finish, open_existing_db, opt, wants_help, CliError, Help};
use crate::hosting::domains;
use crate::hosting::{valid_site_name, Sites};

const HELP: Help = Help("domains");

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let sub = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let db_flag = opt(&mut args, "--db")?;
    match sub.as_deref() {
        Some("add") => {
            let redirect = args.contains("--redirect");
            let rest: Vec<String> = args
                .finish()
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            if let Some(flag) = rest.iter().find(|a| a.starts_with('-')) {
                return Err(CliError::usage(format!(
                    "unexpected argument '{flag}' for `fazt domains add` (see `fazt domains --help`)"
                )));
            }
            let (site, names) = match rest.split_first() {
                Some((s, n)) if !n.is_empty() => (s.to_ascii_lowercase(), n.to_vec()),
                _ => {
                    return Err(CliError::usage(
                        "usage: fazt domains add SITE DOMAIN... [--redirect]",
                    ))
                }
            };
            if !valid_site_name(&site) {
                return Err(CliError::usage(format!(
                    "'{site}' is not a valid site name"
                )));
            }
            let (db, _) = open_existing_db(db_flag)?;
            let server_domain = std::env::var("FAZT_DOMAIN")
                .ok()
                .filter(|d| !d.is_empty())
                .or_else(|| crate::settings::get(&db, "domain").ok().flatten())
                .unwrap_or_else(|| "localhost".into());
            let mut checked = Vec::new();
            for n in &names {
                let d = domains::check_name(n, &server_domain)
                    .map_err(|e| CliError::usage(e.to_string()))?;
                if !checked.contains(&d) {
                    checked.push(d);
                }
            }
            if !Sites::new(db.clone()).info(&site).exists {
                return Err(CliError::fail(format!(
                    "no site '{site}' (deploy it first)"
                )));
            }
            let shown = checked.join(", ");
            let added = domains::add(&db, &site, checked, redirect);
            added.map_err(|e| CliError::fail(e.to_string()))?;
            println!("{shown} → site {site}");
            Ok(())
        }
        Some("list") => {
            let site: Option<String> = args
                .opt_free_from_str()
                .map_err(|e| CliError::usage(e.to_string()))?;
            finish(args, "domains list")?;
            let (db, _) = open_existing_db(db_flag)?;
            let rows =
                domains::list(&db, site.as_deref()).map_err(|e| CliError::fail(e.to_string()))?;
            if rows.is_empty() {
                println!("no custom domains (fazt domains add SITE DOMAIN)");
                return Ok(());
            }
            println!("{:<40} {:<20} ROLE", "DOMAIN", "SITE");
            for d in rows {
                let role = if d.primary {
                    "serves"
                } else {
                    "redirects to the primary"
                };
                println!("{:<40} {:<20} {role}", d.domain, d.site);
            }
            Ok(())
        }
        Some("remove") => {
            let domain: String = args
                .free_from_str()
                .map_err(|_| CliError::usage("usage: fazt domains remove DOMAIN"))?;
            finish(args, "domains remove")?;
            let (db, _) = open_existing_db(db_flag)?;
            let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
            match domains::remove(&db, &d).map_err(|e| CliError::fail(e.to_string()))? {
                Some(site) => {
                    println!("removed {d} (was site {site})");
                    Ok(())
                }
                None => Err(CliError::fail(format!("'{d}' is not a registered domain"))),
            }
        }
        _ => Err(CliError::usage(
            "usage: fazt domains add SITE DOMAIN... [--redirect] | list [SITE] | remove DOMAIN",
        )),
    }
}
