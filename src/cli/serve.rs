//! `fazt serve`: resolves its configuration (flags beat environment beat settings stored in
//! fazt.db beat defaults, see [`crate::config`]), opens the database, wires the verticals
//! into one [`App`], listens, and shuts down gracefully on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pico_args::Arguments;

use super::common::{finish, init_logging, open_db_at, CliError};
#[cfg(feature = "analytics")]
use crate::analytics::Analytics;
use crate::api::Api;
use crate::app::App;
use crate::config::{self, JsConfig, ServeConfig};
use crate::hosting::{seed, Hosting, Sites};
use crate::kernel::db::Db;
use crate::kernel::http::{server, Lifecycle};
use crate::kernel::vfs::Vfs;

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if args.contains(["-h", "--help"]) {
        print!("{}", config::serve::help());
        return Ok(());
    }
    let src = config::serve::sources(&mut args).map_err(CliError::usage)?;
    finish(args, "serve")?;
    let boot = config::Boot::resolve(&src).map_err(CliError::usage)?;
    init_logging(&boot.log_level)?;
    // A newer release installed by `fazt upgrade` runs instead of this binary (exec).
    crate::upgrade::launch::at_start(&boot.db);
    // Signal handlers go in before anything can announce readiness, so a SIGTERM sent as
    // soon as we say "listening" is a graceful stop, never the default kill.
    let signals = install_signals()?;
    let db = open_db_at(&boot.db)?;
    let src = src.load_stored(&db).map_err(CliError::fail)?;
    let cfg = ServeConfig::resolve(&src).map_err(CliError::usage)?;
    db.set_replicated(cfg.backup.replicated);

    seed_all(&db)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    crate::kernel::memory::configure();
    server::configure_runtime(cfg.stack_bytes, workers);
    let wired = wire(&db, &cfg)?;
    let life = Arc::new(Lifecycle::default());
    let local = listen(&cfg, &wired, &life)?;
    announce(&cfg.domain, local, &db);
    start_housekeeping(wired.app.clone(), life.clone())?;
    if let Some(schedule) = &cfg.backup.schedule {
        start_backups(&db, schedule.clone())?;
    }
    if let Some(window) = cfg.auto_upgrade {
        let (pinned, db2) = (cfg.upgrade.clone(), db.clone());
        let settings = Box::new(move || config::upgrade::current(&pinned, &db2));
        crate::upgrade::auto::start(db.path().to_path_buf(), window, settings)
            .map_err(|e| CliError::fail(format!("cannot start auto-upgrade: {e}")))?;
    }

    // systemd's Type=notify: ready now that every listener is bound.
    let _ = crate::kernel::provision::sd_notify(crate::kernel::provision::READY);
    crate::upgrade::handover::report_ready();
    let mut signals = signals;
    let successor = loop {
        if !wait_for_signal(&mut signals) {
            break None;
        }
        // SIGHUP: restart into the release `fazt upgrade` installed, if another.
        if let Some(child) = crate::upgrade::launch::restart(db.path()) {
            break Some(child);
        }
    };
    // After a hand-over the service is not stopping: under systemd the successor becomes
    // its main process before we drain (STOPPING=1 would make systemd stop it with us).
    let managed = match &successor {
        Some(child) => crate::upgrade::handover::pass_main_pid(child),
        None => {
            let _ = crate::kernel::provision::sd_notify(crate::kernel::provision::STOPPING);
            false
        }
    };
    shut_down(&wired, &life, &db);
    if let Some(child) = successor {
        drop(wired);
        drop(db);
        if managed {
            return Ok(());
        }
        let code = crate::upgrade::handover::follow(child, &mut signals);
        if code != 0 {
            return Err(CliError {
                code,
                message: format!("the new server process exited with status {code}"),
            });
        }
    }
    Ok(())
}

