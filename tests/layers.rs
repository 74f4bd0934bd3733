//! The crate's module layering, read from the source: which top-level module of `src/`
//! names which other (`crate::x`, `use crate::{x, …}`, `super::x` in a top-level file —
//! code and doc links alike). The graph must have no cycle; the shared pieces import no
//! vertical; no vertical imports the composition (`app`) or the command line (`cli`); and
//! the management API and analytics do not know each other (they meet in the route table).
//! A new top-level module has to be placed in one of the groups below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[path = "common/source.rs"]
mod source;

/// Below every vertical: what several of them need.
const SHARED: &[&str] = &[
    "version",
    "envelope",
    "access",
    "audit",
    "database",
    "service_unit",
    "settings",
];
/// fazt's features. They may use each other (without a cycle) and the shared pieces.
const VERTICALS: &[&str] = &[
    "hosting",
    "upgrade",
    "deploy",
    "scripts",
    "serverless",
    "https",
    "analytics",
    "api",
    "client",
    "backup",
    "import_go",
    "dashboard",
    "metrics",
];
/// The request handler composing the verticals, and the command line over everything.
const TOP: &[&str] = &["app", "config", "cli"];
/// Verticals that must not name each other.
const APART: &[(&str, &str)] = &[("api", "analytics")];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The crate root's modules (`mod x;` / `pub mod x;` in `src/lib.rs`).
fn modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules `text` names: `crate::x`, each `x` of `crate::{x, y::z}`, and — in a
/// file directly in `src/` — `super::x`.
fn references(text: &str, top_level_file: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut prefixes = vec!["crate::"];
    if top_level_file {
        prefixes.push("super::");
    }
    for prefix in prefixes {
        for (at, _) in text.match_indices(prefix) {
            // `supercrate::` or `my_crate::` are other names.
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &text[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // The items at the group's top level (nested groups belong to their item).
                let mut depth = 0;
                let mut item_start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && !c.is_whitespace() => {
                            item_start = false;
                            out.insert(ident_at(&group[i..]).to_string());
                        }
                        _ => {}
                    }
                }
            } else {
                out.insert(ident_at(rest).to_string());
            }
        }
    }
    out
}

/// Which top-level module names which, over all of `src/`.
fn graph(modules: &BTreeSet<String>) -> Graph {
    let mut files = Vec::new();
    source::files(&src(), &["rs"], &mut files);
    let mut g: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for f in files {
        let rel = f.strip_prefix(src()).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let from = first.trim_end_matches(".rs").to_string();
        if !modules.contains(&from) {
            continue; // lib.rs, main.rs
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let top_level_file = rel.components().count() == 1;
        for to in references(&text, top_level_file) {
            if to != from && modules.contains(&to) {
                g.get_mut(&from).unwrap().insert(to);
            }
        }
    }
    g
}

/// A cycle of `g`, as the path around it, if there is one.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        n: &str,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let start = path.iter().position(|p| p == m).unwrap_or(0);
                    let mut c = path[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(g, m, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if !state.contains_key(n.as_str()) {
            if let Some(c) = visit(g, n, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Everything wrong with `g`'s layering, one line each.
fn violations(g: &Graph) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(c) = cycle(g) {
        bad.push(format!("import cycle: {}", c.join(" → ")));
    }
    for (from, tos) in g {
        let from = from.as_str();
        for to in tos {
            let to = to.as_str();
            if SHARED.contains(&from) && !SHARED.contains(&to) {
                bad.push(format!(
                    "shared module `{from}` imports `{to}`, which is not shared"
                ));
            }
            if VERTICALS.contains(&from) && TOP.contains(&to) {
                bad.push(format!("vertical `{from}` imports `{to}`"));
            }
            if from == "app" && to == "cli" {
                bad.push("`app` imports the command line".to_string());
            }
            if APART
                .iter()
                .any(|&(a, b)| (from, to) == (a, b) || (from, to) == (b, a))
            {
                bad.push(format!(
                    "`{from}` imports `{to}`: they meet only in the route table"
                ));
            }
        }
    }
    bad
}

#[test]
fn every_module_has_a_place() {
    for m in modules() {
        assert!(
            SHARED.contains(&m.as_str())
                || VERTICALS.contains(&m.as_str())
                || TOP.contains(&m.as_str()),
            "src/lib.rs declares `{m}`: put it in SHARED, VERTICALS or TOP in tests/layers.rs"
        );
    }
}

#[test]
fn the_module_graph_is_layered() {
    let g = graph(&modules());
    let bad = violations(&g);
    assert!(bad.is_empty(), "{}\ngraph: {g:#?}", bad.join("\n"));
}

#[test]
fn references_are_read_from_paths_and_groups() {
    let text = "use crate::access::{Caller, Scope};\nuse crate::{audit, kernel::db::{now, Db}};\n\
                let v = crate::version::VERSION; // see [`crate::envelope`]\nmy_crate::x; supercrate::y;";
    let found: Vec<_> = references(text, false).into_iter().collect();
    assert_eq!(found, ["access", "audit", "envelope", "kernel", "version"]);
    let top: Vec<_> = references("use super::common::x;", true)
        .into_iter()
        .collect();
    assert_eq!(top, ["common"]);
    assert!(references("use super::common::x;", false).is_empty());
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let g = |edges: &[(&str, &str)]| {
        let mut g = Graph::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    // The loop this test was written against: the API read the version from the command line.
    let before = g(&[
        ("api", "cli"),
        ("cli", "api"),
        ("analytics", "api"),
        ("app", "analytics"),
    ]);
    let bad = violations(&before).join("\n");
    assert!(bad.contains("import cycle: api → cli → api"), "{bad}");
    assert!(bad.contains("vertical `api` imports `cli`"), "{bad}");
    assert!(bad.contains("`analytics` imports `api`"), "{bad}");
    assert!(violations(&g(&[("access", "hosting")]))[0].contains("not shared"));
    assert!(violations(&g(&[("api", "deploy"), ("deploy", "hosting")])).is_empty());
    assert_eq!(
        cycle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
