//! The SSH host key: an OpenSSH ed25519 private key file named by
//! `--ssh-host-key`, or, without one, a key ferry makes on its first start
//! and keeps under the root (`.ferry-ssh/ssh_host_ed25519_key`, mode 0600),
//! so that clients see the same host on every start and on every node
//! sharing the root. Its fingerprint is printed as `ssh-keygen -lf` prints
//! it (`SHA256:` and unpadded base64), for users to check on first connect.
//!
//! A key another node made first is the one kept: a new key is written to
//! a temp file and linked into place, which fails if a key is already
//! there, and the one there is read instead.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};

/// The folder under the root that holds the key ferry made.
pub const SSH_DIR: &str = ".ferry-ssh";

/// The key's file in [`SSH_DIR`] (OpenSSH's name for it).
const KEY_FILE: &str = "ssh_host_ed25519_key";

/// A host key, loaded or made, and its fingerprint.
pub struct HostKey {
    /// The key sessions sign their key exchange with.
    pub key: sunset::SignKey,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// Where it is kept.
    pub path: PathBuf,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HostKey({} at {})",
            self.fingerprint,
            self.path.display()
        )
    }
}

impl HostKey {
    /// The key in `file` (`--ssh-host-key`), or else the root's own, made
    /// now if it has none.
    ///
    /// # Errors
    /// The file cannot be read, is not an unencrypted ed25519 key, or (for
    /// the root's own) cannot be written.
    pub fn load_or_make(file: Option<&Path>, root: &Path) -> Result<HostKey, String> {
        if let Some(file) = file {
            return HostKey::load(file);
        }
        let path = root.join(SSH_DIR).join(KEY_FILE);
        match fs::metadata(&path) {
            Ok(_) => HostKey::load(&path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => HostKey::make(&path),
            Err(err) => Err(format!("the SSH host key {}: {err}", path.display())),
        }
    }

    /// The key in `path`.
    ///
    /// # Errors
    /// As for [`HostKey::load_or_make`].
    pub fn load(path: &Path) -> Result<HostKey, String> {
        let named = |what: String| format!("the SSH host key {}: {what}", path.display());
        let text = fs::read_to_string(path).map_err(|err| named(err.to_string()))?;
        let key = PrivateKey::from_openssh(&text).map_err(|err| named(err.to_string()))?;
        if key.is_encrypted() {
            return Err(named(
                "encrypted with a passphrase (ferry reads keys without one)".into(),
            ));
        }
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(named(format!(
                "an {} key (ferry serves ed25519: ssh-keygen -t ed25519)",
                key.algorithm()
            )));
        }
        HostKey::of(key, path)
    }

    /// Makes a key, keeps it at `path` unless another node was first, and
    /// returns the one kept.
    fn make(path: &Path) -> Result<HostKey, String> {
        let named = |what: String| format!("the SSH host key {}: {what}", path.display());
        let seed = crate::access::tokens::random::<32>().map_err(|err| named(err.to_string()))?;
        let pair = ssh_key::private::Ed25519Keypair::from_seed(&seed);
        let key = PrivateKey::from(pair);
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(|err| named(err.to_string()))?;
        match keep(path, text.as_bytes()) {
            Ok(()) => {
                log::info!("made the SSH host key {}", path.display());
                HostKey::of(key, path)
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => HostKey::load(path),
            Err(err) => Err(named(err.to_string())),
        }
    }

    fn of(key: PrivateKey, path: &Path) -> Result<HostKey, String> {
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        let key = sunset::SignKey::try_from(key)
            .map_err(|err| format!("the SSH host key {}: {err}", path.display()))?;
        Ok(HostKey {
            key,
            fingerprint,
            path: path.to_owned(),
        })
    }
}

/// Writes `bytes` to `path` (mode 0600), durably, failing with
/// `AlreadyExists` if a file is there: written whole to a temp file
/// beside it first, then linked into place.
fn keep(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    // Named at random, made only if new: two nodes with one pid (pid 1 in
    // containers) never write one file.
    let suffix = u64::from_be_bytes(crate::access::tokens::random::<8>()?);
    let temp = dir.join(format!(".{KEY_FILE}.{suffix:016x}"));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::hard_link(&temp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    let _ = fs::remove_file(&temp);
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_made_is_kept_and_read_back_the_same() {
        let root = tempfile::tempdir().unwrap();
        let made = HostKey::load_or_make(None, root.path()).unwrap();
        assert!(
            made.fingerprint.starts_with("SHA256:"),
            "{}",
            made.fingerprint
        );
        assert!(!made.fingerprint.ends_with('='));
        let again = HostKey::load_or_make(None, root.path()).unwrap();
        assert_eq!(made.fingerprint, again.fingerprint);
        let path = root.path().join(SSH_DIR).join(KEY_FILE);
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        let left: Vec<_> = fs::read_dir(root.path().join(SSH_DIR)).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file is left");
    }

    #[test]
    fn a_file_that_is_no_key_is_refused_by_name() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("not-a-key");
        fs::write(&file, "hello").unwrap();
        let err = HostKey::load_or_make(Some(&file), root.path()).unwrap_err();
        assert!(err.contains("not-a-key"), "{err}");
    }
}
