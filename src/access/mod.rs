//! Access control's state: the tokens in force (re-read on SIGHUP, one
//! reload at a time, so the newest read is the one in force), what
//! clients without a token may do, and the failed-authentication throttle.
//! It answers "who is this" ([`Who`]) and "may they" (per name or listing
//! prefix); which operation needs which permission, and what a refusal
//! says, is the serve layer's (`serve/access.rs`), written once for every
//! protocol.
//!
//! - [`grants`]: `read|write|delete` on a folder, and matching names.
//! - [`tokens`]: tokens, their digests and the tokens file.
//! - [`ssh_keys`]: the SSH public keys that log in as a token.
//! - [`quota`]: how much a token's uploads or a folder may hold.
//! - [`throttle`]: failed authentications per address.
//! - [`client_key`]: the key an address counts under in per-client limits.
//! - `exposure.rs`: no open server where other hosts can reach it.
//!
//! A token never appears in a log line: it travels as a [`Secret`], whose
//! `Debug` hides it, and only its digest is kept.

pub mod client_key;
mod exposure;
pub mod grants;
pub mod per_client;
pub mod quota;
pub mod sigv2;
pub mod sigv4;
pub mod ssh_keys;
pub mod throttle;
pub mod tokens;

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use log::{error, info};

pub use exposure::check_exposure;
pub use grants::{Grant, Grants, Perm};
use throttle::Throttle;

use crate::threads::reload::Serial;
pub use tokens::{Principal, Table, TokensFile};

/// What a client presented to say who it is: a token, or a request
/// signed with an S3 key (SigV4 or SigV2). Its `Debug` and `Display` never show a
/// token, so no log line can.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Presented);

/// The kinds of credential a request can carry.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented {
    /// A ferry token (FERRY/1's `AUTH`, HTTP's `Authorization`).
    Token(String),
    /// An S3 request's signature, to be checked with the key's secret.
    Signed(Box<sigv4::Signed>),
    /// An S3 request's SigV2 signature, likewise.
    SignedV2(Box<sigv2::SignedV2>),
}

impl Secret {
    /// Wraps a presented token.
    pub fn new(token: String) -> Secret {
        Secret(Presented::Token(token))
    }

    /// Wraps a signed S3 request's credential.
    pub fn signed(signed: sigv4::Signed) -> Secret {
        Secret(Presented::Signed(Box::new(signed)))
    }

    /// Wraps a request's SigV2 credential.
    pub fn signed_v2(signed: sigv2::SignedV2) -> Secret {
        Secret(Presented::SignedV2(Box::new(signed)))
    }

    /// The token itself, to be digested (empty for a signature).
    pub fn expose(&self) -> &str {
        match &self.0 {
            Presented::Token(token) => token,
            Presented::Signed(_) | Presented::SignedV2(_) => "",
        }
    }

