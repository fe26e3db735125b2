//! The rules every node of a root must serve it by, and how two nodes'
//! rules are compared. Pure: writing and reading them is `storage/posix/nodes.rs`,
//! the check at start-up `server/mod.rs`.
//!
//! Servers that share a root (a cluster behind a balancer) keep one
//! promise only if they judge every request alike: a node started without
//! `--tokens`, with other anonymous grants or another quota lets in, or
//! stores, what its peers refuse, and the balancer sends it a share of
//! everyone's requests. So each node records its rules beside its lock
//! (`.ferry-nodes/<node>.rules`, one `key value` line each) and a node
//! whose rules differ from a live peer's refuses to start, naming the rule.
//!
//! ```text
//! tokens on
//! anonymous read:pub/ write:drop/
//! quota q/=200000,files=6
//! min-free 40000000
//! ```
//!
//! Only what decides who may do what, and what may be stored, is compared:
//! not addresses, timeouts, caps per client or the tokens file's contents
//! (re-read on SIGHUP, node by node). A key that one side lacks (another
//! ferry version) is not compared, so a rolling upgrade is not refused.

use crate::config::{Config, MinFree};

/// One node's rules: `(key, value)` in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRules(Vec<(String, String)>);

/// A rule on which this server and a live peer differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// The peer's node id.
    pub node: String,
    /// The rule (`tokens`, `quota`, ...).
    pub key: String,
    /// This server's value.
    pub ours: String,
    /// The peer's value.
    pub theirs: String,
}

impl NodeRules {
    /// The rules `config` serves by.
    pub fn of(config: &Config) -> NodeRules {
        let on = |yes: bool| if yes { "on" } else { "off" }.to_owned();
        let list = |items: Vec<String>| match items.is_empty() {
            true => "none".to_owned(),
            false => items.join(" "),
        };
        let access = &config.access;
        let rules = [
            ("tokens", on(access.tokens.is_some())),
            (
                "anonymous",
                list(access.anonymous.iter().map(ToString::to_string).collect()),
            ),
            (
                "quota",
                list(
                    config
                        .quotas
                        .iter()
                        .map(|q| format!("{}={}", q.prefix, q.limit))
                        .collect(),
                ),
            ),
            ("min-free", min_free(config.min_free)),
            (
                "max-file-size",
                config
                    .max_file_size
                    .map_or("none".to_owned(), |n| n.to_string()),
            ),
            ("fsync", on(config.fsync)),
            ("upload-ttl", config.upload_ttl.as_secs().to_string()),
            ("ftp-require-tls", on(config.ftp.require_tls)),
            ("ftp-tls-reuse-optional", on(config.ftp.tls_reuse_optional)),
        ];
        NodeRules(rules.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// The file's text: one `key value` line per rule.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k} {v}\n")).collect()
    }

    /// Reads [`NodeRules::to_text`]'s text back; lines it cannot read are
    /// left out (they are compared as missing).
    pub fn parse(text: &str) -> NodeRules {
        let rules = text
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        NodeRules(rules)
    }

    /// The first rule on which `theirs` (node `node`'s) differs from these,
    /// among the keys both have.
    pub fn disagreement(&self, node: &str, theirs: &NodeRules) -> Option<Disagreement> {
        self.0.iter().find_map(|(key, ours)| {
            let (_, value) = theirs.0.iter().find(|(k, _)| k == key)?;
            (value != ours).then(|| Disagreement {
                node: node.to_owned(),
                key: key.clone(),
                ours: ours.clone(),
                theirs: value.clone(),
            })
        })
    }
}

/// Checks `ours` against each live peer's recorded rules (`(node, text)`).
///
/// # Errors
/// The first rule on which a peer differs.
pub fn check(ours: &NodeRules, peers: &[(String, String)]) -> Result<(), Disagreement> {
    match peers
        .iter()
        .find_map(|(node, text)| ours.disagreement(node, &NodeRules::parse(text)))
    {
        Some(differs) => Err(differs),
        None => Ok(()),
    }
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "node \"{}\" serves this root with {} = {}, this server would serve it with {} = {}: every node of a root must serve it by the same rules (tokens, anonymous grants, quotas, reserve, file size, fsync, upload ttl, FTP TLS); start it with the others' settings, or stop every node to change them",
            self.node, self.key, self.theirs, self.key, self.ours
        )
    }
}

impl std::error::Error for Disagreement {}

fn min_free(min_free: MinFree) -> String {
    match min_free {
        MinFree::Default => "default".to_owned(),
        MinFree::Bytes(bytes) => bytes.to_string(),
        MinFree::Percent(percent) => format!("{percent}%"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> NodeRules {
        NodeRules::parse(text)
    }

    #[test]
    fn rules_read_back_as_written() {
        let config = Config::default();
        let ours = NodeRules::of(&config);
        assert_eq!(NodeRules::parse(&ours.to_text()), ours);
        assert!(
            ours.to_text()
                .starts_with("tokens off\nanonymous none\nquota none\n")
        );
    }

    #[test]
    fn the_first_differing_rule_is_named() {
        let ours = rules("tokens on\nanonymous read:pub/\nquota q/=10\n");
        let theirs = rules("tokens off\nanonymous none\nquota q/=10\n");
        let found = ours.disagreement("node1", &theirs).unwrap();
        assert_eq!((found.key.as_str(), found.ours.as_str()), ("tokens", "on"));
        let said = found.to_string();
        assert!(said.starts_with("node \"node1\" serves this root with tokens = off, this server would serve it with tokens = on"), "{said}");
        assert_eq!(ours.disagreement("node1", &ours.clone()), None);
    }

    #[test]
    fn keys_one_side_lacks_are_not_compared() {
        let ours = rules("tokens on\nfsync on\n");
        assert_eq!(ours.disagreement("old", &rules("tokens on\n")), None);
        assert_eq!(ours.disagreement("old", &rules("")), None);
        assert_eq!(
            ours.disagreement("new", &rules("tokens on\nfsync on\nsftp on\n")),
            None
        );
        assert!(ours.disagreement("new", &rules("fsync off\n")).is_some());
    }
}
