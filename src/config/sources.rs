//! The four places a value can come from, and the one rule that picks it: a flag beats the
//! environment (`FAZT_<NAME>`), which beats a setting stored in fazt.db, which beats the
//! default. A value is parsed where it is picked, and a bad one is an error naming the
//! option and its source: `--cache-mb: 'abc' is not a valid number`,
//! `FAZT_CACHE_MB: …`, `stored setting cache_mb: …`.

use std::collections::HashMap;

use pico_args::Arguments;

use super::opt::{AnyOpt, Kind, Opt, Spec};
use crate::kernel::db::Db;

/// Where a value was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    /// The environment variable's name.
    Env(String),
    Stored,
    Default,
}

impl Source {
    /// How an error names the value: `--cache-mb`, `FAZT_CACHE_MB`, `stored setting cache_mb`.
    fn label(&self, spec: &Spec) -> String {
        match self {
            Source::Flag => spec.flag.to_string(),
            Source::Env(var) => var.clone(),
            Source::Stored => format!("stored setting {}", spec.key()),
            Source::Default => format!("the default of {}", spec.flag),
        }
    }
}

/// The flags, environment and stored settings one command resolves its options from.
#[derive(Debug, Default)]
pub struct Sources {
    /// By option name; a switch given holds `true`, a list its values joined by commas.
    flags: HashMap<&'static str, String>,
    /// By option name: (variable, value), for variables set and not empty.
    env: HashMap<&'static str, (String, String)>,
    /// By key, as stored in `configurations`.
    stored: HashMap<String, String>,
}

/// Takes each option's flag out of `args` (anything left over is the caller's to refuse).
/// Switches go first, so that a switch is never taken for the value of the flag before it.
pub fn read_flags(
    args: &mut Arguments,
    opts: &[&dyn AnyOpt],
) -> Result<HashMap<&'static str, String>, String> {
    let mut flags = HashMap::new();
    for s in opts
        .iter()
        .map(|o| o.spec())
        .filter(|s| s.kind == Kind::Switch)
    {
        if args.contains(s.flag) {
            flags.insert(s.name(), "true".to_string());
        }
    }
    for o in opts {
        let s = o.spec();
        let missing = |e: pico_args::Error| format!("{}: {e}", s.flag);
        match s.kind {
            Kind::Switch => {}
            Kind::Value => {
                if let Some(v) = args
                    .opt_value_from_str::<_, String>(s.flag)
                    .map_err(missing)?
                {
                    flags.insert(s.name(), v);
                }
            }
            Kind::List => {
                let all: Vec<String> = args.values_from_str(s.flag).map_err(missing)?;
                if !all.is_empty() {
                    flags.insert(s.name(), all.join(","));
                }
            }
        }
    }
    Ok(flags)
}

impl Sources {
    /// Flags taken from `args`, and the process environment.
    pub fn from_args(args: &mut Arguments, opts: &[&dyn AnyOpt]) -> Result<Sources, String> {
        let flags = read_flags(args, opts)?;
        Ok(Sources::new(flags, opts, |var| std::env::var(var).ok()))
    }

    /// `flags` as read by [`read_flags`], and each option's environment variable (then its
    /// older alias) looked up with `env`. An empty variable counts as unset.
    pub fn new(
        flags: HashMap<&'static str, String>,
        opts: &[&dyn AnyOpt],
        env: impl Fn(&str) -> Option<String>,
    ) -> Sources {
        let mut found = HashMap::new();
        for s in opts.iter().map(|o| o.spec()) {
            let vars = std::iter::once(s.env()).chain(s.env_alias.map(String::from));
            for var in vars {
                if let Some(v) = env(&var).filter(|v| !v.is_empty()) {
                    found.insert(s.name(), (var, v));
                    break;
                }
            }
        }
        Sources {
            flags,
            env: found,
            stored: HashMap::new(),
        }
    }

    /// Adds the settings stored in fazt.db (only storable options read them).
    pub fn with_stored(mut self, stored: HashMap<String, String>) -> Sources {
        self.stored = stored;
        self
    }

    /// Adds the settings stored in `db`.
    pub fn load_stored(self, db: &Db) -> Result<Sources, String> {
        let stored = crate::settings::list(db)
            .map_err(|e| format!("cannot read stored settings: {e}"))?
            .into_iter()
            .map(|s| (s.key, s.value))
            .collect();
        Ok(self.with_stored(stored))
    }

    /// The raw value for `spec` and where it came from, before the default.
    fn raw(&self, spec: &Spec) -> Option<(Source, &str)> {
        if let Some(v) = self.flags.get(spec.name()) {
            return Some((Source::Flag, v));
        }
        if let Some((var, v)) = self.env.get(spec.name()) {
            return Some((Source::Env(var.clone()), v));
        }
        if spec.storable {
            if let Some(v) = self.stored.get(&spec.key()) {
                return Some((Source::Stored, v));
            }
        }
        None
    }

