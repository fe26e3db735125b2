//! The shape of the source tree, checked like behaviour: the top-level
//! modules of `src/` import one another without a circle, so each layer
//! (bytes, codecs, serve, storage and the threads beneath) can be read,
//! tested and changed from the bottom up (docs/architecture.md); inside
//! the folders, files form no circle but those still listed to be untied
//! ([`CIRCLES_LEFT`], a list that only shrinks); the module map in
//! docs/architecture.md names every source file and no file that is gone;
//! and no source file's code runs past [`MAX_LINES`] lines unless its
//! header says why.
//!
//! A module's imports are the `crate::<module>` paths in its code (doc
//! comments and `#[cfg(test)]` sections do not count: a link in a comment
//! or a test's helper is no dependency of the server). Between files, the
//! `use` trees and the `crate::`, `super::`, `self::` and child-module
//! paths written in the code, each resolved to the file that holds the
//! longest module prefix of the path; code ends at the file's test module.

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
        "connection",
        "serve",
        "pool",
        "hooks",
        "metrics",
        "storage",
        "http",
        "wire",
        "formats",
        "threads",
    ] {
        assert!(graph.contains_key(module), "no module {module} found");
    }
    assert!(
        graph["connection"].contains("serve"),
        "{:?}",
        graph["connection"]
    );
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "import circles between top-level modules: {found:?}\n{graph:#?}"
    );
}

/// The model's values are owned by no engine (issue 77): `model/` takes
/// nothing from the layers above or below it but the names it carries.
#[test]
fn the_model_imports_no_layer() {
    let graph = imports();
    let taken: Vec<&String> = graph["model"].iter().filter(|m| *m != "name").collect();
    assert!(taken.is_empty(), "model/ imports {taken:?}");
}

/// Files of the codecs and the connection layer that still import the
/// storage: the seam of issue 77 has them take model values instead
/// (none since the store reaches the serve layer in `serve::Served`).
/// The list only shrinks.
const STORAGE_IMPORTS_LEFT: &[&str] = &[];

#[test]
fn codecs_and_connections_import_the_storage_only_where_listed() {
    let layers = ["connection/", "ftp/", "http/", "protocol/", "wire/"];
    let mut importing = BTreeSet::new();
    for relative in source_files() {
        let path = relative.to_str().unwrap().to_owned();
        if layers.iter().any(|layer| path.starts_with(layer))
            && crate_paths(&source(&relative)).contains("storage")
        {
            importing.insert(path);
        }
    }
    let why = "import the storage: take model values";
    check_shrinking_list(
        &importing,
        STORAGE_IMPORTS_LEFT,
        ("STORAGE_IMPORTS_LEFT", why),
    );
}

/// Holds `found` to a `list` that only shrinks (named `name`): a file
/// not in it is new and named with `why`; one in it no longer found is to
/// be struck off.
fn check_shrinking_list(found: &BTreeSet<String>, list: &[&str], (name, why): (&str, &str)) {
    let listed: BTreeSet<String> = list.iter().map(|f| f.to_string()).collect();
    let new: Vec<_> = found.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(found).collect();
    assert!(new.is_empty(), "these {why} ({new:?})");
    assert!(
        gone.is_empty(),
        "these are no longer found: strike them off {name} ({gone:?})"
    );
}

/// The one file of the serve layer, the I/O pool and the server that
/// names the POSIX engine itself (the `Storage` type, a `.storage`
/// field): where the server opens the engine it runs on. Everything else
/// reaches it through its traits, `Store` for the requests (`ctx.store`)
/// and `Engine` for the server's upkeep (`shared.engine`), so another
/// engine plugs in where it is opened (issue 77, docs/store-plan.md).
const ENGINE_OPENED_IN: &[&str] = &["server/mod.rs"];

