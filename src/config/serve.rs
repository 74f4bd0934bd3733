//! `fazt serve`'s options and [`ServeConfig`], everything the server is started with, built
//! in one pass over flags, environment, stored settings and defaults.
//!
//! Which options may be stored in fazt.db: every one that tunes the running server
//! (addresses, domain, limits, timeouts, JS, HTTPS and analytics), so that a database
//! carries its server's configuration with it. Not `--db` (the settings live in it) and not
//! `--log-level` (logging starts before the database is opened, so opening and migrating it
//! can be logged).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use pico_args::Arguments;

use super::opt::{AnyOpt, Opt, Spec};
use super::parse;
use super::sources::Sources;
use crate::deploy::DeployLimits;
use crate::kernel::http::Limits;

const MIB: u64 = 1024 * 1024;

pub static DB: Opt<PathBuf> = Opt {
    spec: Spec::value("--db", "PATH", "Database file (default ./fazt.db)")
        .default("fazt.db")
        .not_stored(),
    parse: parse::path,
};
pub static LISTEN: Opt<String> = Opt {
    spec: Spec::value(
        "--listen",
        "ADDR",
        "Address to listen on (default 0.0.0.0:4698)",
    ),
    parse: parse::listen_addr,
};
pub static DOMAIN: Opt<String> = Opt {
    spec: Spec::value(
        "--domain",
        "NAME",
        "Domain sites are served under (default localhost):\n<site>.<domain>; admin.<domain> is fazt's own host",
    )
    .default("localhost"),
    parse: parse::domain,
};
pub static LOG_LEVEL: Opt<String> = Opt {
    spec: Spec::value(
        "--log-level",
        "LEVEL",
        "error, warn, info, debug (one line per request), trace\n(default info)",
    )
    .default("info")
    .not_stored()
    .env_alias("FAZT_LOG"),
    parse: parse::log_level,
};
pub static CACHE_MB: Opt<usize> = Opt {
    spec: Spec::value(
        "--cache-mb",
        "N",
        "Hot-file cache budget in MiB (default 4)",
    )
    .default("4"),
    parse: parse::number,
};
pub static STACK_KB: Opt<usize> = Opt {
    spec: Spec::value(
        "--stack-kb",
        "N",
        "Coroutine stack per connection in KiB (default 128)",
    )
    .default("128"),
    parse: |raw| parse::range(raw, 64, 8192),
};
pub static HEADER_TIMEOUT: Opt<u64> = Opt {
    spec: Spec::value(
        "--header-timeout",
        "S",
        "Seconds to receive a request head (default 10)",
    ),
    parse: parse::number,
};
pub static IDLE_TIMEOUT: Opt<u64> = Opt {
    spec: Spec::value(
        "--idle-timeout",
        "S",
        "Seconds a keep-alive connection may idle (default 60)",
    ),
    parse: parse::number,
};
pub static BODY_TIMEOUT: Opt<u64> = Opt {
    spec: Spec::value(
        "--body-timeout",
        "S",
        "Seconds between two reads of a request body (default 30)",
    ),
    parse: parse::number,
};
pub static MAX_CONNECTIONS: Opt<usize> = Opt {
    spec: Spec::value(
        "--max-connections",
        "N",
        "Simultaneous connections (default 10000)",
    ),
    parse: parse::number,
};
pub static MAX_CONNS_PER_IP: Opt<usize> = Opt {
    spec: Spec::value(
        "--max-conns-per-ip",
        "N",
        "Simultaneous connections from one client address; behind\n--trusted-proxy, requests in progress per forwarded address\n(default 64, 0 = no cap)",
    ),
    parse: parse::number,
};
pub static MIN_BODY_RATE: Opt<u64> = Opt {
    spec: Spec::value(
        "--min-body-rate",
        "N",
        "Slowest request body accepted, bytes/s after a grace of\n--header-timeout; slower gets 408 (default 1024, 0 = off)",
    ),
    parse: parse::number,
};
pub static MAX_UPLOADS: Opt<usize> = Opt {
    spec: Spec::value(
        "--max-uploads",
        "N",
        "Deploy uploads received at once; more get 503 with\nRetry-After (default 2)",
    ),
    parse: parse::number,
};
pub static MAX_UPLOAD_MB: Opt<u64> = Opt {
    spec: Spec::value(
        "--max-upload-mb",
        "N",
        "Largest deploy upload in MiB (default 100)",
    ),
    parse: parse::number,
};
pub static MAX_ZIP_ENTRIES: Opt<usize> = Opt {
    spec: Spec::value(
        "--max-zip-entries",
        "N",
        "Most entries in a deployed ZIP (default 10000)",
    ),
    parse: parse::number,
};
pub static MAX_UNZIPPED_MB: Opt<u64> = Opt {
    spec: Spec::value(
        "--max-unzipped-mb",
        "N",
        "Most bytes a deployed ZIP may inflate to, in MiB (default 1024)",
    ),
    parse: parse::number,
};
pub static KEEP_DEPLOYMENTS: Opt<usize> = Opt {
    spec: Spec::value(
        "--keep-deployments",
        "N",
        "Deployments of each site kept for rollback; older ones' files\nare dropped after a deploy (default 10)",
    )
    .default("10"),
    parse: |raw| parse::range(raw, 1, 1000),
};
pub static TRUSTED_PROXY: Opt<Vec<IpAddr>> = Opt {
    spec: Spec::list(
        "--trusted-proxy",
        "IP",
        "A reverse proxy whose X-Forwarded-For is believed (repeatable;\ncomma-separated in the environment and when stored)",
    ),
    parse: parse::ip_list,
};
pub static JS_TIMEOUT_MS: Opt<u64> = Opt {
    spec: Spec::value(
        "--js-timeout-ms",
        "N",
        "CPU (wall-clock) time per script run (default 1000)",
    ),
    parse: parse::number,
};
pub static JS_MEMORY_MB: Opt<usize> = Opt {
    spec: Spec::value(
        "--js-memory-mb",
        "N",
        "Memory per JS runtime in MiB (default 32)",
    ),
    parse: parse::number,
};
pub static JS_THREADS: Opt<usize> = Opt {
    spec: Spec::value("--js-threads", "N", "JS worker threads (default 2)"),
    parse: parse::number,
};

