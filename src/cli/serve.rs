//! `fazt serve`: opens the database, seeds system sites, listens, and shuts down gracefully
//! on SIGTERM/SIGINT. Settings: flags beat environment beat settings stored in fazt.db beat
//! defaults.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pico_args::Arguments;

use super::common::{finish, init_logging, open_db, opt, CliError};
#[cfg(feature = "analytics")]
use crate::analytics::Analytics;
use crate::api::Api;
use crate::app::App;
use crate::hosting::{seed, Hosting, Sites};
use crate::kernel::http::{server, Lifecycle, Limits};
use crate::kernel::vfs::Vfs;

#[cfg(feature = "analytics")]
const ANALYTICS_HELP: &str = "\
    --no-analytics       Do not record requests to sites (tracking endpoints, short links
                         and webhooks still work)
    --analytics-flush-ms N      Write recorded events at least every N ms (default 1000)
    --analytics-buffer N        Events each serving thread holds before new ones are
                                dropped and counted (default 4096)
    --analytics-retention-days N  Keep raw events N days (default 90); hourly and daily
                                rollups are kept longer
    --analytics-rollup-days N   Keep hourly rollups and top lists N days (default 730)
    --analytics-store-ip  Store raw client addresses and user agents (default: only a
                         daily-rotating salted hash)
    --webhook-max-kb N   Largest webhook body in KiB (default 64)
";

const HELP: &str = "\
fazt serve — run the server (alias: fazt server start)

USAGE:
    fazt serve [OPTIONS]

OPTIONS:
    --db PATH            Database file (env FAZT_DB, default ./fazt.db)
    --listen ADDR        Address to listen on (env FAZT_LISTEN, default 0.0.0.0:4698)
    --domain NAME        Domain sites are served under (env FAZT_DOMAIN, default localhost):
                         <site>.<domain>; admin.<domain> is fazt's own host
    --log-level LEVEL    error, warn, info, debug (one line per request), trace
                         (env FAZT_LOG, default info)
    --cache-mb N         Hot-file cache budget in MiB (default 4)
    --stack-kb N         Coroutine stack per connection in KiB (default 128)
    --header-timeout S   Seconds to receive a request head (default 10)
    --idle-timeout S     Seconds a keep-alive connection may idle (default 60)
    --body-timeout S     Seconds between two reads of a request body (default 30)
    --max-connections N  Simultaneous connections (default 10000)
    --max-conns-per-ip N Simultaneous connections from one client address; behind
                         --trusted-proxy, requests in progress per forwarded address
                         (default 64, 0 = no cap)
    --min-body-rate N    Slowest request body accepted, bytes/s after a grace of
                         --header-timeout; slower gets 408 (default 1024, 0 = off)
    --max-uploads N      Deploy uploads received at once; more get 503 with
                         Retry-After (default 2)
    --max-upload-mb N    Largest deploy upload in MiB (default 100)
    --max-zip-entries N  Most entries in a deployed ZIP (default 10000)
    --max-unzipped-mb N  Most bytes a deployed ZIP may inflate to, in MiB (default 1024)
    --trusted-proxy IP   A reverse proxy whose X-Forwarded-For is believed (repeatable)
    --js-timeout-ms N    CPU (wall-clock) time per script run (default 1000)
    --js-memory-mb N     Memory per JS runtime in MiB (default 32)
    --js-threads N       JS worker threads (default 2)

Settings stored in fazt.db (table configurations: listen, domain) are used when neither a
flag nor the environment gives one.
";

/// flag > env > stored setting > default
fn setting(flag: Option<String>, env: &str, stored: Option<String>, default: &str) -> String {
    flag.or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        .or(stored)
        .unwrap_or_else(|| default.to_string())
}