#[test]
fn the_serve_layer_reaches_the_engine_only_where_listed() {
    let mut reaching = BTreeSet::new();
    for relative in source_files() {
        let path = relative.to_str().unwrap().to_owned();
        let layer = ["serve/", "pool/", "server/"];
        if !layer.iter().any(|folder| path.starts_with(folder)) {
            continue;
        }
        let text = source(&relative);
        let words = text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'));
        if words
            .flat_map(|word| word.split('.').enumerate())
            .any(|(at, part)| part == "Storage" || (at > 0 && part == "storage"))
        {
            reaching.insert(path);
        }
    }
    let why = "reach the engine past its traits: call ctx.store or shared.engine";
    check_shrinking_list(&reaching, ENGINE_OPENED_IN, ("ENGINE_OPENED_IN", why));
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

/// Lines of `text` before its test module (a test-only helper above it
/// counts: it is code to read).
fn code_lines(text: &str) -> usize {
    tests_start(&text.lines().collect::<Vec<_>>())
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

/// The longest a function may be, from its `fn` line to its closing
/// brace (STYLE.md: functions that fit on a screen, or two).
const MAX_FUNCTION_LINES: usize = 100;

/// Each function of `text` longer than [`MAX_FUNCTION_LINES`]: its name
/// and length. A function starts at a line whose code begins with `fn`
/// (after `pub`, `const`, `unsafe`…) and ends at the first line after it
/// that is its indentation and a `}`, as rustfmt writes them.
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let indent = &line[..line.len() - code.len()];
        let words: Vec<&str> = code.split_whitespace().collect();
        let Some(fn_at) = words.iter().position(|w| *w == "fn") else {
            continue;
        };
        let qualifiers = ["pub", "const", "unsafe", "async", "extern"];
        if !words[..fn_at]
            .iter()
            .all(|w| qualifiers.iter().any(|q| w.starts_with(q)))
        {
            continue;
        }
        // A declaration without a body (in a trait) ends at its `;`.
        let opens = lines[at..]
            .iter()
            .map(|l| l.trim_end())
            .find(|l| l.ends_with(['{', ';']));
        if opens.is_none_or(|l| l.ends_with(';')) {
            continue;
        }
        let close = format!("{indent}}}");
        let Some(end) = lines[at..].iter().position(|l| *l == close) else {
            continue;
        };
        if end + 1 > MAX_FUNCTION_LINES {
            let name = words.get(fn_at + 1).unwrap_or(&"?");
            let name = name.split(['(', '<']).next().unwrap_or(name);
            long.push((name.to_owned(), end + 1));
        }
    }
    long
}

#[test]
fn every_function_fits_in_a_hundred_lines() {
    let mut long = Vec::new();
    for file in source_files() {
        for (name, lines) in long_functions(&source(&file)) {
            long.push(format!("{}: {name} ({lines} lines)", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines (split them by what they do): {long:#?}"
    );
}

#[test]
fn the_function_measure_sees_bodies_and_skips_declarations() {
    let body = "    x();\n".repeat(MAX_FUNCTION_LINES);
    let text = format!(
        "trait T {{\n    fn declared(&self);\n    fn given(&self) {{\n    }}\n}}\n\n\
         pub(crate) fn long() {{\n{body}}}\n\nfn short() {{\n}}\n"
    );
    let long = long_functions(&text);
    assert_eq!(long, [("long".to_owned(), MAX_FUNCTION_LINES + 2)]);
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
    assert_eq!(
        code_lines("a\n#[cfg(test)]\nfn b() {}\n#[cfg(test)]\nmod tests {}\n"),
        3
    );
}

/// The module path of a file under `src/` (`http/s3/mod.rs` is
/// `http::s3`, `serve/op.rs` is `serve::op`).
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .components()
        .map(|c| {
            c.as_os_str()
                .to_str()
                .unwrap()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

/// The code of `text`: up to its test module, without comment lines.
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[..tests_start(&lines)]
        .iter()
        .filter(|l| !l.trim_start().starts_with("//"))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// The index of the `#[cfg(test)]` line that opens the file's test
/// module (a `mod` item after it), else the number of lines: a
/// test-only helper higher up is code and counts.
fn tests_start(lines: &[&str]) -> usize {
    (0..lines.len())
        .find(|&i| {
            lines[i].starts_with("#[cfg(test)]")
                && lines[i + 1..]
                    .iter()
                    .find(|l| !l.starts_with("#["))
                    .is_some_and(|l| l.starts_with("mod ") || l.starts_with("pub mod "))
        })
        .unwrap_or(lines.len())
}

/// The paths a `use` tree stands for: `a::{b, c::{d, e as f}}` is
/// `a::b`, `a::c::d` and `a::c::e`.
fn use_paths(tree: &str) -> Vec<Vec<String>> {
    let words: Vec<&str> = tree.split_whitespace().collect();
    let tree = words.join(" ");
    let tree = tree.replace(" ::", "::").replace(":: ", "::");
    let mut out = Vec::new();
    expand(&[], &tree, &mut out);
    out
}

fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    let (head, group) = match tree.find('{') {
        Some(at) => (
            &tree[..at],
            Some(&tree[at + 1..tree.rfind('}').unwrap_or(tree.len())]),
        ),
        None => (tree, None),
    };
    let head = head.split(" as ").next().unwrap_or(head);
    let mut path = prefix.to_vec();
    for segment in head.split("::").map(str::trim).filter(|s| !s.is_empty()) {
        if segment != "self" {
            path.push(segment.to_owned());
        }
    }
    match group {
        None => out.push(path),
        Some(group) => split_top(group)
            .into_iter()
            .for_each(|item| expand(&path, item, out)),
    }
}

/// `group` split at its commas outside braces.
fn split_top(group: &str) -> Vec<&str> {
    let (mut depth, mut start, mut items) = (0, 0, Vec::new());
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter().filter(|i| !i.trim().is_empty()).collect()
}

/// The paths `code` names: its `use` trees, and `crate::`, `super::`,
/// `self::` or `child::` paths written out in the code.
fn named_paths(code: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    // rustfmt starts every `use` item on a line of its own.
    for (at, line) in line_starts(code) {
        let item = line.trim_start();
        let item = item
            .strip_prefix("pub ")
            .or(item.strip_prefix("pub(crate) "))
            .unwrap_or(item);
        if let Some(tree) = item.strip_prefix("use ") {
            let tail = &code[at + line.len() - tree.len()..];
            paths.extend(use_paths(&tail[..tail.find(';').unwrap_or(tail.len())]));
        }
    }
    let bytes = code.as_bytes();
    for (start, _) in code.char_indices() {
        let boundary = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'_' | b':'));
        if !boundary {
            continue;
        }
        let word = leading_ident(&code[start..]);
        let after = &code[start + word.len()..];
        let opens = matches!(word.as_str(), "crate" | "super" | "self") || children.contains(&word);
        if word.is_empty() || !opens || !after.starts_with("::") {
            continue;
        }
        let mut path = vec![word.clone()];
        let mut tail = after;
        while let Some(next) = tail.strip_prefix("::") {
            let segment = leading_ident(next);
            if segment.is_empty() {
                break;
            }
            tail = &next[segment.len()..];
            path.push(segment);
        }
        paths.push(path);
    }
    paths
}

/// Each line of `text` with the offset it starts at.
fn line_starts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n').scan(0, |at, line| {
        let start = *at;
        *at += line.len() + 1;
        Some((start, line))
    })
}

