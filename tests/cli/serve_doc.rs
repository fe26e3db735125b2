//! docs/serve.md says it lists `ferry serve` "and every flag it takes":
//! this holds it to that, flag by flag, against what the built binary's
//! `serve --help` lists, both ways, so that neither the docs nor the
//! command line drifts from the other (issue 79).
//!
//! A flag counts as documented where it heads a row of the doc's flag
//! table (`| \`--flag\` | default | meaning |`); the synopsis above the
//! table must name the same flags. Flags only mentioned in prose (a
//! client's `--resume`, an anchor) are not the doc's claims.

use crate::binary;

use std::collections::BTreeSet;
use std::path::Path;

use binary::{ferry, success};

/// The doc under test.
const DOC: &str = "docs/serve.md";

/// Flags clap gives every command; the doc need not list them.
const CLAP_OWN: &[&str] = &["--help", "--version"];

/// The long flags `ferry serve --help` lists: each option's line begins
/// with its flag (`      --listen <LISTEN>`, `  -h, --help`); flags named
/// in other options' descriptions are not options of their own.
fn help_flags() -> BTreeSet<String> {
    let help = serve_help();
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = match line.split_once(", ") {
                Some((short, rest)) if short.len() == 2 && short.starts_with('-') => rest,
                _ => line,
            };
            line.starts_with("--").then(|| flag_at(line))
        })
        .filter(|flag| !CLAP_OWN.contains(&flag.as_str()))
        .collect()
}

/// The flag at the start of `text` (`--max-file-size <BYTES>` gives
/// `--max-file-size`).
fn flag_at(text: &str) -> String {
    let end = text[2..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map_or(text.len(), |at| at + 2);
    text[..end].to_owned()
}

/// Every `--flag` in `text`.
fn flags_in(text: &str) -> BTreeSet<String> {
    text.match_indices("--")
        .map(|(at, _)| flag_at(&text[at..]))
        .filter(|flag| flag.len() > 2)
        .collect()
}

/// The flags the doc's table rows are about (the first cell of each row:
/// `| \`--tls-cert\`, \`--tls-key\` | ...` gives both) and those its
/// synopsis (the first `text` block) names.
fn doc_flags() -> (BTreeSet<String>, BTreeSet<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    let doc = std::fs::read_to_string(&path).unwrap();
    let table = doc
        .lines()
        .filter_map(|line| line.strip_prefix("| `--"))
        .flat_map(|row| {
            let first_cell = row.split(" |").next().unwrap_or_default();
            flags_in(&format!("--{first_cell}"))
        })
        .collect();
    let synopsis = doc
        .split("```text\n")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .unwrap_or_else(|| panic!("{DOC} has no synopsis (a ```text block)"));
    (table, flags_in(synopsis))
}

/// What is in `a` and not in `b`, as `--x, --y`.
fn missing(a: &BTreeSet<String>, b: &BTreeSet<String>) -> String {
    a.difference(b).cloned().collect::<Vec<_>>().join(", ")
}

#[test]
fn docs_serve_md_lists_every_flag_of_serve_help_and_no_other() {
    let help = help_flags();
    assert!(
        help.contains("--listen") && help.contains("--tls-cert") && help.len() > 40,
        "serve --help's flags were not found where expected: {help:?}"
    );
    let (table, synopsis) = doc_flags();
    let mut wrong = Vec::new();
    for (what, found) in [
        (
            "in `serve --help` but not in docs/serve.md's table",
            missing(&help, &table),
        ),
        (
            "in docs/serve.md's table but not in `serve --help`",
            missing(&table, &help),
        ),
        (
            "in `serve --help` but not in docs/serve.md's synopsis",
            missing(&help, &synopsis),
        ),
        (
            "in docs/serve.md's synopsis but not in `serve --help`",
            missing(&synopsis, &help),
        ),
    ] {
        if !found.is_empty() {
            wrong.push(format!("flags {what}: {found}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The `--listen` help says FERRY/1's default address is left out where
/// any other listener is named, `--ftp` too (`serve --ftp ADDR` serves FTP
/// alone, as docs/serve.md says).
#[test]
fn listen_help_names_every_listener_that_turns_the_default_off() {
    let help = serve_help();
    let listen: String = help
        .split("\n      --listen")
        .nth(1)
        .and_then(|rest| rest.split("\n      --").next())
        .unwrap_or_else(|| panic!("no --listen in serve --help:\n{help}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for flag in ["--http", "--s3", "--ftp"] {
        assert!(
            listen.contains(flag),
            "--listen's help forgets {flag}: {listen}"
        );
    }
}

/// What `ferry serve --help` prints.
fn serve_help() -> String {
    let work = tempfile::tempdir().unwrap();
    success(
        &ferry(work.path())
            .args(["serve", "--help"])
            .output()
            .unwrap(),
    )
}
