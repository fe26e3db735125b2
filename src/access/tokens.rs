//! Tokens and the tokens file: making a token, the digest that is stored
//! in its place, and the file's format (read by the server, written by
//! `ferry token`).
//!
//! ```text
//! # ferry tokens: <name> sha256:<digest of the token> [s3:<key id>:<secret>] [quota:<quota>] [ssh:<kind>:<key>]... <perm>:<folder>...
//! build-server sha256:9f2c...e1 write:firmware/ read:/
//! alice sha256:41d0...8b ssh:ssh-ed25519:AAAAC3Nz...yv+d write:home/alice/
//! sensor-17 sha256:03b4...7a write:sensors/17/
//! backup sha256:77a0...c2 s3:FERRYK3V9...:4be1...0d write:backups/ read:backups/
//! camera sha256:5d1e...90 quota:10737418240,files=5000 write:dcim/
//! ```
//!
//! One token per line; `#` starts a comment line; blank lines are
//! ignored. Only the SHA-256 digest of a token is stored: a token is 160
//! random bits, so a fast digest cannot be searched backwards, and a slow
//! password hash would only cost the event loop time on every request.
//!
//! An S3 key (`ferry token add --s3`) is the exception: SigV4 signs each
//! request with a key derived from the secret itself, so the server must
//! hold the secret to check a signature (as MinIO and Garage do; AWS
//! keeps its own). Whoever reads this file can sign requests as every S3
//! key in it, with its grants, until the key is removed (docs/s3.md,
//! "Credentials"); the ferry tokens in it stay safe. The file is 0600.
//!
//! SSH public keys (`ssh:` words, `ssh_keys.rs`) log in over SFTP as their
//! token; each key is on one token at most. A file without them is read
//! as before.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use super::Rejection;
use super::grants::{Grant, Grants};
use super::quota::Quota;
use super::sigv2::{self, SignedV2};
use super::sigv4::{Scope, Signed, SigningKey};
use super::ssh_keys::{self, SshKey};

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
    let mut token = String::from(TOKEN_PREFIX);
    for byte in random::<TOKEN_BYTES>()? {
        let _ = write!(token, "{byte:02x}");
    }
    Ok(token)
}

/// `N` bytes from the kernel's random source.
///
/// # Errors
/// The kernel's random source failed.
pub fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    let mut filled = 0;
    while filled < bytes.len() {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(bytes)
}

/// What an access key id starts with.
pub const KEY_ID_PREFIX: &str = "FERRY";

/// An S3 key pair: the access key id clients name, and the secret they
/// sign with (kept in the file: see the module's docs). Its `Debug`
/// never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Key {
    /// The access key id: [`KEY_ID_PREFIX`] and 15 letters or digits, 20
    /// characters as AWS's.
    pub id: String,
    /// The secret: 160 random bits in hex.
    pub secret: String,
}

impl std::fmt::Debug for S3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Key({}, ..)", self.id)
    }
}

impl S3Key {
    /// A new random key pair.
    ///
    /// # Errors
    /// The kernel's random source failed.
    pub fn new() -> std::io::Result<S3Key> {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut id = String::from(KEY_ID_PREFIX);
        id.extend(
            random::<15>()?
                .iter()
                .map(|b| ALPHABET[usize::from(b % 32)] as char),
        );
        let mut secret = String::new();
        for byte in random::<TOKEN_BYTES>()? {
            let _ = write!(secret, "{byte:02x}");
        }
        Ok(S3Key { id, secret })
    }

