//! The architecture's rules, checked on the source (ARCHITECTURE.md): the store never imports
//! import or training, the server's layers import only downwards and no handler imports another,
//! and every path in the code map exists.

use std::fs;
use std::path::{Path, PathBuf};

use tests::workspace_root;

/// The `.rs` files under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The modules a source file names with `crate::<module>` (in paths and in `use crate::{..}`
/// groups), with the line of each; comments and `#[cfg(test)] mod tests` blocks are skipped.
fn crate_references(path: &Path) -> Vec<(String, usize)> {
    let text = fs::read_to_string(path).unwrap();
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(k) => &text[..k],
        None => &text,
    };
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (k, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name = ident(item.trim());
                    if !name.is_empty() {
                        out.push((name, k + 1));
                    }
                }
            } else {
                out.push((ident(rest), k + 1));
            }
        }
    }
    out
}

/// The top-level module a file of `src` belongs to (`proxy` for `src/proxy/paths.rs`).
fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

#[test]
fn the_store_never_imports_import_or_training() {
    let src = workspace_root().join("sdk/src");
    let mut found = Vec::new();
    for file in rust_files(&src.join("store")) {
        for (module, line) in crate_references(&file) {
            if module == "train" || module == "import" {
                found.push(format!("{}:{line}: crate::{module}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the store imports upwards:\n{}",
        found.join("\n")
    );
}

/// The server's layers, top first (`server/src/lib.rs`). A module may name modules of lower
/// layers only; in the handlers' layer not even its own neighbours.
const SERVER_LAYERS: &[&[&str]] = &[
    &["router"],
    &["control", "events", "proxy", "rerank", "runtime"],
    &["ranking"],
    &["state"],
    &["catalog", "metrics", "realtime", "upstream"],
    &["config"],
    &["http", "sync"],
];

#[test]
fn the_server_imports_only_downwards_and_no_handler_imports_another() {
    let src = workspace_root().join("server/src");
    let layer_of = |m: &str| SERVER_LAYERS.iter().position(|l| l.contains(&m));
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let module = top_module(&src, &file);
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for (target, line) in crate_references(&file) {
            if target == module {
                continue;
            }
            let Some(theirs) = layer_of(&target) else {
                continue;
            };
            if theirs <= own {
                found.push(format!(
                    "{}:{line}: {module} (layer {own}) names crate::{target} (layer {theirs})",
                    file.display()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "imports that run up or across:\n{}",
        found.join("\n")
    );
    // Every top-level module of the library has a layer, so a new one cannot slip past.
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines() {
        let decl = line.trim_start_matches("pub ");
        if let Some(name) = decl.strip_prefix("mod ").and_then(|d| d.strip_suffix(';')) {
            if name != "tests" {
                assert!(
                    layer_of(name).is_some(),
                    "server module {name} has no layer"
                );
            }
        }
    }
}

/// The backticked paths of ARCHITECTURE.md, each with the directory it is relative to (the
/// crate of its `### ` section, or the workspace root for paths that start with a top-level
/// directory).
fn code_map_paths(map: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in map.lines() {
        if let Some(title) = line.strip_prefix("### `") {
            section = title.split('`').next().unwrap_or_default().to_owned();
            continue;
        }
        if line.starts_with("## ") {
            section.clear();
        }
        for (k, token) in line.split('`').enumerate() {
            let looks_like_path = !token.contains(' ')
                && !token.contains('*')
                && !token.contains('{')
                && (token.ends_with(".rs") || (token.ends_with('/') && token.len() > 1));
            if k % 2 == 1 && looks_like_path {
                out.push((section.clone(), token.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_path_in_the_code_map_exists() {
    let root = workspace_root();
    let map = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let paths = code_map_paths(&map);
    assert!(paths.len() > 40, "the code map names paths: {paths:?}");
    let all: Vec<String> = [
        "sdk",
        "server",
        "plugin-config",
        "python",
        "benches",
        "tests",
    ]
    .iter()
    .flat_map(|d| rust_files(&root.join(d)))
    .map(|p| {
        p.strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    })
    .collect();
    let mut missing = Vec::new();
    for (section, path) in &paths {
        let from_root = root.join(path.trim_end_matches('/'));
        let from_section = root.join(section).join(path.trim_end_matches('/'));
        let in_section = all.iter().any(|f| {
            f.starts_with(section.as_str())
                && (f.ends_with(&format!("/{path}")) || f.contains(&format!("/{path}")))
        });
        if !from_root.exists() && !from_section.exists() && !in_section {
            missing.push(format!("{path} (section {section:?})"));
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist:\n{}",
        missing.join("\n")
    );
}