/// `fazt selftest --db PATH`: what `fazt upgrade` runs a new release with, on a copy of the
/// live database, before installing it. Opens the database (applying this binary's schema
/// steps), wires every vertical with the stored settings, serves on a loopback port, asks
/// its own `/health` over a real connection, and stops. Exit 0 only when that answered 200.
pub fn selftest(mut args: Arguments) -> Result<(), CliError> {
    if args.contains(["-h", "--help"]) {
        print!(
            "fazt selftest — open a database, serve one probe request, stop\n\n\
             USAGE:\n    fazt selftest --db PATH\n\n\
             What `fazt upgrade` runs a new release with on a copy of the live database.\n\
             Never run it on the live database of a running server: it applies this\n\
             binary's schema steps.\n"
        );
        return Ok(());
    }
    let db_path: std::path::PathBuf = args
        .value_from_str("--db")
        .map_err(|_| CliError::usage("usage: fazt selftest --db PATH"))?;
    finish(args, "selftest")?;
    init_logging("warn")?;
    let db = open_db_at(&db_path)?;
    let src = config::serve::sources(&mut Arguments::from_vec(Vec::new()))
        .map_err(CliError::usage)?
        .load_stored(&db)
        .map_err(CliError::fail)?;
    let mut cfg = ServeConfig::resolve(&src).map_err(CliError::usage)?;
    cfg.listen = "127.0.0.1:0".into();
    cfg.backup.schedule = None;
    #[cfg(feature = "acme")]
    {
        cfg.https.enabled = false;
    }
    seed_all(&db)?;
    crate::kernel::memory::configure();
    server::configure_runtime(cfg.stack_bytes, 1);
    let wired = wire(&db, &cfg)?;
    let life = Arc::new(Lifecycle::default());
    let listener = may::net::TcpListener::bind(&cfg.listen)
        .map_err(|e| CliError::fail(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::fail(e.to_string()))?;
    server::serve_http(
        listener,
        wired.app.clone(),
        Arc::new(cfg.limits.clone()),
        life.clone(),
    )
    .map_err(|e| CliError::fail(format!("cannot start serving: {e}")))?;
    let probe = probe_health(local);
    shut_down(&wired, &life, &db);
    probe.map_err(|e| CliError::fail(format!("self-test: {e}")))?;
    println!(
        "selftest ok: fazt {} served /health on {}",
        super::VERSION,
        db.path().display()
    );
    Ok(())
}

/// `GET /health` on `addr` over a real connection; Ok when it answers 200.
fn probe_health(addr: SocketAddr) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("probe: {e}"))?;
    let mut out = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut out);
    let head = String::from_utf8_lossy(&out[..out.len().min(64)]).to_string();
    if head.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "/health answered {:?}",
            head.lines().next().unwrap_or("nothing")
        ))
    }
}

/// The request handler and what must be stopped with it.
struct Wired {
    app: Arc<App>,
    #[cfg(feature = "acme")]
    https: Option<Arc<crate::https::Https>>,
}

/// Builds the verticals from the configuration and composes them into one [`App`].
fn wire(db: &Arc<Db>, cfg: &ServeConfig) -> Result<Wired, CliError> {
    let domain = &cfg.domain;
    let vfs = Arc::new(Vfs::new(
        db.clone(),
        crate::database::FILES,
        cfg.cache_bytes,
    ));
    let sites = Arc::new(Sites::new(db.clone()));
    let domains = Arc::new(crate::hosting::domains::Domains::new(db.clone()));
    let scripts = Arc::new(build_scripts(db, &vfs, &cfg.js)?);
    let mut api = Api::new(db.clone(), vfs.clone(), sites.clone(), domain.clone());
    api.domains = Some(domains.clone());
    let s2 = scripts.clone();
    api.site_hooks.push(Box::new(move |site| s2.forget(site)));
    let s3 = scripts.clone();
    api.websocket_clients = Some(Box::new(move |site| s3.websocket_clients(site)));
    api.deploy_limits = cfg.deploy.clone();
    #[cfg(feature = "analytics")]
    let analytics = {
        let analytics = Analytics::start(db.clone(), cfg.analytics.clone(), Some(domains.clone()))
            .map_err(CliError::fail)?;
        let a2 = analytics.clone();
        api.analytics_status = Some(Box::new(move || a2.health()));
        analytics
    };
    api.trusted_proxies = cfg.trusted_proxies.clone();
    api.backup = cfg.backup.clone();
    #[cfg(feature = "acme")]
    let https = if cfg.https.enabled {
        let h = Arc::new(
            crate::https::Https::start(
                &cfg.https.opts,
                domain,
                db.clone(),
                sites.clone(),
                domains.clone(),
            )
            .map_err(|e| CliError::fail(format!("HTTPS: {e}")))?,
        );
        let (h1, h2) = (h.clone(), h.clone());
        api.site_hooks
            .push(Box::new(move |site| h1.site_changed(site)));
        api.cert_status = Some(Box::new(move || {
            serde_json::Value::Array(h2.status().iter().map(|c| c.to_json()).collect())
        }));
        api.https = true;
        Some(h)
    } else {
        None
    };
    let app = Arc::new(App {
        db: db.clone(),
        api,
        scripts,
        #[cfg(feature = "analytics")]
        analytics,
        hosting: Hosting {
            vfs,
            sites,
            domains,
        },
        upgrade_pinned: cfg.upgrade.clone(),
        router: crate::hosting::Router::new(domain),
        started: Instant::now(),
        metrics: Default::default(),
    });
    Ok(Wired {
        app,
        #[cfg(feature = "acme")]
        https,
    })
}

