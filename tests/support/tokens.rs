//! Tokens files for tests: named tokens with their grants, written where a
//! server (in-process or a child process) reads them.

use std::path::{Path, PathBuf};

use ferry::access::tokens::{Entry, TokensFile, digest, new_token};
use ferry::access::{Grant, Grants};

/// Writes a tokens file at `path` with one token per `(name, grants)`;
/// returns the tokens in the same order.
pub fn write_tokens(path: &Path, holders: &[(&str, &[&str])]) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut file = TokensFile::default();
    for (name, grants) in holders {
        let token = new_token().unwrap();
        file.entries.push(Entry {
            name: (*name).to_owned(),
            digest: digest(&token),
            grants: Grants::new(grants.iter().map(|g| Grant::parse(g).unwrap()).collect()),
        });
        tokens.push(token);
    }
    std::fs::write(path, file.render()).unwrap();
    tokens
}

/// A tokens file in `dir`, as [`write_tokens`].
pub fn tokens_in(dir: &Path, holders: &[(&str, &[&str])]) -> (PathBuf, Vec<String>) {
    let path = dir.join("tokens");
    let tokens = write_tokens(&path, holders);
    (path, tokens)
}
