//! The one refusal made before a server starts: no address other hosts
//! can reach is served without access control, unless the operator says
//! so (`--no-auth`).

use std::io;
use std::net::SocketAddr;

use log::warn;

use super::AccessConfig;

/// Refuses to serve an address other hosts can reach without access
/// control, unless the operator said `--no-auth` (then warns): an open
/// ferry lets anyone who reaches it read, write and delete every file.
///
/// # Errors
/// A non-loopback address without tokens and without `no_auth`; anonymous
/// grants without tokens (they would mean nothing).
pub fn check_exposure(addrs: &[SocketAddr], config: &AccessConfig) -> io::Result<()> {
    if config.tokens.is_some() {
        return Ok(());
    }
    if !config.anonymous.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--anonymous grants need --tokens (without it everyone may do everything)",
        ));
    }
    let Some(exposed) = addrs.iter().find(|addr| !addr.ip().is_loopback()) else {
        return Ok(());
    };
    if !config.no_auth {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing to serve {exposed} without access control: anyone who can reach it \
                 could read, write and delete every file. Give --tokens FILE (see `ferry token \
                 add`), or --no-auth to serve it open anyway"
            ),
        ));
    }
    warn!(
        "serving {exposed} with no access control (--no-auth): anyone who can reach it may read, write and delete every file"
    );
    Ok(())
}