    /// How an error names the value `spec` has here: `--email`, `FAZT_EMAIL` or
    /// `stored setting email`.
    pub fn origin(&self, spec: &Spec) -> String {
        self.source(spec).label(spec)
    }

    /// Where the value of `spec` comes from (`Default` also when it has none).
    pub fn source(&self, spec: &Spec) -> Source {
        self.raw(spec).map_or(Source::Default, |(s, _)| s)
    }

    fn parse<T>(opt: &Opt<T>, source: Source, raw: &str) -> Result<T, String> {
        (opt.parse)(raw).map_err(|e| {
            let hint = if source == Source::Stored {
                let k = opt.spec.key();
                format!(" (fix it with `fazt config set {k} VALUE` or `fazt config unset {k}`)")
            } else {
                String::new()
            };
            format!("{}: {e}{hint}", source.label(&opt.spec))
        })
    }

    /// The value a flag, the environment or the store gives, parsed; `None` when none does.
    pub fn given<T>(&self, opt: &Opt<T>) -> Result<Option<T>, String> {
        match self.raw(&opt.spec) {
            Some((source, raw)) => Self::parse(opt, source, raw).map(Some),
            None => Ok(None),
        }
    }

    /// The given value, else the default; `None` for an option without either.
    pub fn get<T>(&self, opt: &Opt<T>) -> Result<Option<T>, String> {
        if let Some(v) = self.given(opt)? {
            return Ok(Some(v));
        }
        match opt.spec.default {
            Some(d) => Self::parse(opt, Source::Default, d).map(Some),
            None => Ok(None),
        }
    }

    /// The value of an option that has a default.
    pub fn value<T>(&self, opt: &Opt<T>) -> Result<T, String> {
        self.get(opt)?
            .ok_or_else(|| format!("{}: no value and no default", opt.spec.flag))
    }

