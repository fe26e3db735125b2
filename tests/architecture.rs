//! The shape of the source tree, checked like behaviour: the top-level
//! modules of `src/` import one another without a circle, so each layer
//! (bytes, codecs, serve, storage and the threads beneath) can be read,
//! tested and changed from the bottom up (docs/architecture.md); the
//! module map in docs/architecture.md names every source file and no file
//! that is gone; and no source file's code runs past [`MAX_LINES`] lines
//! unless its header says why.
//!
//! A module's imports are the `crate::<module>` paths in its code (doc
//! comments and `#[cfg(test)]` sections do not count: a link in a comment
//! or a test's helper is no dependency of the server).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines of code (tests apart) a source file may have before its `//!`
/// header must say why it is longer ([`REASON`]).
const MAX_LINES: usize = 500;
/// How a header begins the sentence that says why its file is long.
const REASON: &str = "//! Why it is long:";

/// Every `.rs` file under `src/`, relative to it, sorted.
fn source_files() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path.strip_prefix(&src).unwrap().to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// The text of `relative` (a path under `src/`).
fn source(relative: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    std::fs::read_to_string(src.join(relative)).unwrap()
}

/// Every top-level module and the other top-level modules its code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for relative in source_files() {
        let first = relative.components().next().unwrap();
        let module = first.as_os_str().to_str().unwrap().trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue;
        }
        let named = graph.entry(module.to_owned()).or_default();
        for other in crate_paths(&source(&relative)) {
            if other != module {
                named.insert(other);
            }
        }
    }
    graph
}

/// The top-level modules that `crate::` paths in the code of `text` name,
/// including those in `use crate::{a::x, b}` groups.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut named = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or_default();
                for item in group.split(',') {
                    named.insert(leading_ident(item.trim()));
                }
            } else {
                named.insert(leading_ident(rest));
            }
        }
    }
    named.retain(|name| !name.is_empty());
    named
}

fn leading_ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The circles in `graph` (its strongly connected components of more
/// than one module), by Tarjan's algorithm.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, module: &'a str) {
            let at = self.index.len();
            self.index.insert(module, at);
            self.low.insert(module, at);
            self.stack.push(module);
            for next in self.graph.get(module).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[module].min(self.low[next]);
                    self.low.insert(module, low);
                } else if self.stack.contains(&next) {
                    let low = self.low[module].min(self.index[next]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut circle = Vec::new();
                while let Some(member) = self.stack.pop() {
                    circle.push(member.to_owned());
                    if member == module {
                        break;
                    }
                }
                if circle.len() > 1 {
                    circle.sort();
                    self.found.push(circle);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for module in graph.keys() {
        if !walk.index.contains_key(module.as_str()) {
            walk.visit(module);
        }
    }
    walk.found
}

#[test]
fn top_level_modules_import_one_another_without_a_circle() {
    let graph = imports();
    // The walk sees the layers it is meant to check.
    for module in [
        "codec", "serve", "pool", "hooks", "metrics", "storage", "http",
    ] {
        assert!(graph.contains_key(module), "no module {module} found");
    }
    assert!(graph["codec"].contains("serve"), "{:?}", graph["codec"]);
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "import circles between top-level modules: {found:?}\n{graph:#?}"
    );
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a", "d"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circles(&graph), vec![vec!["a", "b", "c"]]);
    let paths = crate_paths("use crate::{serve::Job, wire};\n// crate::x\nlet a = crate::y::z;");
    assert_eq!(
        paths.into_iter().collect::<Vec<_>>(),
        vec!["serve", "wire", "y"]
    );
}

/// The module map: the first `text` block under "## Module map" in
/// docs/architecture.md.
fn module_map() -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let doc = std::fs::read_to_string(doc).unwrap();
    let section = doc
        .split("## Module map")
        .nth(1)
        .expect("a Module map section");
    let block = section.split("```text\n").nth(1).expect("a text block");
    block.split("```").next().unwrap().to_owned()
}

/// The words of `map` that name a file (`turn.rs`) or a folder (`serve/`).
fn named_in(map: &str) -> BTreeSet<String> {
    map.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| word.ends_with(".rs") || word.ends_with('/'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_module_map_names_every_source_file_and_no_other() {
    let named = named_in(&module_map());
    let files = source_files();
    let mut missing = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        // A folder's mod.rs is named by its folder.
        let wanted = match (name, file.parent().and_then(Path::file_name)) {
            ("mod.rs", Some(folder)) => format!("{}/", folder.to_str().unwrap()),
            _ => name.to_owned(),
        };
        if !named.contains(&wanted) && !named.contains(name) {
            missing.push(file.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/architecture.md's module map: {missing:?}"
    );
    let existing: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    let stale: Vec<&String> = named
        .iter()
        .filter(|n| n.ends_with(".rs") && !existing.contains(*n))
        .collect();
    assert!(
        stale.is_empty(),
        "in the module map but not under src/: {stale:?}"
    );
}

/// Lines of `text` before its tests (the first `#[cfg(test)]` at the start
/// of a line).
fn code_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

#[test]
fn a_source_file_over_the_limit_says_why_in_its_header() {
    let mut unexplained = Vec::new();
    for file in source_files() {
        let text = source(&file);
        let lines = code_lines(&text);
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//!")).collect();
        if lines > MAX_LINES && !header.iter().any(|l| l.starts_with(REASON)) {
            unexplained.push(format!("{} ({lines} lines)", file.display()));
        }
    }
    assert!(
        unexplained.is_empty(),
        "over {MAX_LINES} lines of code without a '{REASON}' line in the header: {unexplained:?}"
    );
}

#[test]
fn the_map_reader_and_the_line_counter_see_what_they_should() {
    let named = named_in("  serve/           rules\n    op.rs   one\n    ls.rs, mv.rs  two\n");
    let expected: BTreeSet<String> = ["serve/", "op.rs", "ls.rs", "mv.rs"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(named, expected);
    assert_eq!(code_lines("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
}
