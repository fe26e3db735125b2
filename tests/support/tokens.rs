//! Tokens files for tests: named tokens with their grants, written where a
//! server (in-process or a child process) reads them.

use std::path::{Path, PathBuf};

use ferry::Config;
use ferry::access::tokens::{Entry, TokensFile, digest, new_token};
use ferry::access::{AccessConfig, Grant, Grants};
use tempfile::TempDir;

use super::TestServer;

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
            s3: None,
            quota: None,
            ssh_keys: Vec::new(),
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

/// A server with access control on both protocols (and an HTTP listener):
/// the tokens in the order of `holders`, `anonymous` grants for clients
/// without one, and the folder that holds the tokens file.
pub fn guarded(
    holders: &[(&str, &[&str])],
    anonymous: &[&str],
) -> (TestServer, Vec<String>, TempDir) {
    guarded_with(holders, anonymous, |_| {})
}

/// [`guarded`], with the rest of the configuration as `adjust` makes it.
pub fn guarded_with(
    holders: &[(&str, &[&str])],
    anonymous: &[&str],
    adjust: impl FnOnce(&mut Config),
) -> (TestServer, Vec<String>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (path, tokens) = tokens_in(dir.path(), holders);
    let server = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.access = AccessConfig {
            tokens: Some(path),
            anonymous: anonymous.iter().map(|g| Grant::parse(g).unwrap()).collect(),
            no_auth: false,
        };
        adjust(c);
    });
    (server, tokens, dir)
}

/// Gives holder `index` of the tokens file `config` names the quota
/// `quota` (`quota:` of `ferry token add`: `100000`, `10M,files=50`).
pub fn set_quota(config: &Config, index: usize, quota: &str) {
    use ferry::access::quota::Quota;
    let path = config.access.tokens.clone().expect("a tokens file");
    let mut file = TokensFile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file.entries[index].quota = Some(Quota::parse(quota).unwrap());
    std::fs::write(&path, file.render()).unwrap();
}

/// The bytes `token`'s quota counts (`DF`'s used, over FERRY/1).
pub fn used_by(server: &TestServer, token: &str) -> u64 {
    let mut raw = server.raw();
    raw.send(format!("AUTH {token}\nDF\n"));
    assert!(raw.line().starts_with("OK"));
    let line = raw.line();
    let fields: Vec<u64> = line[3..].split(' ').map(|n| n.parse().unwrap()).collect();
    fields[1]
}