/// Binds every listener and starts serving; returns the plain listener's address.
fn listen(cfg: &ServeConfig, wired: &Wired, life: &Arc<Lifecycle>) -> Result<SocketAddr, CliError> {
    let listen = &cfg.listen;
    let listener = crate::upgrade::handover::listener("http", listen)
        .map_err(|e| CliError::fail(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::fail(format!("cannot read the listening address: {e}")))?;
    let limits = Arc::new(cfg.limits.clone());
    server::serve_http(listener, wired.app.clone(), limits.clone(), life.clone())
        .map_err(|e| CliError::fail(format!("cannot start serving: {e}")))?;
    #[cfg(feature = "acme")]
    if let Some(h) = &wired.https {
        let (tls, plain) =
            super::serve_https::serve(&cfg.https, h, wired.app.clone(), limits, life.clone())?;
        log::info!("HTTPS on {tls}, HTTP (ACME challenges, redirects) on {plain}");
    }
    Ok(local)
}

/// The "listening" line (tests and scripts wait for it) and where to point a browser.
fn announce(domain: &str, local: SocketAddr, db: &Db) {
    let port = local.port();
    log::info!(
        "fazt {} listening on {local} (domain {domain}, database {})",
        crate::version::running(),
        db.path().display()
    );
    if domain == "localhost" {
        log::info!("dashboard: http://localhost:{port}/ — sites: http://<name>.localhost:{port}/");
    } else {
        log::info!("admin: http://admin.{domain}:{port}/ — sites: http://<name>.{domain}:{port}/");
    }
}

/// Housekeeping off the request path, on a 1-second tick: freed memory given back to the
/// system as soon as the server goes quiet (and every 30 s when it never does, see
/// [`Trimmer`](crate::kernel::memory::Trimmer)), token last-use times written in batches and
/// freed database pages given back to the disk every 30 s, script logs trimmed hourly.
fn start_housekeeping(app: Arc<App>, life: Arc<Lifecycle>) -> Result<(), CliError> {
    std::thread::Builder::new()
        .name("fazt-housekeeping".into())
        .spawn(move || {
            let mut trimmer = crate::kernel::memory::Trimmer::new(30);
            let mut ticks = 0u64;
            loop {
                std::thread::sleep(Duration::from_secs(1));
                ticks += 1;
                if trimmer.due(life.begun.load(std::sync::atomic::Ordering::Relaxed)) {
                    crate::kernel::memory::trim();
                }
                if ticks.is_multiple_of(30) {
                    app.api.flush();
                    app.db.reclaim_free_pages();
                }
                if ticks.is_multiple_of(3600) {
                    // Keep each site's newest script log lines only.
                    crate::scripts::logs::trim(&app.db, 1000);
                }
            }
        })
        .map(|_| ())
        .map_err(|e| CliError::fail(format!("cannot start housekeeping: {e}")))
}

/// Scheduled snapshots: the directory made if missing (0700: snapshots hold tokens'
/// hashes and every site), a warning when it sits beside the database (one SD card failure
/// takes both).
fn start_backups(db: &Arc<Db>, schedule: crate::kernel::backup::Schedule) -> Result<(), CliError> {
    let dir = &schedule.dir;
    if !dir.is_dir() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir).map_err(|e| {
            CliError::fail(format!(
                "--backup-dir {}: cannot create it: {e}",
                dir.display()
            ))
        })?;
    }
    let db_dir = crate::kernel::backup::scratch_dir(db.path());
    if crate::kernel::backup::same_file(dir, &db_dir) {
        log::warn!(
            "backups go to {}, the database's own directory: a failed disk takes both; \
             point --backup-dir at another disk, or replicate (README: Backups and replication)",
            dir.display()
        );
    }
    crate::backup::start_schedule(db, schedule)
        .map_err(|e| CliError::fail(format!("cannot start scheduled backups: {e}")))
}