    /// What was presented.
    pub fn presented(&self) -> &Presented {
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

    /// Whether `perm` may apply to something under `prefix` (see
    /// [`Grants::reaches`]).
    pub fn reaches(&self, perm: Perm, prefix: &str) -> bool {
        self.grants().is_none_or(|g| g.reaches(perm, prefix))
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

    /// The token's quota (`quota.rs`), if it has one.
    pub fn quota(&self) -> Option<quota::Quota> {
        match self {
            Who::Holder(principal) => principal.entry.quota,
            _ => None,
        }
    }

    /// Whose share the request counts against (see [`Owner`]); `None`
    /// where access control is off: there are no tokens to share between,
    /// and the per-address caps stand alone.
    pub fn owner(&self) -> Option<Owner> {
        match self {
            Who::Everyone => None,
            Who::Anonymous(_) => Some(Owner {
                name: Owner::ANONYMOUS.to_owned(),
                quota: None,
            }),
            Who::Holder(principal) => Some(Owner {
                name: principal.entry.name.clone(),
                quota: principal.entry.quota,
            }),
        }
    }
}

/// Whose share of the server a client's work counts against, for the caps
/// every token has (upload sessions, running hooks): a token's holder, by
/// the token's name, or all the clients without a token together, as one
/// more token. Strangers have nothing to tell them apart but their
/// address (capped on its own): counted as one, they cannot take more
/// than one token's share, so the holders of tokens always find room.
///
/// It carries the token's quota as the table had it when the request came,
/// for an upload's commit to be judged by; an owner is the same owner
/// whatever its quota (equal, and hashed, by name).
#[derive(Debug, Clone)]
pub struct Owner {
    name: String,
    quota: Option<quota::Quota>,
}

impl PartialEq for Owner {
    fn eq(&self, other: &Owner) -> bool {
        self.name == other.name
    }
}

impl Eq for Owner {}

impl std::hash::Hash for Owner {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl Owner {
    /// The clients without a token, as an owner: no token's name can be
    /// this (see [`tokens::check_token_name`]).
    pub const ANONYMOUS: &str = "(anonymous)";

    /// The token's name, or [`Owner::ANONYMOUS`].
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The token's quota, if it has one.
    pub fn quota(&self) -> Option<quota::Quota> {
        self.quota
    }

    /// The token's name; `None` for the clients without a token.
    pub fn token(&self) -> Option<&str> {
        Some(self.as_str()).filter(|name| *name != Owner::ANONYMOUS)
    }
}

/// How clients log in, as a connection's greeting tells it: whether a
/// token is asked for, and whether a client without one may do anything
/// (the `--anonymous` grants).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Login {
    /// Access control is on: a token is asked for.
    pub tokens: bool,
    /// Some `--anonymous` grant is given.
    pub anonymous: bool,
}

/// The user names that log in without a token (RFC 1635's, for FTP; SSH
/// takes them too), to what the server's `--anonymous` grants allow.
const ANONYMOUS_USERS: [&str; 2] = ["anonymous", "ftp"];

/// Whether `user` is a name that logs in without a token (see
/// [`ANONYMOUS_USERS`]); whatever the password, it never names a token.
pub fn is_anonymous_user(user: &str) -> bool {
    ANONYMOUS_USERS.iter().any(|a| user.eq_ignore_ascii_case(a))
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No token in force has this digest.
    Unknown,
    /// No S3 key in force has this access key id; or no token in force
    /// has this SSH key (for the user name given).
    UnknownKey,
    /// The S3 key is known, and the request's signature is not its.
    BadSignature,
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
    /// Reloads under way and asked for (see [`Tokens::reload`]).
    reloads: Arc<Serial>,
}

/// Access control for one server.
#[derive(Debug)]
pub struct Access {
    /// `None`: off.
    tokens: Option<Arc<Tokens>>,
    anonymous: Arc<Grants>,
    throttle: Throttle,
}

/// Reads and parses a tokens file (blocking: at start-up, or on the
/// reloading thread).
fn read_tokens(path: &Path) -> Result<TokensFile, String> {
    let text = std::fs::read_to_string(path).map_err(|err| err.to_string())?;
    TokensFile::parse(&text)
}

impl Tokens {
    /// Reads the file with `read` and installs its table on a thread of
    /// its own, one reload at a time (see [`Serial`]). Returns the thread
    /// started, if any.
    fn reload<R>(tokens: &Arc<Tokens>, read: R) -> Option<std::thread::JoinHandle<()>>
    where
        R: Fn(&Path) -> Result<TokensFile, String> + Send + 'static,
    {
        let reloader = Arc::clone(tokens);
        Serial::request(&tokens.reloads, "ferry-reload", move || {
            reloader.install(read(&reloader.path));
        })
    }

    /// Puts the table of `read` in force under the next generation (only
    /// the reloading thread calls this).
    fn install(&self, read: Result<TokensFile, String>) {
        match read {
            Ok(file) => {
                let generation = self.generation.load(Ordering::Relaxed) + 1;
                let count = file.entries.len();
                let table = Arc::new(Table::new(file, generation));
                *self.table.write().unwrap_or_else(PoisonError::into_inner) = table;
                self.generation.store(generation, Ordering::Release);
                info!("tokens reloaded: {count} from {}", self.path.display());
            }
            Err(err) => error!(
                "tokens file {} not reloaded, the old tokens stay in force: {err}",
                self.path.display()
            ),
        }
    }
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
                    reloads: Arc::default(),
                }))
            }
        };
        Ok(Access {
            tokens,
            anonymous: Arc::new(Grants::new(config.anonymous.clone())),
            throttle: Throttle::default(),
        })
    }

    /// Whether access control is on.
    pub fn is_on(&self) -> bool {
        self.tokens.is_some()
    }

    /// What a client is told of logging in when it connects.
    pub fn login(&self) -> Login {
        Login {
            tokens: self.is_on(),
            anonymous: self.anonymous.iter().next().is_some(),
        }
    }

    /// Re-reads the tokens file on a thread of its own (the event loop
    /// never waits on the disk); the new table applies to every request
    /// from then on, connections already authenticated included. A file
    /// that cannot be read or parsed leaves the old table in force.
    /// Reloads are serialised (see [`Serial`]).
    pub fn reload_in_background(&self) {
        if let Some(tokens) = &self.tokens {
            Tokens::reload(tokens, read_tokens);
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
        let mut attempt = self.throttle.attempt(peer);
        attempt.admit(now).map_err(Rejection::Throttled)?;
        let table = Arc::clone(&tokens.table.read().unwrap_or_else(PoisonError::into_inner));
        let found = match token.presented() {
            Presented::Token(token) => table.find(&tokens::digest(token)).ok_or(Rejection::Unknown),
            Presented::Signed(signed) => table.verify(signed),
            Presented::SignedV2(signed) => table.verify_v2(signed),
        };
        if found.is_err() {
            attempt.failed(now);
        }
        found
    }

    /// Judges a password `peer` gives (a share link's) as a token's is
    /// judged: refused while the address must wait, and a wrong one
    /// counted, in one step under the address's record, so that many
    /// tries at once cannot all pass before the first is counted.
    ///
    /// # Errors
    /// The address must wait this long.
    #[cfg(feature = "shares")]
    pub fn try_password(
        &self,
        peer: IpAddr,
        matches: impl FnOnce() -> bool,
    ) -> Result<bool, Duration> {
        let now = Instant::now();
        let mut attempt = self.throttle.attempt(peer);
        attempt.admit(now)?;
        let right = matches();
        if !right {
            attempt.failed(now);
        }
        Ok(right)
    }

    /// The holder of the token named `name` in the table in force, if
    /// there is one (a share link's creator).
    #[cfg(feature = "shares")]
    pub fn holder_named(&self, name: &str) -> Option<Arc<Principal>> {
        let tokens = self.tokens.as_ref()?;
        let table = Arc::clone(&tokens.table.read().unwrap_or_else(PoisonError::into_inner));
        table.named(name)
    }

    /// Counts a failed authentication by `peer` found after its request
    /// was admitted (an S3 body's chunk whose signature does not chain):
    /// it slows the address as a bad header signature would, so a guesser
    /// cannot try signatures chunk by chunk for free.
    pub fn failed_later(&self, peer: IpAddr) {
        self.throttle.attempt(peer).failed(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, mpsc};

    use super::*;
    use tokens::{Entry, digest};

    /// A tokens file with one token per name (the name is the token).
    fn file_of(names: &[&str]) -> TokensFile {
        let entries = names.iter().map(|name| Entry {
            name: (*name).to_owned(),
            digest: digest(name),
            s3: None,
            quota: None,
            ssh_keys: Vec::new(),
            grants: Grants::new(Vec::new()),
        });
        TokensFile {
            entries: entries.collect(),
        }
    }

    fn tokens_of(file: TokensFile) -> Arc<Tokens> {
        Arc::new(Tokens {
            path: PathBuf::from("tokens"),
            table: RwLock::new(Arc::new(Table::new(file, 1))),
            generation: AtomicU64::new(1),
            reloads: Arc::default(),
        })
    }

    /// The race of two SIGHUPs: the first reload has read the file and is
    /// held there; the file changes (alice removed) and a second SIGHUP
    /// comes. The table in force at the end is the newest file's, under
    /// the highest generation, and no second reader ran beside the first.
    #[test]
    fn a_reload_during_a_reload_reads_the_file_again_after_it() {
        let tokens = tokens_of(file_of(&["alice", "bob"]));
        let disk = Arc::new(Mutex::new(file_of(&["alice", "bob", "carol"])));
        let (read_done, first_read) = mpsc::channel();
        let (let_go, held) = mpsc::channel::<()>();
        let held = Mutex::new(Some(held));
        let on_disk = Arc::clone(&disk);
        let read = move |_: &Path| {
            let file = on_disk.lock().unwrap().clone();
            read_done.send(()).unwrap();
            if let Some(held) = held.lock().unwrap().take() {
                held.recv().unwrap(); // only the first read is held
            }
            Ok(file)
        };

        let reloader = Tokens::reload(&tokens, read).expect("a thread starts");
        first_read.recv().unwrap();
        *disk.lock().unwrap() = file_of(&["bob", "carol"]);
        let second = Tokens::reload(&tokens, |_: &Path| unreachable!("a second reader ran"));
        assert!(second.is_none(), "folded into the running reload");
        let_go.send(()).unwrap();
        reloader.join().unwrap();

        assert_eq!(first_read.try_iter().count(), 1, "read once more, after");
        let table = tokens.table.read().unwrap();
        assert_eq!(table.generation(), 3);
        assert_eq!(tokens.generation.load(Ordering::Acquire), 3);
        assert!(table.find(&digest("alice")).is_none(), "alice was removed");
        assert!(table.find(&digest("carol")).is_some());
        assert!(
            !tokens.reloads.is_running(),
            "the next SIGHUP starts a thread"
        );
    }

    #[test]
    fn a_reload_that_cannot_read_the_file_keeps_the_table_and_its_generation() {
        let tokens = tokens_of(file_of(&["alice"]));
        let reloader = Tokens::reload(&tokens, |_: &Path| Err("unreadable".to_owned()));
        reloader.unwrap().join().unwrap();
        assert_eq!(tokens.generation.load(Ordering::Acquire), 1);
        let table = tokens.table.read().unwrap();
        assert!(table.find(&digest("alice")).is_some());
    }
}