/// The child modules `code` declares (`mod name;`, `pub mod name;`).
fn children_of(code: &str) -> BTreeSet<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line
                .strip_prefix("pub ")
                .or(line.strip_prefix("pub(crate) "))
                .unwrap_or(line);
            line.strip_prefix("mod ")
                .filter(|l| l.trim_end().ends_with(';'))
                .map(leading_ident)
        })
        .collect()
}

/// Every file under `src/` (lib.rs and main.rs apart) and the files its
/// code names, a path resolved to the longest module prefix that is a file.
fn file_imports() -> BTreeMap<String, BTreeSet<String>> {
    let files: BTreeMap<Vec<String>, String> = source_files()
        .into_iter()
        .map(|f| (module_path(&f), f.display().to_string()))
        .collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &files {
        if module.is_empty() || file == "main.rs" {
            continue;
        }
        let code = code_of(&source(Path::new(file)));
        let children = children_of(&code);
        let mut named = BTreeSet::new();
        for path in named_paths(&code, &children) {
            let Some(absolute) = absolute(module, &path, &children) else {
                continue;
            };
            let found = (1..=absolute.len())
                .rev()
                .find_map(|k| files.get(&absolute[..k]));
            if let Some(other) = found.filter(|other| *other != file && *other != "lib.rs") {
                named.insert(other.clone());
            }
        }
        graph.insert(file.clone(), named);
    }
    graph
}

/// `path` as seen from `module`, from the crate's root; `None` for
/// another crate's.
fn absolute(
    module: &[String],
    path: &[String],
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let mut base = module.to_vec();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(first) if children.contains(first) => {}
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The circles between files that matter: a folder's `mod.rs` is the
/// folder's face, and what it takes from its own folder (a `pub use`, a
/// call into a child) is the folder speaking, not one room leaning on
/// another, so its arrows into the folder are left out of a circle whose
/// files all sit in that folder. A circle that reaches out of the folder
/// (`cli/transfer.rs` -> `cli/tree/mod.rs` -> `cli/tree/jobs.rs` ->
/// `cli/transfer.rs`) keeps them: the rooms of two folders lean on each
/// other through the face.
fn room_circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for circle in circles(graph) {
        let folder = common_folder(&circle);
        let face = format!("{folder}mod.rs");
        if !circle.contains(&face) {
            found.push(circle);
            continue;
        }
        // Within the folder: its face's arrows left out, look again.
        let inside: BTreeMap<String, BTreeSet<String>> = circle
            .iter()
            .map(|file| {
                let named = graph[file].iter().filter(|n| circle.contains(n));
                let named = named.filter(|_| *file != face).cloned().collect();
                (file.clone(), named)
            })
            .collect();
        found.extend(room_circles(&inside));
    }
    found
}

