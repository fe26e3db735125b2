//! Tokens and the tokens file: making a token, the digest that is stored
//! in its place, and the file's format (read by the server, written by
//! `ferry token`).
//!
//! ```text
//! # ferry tokens: <name> sha256:<digest of the token> <perm>:<folder>...
//! build-server sha256:9f2c...e1 write:firmware/ read:/
//! sensor-17 sha256:03b4...7a write:sensors/17/
//! ```
//!
//! One token per line; `#` starts a comment line; blank lines are
//! ignored. Only the SHA-256 digest of a token is stored: a token is 160
//! random bits, so a fast digest cannot be searched backwards, and a slow
//! password hash would only cost the event loop time on every request.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::grants::{Grant, Grants};

/// What every token starts with (so secret scanners and people can tell
/// one when they see it).
pub const TOKEN_PREFIX: &str = "ferry_";

/// Random bytes in a token.
const TOKEN_BYTES: usize = 20;

/// The longest token name.
const MAX_TOKEN_NAME: usize = 64;

/// The SHA-256 digest of a token.
pub type TokenDigest = [u8; 32];

/// The digest stored for `token`.
pub fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two digests in time that does not depend on where they differ.
pub fn same_digest(a: &TokenDigest, b: &TokenDigest) -> bool {
    let differ = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(differ) == 0
}

/// A new random token: [`TOKEN_PREFIX`] and 160 random bits in hex.
///
/// # Errors
/// The kernel's random source failed.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    let mut filled = 0;
    while filled < bytes.len() {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    let mut token = String::from(TOKEN_PREFIX);
    for byte in bytes {
        let _ = write!(token, "{byte:02x}");
    }
    Ok(token)
}

/// One line of the tokens file: a named token's digest and its grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Who holds it, for logs and `AUTH`'s answer.
    pub name: String,
    /// The digest of the token.
    pub digest: TokenDigest,
    /// What it may do.
    pub grants: Grants,
}

/// A token holder the server knows: an entry of the table in force.
#[derive(Debug)]
pub struct Principal {
    /// The entry.
    pub entry: Entry,
    /// The table it came from (see [`Table::generation`]).
    pub generation: u64,
}

/// The tokens file, as entries in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokensFile {
    /// The entries.
    pub entries: Vec<Entry>,
}

impl TokensFile {
    /// Parses the file's text.
    ///
    /// # Errors
    /// The first malformed line, by number.
    pub fn parse(text: &str) -> Result<TokensFile, String> {
        let mut entries: Vec<Entry> = Vec::new();
        for (at, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_line(line).map_err(|err| format!("line {}: {err}", at + 1))?;
            if entries.iter().any(|e| e.name == entry.name) {
                return Err(format!("line {}: {} appears twice", at + 1, entry.name));
            }
            if entries.iter().any(|e| e.digest == entry.digest) {
                return Err(format!("line {}: the digest appears twice", at + 1));
            }
            entries.push(entry);
        }
        Ok(TokensFile { entries })
    }

    /// The file's text, header comment included.
    pub fn render(&self) -> String {
        let mut text = String::from(
            "# ferry tokens (see docs/security.md): one per line,\n\
             # <name> sha256:<digest of the token> <perm>:<folder>...\n\
             # Only digests are kept here; a token is shown once, when made.\n",
        );
        for entry in &self.entries {
            text.push_str(&entry.name);
            text.push_str(" sha256:");
            for byte in entry.digest {
                let _ = write!(text, "{byte:02x}");
            }
            for grant in entry.grants.iter() {
                let _ = write!(text, " {grant}");
            }
            text.push('\n');
        }
        text
    }
}

fn parse_line(line: &str) -> Result<Entry, String> {
    let mut words = line.split_ascii_whitespace();
    let name = words.next().unwrap_or_default();
    check_token_name(name)?;
    let digest = words
        .next()
        .and_then(|word| word.strip_prefix("sha256:"))
        .and_then(parse_digest)
        .ok_or("expected sha256:<64 hex digits> after the name")?;
    let grants = words.map(Grant::parse).collect::<Result<Vec<_>, _>>()?;
    Ok(Entry {
        name: name.to_owned(),
        digest,
        grants: Grants::new(grants),
    })
}

fn parse_digest(hex: &str) -> Option<TokenDigest> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (at, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * at..2 * at + 2], 16).ok()?;
    }
    Some(digest)
}

/// A token's name: 1 to 64 letters, digits and `.`, `_`, `-`, `@`.
///
/// # Errors
/// Says which rule the name breaks.
pub fn check_token_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if name.is_empty() || name.len() > MAX_TOKEN_NAME || !name.chars().all(allowed) {
        return Err(format!(
            "token name {name:?}: 1 to {MAX_TOKEN_NAME} letters, digits, '.', '_', '-' or '@'"
        ));
    }
    Ok(())
}

/// The tokens in force, by digest.
#[derive(Debug, Default)]
pub struct Table {
    by_digest: HashMap<TokenDigest, Arc<Principal>>,
    generation: u64,
}

impl Table {
    /// The table of `file`; `generation` tells it from the tables before.
    pub fn new(file: TokensFile, generation: u64) -> Table {
        let by_digest = file
            .entries
            .into_iter()
            .map(|entry| {
                let digest = entry.digest;
                (digest, Arc::new(Principal { entry, generation }))
            })
            .collect();
        Table {
            by_digest,
            generation,
        }
    }

    /// Which reload this table came from.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The holder of the token whose digest is `digest`. The map finds the
    /// entry by the digest's hash; the digest is then compared in constant
    /// time, so timing tells nothing about any stored digest's bytes.
    pub fn find(&self, digest: &TokenDigest) -> Option<Arc<Principal>> {
        let found = self.by_digest.get(digest)?;
        same_digest(&found.entry.digest, digest).then(|| Arc::clone(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 2 * TOKEN_BYTES);
    }

    #[test]
    fn the_file_round_trips_and_keeps_no_secret() {
        let token = new_token().unwrap();
        let file = TokensFile {
            entries: vec![Entry {
                name: "build".into(),
                digest: digest(&token),
                grants: Grants::new(vec![
                    Grant::parse("write:firmware/").unwrap(),
                    Grant::parse("read:/").unwrap(),
                ]),
            }],
        };
        let text = file.render();
        assert!(!text.contains(&token));
        assert!(text.contains("build sha256:"));
        assert!(text.contains(" write:firmware/ read:/\n"));
        assert_eq!(TokensFile::parse(&text).unwrap(), file);
        let table = Table::new(file, 1);
        assert_eq!(table.find(&digest(&token)).unwrap().entry.name, "build");
        assert!(table.find(&digest("ferry_other")).is_none());
    }

    #[test]
    fn malformed_lines_are_named() {
        let digest = "0".repeat(64);
        for (text, says) in [
            ("bad name! sha256:00 read:/", "line 1"),
            ("a sha256:123 read:/", "sha256"),
            (&format!("# c\n\na sha256:{digest} own:/"), "line 3"),
            (
                &format!("a sha256:{digest}\na sha256:{}", "1".repeat(64)),
                "twice",
            ),
        ] {
            let err = TokensFile::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn digests_compare_whole() {
        let a = digest("x");
        let mut b = a;
        assert!(same_digest(&a, &b));
        b[31] ^= 1;
        assert!(!same_digest(&a, &b));
    }
}