pub static JS_FETCH_ALLOW: Opt<Vec<String>> = Opt {
    spec: Spec::list(
        "--js-fetch-allow",
        "HOST",
        "A host a script's fetch may reach though it is not public (a\nname or IP; `loopback` for 127.0.0.0/8 and ::1; repeatable)",
    ),
    parse: parse::fetch_allow,
};

pub static WS_MAX_CONNECTIONS: Opt<usize> = Opt {
    spec: Spec::value(
        "--ws-max-connections",
        "N",
        "WebSocket connections in all, then 503 (default 4096)",
    ),
    parse: |raw| parse::range(raw, 1, 1_000_000),
};
pub static WS_MAX_PER_SITE: Opt<usize> = Opt {
    spec: Spec::value(
        "--ws-max-per-site",
        "N",
        "WebSocket connections to one site, then 503 (default 1024)",
    ),
    parse: |raw| parse::range(raw, 1, 1_000_000),
};
pub static WS_MAX_MESSAGE_KB: Opt<usize> = Opt {
    spec: Spec::value(
        "--ws-max-message-kb",
        "N",
        "Longest WebSocket message in KiB; longer closes with 1009 (default 64)",
    ),
    parse: |raw| parse::range(raw, 1, 16 * 1024),
};
pub static WS_IDLE_TIMEOUT: Opt<u64> = Opt {
    spec: Spec::value(
        "--ws-idle-timeout",
        "S",
        "Seconds of silence before a WebSocket is closed with 1001; it is\npinged after two fifths of that (default 75)",
    ),
    parse: |raw| parse::range(raw, 5, 86_400),
};

/// The general options, in help order.
pub static GENERAL: &[&dyn AnyOpt] = &[
    &DB,
    &LISTEN,
    &DOMAIN,
    &LOG_LEVEL,
    &CACHE_MB,
    &STACK_KB,
    &HEADER_TIMEOUT,
    &IDLE_TIMEOUT,
    &BODY_TIMEOUT,
    &MAX_CONNECTIONS,
    &MAX_CONNS_PER_IP,
    &MIN_BODY_RATE,
    &MAX_UPLOADS,
    &MAX_UPLOAD_MB,
    &MAX_ZIP_ENTRIES,
    &MAX_UNZIPPED_MB,
    &KEEP_DEPLOYMENTS,
    &TRUSTED_PROXY,
    &JS_TIMEOUT_MS,
    &JS_MEMORY_MB,
    &JS_THREADS,
    &JS_FETCH_ALLOW,
    &WS_MAX_CONNECTIONS,
    &WS_MAX_PER_SITE,
    &WS_MAX_MESSAGE_KB,
    &WS_IDLE_TIMEOUT,
];