/// The deepest folder (`"cli/"`, or `""` for `src/`) holding every file
/// of `files`.
fn common_folder(files: &[String]) -> String {
    let folder_of = |file: &str| {
        file.rfind('/')
            .map_or(String::new(), |at| file[..=at].to_owned())
    };
    let mut common = folder_of(&files[0]);
    while !files.iter().all(|file| file.starts_with(&common)) {
        common = folder_of(&common[..common.len() - 1]);
    }
    common
}

/// The circles between files still to be untied (issue 51), each as the
/// files it joins. The list only shrinks: a new circle, or a file joining
/// one, fails [`files_import_one_another_without_new_circles`]; a circle
/// untied must leave the list.
const CIRCLES_LEFT: &[&[&str]] = &[];

#[test]
fn files_import_one_another_without_new_circles() {
    let graph = file_imports();
    assert!(
        graph["serve/admission.rs"].contains("serve/ops/mod.rs"),
        "{:?}",
        graph["serve/admission.rs"]
    );
    let found: BTreeSet<Vec<String>> = room_circles(&graph).into_iter().collect();
    let known: BTreeSet<Vec<String>> = CIRCLES_LEFT
        .iter()
        .map(|c| c.iter().map(|f| (*f).to_owned()).collect())
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "import circles between files under src/ changed.\nnew or grown: {new:#?}\n\
         untied or shrunk (update CIRCLES_LEFT): {gone:#?}"
    );
}

#[test]
fn a_folders_face_may_lean_on_its_rooms_but_not_carry_a_circle_out_of_it() {
    let graph = |arrows: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in arrows {
            graph
                .entry((*from).into())
                .or_default()
                .insert((*to).into());
            graph.entry((*to).into()).or_default();
        }
        graph
    };
    // A face and a room of one folder: the face speaking.
    let inside = graph(&[("t/mod.rs", "t/a.rs"), ("t/a.rs", "t/mod.rs")]);
    assert!(room_circles(&inside).is_empty());
    // Two rooms of the folder leaning on each other: a circle still.
    let rooms = graph(&[
        ("t/mod.rs", "t/a.rs"),
        ("t/a.rs", "t/b.rs"),
        ("t/b.rs", "t/a.rs"),
    ]);
    assert_eq!(room_circles(&rooms), [["t/a.rs", "t/b.rs"]]);
    // A file outside the folder, through the face to a room and back.
    let out = graph(&[
        ("x.rs", "t/mod.rs"),
        ("t/mod.rs", "t/a.rs"),
        ("t/a.rs", "x.rs"),
    ]);
    assert_eq!(room_circles(&out), [["t/a.rs", "t/mod.rs", "x.rs"]]);
    // The same inside the outer folder's face: found below it.
    let mut deeper = out.clone();
    deeper.insert("mod.rs".into(), ["x.rs".into()].into());
    deeper.get_mut("x.rs").unwrap().insert("mod.rs".into());
    assert_eq!(room_circles(&deeper), [["t/a.rs", "t/mod.rs", "x.rs"]]);
}

#[test]
fn the_file_graph_reads_paths_as_rust_does() {
    let paths = use_paths("crate::{serve::{op::Op, Job as J}, wire}");
    let names: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        ["crate::serve::op::Op", "crate::serve::Job", "crate::wire"]
    );
    let module: Vec<String> = ["http", "s3", "object"].map(str::to_owned).to_vec();
    let children = BTreeSet::new();
    let up = absolute(
        &module,
        &["super".into(), "xml".into(), "Listing".into()],
        &children,
    );
    assert_eq!(up.unwrap().join("::"), "http::s3::xml::Listing");
    assert_eq!(
        absolute(&module, &["std".into(), "io".into()], &children),
        None
    );
    let code = "use super::xml;\nfn f() { crate::storage::Storage::open(); child::g(); }";
    let children: BTreeSet<String> = ["child".to_owned()].into();
    let named: BTreeSet<String> = named_paths(code, &children)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    let expected = ["super::xml", "crate::storage::Storage::open", "child::g"];
    assert_eq!(named, expected.map(str::to_owned).into());
    let lines = [
        "fn a() {}",
        "#[cfg(test)]",
        "fn helper() {}",
        "#[cfg(test)]",
        "mod tests {",
        "}",
    ];
    assert_eq!(tests_start(&lines), 3);
}

/// Not a check: prints the arrows between the files of one folder, to
/// see what ties a circle (`ONLY=serve/ cargo test --test architecture
/// print_edges -- --ignored --nocapture`).
#[test]
#[ignore]
fn print_edges() {
    let graph = file_imports();
    let only = std::env::var("ONLY").unwrap_or_default();
    for (file, named) in &graph {
        if file.starts_with(&only) {
            let inside: Vec<_> = named.iter().filter(|n| n.starts_with(&only)).collect();
            println!("{file} -> {inside:?}");
        }
    }
}
