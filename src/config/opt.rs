//! One option, described once: its name (from which the flag, the environment variable and
//! the stored key are derived), what kind of flag it is, whether it may be stored in
//! fazt.db, its default, its help text and the parser that checks and converts a value.

/// How the option appears on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--name VALUE`, given once.
    Value,
    /// `--name` alone means true; the environment and the store say `true`/`false`.
    Switch,
    /// `--name VALUE`, repeatable; the environment and the store hold the values
    /// comma-separated.
    List,
}

/// Everything about an option except its parser (so options of different value types can
/// be listed together).
#[derive(Debug)]
pub struct Spec {
    /// The flag, `--max-conns-per-ip`; the other names derive from it.
    pub flag: &'static str,
    pub kind: Kind,
    /// What the value is, in help: `N`, `ADDR`; empty for a switch.
    pub arg: &'static str,
    /// Help text; `\n` starts a continuation line.
    pub help: &'static str,
    /// May be stored in fazt.db (`fazt config set`).
    pub storable: bool,
    /// Used when no source gives a value. `None`: the option is unset, or its default is
    /// chosen by the code that uses it (a kernel limit's own default, or one that depends on
    /// another option).
    pub default: Option<&'static str>,
    /// An older environment variable also read, after the derived one (`FAZT_LOG`).
    pub env_alias: Option<&'static str>,
}

impl Spec {
    /// `--flag ARG`, storable, without a default.
    pub const fn value(flag: &'static str, arg: &'static str, help: &'static str) -> Spec {
        Spec {
            flag,
            kind: Kind::Value,
            arg,
            help,
            storable: true,
            default: None,
            env_alias: None,
        }
    }

    /// `--flag` alone, storable, off by default.
    pub const fn switch(flag: &'static str, help: &'static str) -> Spec {
        Spec {
            kind: Kind::Switch,
            default: Some("false"),
            ..Spec::value(flag, "", help)
        }
    }

    /// `--flag ARG`, repeatable, storable, empty by default.
    pub const fn list(flag: &'static str, arg: &'static str, help: &'static str) -> Spec {
        Spec {
            kind: Kind::List,
            default: Some(""),
            ..Spec::value(flag, arg, help)
        }
    }

    pub const fn default(self, default: &'static str) -> Spec {
        Spec {
            default: Some(default),
            ..self
        }
    }

    /// Read from flag and environment only, never from fazt.db.
    pub const fn not_stored(self) -> Spec {
        Spec {
            storable: false,
            ..self
        }
    }

    pub const fn env_alias(self, var: &'static str) -> Spec {
        Spec {
            env_alias: Some(var),
            ..self
        }
    }

    /// `max-conns-per-ip`
    pub fn name(&self) -> &'static str {
        self.flag.trim_start_matches('-')
    }

    /// `FAZT_MAX_CONNS_PER_IP`
    pub fn env(&self) -> String {
        format!(
            "FAZT_{}",
            self.name().replace('-', "_").to_ascii_uppercase()
        )
    }

    /// `max_conns_per_ip`, the key in `configurations`.
    pub fn key(&self) -> String {
        self.name().replace('-', "_")
    }
}

/// An option whose values parse to `T`.
pub struct Opt<T: 'static> {
    pub spec: Spec,
    /// Checks a raw value (a flag's, an environment variable's, a stored one or the default)
    /// and converts it; the error says what is wrong with the value, without naming its
    /// source (the resolver adds that).
    pub parse: fn(&str) -> Result<T, String>,
}

/// An option of any value type: what help, `fazt config` and flag parsing need.
pub trait AnyOpt: Sync {
    fn spec(&self) -> &Spec;
    /// Whether `raw` is a valid value (the same parser the server uses).
    fn check(&self, raw: &str) -> Result<(), String>;
}

impl<T: 'static> AnyOpt for Opt<T> {
    fn spec(&self) -> &Spec {
        &self.spec
    }
    fn check(&self, raw: &str) -> Result<(), String> {
        (self.parse)(raw).map(|_| ())
    }
}

/// The storable option whose key is `key` (`max_conns_per_ip`; `max-conns-per-ip` and
/// `--max-conns-per-ip` are accepted too).
pub fn find_storable<'a>(opts: &[&'a dyn AnyOpt], key: &str) -> Option<&'a dyn AnyOpt> {
    let key = key.trim_start_matches("--").replace('-', "_");
    opts.iter()
        .copied()
        .find(|o| o.spec().storable && o.spec().key() == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_flag() {
        let s = Spec {
            flag: "--max-conns-per-ip",
            kind: Kind::Value,
            arg: "N",
            help: "",
            storable: true,
            default: None,
            env_alias: None,
        };
        assert_eq!(s.name(), "max-conns-per-ip");
        assert_eq!(s.env(), "FAZT_MAX_CONNS_PER_IP");
        assert_eq!(s.key(), "max_conns_per_ip");
    }
}
