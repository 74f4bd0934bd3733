//! The `fazt` command line: parses the subcommand with pico-args and dispatches. Every error
//! is one line on stderr with a non-zero exit (2 for usage errors, 1 for failures).

mod admin;
mod backup;
mod common;
mod config;
mod deploy;
mod deployments;
mod domains;
mod healthcheck;
mod import_go;
mod logs;
mod restore;
mod run;
mod serve;
#[cfg(feature = "acme")]
mod serve_https;
mod servers;
mod service;
#[cfg(feature = "analytics")]
mod stats;
mod status;
mod token;
mod upgrade;
mod vacuum;

pub use common::CliError;
use common::Help;

use pico_args::Arguments;

// `serve` names it as `super::VERSION`.
use crate::version::{features, VERSION};

const HELP: Help = Help("fazt");

/// Runs the CLI with the process arguments; returns the exit code.
pub fn main() -> i32 {
    let args = Arguments::from_env();
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fazt: error: {}", e.message);
            e.code
        }
    }
}

fn run(mut args: Arguments) -> Result<(), CliError> {
    // `-v` and `fazt version`: what Go fazt answers to.
    if args.contains(["-V", "--version"]) || args.contains("-v") {
        println!("fazt {VERSION} ({})", features());
        return Ok(());
    }
    let cmd = args
        .subcommand()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let Some(cmd) = cmd else {
        if args.contains(["-h", "--help"]) {
            print!("{HELP}");
            return Ok(());
        }
        let rest = args.finish();
        if let Some(flag) = rest.first() {
            return Err(CliError::usage(format!(
                "unknown option '{}' (see `fazt --help`)",
                flag.to_string_lossy()
            )));
        }
        print!("{HELP}");
        return Err(CliError::usage("no command given"));
    };
    match cmd.as_str() {
        "serve" => serve::run(args),
        "server" => match args
            .subcommand()
            .map_err(|e| CliError::usage(e.to_string()))?
        {
            Some(s) if s == "start" => serve::run(args),
            _ => Err(CliError::usage("usage: fazt server start [OPTIONS]")),
        },
        "status" => status::run(args),
        #[cfg(feature = "analytics")]
        "stats" => stats::run(args),
        "healthcheck" => healthcheck::run(args),
        "token" => token::run(args),
        "admin" => admin::run(args),
        "domains" => domains::run(args),
        "vacuum" => vacuum::run(args),
        "backup" => backup::run(args),
        "restore" => restore::run(args),
        "upgrade" => upgrade::run(args),
        "selftest" => serve::selftest(args),
        "import-go" => import_go::run(args),
        "logs" => logs::run(args),
        "service" => service::run(args),
        "config" => config::run(args),
        "set-config" => config::set_config(args),
        "run" => run::run(args),
        "deploy" => deploy::deploy(args),
        "client" => deploy::client(args),
        "sites" => deploy::sites(args),
        "deployments" => deployments::list(args),
        "rollback" => deployments::rollback(args),
        "servers" => servers::run(args),
        "version" => {
            if args.contains(["-h", "--help"]) {
                println!("fazt version — print the version (also -v, -V, --version)");
                return Ok(());
            }
            common::finish(args, "version")?;
            println!("fazt {VERSION} ({})", features());
            Ok(())
        }
        "help" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(CliError::usage(format!(
            "unknown command '{other}' (see `fazt --help`)"
        ))),
    }
}
