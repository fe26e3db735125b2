//! SSH, for SFTP and scp (`--sftp`; docs/sftp.md): the host key
//! (`host_key.rs`) and one connection's session (`session.rs`, its
//! ciphertext taken in by `intake.rs`, a share a turn, the channel's
//! bytes held for the connection by `ahead.rs`, its buffers'
//! memory given back at rest by `rest.rs`), driven by
//! the connection's transport as a TLS session is. sunset (vendor/sunset,
//! patched) does the protocol, sans-IO; this folder answers what it asks:
//! which host key, whether a login is good, which channel runs SFTP.

mod ahead;
mod events;
pub mod host_key;
mod intake;
mod rest;
pub mod session;

use std::io;
use std::sync::Arc;

use crate::access::Access;
use crate::config::Config;
use crate::wire::Protocol;

pub use host_key::HostKey;
pub use session::SshSession;

/// Most bytes a session holds of its own ([`SshSession::held`]),
/// whatever its peer sends: a read's ciphertext sunset has not taken, and
/// the channel's window and one packet's data past it (a client that
/// writes past the window is cut there).
pub const MOST_HELD: usize = intake::READ_MOST + ahead::WINDOW + sunset::config::DEFAULT_MAX_PACKET;

/// What every SSH session of a server shares.
#[derive(Debug)]
pub struct SshTerms {
    /// The key sessions prove the host with.
    pub host_key: HostKey,
    /// Tokens and grants: whom a login lets in.
    pub access: Arc<Access>,
}

impl SshTerms {
    /// What SSH sessions share where `config` serves SFTP (`None`
    /// elsewhere): the host key (`--ssh-host-key`, or the root's own, made
    /// now if it has none) and the server's access control.
    ///
    /// # Errors
    /// The host key cannot be read or made.
    pub fn serving(config: &Config, access: &Arc<Access>) -> io::Result<Option<Arc<SshTerms>>> {
        if !config
            .listeners
            .iter()
            .any(|l| l.protocol == Protocol::Sftp)
        {
            return Ok(None);
        }
        let host_key = HostKey::load_or_make(config.ssh_host_key.as_deref(), &config.root)
            .map_err(io::Error::other)?;
        Ok(Some(Arc::new(SshTerms {
            host_key,
            access: Arc::clone(access),
        })))
    }
}
