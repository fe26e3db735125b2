//! SFTP over SSH (docs/sftp.md), over real sockets, with OpenSSH's own
//! clients (`sftp`, `scp`, `ssh`; `tests/support/sftp.rs`):
//!
//! - `logins`: SSH keys on tokens (`ferry token add --ssh-key`, `token
//!   key`), `anonymous`, the throttle, the login grace time;
//! - `openssh`: logins (open, a token as the password, a wrong one),
//!   reading files and folders' facts, `scp`, a shell or command refused
//!   with a message, the host key kept and shown as `ssh-keygen` shows it,
//!   the exit status (0 only where the client ended the session);
//! - `writes`: paramiko's writes anywhere in a file (random offsets, out
//!   of order, pipelined), a quota, a file never closed;
//! - `clients`: sshfs, rclone's and restic's sftp backends, paramiko, and
//!   SFTP and HTTP on the same files;
//! - `attacks`: a huge packet length, many connections from one address,
//!   a client that never reads its answers (paramiko, `window.py`), paths
//!   and symlinks out of the root, legacy `scp` and forwarding;
//! - `packets`: the SFTP codec on generated packets (its invariants shared
//!   with the `sftp_packets` fuzz target);
//! - `ssh_input`: the SSH session on generated input, random and
//!   clear-text handshakes (its invariants shared with the `ssh_input`
//!   fuzz target);
//! - `rest`: a session that gave back its packet buffers' memory at rest
//!   lists, gets, puts and rekeys as before.
#![cfg(feature = "sftp")] // built with what it tests (Cargo.toml [features])

#[path = "../support/mod.rs"]
mod support;

mod attacks;
mod clients;
mod logins;
mod openssh;
mod packets;
mod rest;
mod ssh_input;
mod writes;
