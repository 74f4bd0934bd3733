//! Help text generated from the option descriptions, so every option's flag, environment
//! variable and stored key are shown exactly as they are resolved.

use super::opt::{AnyOpt, Kind};

/// Column where descriptions start.
const COLUMN: usize = 25;

/// One block per option: `--flag ARG  help…`, then where else it may come from.
pub fn render(opts: &[&dyn AnyOpt]) -> String {
    let mut out = String::new();
    for o in opts {
        let s = o.spec();
        let left = if s.arg.is_empty() {
            format!("    {}", s.flag)
        } else {
            format!("    {} {}", s.flag, s.arg)
        };
        let mut lines = s.help.split('\n');
        let indent = " ".repeat(COLUMN);
        out.push_str(&left);
        if left.len() < COLUMN {
            out.push_str(&" ".repeat(COLUMN - left.len()));
        } else {
            // Too long for the column: the description starts on the next line.
            out.push('\n');
            out.push_str(&indent);
        }
        out.push_str(lines.next().unwrap_or(""));
        out.push('\n');
        for l in lines {
            out.push_str(&indent);
            out.push_str(l);
            out.push('\n');
        }
        let mut env = s.env();
        if s.kind == Kind::Switch {
            env.push_str("=true");
        }
        if let Some(alias) = s.env_alias {
            env = format!("{env} or {alias}");
        }
        let stored = if s.storable {
            format!("; stored as {}", s.key())
        } else {
            String::new()
        };
        out.push_str(&format!("{indent}(env {env}{stored})\n"));
    }
    out
}

/// The storable keys, comma-separated and wrapped to fit 90 columns after `indent`.
pub fn keys(opts: &[&dyn AnyOpt], indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for k in opts
        .iter()
        .filter(|o| o.spec().storable)
        .map(|o| o.spec().key())
    {
        if !line.is_empty() && indent.len() + line.len() + k.len() + 2 > 90 {
            out.push_str(&format!("{indent}{}\n", line.trim_end()));
            line.clear();
        }
        line.push_str(&k);
        line.push_str(", ");
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{}\n", line.trim_end_matches([',', ' '])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::opt::{Opt, Spec};
    use super::super::parse;
    use super::*;

    static A: Opt<usize> = Opt {
        spec: Spec::value("--cache-mb", "N", "Cache in MiB\n(default 4)").default("4"),
        parse: parse::number,
    };
    static B: Opt<bool> = Opt {
        spec: Spec::switch("--https", "Serve HTTPS").not_stored(),
        parse: parse::switch,
    };

    #[test]
    fn blocks_show_env_and_key() {
        let h = render(&[&A, &B]);
        assert_eq!(
            h,
            "    --cache-mb N         Cache in MiB\n                         (default 4)\n                         (env FAZT_CACHE_MB; stored as cache_mb)\n    --https              Serve HTTPS\n                         (env FAZT_HTTPS=true)\n"
        );
        assert_eq!(keys(&[&A, &B], "  "), "  cache_mb\n");
        static LONG: Opt<u32> = Opt {
            spec: Spec::value("--acme-orders-per-minute", "N", "Cap"),
            parse: parse::number,
        };
        assert!(render(&[&LONG])
            .starts_with("    --acme-orders-per-minute N\n                         Cap\n"));
    }
}