fn num<T: std::str::FromStr>(
    args: &mut Arguments,
    name: &'static str,
) -> Result<Option<T>, CliError> {
    match opt(args, name)? {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| CliError::usage(format!("{name}: '{v}' is not a valid number"))),
    }
}

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if args.contains(["-h", "--help"]) {
        print!("{HELP}");
        #[cfg(feature = "acme")]
        print!("\n{}", super::serve_https::HELP);
        #[cfg(feature = "analytics")]
        print!("\nANALYTICS (feature `analytics`):\n{ANALYTICS_HELP}");
        return Ok(());
    }
    let https_flags = super::serve_https::parse(&mut args)?;
    let db_flag = opt(&mut args, "--db")?;
    let listen_flag = opt(&mut args, "--listen")?;
    let domain_flag = opt(&mut args, "--domain")?;
    let level = opt(&mut args, "--log-level")?;
    let cache_mb: usize = num(&mut args, "--cache-mb")?.unwrap_or(4);
    let stack_kb: usize = num(&mut args, "--stack-kb")?.unwrap_or(128);
    let mut limits = Limits {
        server_header: "fazt",
        ..Limits::default()
    };
    if let Some(s) = num::<u64>(&mut args, "--header-timeout")? {
        limits.header_timeout = Duration::from_secs(s.max(1));
    }
    if let Some(s) = num::<u64>(&mut args, "--idle-timeout")? {
        limits.idle_timeout = Duration::from_secs(s.max(1));
    }
    if let Some(s) = num::<u64>(&mut args, "--body-timeout")? {
        limits.body_timeout = Duration::from_secs(s.max(1));
    }
    if let Some(n) = num::<usize>(&mut args, "--max-connections")? {
        limits.max_connections = n.max(1);
    }
    if let Some(n) = num::<usize>(&mut args, "--max-conns-per-ip")? {
        limits.max_connections_per_ip = n;
    }
    if let Some(n) = num::<u64>(&mut args, "--min-body-rate")? {
        limits.min_body_rate = n;
    }
    let mut deploy_limits = crate::deploy::DeployLimits::default();
    if let Some(n) = num::<u64>(&mut args, "--max-upload-mb")? {
        deploy_limits.max_upload = n.max(1) * 1024 * 1024;
    }
    if let Some(n) = num::<usize>(&mut args, "--max-uploads")? {
        deploy_limits.max_concurrent = n.max(1);
    }
    if let Some(n) = num::<usize>(&mut args, "--max-zip-entries")? {
        deploy_limits.zip.max_entries = n.max(1);
    }
    if let Some(n) = num::<u64>(&mut args, "--max-unzipped-mb")? {
        deploy_limits.zip.max_total_uncompressed = n.max(1) * 1024 * 1024;
        deploy_limits.zip.max_entry_uncompressed = deploy_limits.zip.max_total_uncompressed;
    }
    let mut trusted_proxies = Vec::new();
    while let Some(ip) = opt(&mut args, "--trusted-proxy")? {
        trusted_proxies.push(ip.parse::<std::net::IpAddr>().map_err(|_| {
            CliError::usage(format!("--trusted-proxy: '{ip}' is not an IP address"))
        })?);
    }
    let trusted_proxies_for_edge = trusted_proxies.clone();
    let js_timeout_ms: Option<u64> = num(&mut args, "--js-timeout-ms")?;
    let js_memory_mb: Option<usize> = num(&mut args, "--js-memory-mb")?;
    let js_threads: Option<usize> = num(&mut args, "--js-threads")?;
    #[cfg(feature = "analytics")]
    let mut analytics_settings =
        crate::analytics::Settings::from_args(&mut args).map_err(CliError::usage)?;
    finish(args, "serve")?;
    if !(64..=8192).contains(&stack_kb) {
        return Err(CliError::usage("--stack-kb must be between 64 and 8192"));
    }
    let level = setting(level, "FAZT_LOG", None, "info");
    init_logging(&level)?;

    // Signal handlers go in before anything can announce readiness, so a SIGTERM sent as
    // soon as we say "listening" is a graceful stop, never the default kill.
    let signals = install_signals()?;
    let db = open_db(db_flag)?;
    // With HTTPS the public ports are 443/80; the plain listener stays local by default.
    let default_listen = if https_flags.enabled {
        "127.0.0.1:4698"
    } else {
        "0.0.0.0:4698"
    };
    let listen = setting(
        listen_flag,
        "FAZT_LISTEN",
        crate::settings::get(&db, "listen").ok().flatten(),
        default_listen,
    );
    let domain = setting(
        domain_flag,
        "FAZT_DOMAIN",
        crate::settings::get(&db, "domain").ok().flatten(),
        "localhost",
    )
    .trim_end_matches('.')
    .to_ascii_lowercase();
    if domain.is_empty() || domain.contains(['/', ':', ' ']) {
        return Err(CliError::usage(format!("invalid domain '{domain}'")));
    }
    let seeded = seed::seed_system_sites(&db).map_err(CliError::fail)?;
    if !seeded.is_empty() {
        log::info!("seeded system sites: {}", seeded.join(", "));
    }

    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    crate::kernel::memory::configure();
    server::configure_runtime(stack_kb * 1024, workers);

    let vfs = Arc::new(Vfs::new(
        db.clone(),
        crate::database::FILES,
        cache_mb * 1024 * 1024,
    ));
    let sites = Arc::new(Sites::new(db.clone()));
    let scripts = Arc::new(build_scripts(
        &db,
        &vfs,
        js_timeout_ms,
        js_memory_mb,
        js_threads,
    )?);
    let mut api = Api::new(db.clone(), vfs.clone(), sites.clone(), domain.clone());
    let s2 = scripts.clone();
    api.site_hooks.push(Box::new(move |site| s2.forget(site)));
    api.deploy_limits = deploy_limits;
    #[cfg(feature = "analytics")]
    let analytics = {
        analytics_settings.domain = domain.clone();
        analytics_settings.trusted_proxies = trusted_proxies.clone();
        let analytics = Analytics::start(db.clone(), analytics_settings).map_err(CliError::fail)?;
        let a2 = analytics.clone();
        api.analytics_status = Some(Box::new(move || a2.health()));
        analytics
    };
    api.trusted_proxies = trusted_proxies;
    #[cfg(feature = "acme")]
    let https = if https_flags.enabled {
        let h = Arc::new(
            crate::https::Https::start(&https_flags.opts, &domain, db.clone(), sites.clone())
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
        analytics: analytics.clone(),
        hosting: Hosting { vfs, sites },
        router: crate::hosting::Router::new(&domain),
        started: Instant::now(),
    });
    let listener = may::net::TcpListener::bind(&listen)
        .map_err(|e| CliError::fail(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::fail(format!("cannot read the listening address: {e}")))?;
    let life = Arc::new(Lifecycle::default());
    limits.trusted_proxies = trusted_proxies_for_edge;
    let limits = Arc::new(limits);
    server::serve_http(listener, app.clone(), limits.clone(), life.clone())
        .map_err(|e| CliError::fail(format!("cannot start serving: {e}")))?;
    #[cfg(feature = "acme")]
    if let Some(h) = &https {
        let (tls, plain) =
            super::serve_https::serve(&https_flags, h, app.clone(), limits.clone(), life.clone())?;
        log::info!("HTTPS on {tls}, HTTP (ACME challenges, redirects) on {plain}");
    }

    let port = local.port();
    log::info!(
        "fazt {} listening on {local} (domain {domain}, database {})",
        super::VERSION,
        db.path().display()
    );
    if domain == "localhost" {
        log::info!("start page: http://localhost:{port}/ — sites: http://<name>.localhost:{port}/");
    } else {
        log::info!("admin: http://admin.{domain}:{port}/ — sites: http://<name>.{domain}:{port}/");
    }

    {
        // Housekeeping off the request path: token last-use times written in batches,
        // freed database pages given back to the disk, freed memory to the system.
        let app = app.clone();
        let life = life.clone();
        std::thread::Builder::new()
            .name("fazt-housekeeping".into())
            .spawn(move || {
                let mut ticks = 0u64;
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    ticks += 1;
                    if life.in_flight.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                        crate::kernel::memory::trim();
                    }
                    if ticks % 6 == 0 {
                        app.api.flush();
                        app.db.reclaim_free_pages();
                    }
                    if ticks % 720 == 0 {
                        // Hourly: keep each site's newest script log lines only.
                        crate::scripts::trim_logs(&app.db, 1000);
                    }
                }
            })
            .map_err(|e| CliError::fail(format!("cannot start housekeeping: {e}")))?;
    }

    // systemd's Type=notify: ready now that every listener is bound.
    let _ = crate::kernel::provision::sd_notify(crate::kernel::provision::READY);
    wait_for_signal(signals);
    let _ = crate::kernel::provision::sd_notify(crate::kernel::provision::STOPPING);
    log::info!("shutting down: no new connections, finishing requests in flight");
    if !life.shutdown(Duration::from_secs(10)) {
        log::warn!("requests still running after 10 s; stopping anyway");
    }
    app.api.flush();
    #[cfg(feature = "analytics")]
    analytics.flush();
    #[cfg(feature = "acme")]
    if let Some(m) = https.as_ref().and_then(|h| h.manager.as_ref()) {
        m.shutdown();
    }
    db.checkpoint();
    log::info!("stopped");
    Ok(())
}

