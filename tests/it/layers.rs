//! One-way layers (ARCHITECTURE.md, "Code map"): every `crate::MODULE` path in `src/` — in `use`
//! lines and inline — must name a module below the file's own module in this order.

use std::path::Path;

use crate::common::root;

/// Bottom first.
const LAYERS: [&str; 15] = [
    "util", "events", "models", "vision", "gallery", "eval", "input", "config", "display", "camera", "usb", "booth", "service", "demo",
    "cli",
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
