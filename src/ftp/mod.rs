//! FTP (RFC 959, with RFC 2389's FEAT and RFC 3659's SIZE and MDTM): the
//! protocol of cameras, scanners, data loggers and old scripts, on the
//! same reactors as every other listener (`ferry serve --ftp ADDR`).
//!
//! ```text
//! command.rs   a command line, parsed sans-IO
//! path.rs      FTP paths as ferry names (the working folder, `..`)
//! control.rs   the control connection's codec: login, commands as operations
//! ```
//!
//! A codec like FERRY/1's and HTTP's: commands become the serve layer's
//! operations, so every rule (grants, locks, quotas, hooks, the access
//! log) is the one every protocol passes. Data connections (PASV, LIST,
//! RETR, STOR) come next (issue 53).

pub mod command;
pub mod control;
pub mod path;

pub use control::{Control, holds_whole_head};
