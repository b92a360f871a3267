//! One-way layers (ARCHITECTURE.md, "Code map"): every `crate::MODULE` path in `src/` — in `use`
//! lines and inline — must name a module below the file's own module in this order.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use crate::common::root;

/// Bottom first.
const LAYERS: [&str; 17] = [
    "util", "events", "models", "vision", "gallery", "eval", "input", "config", "display", "chart", "camera", "usb", "booth", "service",
    "demo", "fleet", "cli",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::NAME` modules a text refers to.
fn referenced(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .filter(|(i, _)| !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, m)| text[i + m.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
        .collect()
}

fn upward_imports() -> Vec<String> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut found = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        let top = rel.iter().next().and_then(|c| c.to_str()).unwrap_or_default().trim_end_matches(".rs").to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let own = rank(&top).unwrap_or_else(|| panic!("src/{top} is not in LAYERS: place it in the order (and in ARCHITECTURE.md)"));
        let text = std::fs::read_to_string(&f).expect("read");
        for m in referenced(&text) {
            match rank(&m) {
                Some(r) if r > own => found.push(format!("{} -> crate::{m}", rel.display())),
                Some(_) => {}
                None => found.push(format!("{}: crate::{m} is not a known layer", rel.display())),
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let up = upward_imports();
    assert!(up.is_empty(), "imports running upward:\n{}", up.join("\n"));
}

#[test]
fn the_scan_sees_inline_paths_and_use_lines() {
    let text = "use crate::config::Config;\nfn f() { crate::service::run(p); }\nlet x = my_crate::cli;";
    assert_eq!(referenced(text), vec!["config", "service"]);
}

/// Sibling-module import loops that are known and being removed elsewhere, as "parent: a <-> b".
/// Remove an entry once its loop is gone. None today.
const KNOWN_LOOPS: [&str; 0] = [];

/// Every module of `src/` (its path below the crate, `["gallery", "audit", "scores"]`) with the
/// code of its file: comments and the `#[cfg(test)]` module at the end left out.
fn modules() -> Vec<(Vec<String>, String)> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src").with_extension("");
        let mut path: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        if path.last().is_some_and(|l| l == "mod") {
            path.pop();
        }
        if path == ["lib"] || path == ["main"] {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        out.push((path, code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")));
    }
    out
}

/// The paths a module's code names with `crate::…` and `super::…` (a group in braces opened one
/// level), as written: not yet cut to the module they are in.
fn named_paths(own: &[String], code: &str) -> Vec<Vec<String>> {
    let word = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = Vec::new();
    // `super` of module `a::b` (file `a/b.rs` or `a/b/mod.rs`) is `a`.
    for (start, base) in [("crate::", Vec::new()), ("super::", own[..own.len() - 1].to_vec())] {
        let found = code.match_indices(start).filter(|(i, _)| !code[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':'));
        for (i, _) in found {
            let mut path = base.clone();
            let mut rest = &code[i + start.len()..];
            loop {
                let w = word(rest);
                if w.is_empty() {
                    break;
                }
                if w == "super" {
                    path.pop();
                } else {
                    path.push(w.clone());
                }
                rest = &rest[w.len()..];
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            if let Some(group) = rest.strip_prefix('{') {
                // The first word of each item at this level: `{a::{b, c}, d}` names a and d.
                let mut depth = 0;
                let mut items = vec![String::new()];
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => items.push(String::new()),
                        c if depth == 0 => items.last_mut().expect("one").push(c),
                        _ => {}
                    }
                }
                for w in items.iter().map(|i| word(i.trim())).filter(|w| !w.is_empty() && w != "self") {
                    out.push(path.iter().cloned().chain([w]).collect());
                }
            }
            out.push(path);
        }
    }
    out
}

/// (parent, from, to): module `from` (or a module inside it) names sibling module `to` (or a
/// module inside it).
fn sibling_edges() -> BTreeSet<(String, String, String)> {
    let mods = modules();
    let known: HashSet<Vec<String>> = mods.iter().map(|(p, _)| p.clone()).collect();
    let mut edges = BTreeSet::new();
    for (own, code) in &mods {
        for named in named_paths(own, code) {
            // The module named: the longest prefix that is a module.
            let Some(target) = (1..=named.len()).rev().map(|n| named[..n].to_vec()).find(|p| known.contains(p)) else { continue };
            let common = own.iter().zip(&target).take_while(|(a, b)| a == b).count();
            // An ancestor or a descendant of the module is not a sibling.
            if common < own.len() && common < target.len() {
                edges.insert((own[..common].join("::"), own[common].clone(), target[common].clone()));
            }
        }
    }
    edges
}

/// Each sibling import that lies on a loop, as "parent: a <-> b" (they import each other) or
/// "parent: a -> b -> ... -> a".
fn import_loops(edges: &BTreeSet<(String, String, String)>) -> Vec<String> {
    let mut loops = Vec::new();
    for (parent, a, b) in edges {
        // Everything reachable from b within the parent.
        let mut reach = vec![b.clone()];
        let mut i = 0;
        while i < reach.len() {
            for (p, x, y) in edges {
                if p == parent && *x == reach[i] && !reach.contains(y) {
                    reach.push(y.clone());
                }
            }
            i += 1;
        }
        if reach.contains(a) {
            let name = if parent.is_empty() { "crate" } else { parent };
            loops.push(if edges.contains(&(parent.clone(), b.clone(), a.clone())) {
                format!("{name}: {} <-> {}", a.min(b), a.max(b))
            } else {
                format!("{name}: {a} -> {b} -> ... -> {a}")
            });
        }
    }
    loops.sort();
    loops.dedup();
    loops
}

#[test]
fn no_import_loop_between_sibling_modules() {
    let edges = sibling_edges();
    let loops = import_loops(&edges);
    for gone in KNOWN_LOOPS.iter().filter(|k| !loops.iter().any(|l| l == *k)) {
        eprintln!("the known loop {gone:?} is gone: remove it from KNOWN_LOOPS");
    }
    let new: Vec<&String> = loops.iter().filter(|l| !KNOWN_LOOPS.contains(&l.as_str())).collect();
    assert!(new.is_empty(), "modules that import each other (directly or around a loop): {new:#?}");
    // The scan sees sibling imports: csv_import's files use each other one way, and a made-up
    // loop is found.
    assert!(edges.contains(&("gallery::csv_import".into(), "role_model".into(), "columns".into())), "{edges:#?}");
    let mut looped = edges.clone();
    looped.insert(("gallery::csv_import".into(), "columns".into(), "role_model".into()));
    assert!(import_loops(&looped).contains(&"gallery::csv_import: columns <-> role_model".to_string()));
}

#[test]
fn the_path_scan_resolves_super_and_groups() {
    let own: Vec<String> = ["gallery", "audit", "scores"].map(String::from).to_vec();
    let paths =
        named_paths(&own, "use super::{Query, groups::{x, y}, simulate};\nuse super::super::matcher;\nfn f() { crate::util::hex(b); }");
    let strs: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    for want in ["gallery::audit::Query", "gallery::audit::groups", "gallery::audit::simulate", "gallery::matcher", "util::hex"] {
        assert!(strs.iter().any(|s| s == want), "{want} not in {strs:?}");
    }
}
