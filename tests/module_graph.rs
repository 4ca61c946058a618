//! The module graph: dependencies between the top-level modules of `src/` point one way (no
//! cycle), the files inside each core module do not import each other in a circle, and the
//! dependency table of docs/ARCHITECTURE.md says exactly what the code imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules whose files must not import each other in a circle either (the studio's panels and
/// their helpers still do; see docs/ARCHITECTURE.md).
const FILE_LEVEL_ACYCLIC: &[&str] = &["format", "config", "scene", "sim", "plan", "learn", "agent", "compare"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comment lines and without its `#[cfg(test)]` tail (tests may
/// reach anywhere).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let body = text.split("#[cfg(test)]").next().unwrap_or_default();
    body.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every `prefix::name` in `text` (names are lower-case identifiers).
fn referenced(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String =
            text[at + prefix.len()..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

/// Top-level module → the other top-level modules its files name as `crate::X`.
fn top_level_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files {
        let relative = path.strip_prefix("src").unwrap();
        let top =
            relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let deps = graph.entry(top.clone()).or_default();
        deps.extend(referenced(&code(&path), "crate::").into_iter().filter(|m| *m != top));
    }
    graph
}

/// The first cycle found, as `a -> b -> a`.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle.join(" -> "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_depend_on_each_other_one_way() {
    let graph = top_level_graph();
    assert!(graph.contains_key("scene") && graph.contains_key("agent"), "read the tree: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("top-level modules import each other in a circle: {cycle}\n{graph:#?}");
    }
}

#[test]
fn files_of_the_core_modules_do_not_import_each_other_in_a_circle() {
    for module in FILE_LEVEL_ACYCLIC {
        let dir = Path::new("src").join(module);
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        let names: BTreeSet<String> =
            files.iter().map(|p| p.file_stem().unwrap().to_string_lossy().into_owned()).collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for path in &files {
            let me = path.file_stem().unwrap().to_string_lossy().into_owned();
            if me == "mod" {
                continue;
            }
            let text = code(path);
            let mut deps = referenced(&text, "super::");
            deps.extend(referenced(&text, &format!("crate::{module}::")));
            deps.retain(|d| *d != me && *d != "mod" && names.contains(d));
            graph.insert(me, deps);
        }
        if let Some(cycle) = find_cycle(&graph) {
            panic!("files of src/{module}/ import each other in a circle: {cycle}");
        }
    }
}

/// The "depends on" column of ARCHITECTURE.md's module table, as module → modules.
fn documented_graph(modules: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string("docs/ARCHITECTURE.md").unwrap();
    let mut graph = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (name, depends) = (cells[1], cells[cells.len() - 2]);
        let name = name.trim_matches('`').trim_end_matches('/').trim_end_matches(".rs").to_string();
        if !modules.contains(&name) {
            continue;
        }
        let words = depends.split(|c: char| !(c.is_ascii_lowercase() || c == '_')).filter(|w| !w.is_empty());
        let deps: BTreeSet<String> = words.filter(|w| modules.contains(*w)).map(str::to_string).collect();
        graph.insert(name, deps);
    }
    graph
}

#[test]
fn the_architecture_table_lists_exactly_what_each_module_imports() {
    let actual = top_level_graph();
    let modules: BTreeSet<String> = actual.keys().cloned().collect();
    let documented = documented_graph(&modules);
    for module in &modules {
        let listed = documented.get(module).unwrap_or_else(|| panic!("docs/ARCHITECTURE.md has no row for `{module}`"));
        assert_eq!(
            listed, &actual[module],
            "docs/ARCHITECTURE.md's `depends on` for `{module}` (left) vs the code (right)"
        );
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let edge = |a: &str, b: &[&str]| (a.to_string(), b.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
    let acyclic: BTreeMap<_, _> = [edge("a", &["b"]), edge("b", &["c"]), edge("c", &[])].into_iter().collect();
    assert_eq!(find_cycle(&acyclic), None);
    let cyclic: BTreeMap<_, _> = [edge("a", &["b"]), edge("b", &["c"]), edge("c", &["a"])].into_iter().collect();
    assert_eq!(find_cycle(&cyclic).as_deref(), Some("a -> b -> c -> a"));
    assert_eq!(
        referenced("use crate::plan::X; crate::sim::Env; mycrate::nope", "crate::"),
        ["plan", "sim"].map(String::from).into()
    );
}