    /// `s3:<id>:<secret>` as the file holds it.
    fn parse(word: &str) -> Result<S3Key, String> {
        let (id, secret) = word
            .strip_prefix("s3:")
            .and_then(|rest| rest.split_once(':'))
            .ok_or("expected s3:<key id>:<secret>")?;
        let plain =
            |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if !plain(id) || !plain(secret) {
            return Err("an S3 key id and secret are letters and digits".into());
        }
        Ok(S3Key {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

/// One line of the tokens file: a named token's digest and its grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Who holds it, for logs and `AUTH`'s answer.
    pub name: String,
    /// The digest of the token.
    pub digest: TokenDigest,
    /// Its S3 key pair, if it has one.
    pub s3: Option<S3Key>,
    /// How much its uploads may hold (`quota.rs`), if it is limited.
    pub quota: Option<Quota>,
    /// The SSH public keys that log in as it (`ssh_keys.rs`).
    pub ssh_keys: Vec<SshKey>,
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
            let key_id = |e: &Entry| e.s3.as_ref().map(|key| key.id.clone());
            if key_id(&entry).is_some() && entries.iter().any(|e| key_id(e) == key_id(&entry)) {
                return Err(format!("line {}: the S3 key id appears twice", at + 1));
            }
            // One token per key: a key names who logs in.
            for (n, key) in entry.ssh_keys.iter().enumerate() {
                let holder = entries.iter().find(|e| e.ssh_keys.contains(key));
                if holder.is_some() || entry.ssh_keys[..n].contains(key) {
                    return Err(format!(
                        "line {}: the SSH key {} appears twice",
                        at + 1,
                        key.fingerprint()
                    ));
                }
            }
            entries.push(entry);
        }
        Ok(TokensFile { entries })
    }

    /// The file's text, header comment included.
    pub fn render(&self) -> String {
        let mut text = String::from(
            "# ferry tokens (see docs/security.md): one per line,\n\
             # <name> sha256:<digest of the token> [s3:<key id>:<secret>] [quota:<quota>] [ssh:<kind>:<key>]... <perm>:<folder>...\n\
             # Only digests are kept for tokens, shown once, when made; S3\n\
             # secrets are kept whole (SigV4 needs them): keep this file 0600.\n",
        );
        for entry in &self.entries {
            text.push_str(&entry.name);
            text.push_str(" sha256:");
            for byte in entry.digest {
                let _ = write!(text, "{byte:02x}");
            }
            if let Some(key) = &entry.s3 {
                let _ = write!(text, " s3:{}:{}", key.id, key.secret);
            }
            if let Some(quota) = &entry.quota {
                let _ = write!(text, " quota:{quota}");
            }
            for key in &entry.ssh_keys {
                let _ = write!(text, " {}", key.word());
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
    let mut words = words.peekable();
    let s3 = match words.next_if(|word| word.starts_with("s3:")) {
        Some(word) => Some(S3Key::parse(word)?),
        None => None,
    };
    let quota = match words.next_if(|word| word.starts_with("quota:")) {
        Some(word) => Some(Quota::parse(&word["quota:".len()..])?),
        None => None,
    };
    let mut ssh_keys = Vec::new();
    while let Some(word) = words.next_if(|word| word.starts_with(ssh_keys::WORD_PREFIX)) {
        ssh_keys.push(SshKey::parse_word(word)?);
    }
    let grants = words.map(Grant::parse).collect::<Result<Vec<_>, _>>()?;
    Ok(Entry {
        name: name.to_owned(),
        digest,
        s3,
        quota,
        ssh_keys,
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

/// Signing keys derived at most, per table, before the cache starts
/// again: a few per key and day in practice.
const MAX_DERIVED: usize = 4096;

/// The tokens in force, by digest, their S3 keys by id, their SSH keys,
/// and their names (an SSH login's user name).
#[derive(Debug, Default)]
pub struct Table {
    by_digest: HashMap<TokenDigest, Arc<Principal>>,
    by_key_id: HashMap<String, Arc<Principal>>,
    by_ssh_key: HashMap<SshKey, Arc<Principal>>,
    by_name: HashMap<String, Arc<Principal>>,
    /// Signing keys derived (four HMACs each) per key id and scope, so a
    /// request costs one HMAC; found by the key id without a copy of it
    /// (a key is used with a scope or two: a day's, a region's). Dropped
    /// with the table, so a reload that changes a secret never meets an
    /// old key.
    derived: Mutex<Derived>,
    generation: u64,
}

/// The signing keys a table derived, by key id.
#[derive(Debug, Default)]
struct Derived {
    by_key_id: HashMap<String, Vec<(Scope, SigningKey)>>,
    count: usize,
}

impl Table {
    /// The table of `file`; `generation` tells it from the tables before.
    pub fn new(file: TokensFile, generation: u64) -> Table {
        let principals: Vec<_> = file
            .entries
            .into_iter()
            .map(|entry| Arc::new(Principal { entry, generation }))
            .collect();
        let by_key_id = principals
            .iter()
            .filter_map(|p| Some((p.entry.s3.as_ref()?.id.clone(), Arc::clone(p))))
            .collect();
        let by_ssh_key = principals
            .iter()
            .flat_map(|p| p.entry.ssh_keys.iter().map(|key| (*key, Arc::clone(p))))
            .collect();
        let by_name = principals
            .iter()
            .map(|p| (p.entry.name.clone(), Arc::clone(p)))
            .collect();
        let by_digest = principals
            .into_iter()
            .map(|p| (p.entry.digest, p))
            .collect();
        Table {
            by_digest,
            by_key_id,
            by_ssh_key,
            by_name,
            derived: Mutex::default(),
            generation,
        }
    }

    /// The holder of S3 key `key_id`, and the key.
    ///
    /// # Errors
    /// [`Rejection::UnknownKey`].
    fn key_holder(&self, key_id: &str) -> Result<(&Arc<Principal>, &S3Key), Rejection> {
        let principal = self.by_key_id.get(key_id).ok_or(Rejection::UnknownKey)?;
        let Some(key) = &principal.entry.s3 else {
            unreachable!("only entries with a key are found by key id");
        };
        Ok((principal, key))
    }

    /// The holder of the S3 key that signed `signed`, if the signature is
    /// that key's (compared in constant time).
    ///
    /// # Errors
    /// [`Rejection::UnknownKey`], [`Rejection::BadSignature`].
    pub fn verify(&self, signed: &Signed) -> Result<Arc<Principal>, Rejection> {
        let (principal, key) = self.key_holder(&signed.key_id)?;
        let signing = self.signing_key(key, &signed.scope);
        match signing.verify(&signed.string_to_sign, &signed.signature) {
            true => {
                if let Some(seed) = &signed.seed {
                    seed.set(signing.bytes());
                }
                Ok(Arc::clone(principal))
            }
            false => Err(Rejection::BadSignature),
        }
    }

    /// The holder of the S3 key that signed `signed` with SigV2 (the
    /// secret itself keys the HMAC; compared in constant time).
    ///
    /// # Errors
    /// [`Rejection::UnknownKey`], [`Rejection::BadSignature`].
    pub fn verify_v2(&self, signed: &SignedV2) -> Result<Arc<Principal>, Rejection> {
        let (principal, key) = self.key_holder(&signed.key_id)?;
        let verify = |text: &str| sigv2::verify(&key.secret, text, &signed.signature);
        match verify(&signed.string_to_sign) || signed.or_else.as_deref().is_some_and(verify) {
            true => Ok(Arc::clone(principal)),
            false => Err(Rejection::BadSignature),
        }
    }

    /// The signing key of `key` for `scope`, derived once per table.
    fn signing_key(&self, key: &S3Key, scope: &Scope) -> SigningKey {
        let mut derived = self.derived.lock().unwrap_or_else(PoisonError::into_inner);
        let found = derived.by_key_id.get(&key.id).and_then(|keys| {
            keys.iter()
                .find(|(s, _)| s == scope)
                .map(|(_, signing)| signing.clone())
        });
        if let Some(signing) = found {
            return signing;
        }
        if derived.count >= MAX_DERIVED {
            *derived = Derived::default();
        }
        let signing = SigningKey::derive(&key.secret, scope);
        derived.count += 1;
        let keys = derived.by_key_id.entry(key.id.clone()).or_default();
        keys.push((scope.clone(), signing.clone()));
        signing
    }

    /// The holder of SSH key `key` logging in as `user`. The user name is
    /// free, or a token's name: then only that token's keys count, so a
    /// key on token A never logs in as B.
    ///
    /// # Errors
    /// [`Rejection::UnknownKey`]: no token has the key, or the token
    /// `user` names does not.
    pub fn find_ssh_key(&self, key: &SshKey, user: &str) -> Result<Arc<Principal>, Rejection> {
        let holder = self.by_ssh_key.get(key).ok_or(Rejection::UnknownKey)?;
        match self.by_name.get(user) {
            Some(named) if !Arc::ptr_eq(named, holder) => Err(Rejection::UnknownKey),
            _ => Ok(Arc::clone(holder)),
        }
    }

    /// The holder of the token named `name`.
    #[cfg(feature = "shares")]
    pub fn named(&self, name: &str) -> Option<Arc<Principal>> {
        self.by_name.get(name).cloned()
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
                s3: None,
                quota: Some(super::Quota::parse("1G,files=10").unwrap()),
                ssh_keys: Vec::new(),
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