/// Stops taking connections, lets requests in flight finish, then writes what is buffered.
fn shut_down(wired: &Wired, life: &Lifecycle, db: &Db) {
    log::info!("shutting down: no new connections, finishing requests in flight");
    if !life.shutdown(Duration::from_secs(10)) {
        log::warn!("requests still running after 10 s; stopping anyway");
    }
    wired.app.api.flush();
    #[cfg(feature = "analytics")]
    wired.app.analytics.flush();
    #[cfg(feature = "acme")]
    if let Some(m) = wired.https.as_ref().and_then(|h| h.manager.as_ref()) {
        m.shutdown();
    }
    db.checkpoint();
    log::info!("stopped");
}

#[cfg(feature = "js")]
fn build_scripts(
    db: &Arc<Db>,
    vfs: &Arc<Vfs>,
    js: &JsConfig,
) -> Result<crate::scripts::Scripts, CliError> {
    use crate::scripts::host::{DbHost, DEFAULT_SITE_KV_BYTES};
    let mut limits = crate::serverless::Limits::default();
    if let Some(ms) = js.timeout_ms {
        limits.cpu_time = Duration::from_millis(ms.clamp(10, 600_000));
    }
    if let Some(mb) = js.memory_mb {
        limits.memory_bytes = mb.clamp(4, 4096) * 1024 * 1024;
    }
    if let Some(t) = js.threads {
        limits.threads = t.clamp(1, 64);
    }
    let mut ws = crate::kernel::ws::Limits::default();
    let [conns, per_site, message, idle] = js.ws;
    if let Some(n) = conns {
        ws.max_connections = n as usize;
    }
    if let Some(n) = per_site {
        ws.max_per_room = n as usize;
    }
    if let Some(n) = message {
        ws.max_message = n as usize;
    }
    if let Some(s) = idle {
        ws.idle_timeout = Duration::from_secs(s);
        ws.ping_after = Duration::from_secs(s * 2 / 5);
    }
    let mut host = DbHost::new(db.clone(), DEFAULT_SITE_KV_BYTES, ws);
    host.fetch_policy = crate::scripts::fetch::FetchPolicy::parse(&js.fetch_allow);
    let sockets = host.sockets.clone();
    let host = Arc::new(host);
    let engine = crate::serverless::Engine::new(host, limits)
        .map_err(|e| CliError::fail(format!("cannot start the JS engine: {e}")))?;
    Ok(crate::scripts::Scripts::new(
        engine,
        vfs.clone(),
        db.clone(),
        sockets,
    ))
}

#[cfg(not(feature = "js"))]
fn build_scripts(
    _db: &Arc<Db>,
    _vfs: &Arc<Vfs>,
    js: &JsConfig,
) -> Result<crate::scripts::Scripts, CliError> {
    if js.any() {
        log::warn!("--js-* options ignored: this fazt was built without the `js` feature");
    }
    Ok(crate::scripts::Scripts::default())
}

fn install_signals() -> Result<signal_hook::iterator::Signals, CliError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| CliError::fail(format!("cannot install signal handlers: {e}")))
}

/// Waits for a signal: true for SIGHUP (restart), false for SIGTERM/SIGINT (stop).
fn wait_for_signal(signals: &mut signal_hook::iterator::Signals) -> bool {
    match signals.forever().next() {
        Some(signal_hook::consts::SIGHUP) => {
            log::info!("received SIGHUP: restart");
            true
        }
        Some(sig) => {
            log::info!("received signal {sig}");
            false
        }
        None => false,
    }
}

/// The system sites the binary carries: `root` and `404` when missing, and the dashboard
/// (`admin`) when missing or older than this binary's.
fn seed_all(db: &Arc<crate::kernel::db::Db>) -> Result<(), CliError> {
    let seeded = seed::seed_system_sites(db).map_err(CliError::fail)?;
    if !seeded.is_empty() {
        log::info!("seeded system sites: {}", seeded.join(", "));
    }
    use crate::dashboard::Outcome;
    let said = match crate::dashboard::seed(db, false).map_err(CliError::fail)? {
        Outcome::Seeded => "seeded",
        Outcome::Updated => "updated",
        Outcome::OwnerDeployed => "left alone (it holds other files; fazt admin reset-ui)",
        Outcome::Current => return Ok(()),
    };
    log::info!("dashboard (site admin): {said}");
    Ok(())
}