/// Every option `fazt serve` takes in this build (HTTPS ones even without the `acme`
/// feature, to refuse them clearly).
pub fn options() -> Vec<&'static dyn AnyOpt> {
    let mut all: Vec<&'static dyn AnyOpt> = GENERAL.to_vec();
    all.extend_from_slice(super::backup::OPTIONS);
    all.extend_from_slice(super::upgrade::OPTIONS);
    all.extend_from_slice(super::https::OPTIONS);
    #[cfg(feature = "analytics")]
    all.extend_from_slice(super::analytics::OPTIONS);
    all
}

/// `fazt serve --help`: generated from the options, only those this build honours.
pub fn help() -> String {
    let mut h = String::from(
        "\
fazt serve — run the server (alias: fazt server start)

USAGE:
    fazt serve [OPTIONS]

Each option is taken from its flag, else its environment variable, else a setting stored
in fazt.db (`fazt config set KEY VALUE`, KEY as shown; `fazt config list` shows them),
else its default.

OPTIONS:
",
    );
    h.push_str(&super::help::render(GENERAL));
    h.push_str("\nBACKUPS:\n");
    h.push_str(&super::help::render(super::backup::OPTIONS));
    h.push_str("\nUPGRADES:\n");
    h.push_str(&super::help::render(super::upgrade::OPTIONS));
    #[cfg(feature = "acme")]
    {
        h.push_str("\nHTTPS (feature `acme`):\n");
        h.push_str(&super::help::render(super::https::OPTIONS));
        h.push_str(super::https::HELP_FOOTER);
    }
    #[cfg(feature = "analytics")]
    {
        h.push_str("\nANALYTICS (feature `analytics`):\n");
        h.push_str(&super::help::render(super::analytics::OPTIONS));
    }
    h
}

/// The JS engine's options as given (the engine clamps them and knows its defaults).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JsConfig {
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<usize>,
    pub threads: Option<usize>,
    /// `--js-fetch-allow`.
    pub fetch_allow: Vec<String>,
    /// `--ws-max-connections`, `--ws-max-per-site`, `--ws-max-message-kb` (in bytes),
    /// `--ws-idle-timeout` (seconds): the WebSocket limits, which need the JS runtime too.
    pub ws: [Option<u64>; 4],
}

impl JsConfig {
    pub fn any(&self) -> bool {
        self.timeout_ms.is_some()
            || self.memory_mb.is_some()
            || self.threads.is_some()
            || !self.fetch_allow.is_empty()
            || self.ws.iter().any(Option::is_some)
    }
}

/// What `fazt serve` needs before its database is open.
#[derive(Debug)]
pub struct Boot {
    pub db: PathBuf,
    pub log_level: String,
}

/// Everything `fazt serve` runs with.
#[derive(Debug)]
pub struct ServeConfig {
    pub listen: String,
    pub domain: String,
    pub cache_bytes: usize,
    pub stack_bytes: usize,
    /// The HTTP edge's limits, trusted proxies included.
    pub limits: Limits,
    pub deploy: DeployLimits,
    pub trusted_proxies: Vec<IpAddr>,
    pub js: JsConfig,
    pub https: super::https::HttpsConfig,
    pub backup: crate::backup::Policy,
    /// The upgrade settings given by flag or environment (they beat stored ones).
    pub upgrade: crate::upgrade::Settings,
    /// `--auto-upgrade`: the daily window, if on.
    pub auto_upgrade: Option<crate::upgrade::auto::Window>,
    /// With `domain` and `trusted_proxies` filled in.
    #[cfg(feature = "analytics")]
    pub analytics: crate::analytics::Settings,
}

/// Takes `fazt serve`'s flags out of `args` and reads its environment variables.
pub fn sources(args: &mut Arguments) -> Result<Sources, String> {
    Sources::from_args(args, &options())
}

impl Boot {
    /// Checks every flag and environment value (so a bad one is reported before the
    /// database is opened), and resolves the database path and log level.
    pub fn resolve(src: &Sources) -> Result<Boot, String> {
        src.check_given(&options())?;
        Ok(Boot {
            db: src.value(&DB)?,
            log_level: src.value(&LOG_LEVEL)?,
        })
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s.max(1))
}

