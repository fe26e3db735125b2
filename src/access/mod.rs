//! Access control's state: the tokens in force (re-read on SIGHUP), what
//! clients without a token may do, and the failed-authentication throttle.
//! It answers "who is this" ([`Who`]) and "may they" (per name or listing
//! prefix); which operation needs which permission, and what a refusal
//! says, is the serve layer's (`serve/access.rs`), written once for every
//! protocol.
//!
//! - [`grants`]: `read|write|delete` on a folder, and matching names.
//! - [`tokens`]: tokens, their digests and the tokens file.
//! - [`throttle`]: failed authentications per address.
//! - [`client_key`]: the key an address counts under in per-client limits.
//!
//! A token never appears in a log line: it travels as a [`Secret`], whose
//! `Debug` hides it, and only its digest is kept.

pub mod client_key;
pub mod grants;
pub mod throttle;
pub mod tokens;

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use log::{error, info, warn};

pub use grants::{Grant, Grants, Perm};
use throttle::Throttle;
pub use tokens::{Principal, Table, TokensFile};

/// A token as a client presented it. Its `Debug` and `Display` never show
/// it, so no log line can.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a presented token.
    pub fn new(token: String) -> Secret {
        Secret(token)
    }

    /// The token itself, to be digested.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Access-control settings.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// The tokens file; `None`: access control is off and everyone may do
    /// everything.
    pub tokens: Option<PathBuf>,
    /// What clients that present no token may do (with `tokens` only).
    pub anonymous: Vec<Grant>,
    /// Serve a non-loopback address without tokens anyway.
    pub no_auth: bool,
}

/// Who a request is from, as far as permissions go.
#[derive(Debug, Clone)]
pub enum Who {
    /// Access control is off: everything is allowed.
    Everyone,
    /// No token presented: the anonymous grants.
    Anonymous(Arc<Grants>),
    /// A token's holder.
    Holder(Arc<Principal>),
}

impl Who {
    /// The grants that apply; `None` when everything is allowed.
    fn grants(&self) -> Option<&Grants> {
        match self {
            Who::Everyone => None,
            Who::Anonymous(grants) => Some(grants),
            Who::Holder(principal) => Some(&principal.entry.grants),
        }
    }

    /// Whether `perm` is allowed on the file `name`.
    pub fn allows(&self, perm: Perm, name: &str) -> bool {
        self.grants().is_none_or(|g| g.allows(perm, name))
    }

    /// Whether a listing of `prefix` may show anything (see
    /// [`Grants::may_list`]).
    pub fn may_list(&self, prefix: &str) -> bool {
        self.grants().is_none_or(|g| g.may_list(prefix))
    }

    /// Whether this is a client that presented a token.
    pub fn is_holder(&self) -> bool {
        matches!(self, Who::Holder(_))
    }

    /// Whether access control is off.
    pub fn is_everyone(&self) -> bool {
        matches!(self, Who::Everyone)
    }

    /// The token's name, for logs.
    pub fn name(&self) -> Option<&str> {
        match self {
            Who::Holder(principal) => Some(&principal.entry.name),
            _ => None,
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No token in force has this digest.
    Unknown,
    /// The token was valid once but has been removed (SIGHUP).
    Revoked,
    /// Too many failures from this address: try again after this long.
    Throttled(Duration),
}

/// The tokens file and the table read from it, shared with the thread
/// that re-reads it.
#[derive(Debug)]
struct Tokens {
    path: PathBuf,
    table: RwLock<Arc<Table>>,
    /// The table's generation, readable without the lock.
    generation: AtomicU64,
}

/// Access control for one server.
#[derive(Debug)]
pub struct Access {
    /// `None`: off.
    tokens: Option<Arc<Tokens>>,
    anonymous: Arc<Grants>,
    throttle: Mutex<Throttle>,
}

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

/// Reads and parses a tokens file (blocking: at start-up, or on the
/// reloading thread).
fn read_tokens(path: &Path) -> Result<TokensFile, String> {
    let text = std::fs::read_to_string(path).map_err(|err| err.to_string())?;
    TokensFile::parse(&text)
}

impl Access {
    /// Access control as `config` sets it, the tokens file read now.
    ///
    /// # Errors
    /// The tokens file cannot be read or is malformed.
    pub fn new(config: &AccessConfig) -> io::Result<Access> {
        let tokens = match &config.tokens {
            None => None,
            Some(path) => {
                let file = read_tokens(path).map_err(|err| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("tokens file {}: {err}", path.display()),
                    )
                })?;
                info!(
                    "access control on: {} tokens from {}, {} anonymous grants",
                    file.entries.len(),
                    path.display(),
                    config.anonymous.len()
                );
                Some(Arc::new(Tokens {
                    path: path.clone(),
                    table: RwLock::new(Arc::new(Table::new(file, 1))),
                    generation: AtomicU64::new(1),
                }))
            }
        };
        Ok(Access {
            tokens,
            anonymous: Arc::new(Grants::new(config.anonymous.clone())),
            throttle: Mutex::default(),
        })
    }

