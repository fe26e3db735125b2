//! The shape of the source tree, checked like behaviour: the top-level
//! modules of `src/` import one another without a circle, so each layer
//! (bytes, codecs, serve, storage and the threads beneath) can be read,
//! tested and changed from the bottom up (docs/architecture.md).
//!
//! A module's imports are the `crate::<module>` paths in its code (doc
//! comments and `#[cfg(test)]` sections do not count: a link in a comment
//! or a test's helper is no dependency of the server).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every top-level module and the other top-level modules its code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap();
            let module = first.as_os_str().to_str().unwrap().trim_end_matches(".rs");
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let named = graph.entry(module.to_owned()).or_default();
            for other in crate_paths(&text) {
                if other != module {
                    named.insert(other);
                }
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