impl ServeConfig {
    /// Resolves every option from `src` (with the stored settings loaded).
    pub fn resolve(src: &Sources) -> Result<ServeConfig, String> {
        let https = super::https::resolve(src)?;
        // With HTTPS the public ports are 443/80; the plain listener stays local by default.
        let listen = src.given(&LISTEN)?.unwrap_or_else(|| {
            if https.enabled {
                "127.0.0.1:4698".into()
            } else {
                "0.0.0.0:4698".into()
            }
        });
        let domain = src.value(&DOMAIN)?;
        let trusted_proxies = src.value(&TRUSTED_PROXY)?;

        // Limits not given keep the kernel's defaults (the help text states them).
        let mut limits = Limits {
            server_header: "fazt",
            ..Limits::default()
        };
        if let Some(s) = src.given(&HEADER_TIMEOUT)? {
            limits.header_timeout = secs(s);
        }
        if let Some(s) = src.given(&IDLE_TIMEOUT)? {
            limits.idle_timeout = secs(s);
        }
        if let Some(s) = src.given(&BODY_TIMEOUT)? {
            limits.body_timeout = secs(s);
        }
        if let Some(n) = src.given(&MAX_CONNECTIONS)? {
            limits.max_connections = n.max(1);
        }
        if let Some(n) = src.given(&MAX_CONNS_PER_IP)? {
            limits.max_connections_per_ip = n;
        }
        if let Some(n) = src.given(&MIN_BODY_RATE)? {
            limits.min_body_rate = n;
        }
        limits.trusted_proxies = trusted_proxies.clone();

        let mut deploy = DeployLimits::default();
        if let Some(n) = src.given(&MAX_UPLOAD_MB)? {
            deploy.max_upload = n.max(1).saturating_mul(MIB);
        }
        if let Some(n) = src.given(&MAX_UPLOADS)? {
            deploy.max_concurrent = n.max(1);
        }
        if let Some(n) = src.given(&MAX_ZIP_ENTRIES)? {
            deploy.zip.max_entries = n.max(1);
        }
        if let Some(n) = src.given(&MAX_UNZIPPED_MB)? {
            deploy.zip.max_total_uncompressed = n.max(1).saturating_mul(MIB);
            deploy.zip.max_entry_uncompressed = deploy.zip.max_total_uncompressed;
        }
        deploy.keep_deployments = src.value(&KEEP_DEPLOYMENTS)?;

        Ok(ServeConfig {
            #[cfg(feature = "analytics")]
            analytics: super::analytics::resolve(src, &domain, &trusted_proxies)?,
            listen,
            domain,
            cache_bytes: src.value(&CACHE_MB)?.saturating_mul(MIB as usize),
            stack_bytes: src.value(&STACK_KB)? * 1024,
            limits,
            deploy,
            trusted_proxies,
            js: JsConfig {
                timeout_ms: src.given(&JS_TIMEOUT_MS)?,
                memory_mb: src.given(&JS_MEMORY_MB)?,
                threads: src.given(&JS_THREADS)?,
                fetch_allow: src.value(&JS_FETCH_ALLOW)?,
                ws: [
                    src.given(&WS_MAX_CONNECTIONS)?.map(|n| n as u64),
                    src.given(&WS_MAX_PER_SITE)?.map(|n| n as u64),
                    src.given(&WS_MAX_MESSAGE_KB)?.map(|n| n as u64 * 1024),
                    src.given(&WS_IDLE_TIMEOUT)?,
                ],
            },
            https,
            backup: super::backup::resolve(src)?,
            // Only what flags and the environment pin: stored upgrade settings are read
            // when an upgrade runs (see `App::upgrader`), so a change needs no restart and a
            // bad one never stops the server from starting.
            upgrade: super::upgrade::resolve_pinned(src)?,
            auto_upgrade: src.given(&super::upgrade::AUTO_UPGRADE)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(
        args: &[&str],
        env: &[(&str, &str)],
        stored: &[(&str, &str)],
    ) -> Result<ServeConfig, String> {
        let mut a = Arguments::from_vec(args.iter().map(Into::into).collect());
        let flags = super::super::sources::read_flags(&mut a, &options())?;
        assert!(a.finish().is_empty(), "unparsed flags in {args:?}");
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let src = Sources::new(flags, &options(), |k| env.get(k).cloned()).with_stored(
            stored
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        Boot::resolve(&src)?;
        ServeConfig::resolve(&src)
    }

    #[test]
    fn every_default_parses_and_names_are_unique() {
        let opts = options();
        let mut names = std::collections::HashSet::new();
        for o in &opts {
            let s = o.spec();
            assert!(names.insert(s.name()), "{} twice", s.flag);
            assert!(s.flag.starts_with("--") && !s.help.is_empty(), "{}", s.flag);
            if let Some(d) = s.default {
                o.check(d)
                    .unwrap_or_else(|e| panic!("default of {}: {e}", s.flag));
            }
        }
        // Help shows every option this build honours, with its environment variable.
        let help = help();
        let mut shown: Vec<&dyn AnyOpt> = GENERAL.to_vec();
        shown.extend_from_slice(super::super::backup::OPTIONS);
        shown.extend_from_slice(super::super::upgrade::OPTIONS);
        if cfg!(feature = "acme") {
            shown.extend_from_slice(super::super::https::OPTIONS);
        }
        #[cfg(feature = "analytics")]
        shown.extend_from_slice(super::super::analytics::OPTIONS);
        for o in shown {
            let s = o.spec();
            assert!(
                help.contains(&format!("    {} ", s.flag))
                    || help.contains(&format!("    {}\n", s.flag)),
                "{} not in help",
                s.flag
            );
            assert!(
                help.contains(&format!("(env {}", s.env())),
                "{} not in help",
                s.env()
            );
        }
        assert_eq!(help.contains("--tls-cert"), cfg!(feature = "acme"));
    }

    #[test]
    fn defaults_match_todays_server() {
        let c = resolve(&[], &[], &[]).unwrap();
        assert_eq!(c.listen, "0.0.0.0:4698");
        assert_eq!(c.domain, "localhost");
        assert_eq!(c.cache_bytes, 4 << 20);
        assert_eq!(c.stack_bytes, 128 << 10);
        assert_eq!(c.limits.max_connections, Limits::default().max_connections);
        assert_eq!(c.deploy.max_upload, DeployLimits::default().max_upload);
        assert!(c.trusted_proxies.is_empty() && !c.js.any() && !c.https.enabled);
        assert_eq!(c.backup, crate::backup::Policy::default());
    }

    #[test]
    fn flags_env_and_store_fill_the_config() {
        let c = resolve(
            &[
                "--domain",
                "Example.COM.",
                "--header-timeout",
                "0",
                "--max-upload-mb",
                "5",
                "--trusted-proxy",
                "10.0.0.1",
            ],
            &[("FAZT_MAX_CONNS_PER_IP", "3"), ("FAZT_JS_THREADS", "4")],
            &[
                ("listen", "127.0.0.1:9"),
                ("cache_mb", "8"),
                ("domain", "x.example"),
            ],
        )
        .unwrap();
        assert_eq!(c.domain, "example.com");
        assert_eq!(c.listen, "127.0.0.1:9");
        assert_eq!(c.cache_bytes, 8 << 20);
        assert_eq!(c.limits.header_timeout, Duration::from_secs(1));
        assert_eq!(c.limits.max_connections_per_ip, 3);
        assert_eq!(c.deploy.max_upload, 5 << 20);
        assert_eq!(c.js.threads, Some(4));
        assert_eq!(c.trusted_proxies, c.limits.trusted_proxies);
        assert_eq!(c.trusted_proxies.len(), 1);

        let c = resolve(
            &["--backup-dir", "/srv/snaps", "--replicated"],
            &[("FAZT_BACKUP_KEEP", "3")],
            &[("backup_every", "6h")],
        )
        .unwrap();
        let s = c.backup.schedule.unwrap();
        assert_eq!(s.dir, std::path::Path::new("/srv/snaps"));
        assert_eq!((s.every.as_secs(), s.keep), (6 * 3600, 3));
        assert!(c.backup.replicated);
    }

    #[test]
    fn bad_values_are_refused_with_their_source() {
        let e = resolve(&["--stack-kb", "10"], &[], &[]).unwrap_err();
        assert_eq!(e, "--stack-kb: must be between 64 and 8192, not 10");
        let e = resolve(&[], &[("FAZT_CACHE_MB", "lots")], &[]).unwrap_err();
        assert_eq!(e, "FAZT_CACHE_MB: 'lots' is not a valid number");
        let e = resolve(&[], &[], &[("domain", "a/b")]).unwrap_err();
        assert!(
            e.starts_with("stored setting domain: invalid domain 'a/b'"),
            "{e}"
        );
        let e = resolve(&["--domain", "a b"], &[], &[]).unwrap_err();
        assert_eq!(e, "--domain: invalid domain 'a b'");
        let e = resolve(&["--log-level", "loud"], &[], &[]).unwrap_err();
        assert!(
            e.starts_with("--log-level: unknown log level 'loud'"),
            "{e}"
        );
        let e = resolve(&[], &[("FAZT_TRUSTED_PROXY", "10.0.0.1,nope")], &[]).unwrap_err();
        assert_eq!(e, "FAZT_TRUSTED_PROXY: 'nope' is not an IP address");
        let e = resolve(&["--backup-dir", "d", "--backup-every", "1w"], &[], &[]).unwrap_err();
        assert!(
            e.starts_with("--backup-every: '1w' is not a duration"),
            "{e}"
        );
        let e = resolve(&[], &[], &[("backup_keep", "0")]).unwrap_err();
        assert!(
            e.starts_with("stored setting backup_keep: must be between 1 and 10000, not 0"),
            "{e}"
        );
    }
}