    /// Whether access control is on.
    pub fn is_on(&self) -> bool {
        self.tokens.is_some()
    }

    /// Re-reads the tokens file on a thread of its own (the event loop
    /// never waits on the disk); the new table applies to every request
    /// from then on, connections already authenticated included. A file
    /// that cannot be read or parsed leaves the old table in force.
    pub fn reload_in_background(&self) {
        let Some(tokens) = &self.tokens else {
            return;
        };
        let tokens = Arc::clone(tokens);
        let spawned = std::thread::Builder::new()
            .name("ferry-reload".into())
            .spawn(move || match read_tokens(&tokens.path) {
                Ok(file) => {
                    let generation = tokens.generation.load(Ordering::Relaxed) + 1;
                    let count = file.entries.len();
                    let table = Arc::new(Table::new(file, generation));
                    *tokens.table.write().unwrap_or_else(PoisonError::into_inner) = table;
                    tokens.generation.store(generation, Ordering::Release);
                    info!("tokens reloaded: {count} from {}", tokens.path.display());
                }
                Err(err) => error!(
                    "tokens file {} not reloaded, the old tokens stay in force: {err}",
                    tokens.path.display()
                ),
            });
        if let Err(err) = spawned {
            error!("tokens not reloaded: cannot start a thread: {err}");
        }
    }

    /// Who a client is that holds `held` (a token it authenticated with
    /// earlier on this connection) or nothing. A held token that a reload
    /// removed is dropped and rejected; one whose grants changed gets the
    /// new grants.
    ///
    /// # Errors
    /// [`Rejection::Revoked`].
    pub fn identify(&self, held: &mut Option<Arc<Principal>>) -> Result<Who, Rejection> {
        let Some(tokens) = &self.tokens else {
            return Ok(Who::Everyone);
        };
        let Some(principal) = held else {
            return Ok(Who::Anonymous(Arc::clone(&self.anonymous)));
        };
        if principal.generation != tokens.generation.load(Ordering::Acquire) {
            let table = Arc::clone(&tokens.table.read().unwrap_or_else(PoisonError::into_inner));
            match table.find(&principal.entry.digest) {
                Some(current) => *principal = current,
                None => {
                    *held = None;
                    return Err(Rejection::Revoked);
                }
            }
        }
        Ok(Who::Holder(Arc::clone(principal)))
    }

    /// The holder of `token`, presented by a client at `peer`; failures
    /// count against the address (see [`throttle`]).
    ///
    /// # Errors
    /// The token is unknown, or the address must wait.
    pub fn authenticate(&self, token: &Secret, peer: IpAddr) -> Result<Arc<Principal>, Rejection> {
        let Some(tokens) = &self.tokens else {
            return Err(Rejection::Unknown);
        };
        let now = Instant::now();
        let mut throttle = self.throttle.lock().unwrap_or_else(PoisonError::into_inner);
        throttle.admit(peer, now).map_err(Rejection::Throttled)?;
        let digest = tokens::digest(token.expose());
        let table = Arc::clone(&tokens.table.read().unwrap_or_else(PoisonError::into_inner));
        match table.find(&digest) {
            Some(principal) => Ok(principal),
            None => {
                throttle.failed(peer, now);
                Err(Rejection::Unknown)
            }
        }
    }
}