    /// Checks every flag and environment value of `opts` now, so that a bad one is reported
    /// before anything is opened; stored values are checked when they are resolved.
    pub fn check_given(&self, opts: &[&dyn AnyOpt]) -> Result<(), String> {
        for o in opts {
            let s = o.spec();
            if let Some(v) = self.flags.get(s.name()) {
                o.check(v).map_err(|e| format!("{}: {e}", s.flag))?;
            } else if let Some((var, v)) = self.env.get(s.name()) {
                o.check(v).map_err(|e| format!("{var}: {e}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    static CACHE: Opt<usize> = Opt {
        spec: Spec {
            flag: "--cache-mb",
            kind: Kind::Value,
            arg: "N",
            help: "",
            storable: true,
            default: Some("4"),
            env_alias: None,
        },
        parse: parse::number,
    };
    static LEVEL: Opt<String> = Opt {
        spec: Spec {
            flag: "--log-level",
            kind: Kind::Value,
            arg: "LEVEL",
            help: "",
            storable: false,
            default: Some("info"),
            env_alias: Some("FAZT_LOG"),
        },
        parse: parse::log_level,
    };
    static HTTPS: Opt<bool> = Opt {
        spec: Spec {
            flag: "--https",
            kind: Kind::Switch,
            arg: "",
            help: "",
            storable: true,
            default: Some("false"),
            env_alias: None,
        },
        parse: parse::switch,
    };
    static PROXY: Opt<Vec<std::net::IpAddr>> = Opt {
        spec: Spec {
            flag: "--trusted-proxy",
            kind: Kind::List,
            arg: "IP",
            help: "",
            storable: true,
            default: Some(""),
            env_alias: None,
        },
        parse: parse::ip_list,
    };
    static EMAIL: Opt<String> = Opt {
        spec: Spec {
            flag: "--email",
            kind: Kind::Value,
            arg: "ADDR",
            help: "",
            storable: true,
            default: None,
            env_alias: None,
        },
        parse: parse::text,
    };
    static OPTS: &[&dyn AnyOpt] = &[&CACHE, &LEVEL, &HTTPS, &PROXY, &EMAIL];

    fn sources(args: &[&str], env: &[(&str, &str)], stored: &[(&str, &str)]) -> Sources {
        let mut a = Arguments::from_vec(args.iter().map(Into::into).collect());
        let flags = read_flags(&mut a, OPTS).unwrap();
        assert!(a.finish().is_empty(), "unparsed flags in {args:?}");
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sources::new(flags, OPTS, |k| env.get(k).cloned()).with_stored(
            stored
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn flag_beats_env_beats_stored_beats_default() {
        let all = sources(
            &["--cache-mb", "1"],
            &[("FAZT_CACHE_MB", "2")],
            &[("cache_mb", "3")],
        );
        assert_eq!(all.value(&CACHE), Ok(1));
        assert_eq!(all.source(&CACHE.spec), Source::Flag);
        let env = sources(&[], &[("FAZT_CACHE_MB", "2")], &[("cache_mb", "3")]);
        assert_eq!(env.value(&CACHE), Ok(2));
        assert_eq!(env.source(&CACHE.spec), Source::Env("FAZT_CACHE_MB".into()));
        let stored = sources(&[], &[], &[("cache_mb", "3")]);
        assert_eq!(stored.value(&CACHE), Ok(3));
        assert_eq!(stored.given(&CACHE), Ok(Some(3)));
        let none = sources(&[], &[("FAZT_CACHE_MB", "")], &[]);
        assert_eq!(none.value(&CACHE), Ok(4));
        assert_eq!(none.given(&CACHE), Ok(None));
        assert_eq!(none.source(&CACHE.spec), Source::Default);
    }

    #[test]
    fn errors_name_the_option_and_source() {
        let e = sources(&["--cache-mb", "abc"], &[], &[]).value(&CACHE);
        assert_eq!(e, Err("--cache-mb: 'abc' is not a valid number".into()));
        let e = sources(&[], &[("FAZT_CACHE_MB", "abc")], &[]).value(&CACHE);
        assert_eq!(e, Err("FAZT_CACHE_MB: 'abc' is not a valid number".into()));
        let e = sources(&[], &[], &[("cache_mb", "abc")])
            .value(&CACHE)
            .unwrap_err();
        assert!(
            e.starts_with("stored setting cache_mb: 'abc' is not a valid number"),
            "{e}"
        );
        assert!(
            e.contains("fazt config unset cache_mb") && !e.contains('\n'),
            "{e}"
        );
        // A good flag hides a bad stored value: it is never read.
        let ok = sources(&["--cache-mb", "5"], &[], &[("cache_mb", "abc")]);
        assert_eq!(ok.value(&CACHE), Ok(5));
    }

    #[test]
    fn check_given_sees_flags_and_env_only() {
        assert!(sources(&[], &[], &[("cache_mb", "abc")])
            .check_given(OPTS)
            .is_ok());
        let e = sources(&[], &[("FAZT_LOG", "loud")], &[])
            .check_given(OPTS)
            .unwrap_err();
        assert!(e.starts_with("FAZT_LOG: unknown log level 'loud'"), "{e}");
    }

    #[test]
    fn unstorable_options_ignore_the_store_and_read_their_alias() {
        let s = sources(&[], &[], &[("log_level", "trace")]);
        assert_eq!(s.value(&LEVEL), Ok("info".into()));
        let s = sources(&[], &[("FAZT_LOG", "debug")], &[]);
        assert_eq!(s.value(&LEVEL), Ok("debug".into()));
        let s = sources(
            &[],
            &[("FAZT_LOG", "debug"), ("FAZT_LOG_LEVEL", "warn")],
            &[],
        );
        assert_eq!(s.value(&LEVEL), Ok("warn".into()));
    }

    #[test]
    fn switches_and_lists() {
        assert_eq!(sources(&[], &[], &[]).value(&HTTPS), Ok(false));
        assert_eq!(sources(&["--https"], &[], &[]).value(&HTTPS), Ok(true));
        let env_off = sources(&[], &[("FAZT_HTTPS", "0")], &[("https", "true")]);
        assert_eq!(env_off.value(&HTTPS), Ok(false));
        let e = sources(&[], &[("FAZT_HTTPS", "sure")], &[]).value(&HTTPS);
        assert_eq!(e, Err("FAZT_HTTPS: 'sure' is not true or false".into()));

        let flags = sources(
            &["--trusted-proxy", "10.0.0.1", "--trusted-proxy", "10.0.0.2"],
            &[("FAZT_TRUSTED_PROXY", "10.0.0.9")],
            &[],
        );
        assert_eq!(flags.value(&PROXY).unwrap().len(), 2);
        let env = sources(&[], &[("FAZT_TRUSTED_PROXY", "10.0.0.9, ::1")], &[]);
        assert_eq!(env.value(&PROXY).unwrap().len(), 2);
        assert_eq!(sources(&[], &[], &[]).value(&PROXY), Ok(vec![]));
        let e = sources(&["--trusted-proxy", "proxy"], &[], &[]).value(&PROXY);
        assert_eq!(
            e,
            Err("--trusted-proxy: 'proxy' is not an IP address".into())
        );
    }

    #[test]
    fn options_without_default_are_unset() {
        assert_eq!(sources(&[], &[], &[]).get(&EMAIL), Ok(None));
        let s = sources(&["--email", "a@b.example"], &[], &[]);
        assert_eq!(s.get(&EMAIL), Ok(Some("a@b.example".into())));
        assert!(sources(&[], &[], &[]).value(&EMAIL).is_err());
    }

    #[test]
    fn a_flag_without_its_value_is_named() {
        let mut a = Arguments::from_vec(vec!["--cache-mb".into()]);
        let e = read_flags(&mut a, OPTS).unwrap_err();
        assert!(e.starts_with("--cache-mb: "), "{e}");
    }
}
