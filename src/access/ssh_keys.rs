//! SSH public keys on tokens (`ferry token add --ssh-key`): a key logs in
//! over SFTP as the token it is registered on, with that token's grants.
//! Only public keys are kept; they are no secret.
//!
//! ```text
//! OpenSSH's line (a .pub file):  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... alice@laptop
//! the tokens file's word:        ssh:ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAAI...
//! its fingerprint:               SHA256:<43 characters>   (as `ssh-keygen -lf` prints it)
//! ```
//!
//! The kinds taken are those the SSH library (sunset, as ferry builds it)
//! verifies a signature of: ssh-ed25519 only. A key of another kind is
//! refused when it is added, with that said, rather than stored and never
//! matched.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

use super::{Access, Principal, Rejection};

/// The one kind of key taken.
const ED25519: &str = "ssh-ed25519";

/// What a key's word starts with in the tokens file.
pub const WORD_PREFIX: &str = "ssh:";

/// An SSH public key a token may log in with.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum SshKey {
    /// An Ed25519 key: its 32 bytes.
    Ed25519([u8; 32]),
}

impl SshKey {
    /// A key in OpenSSH's form, a `.pub` file's line: `<kind> <base64>
    /// [comment]`.
    ///
    /// # Errors
    /// Says what the text is instead (a private key, a kind not taken,
    /// not a key at all).
    pub fn parse_line(text: &str) -> Result<SshKey, String> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            return Err("this is a private key: give the public one (the .pub file)".into());
        }
        let mut words = text.split_ascii_whitespace();
        let (Some(kind), Some(blob)) = (words.next(), words.next()) else {
            return Err("not an SSH public key: expected `ssh-ed25519 AAAA... [comment]`".into());
        };
        SshKey::parse_parts(kind, blob)
    }

    /// A key as the tokens file keeps it: `ssh:<kind>:<base64>`.
    ///
    /// # Errors
    /// As [`SshKey::parse_line`].
    pub fn parse_word(word: &str) -> Result<SshKey, String> {
        let (kind, blob) = word
            .strip_prefix(WORD_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .ok_or("expected ssh:<kind>:<base64 key>")?;
        SshKey::parse_parts(kind, blob)
    }

    fn parse_parts(kind: &str, blob: &str) -> Result<SshKey, String> {
        if kind != ED25519 {
            let kind = kind.chars().take(40).collect::<String>();
            return Err(format!(
                "an SSH key of kind {kind:?} is not taken: ferry's SSH verifies \
                 ssh-ed25519 keys only (make one with `ssh-keygen -t ed25519`)"
            ));
        }
        let bytes = STANDARD
            .decode(blob)
            .map_err(|_| "the key is not base64: was the line cut or changed?")?;
        SshKey::from_blob(&bytes).ok_or_else(|| {
            "the key's bytes are not an ssh-ed25519 key: was the line cut or changed?".into()
        })
    }

    /// The key of an SSH wire blob: `string kind, string key`.
    fn from_blob(blob: &[u8]) -> Option<SshKey> {
        let (kind, rest) = wire_string(blob)?;
        let (key, rest) = wire_string(rest)?;
        if kind != ED25519.as_bytes() || !rest.is_empty() {
            return None;
        }
        Some(SshKey::Ed25519(key.try_into().ok()?))
    }

    /// The key as the SSH wire carries it (what fingerprints digest).
    fn blob(&self) -> Vec<u8> {
        let SshKey::Ed25519(key) = self;
        let mut blob = Vec::with_capacity(51);
        for part in [ED25519.as_bytes(), key] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            blob.extend_from_slice(&len.to_be_bytes());
            blob.extend_from_slice(part);
        }
        blob
    }

    /// `SHA256:<base64>`, as `ssh-keygen -lf` prints it.
    pub fn fingerprint(&self) -> String {
        format!(
            "SHA256:{}",
            STANDARD_NO_PAD.encode(Sha256::digest(self.blob()))
        )
    }

    /// The key's kind, as OpenSSH names it.
    pub fn kind(&self) -> &'static str {
        ED25519
    }

    /// The tokens file's word for the key (see the module's docs).
    pub fn word(&self) -> String {
        format!(
            "{WORD_PREFIX}{}:{}",
            self.kind(),
            STANDARD.encode(self.blob())
        )
    }

    /// Whether `text` names this key: its fingerprint, or the key itself
    /// (a line or the file's word).
    pub fn is_named_by(&self, text: &str) -> bool {
        let text = text.trim();
        text == self.fingerprint()
            || SshKey::parse_line(text).is_ok_and(|key| key == *self)
            || SshKey::parse_word(text).is_ok_and(|key| key == *self)
    }
}

