//! Node identity: the name a server goes by among the servers that share
//! one root (`--node-id`), its rules and its default. Pure but for reading
//! the host's name.
//!
//! The id is part of every temp file's name and names the node's lock and
//! journal in `<root>/.ferry-nodes/` (see `storage/posix/nodes.rs`), so it must be
//! a safe file-name piece on every file system: 1..=32 of `[A-Za-z0-9_-]`.
//! Two servers on one root must have different ids; a second server with an
//! id already in use there refuses to start.

/// Longest node id, in bytes.
pub const MAX_NODE_ID: usize = 32;

/// Checks a node id given on the command line.
///
/// # Errors
/// A message saying which rule it breaks.
pub fn parse_node_id(id: &str) -> Result<String, String> {
    if id.is_empty() || id.len() > MAX_NODE_ID {
        return Err(format!(
            "a node id has 1 to {MAX_NODE_ID} characters, not {}",
            id.len()
        ));
    }
    match id.chars().find(|c| !is_id_char(*c)) {
        Some(bad) => Err(format!(
            "a node id is made of letters, digits, '-' and '_' only, not {bad:?}"
        )),
        None => Ok(id.to_owned()),
    }
}

/// The id a server goes by when given none: the host's name, else the start
/// of `/etc/machine-id`, else `node` (each made safe, see [`sanitise`]).
/// Hosts behind one load balancer have different names, so the default
/// suits one server per host; two servers on one host need `--node-id`.
pub fn default_node_id() -> String {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    [
        read("/proc/sys/kernel/hostname"),
        read("/etc/hostname"),
        read("/etc/machine-id"),
    ]
    .into_iter()
    .flatten()
    .map(|text| sanitise(text.trim()))
    .find(|id| !id.is_empty())
    .unwrap_or_else(|| "node".to_owned())
}

/// The host's name as this process sees it, for diagnostics.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

/// `text` made into a node id: characters outside the id's set become
/// `-`, and it is cut to [`MAX_NODE_ID`] bytes ("" stays "").
pub fn sanitise(text: &str) -> String {
    text.chars()
        .map(|c| if is_id_char(c) { c } else { '-' })
        .take(MAX_NODE_ID)
        .collect()
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_rules() {
        assert!(parse_node_id("web-1_a").is_ok());
        assert!(parse_node_id(&"a".repeat(32)).is_ok());
        assert!(parse_node_id("").is_err());
        assert!(parse_node_id(&"a".repeat(33)).is_err());
        for bad in ["a/b", "a.b", "a b", "é", "..", ".ferry"] {
            assert!(parse_node_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_names_are_made_safe() {
        assert_eq!(sanitise("web1.example.com"), "web1-example-com");
        assert_eq!(sanitise(&"x".repeat(40)).len(), MAX_NODE_ID);
        assert!(parse_node_id(&sanitise("ünïcode host")).is_ok());
        assert!(parse_node_id(&default_node_id()).is_ok());
    }
}
