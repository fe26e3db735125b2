//! FTP (RFC 959, with RFC 2389's FEAT and RFC 3659's SIZE, MDTM and MLST): the
//! protocol of cameras, scanners, data loggers and old scripts, on the
//! same reactors as every other listener (`ferry serve --ftp ADDR`).
//!
//! ```text
//! command.rs   a command line, parsed sans-IO
//! path.rs      FTP paths as ferry names (the working folder, `..`)
//! reply.rs     the words of replies: codes, addresses, facts, times
//! control/     the control connection's codec: login, commands as operations
//!   verbs.rs   which method serves each verb, and what a login gates
//! extensions.rs FEAT and OPTS: the extensions offered, and their options chosen
//! facts.rs     SIZE, MDTM, MLST, MFMT and STAT: facts without a data connection
//! listing.rs   LIST (`ls -l`), NLST and MLSD lines; MLST's and STAT <path>'s
//! glob.rs      LIST's and NLST's wildcards (`NLST *.csv`: mget's)
//! transfer.rs  its transfers handed to the data connection, and what comes back
//! data.rs      a data connection's codec: the transfer it is handed, reported back
//! passive.rs   the passive port range and the order its ports are tried in
//! security.rs  FTPS: AUTH TLS, PBSZ, PROT, and --ftp-require-tls
//! terms.rs     what a control connection is offered (TLS, active mode), where its TLS stands
//! active.rs    active mode: PORT and EPRT, to the client's own address only
//! ```
//!
//! A codec like FERRY/1's and HTTP's: commands become the serve layer's
//! operations, so every rule (grants, locks, quotas, hooks, the access
//! log) is the one every protocol passes. A transfer is an operation
//! handed to the data connection, which the reactor pairs with its control
//! connection (`server/reactor/links.rs`).

mod active;
pub mod command;
pub mod control;
pub mod data;
mod extensions;
mod facts;
mod glob;
pub mod listing;
pub mod passive;
pub mod path;
mod reply;
mod security;
mod terms;
mod transfer;

pub use command::is_abort;
pub use control::{Control, holds_whole_head};
pub use data::Data;
pub use passive::parse_port_range;
pub use terms::{Terms, TlsOffer};