impl fmt::Debug for SshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SshKey({} {})", self.kind(), self.fingerprint())
    }
}

impl Access {
    /// The holder of SSH key `key` (sunset has verified the client holds
    /// its private half, or is asking whether it would do) logging in as
    /// `user` from `peer` (see [`super::Table::find_ssh_key`]). A throttled
    /// address is refused, keys or not, as for a token.
    ///
    /// An unknown key is not counted against the address: nothing secret
    /// can be guessed with public keys (a key that logs in needs its
    /// private half, and the signature is checked before this is asked),
    /// and an OpenSSH client offers each key its agent holds, one by one,
    /// before the one that fits: counting them would lock out a user with
    /// a few keys, or a few such users behind one address. The session
    /// bounds how many keys one connection may offer (`ssh/events.rs`).
    ///
    /// # Errors
    /// [`Rejection::UnknownKey`], [`Rejection::Throttled`].
    pub fn authenticate_key(
        &self,
        key: &SshKey,
        user: &str,
        peer: IpAddr,
    ) -> Result<Arc<Principal>, Rejection> {
        let Some(tokens) = &self.tokens else {
            return Err(Rejection::UnknownKey);
        };
        self.throttle
            .attempt(peer)
            .admit(Instant::now())
            .map_err(Rejection::Throttled)?;
        let table = Arc::clone(&tokens.table.read().unwrap_or_else(PoisonError::into_inner));
        table.find_ssh_key(key, user)
    }
}

/// One SSH wire string (`uint32 length, bytes`) from the front of `bytes`,
/// and the rest.
fn wire_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    (len <= rest.len()).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key `ssh-keygen -t ed25519` made, and what `ssh-keygen -lf` says
    /// of it.
    const LINE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFO5Ym6DSh30pR1+RUa5Umh4n2+yU/ruLRop0x/yv+d alice@laptop";
    const FINGERPRINT: &str = "SHA256:/ph5gogKn5K/Si1vVtHQGs2abP/YK0poWViLRlRTerQ";

    #[test]
    fn a_line_is_read_and_fingerprinted_as_ssh_keygen_does() {
        let key = SshKey::parse_line(LINE).unwrap();
        assert_eq!(key.fingerprint(), FINGERPRINT);
        assert_eq!(SshKey::parse_word(&key.word()).unwrap(), key);
        assert!(key.word().starts_with("ssh:ssh-ed25519:AAAAC3"));
        assert!(key.is_named_by(FINGERPRINT));
        assert!(key.is_named_by(LINE));
        assert!(!key.is_named_by("SHA256:other"));
    }

    #[test]
    fn what_is_not_a_key_says_what_it_is() {
        for (text, says) in [
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl", "private key"),
            (
                "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ user",
                "ssh-ed25519 keys only",
            ),
            ("hello", "not an SSH public key"),
            ("ssh-ed25519 not*base64", "not base64"),
            (
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFO5Ym6",
                "not an ssh-ed25519 key",
            ),
            // The blob of another kind under the ed25519 name.
            (
                "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB",
                "not an ssh-ed25519 key",
            ),
        ] {
            let err = SshKey::parse_line(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
        assert!(SshKey::parse_word("ssh:ssh-ed25519").is_err());
    }

    /// A tokens file with keys: read back whole; a key logs in as its
    /// token under any user name but another token's; one key, one token.
    #[test]
    fn keys_on_tokens_find_their_token_only() {
        use crate::access::Rejection;
        use crate::access::tokens::{Table, TokensFile};
        let key = SshKey::parse_line(LINE).unwrap();
        let digest = |c: char| c.to_string().repeat(64);
        let old = format!(
            "alice sha256:{} read:/\nbob sha256:{} read:/\n",
            digest('a'),
            digest('b')
        );
        let mut file = TokensFile::parse(&old).unwrap();
        file.entries[0].ssh_keys.push(key);
        let text = file.render();
        assert!(
            text.contains(&format!(" {} read:/\n", key.word())),
            "{text}"
        );
        assert_eq!(TokensFile::parse(&text).unwrap(), file);

        let table = Table::new(file.clone(), 1);
        let as_user = |user| table.find_ssh_key(&key, user).map(|p| p.entry.name.clone());
        assert_eq!(as_user("alice").unwrap(), "alice");
        assert_eq!(as_user("someone").unwrap(), "alice");
        assert_eq!(as_user("bob"), Err(Rejection::UnknownKey));
        let other = SshKey::Ed25519([7; 32]);
        assert!(table.find_ssh_key(&other, "alice").is_err());

        file.entries[1].ssh_keys.push(key);
        let err = TokensFile::parse(&file.render()).unwrap_err();
        assert!(err.contains("appears twice"), "{err}");
    }
}
