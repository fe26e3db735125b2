//! SFTP (version 3, as OpenSSH's sftp-server speaks it; docs/sftp.md):
//! what `sftp`, `scp` (SFTP mode, OpenSSH 9 and later), sshfs and rclone
//! speak, carried by the SSH session's channel (`crate::ssh`), on the same
//! reactors as every other listener (`ferry serve --sftp ADDR`).
//!
//! ```text
//! wire.rs    packets, fields and answers, sans-IO
//! codec.rs   a session: requests as operations, replies as answers, handles
//! handles.rs a session's open files and folders, by handle
//! listing.rs a folder's entries for READDIR, a page at a time
//! uploads.rs files written: an upload session per open file, committed on CLOSE
//! ```
//!
//! A codec like FTP's: requests become the serve layer's operations, so
//! every rule (grants, locks, quotas, hooks, the access log) is the one
//! every protocol passes.

pub mod codec;
mod handles;
mod listing;
mod uploads;
pub mod wire;

pub use codec::{Sftp, holds_whole_packet};
