//! SFTP (version 3, as OpenSSH's sftp-server speaks it; docs/sftp.md):
//! what `sftp`, `scp` (SFTP mode, OpenSSH 9 and later), sshfs and rclone
//! speak, carried by the SSH session's channel (`crate::ssh`), on the same
//! reactors as every other listener (`ferry serve --sftp ADDR`).
//!
//! ```text
//! wire.rs    packets, fields and answers, sans-IO
//! codec.rs   a session: requests as operations, replies as answers, handles
//! handles.rs a session's open files and folders, by handle
//! changes.rs REMOVE, MKDIR, RMDIR, RENAME, SETSTAT: the tree's changes
//! extended.rs OpenSSH's extensions: posix-rename, statvfs, limits
//! listing.rs a folder's entries for READDIR, a page at a time
//! pinned.rs  a READ's bytes only from the version its OPEN found
//! uploads.rs files written: an upload session per open file, committed on CLOSE
//! ```
//!
//! A codec like FTP's: requests become the serve layer's operations, so
//! every rule (grants, locks, quotas, hooks, the access log) is the one
//! every protocol passes.

mod changes;
pub mod codec;
mod extended;
mod handles;
mod listing;
mod pinned;
mod uploads;
pub mod wire;

pub use codec::Sftp;
pub use wire::holds_whole_packet;
