//! `pastebin`: a second product on the cartridge kernel, to prove the kernel is an SDK. It has
//! its own schema (`schema.sql`, checked by the kernel's EDD rails in its test), its own
//! routes (`app.rs`), and its own systemd unit rendered by the kernel's provisioning.
//!
//! ```text
//! cargo run -p fazt-kernel --example pastebin -- serve --db paste.db --listen 127.0.0.1:8080
//! curl --data-binary @notes.txt http://127.0.0.1:8080/
//! ```

mod app;

use std::path::PathBuf;
use std::sync::Arc;

use fazt_kernel::db::Db;
use fazt_kernel::http::{server, Limits, TcpListener};
use fazt_kernel::provision::{self, Product};

/// The paste bin as a systemd service: `pastebin.service`, `/usr/local/bin/pastebin`,
/// `/var/lib/pastebin/pastebin.db`.
const PRODUCT: Product = Product {
    name: "pastebin",
    db_file: "pastebin.db",
    unit_template: include_str!("pastebin.service"),
};

const HELP: &str = "\
pastebin — a paste bin in one binary and one SQLite file

USAGE:
    pastebin serve [--db PATH] [--listen ADDR]
    pastebin unit [--listen ADDR]     print the systemd unit (installs as pastebin.service)
    pastebin help

--db PATH      database file (env PASTEBIN_DB, default ./pastebin.db)
--listen ADDR  address to listen on (env PASTEBIN_LISTEN, default 127.0.0.1:8080)
";

/// `--name value` from `args`, else the environment variable, else `default`.
fn option(args: &[String], name: &str, env: &str, default: &str) -> Result<String, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .cloned()
            .ok_or_else(|| format!("{name} needs a value")),
        None => Ok(std::env::var(env)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())),
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    for (i, a) in args.iter().enumerate() {
        let value_of_option = i > 0 && matches!(args[i - 1].as_str(), "--db" | "--listen");
        if !value_of_option && !matches!(a.as_str(), "--db" | "--listen") {
            return Err(format!("unknown argument '{a}' (see `pastebin help`)"));
        }
    }
    let db_path = PathBuf::from(option(args, "--db", "PASTEBIN_DB", "pastebin.db")?);
    let listen = option(args, "--listen", "PASTEBIN_LISTEN", "127.0.0.1:8080")?;
    let db = Arc::new(Db::open(&db_path, app::SCHEMA).map_err(|e| e.to_string())?);
    server::configure_runtime(64 * 1024, 2);
    let listener =
        TcpListener::bind(&listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("pastebin listening on http://{addr}");
    let limits = Limits {
        server_header: "pastebin",
        ..Limits::default()
    };
    let handler = Arc::new(app::Pastebin::new(db.clone()));
    // Serve until stdin closes (a test or a supervisor ends it) — a product would wait for
    // SIGTERM instead; the kernel leaves signal handling to its caller.
    server::run(
        listener,
        handler,
        limits,
        std::time::Duration::from_secs(5),
        || {
            let _ = std::fs::File::open("/dev/stdin")
                .and_then(|mut f| std::io::copy(&mut f, &mut std::io::sink()));
        },
    )
    .map_err(|e| format!("serving on {addr}: {e}"))?;
    db.checkpoint();
    Ok(())
}

/// The unit file for `serve --listen ADDR`, rendered by the kernel's provisioning (which
/// refuses any argument systemd would interpret).
fn unit(args: &[String]) -> Result<(), String> {
    let listen = option(args, "--listen", "PASTEBIN_LISTEN", "0.0.0.0:8080")?;
    let listen = provision::validate_listen(&listen).map_err(|e| e.to_string())?;
    let text = provision::render(&PRODUCT, &["serve".into(), "--listen".into(), listen])
        .map_err(|e| e.to_string())?;
    print!("{text}");
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("unit") => unit(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command '{other}' (see `pastebin help`)")),
    };
    if let Err(e) = result {
        eprintln!("pastebin: {e}");
        std::process::exit(1);
    }
}