#[cfg(feature = "js")]
fn build_scripts(
    db: &Arc<crate::kernel::db::Db>,
    vfs: &Arc<Vfs>,
    timeout_ms: Option<u64>,
    memory_mb: Option<usize>,
    threads: Option<usize>,
) -> Result<crate::scripts::Scripts, CliError> {
    use crate::scripts::host::{DbHost, DEFAULT_SITE_KV_BYTES};
    let mut limits = crate::serverless::Limits::default();
    if let Some(ms) = timeout_ms {
        limits.cpu_time = Duration::from_millis(ms.clamp(10, 600_000));
    }
    if let Some(mb) = memory_mb {
        limits.memory_bytes = mb.clamp(4, 4096) * 1024 * 1024;
    }
    if let Some(t) = threads {
        limits.threads = t.clamp(1, 64);
    }
    let host = Arc::new(DbHost::new(db.clone(), DEFAULT_SITE_KV_BYTES));
    let engine = crate::serverless::Engine::new(host, limits)
        .map_err(|e| CliError::fail(format!("cannot start the JS engine: {e}")))?;
    Ok(crate::scripts::Scripts::new(
        engine,
        vfs.clone(),
        db.clone(),
    ))
}

#[cfg(not(feature = "js"))]
fn build_scripts(
    _db: &Arc<crate::kernel::db::Db>,
    _vfs: &Arc<Vfs>,
    timeout_ms: Option<u64>,
    memory_mb: Option<usize>,
    threads: Option<usize>,
) -> Result<crate::scripts::Scripts, CliError> {
    if timeout_ms.is_some() || memory_mb.is_some() || threads.is_some() {
        log::warn!("--js-* options ignored: this fazt was built without the `js` feature");
    }
    Ok(crate::scripts::Scripts::default())
}

fn install_signals() -> Result<signal_hook::iterator::Signals, CliError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| CliError::fail(format!("cannot install signal handlers: {e}")))
}

fn wait_for_signal(mut signals: signal_hook::iterator::Signals) {
    if let Some(sig) = signals.forever().next() {
        log::info!("received signal {sig}");
    }
}
