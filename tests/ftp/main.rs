//! FTP on the wire (docs/ftp.md), over real sockets:
//!
//! - `control`: the control connection byte for byte: the login by token,
//!   the working folder, the commands that change the root, grants on
//!   each, garbage and an endless line;
//! - `transfers`: the data connection (`PASV`, `RETR`, `STOR`, `LIST`,
//!   `NLST`, `MLSD`), traversal;
//! - `passive`: where it is listened for (the port range, the address
//!   behind NAT) and a data connection that never comes;
//! - `resume`: a `STOR` cut off kept, and `REST` + `STOR`, `APPE`, `SIZE`
//!   going on with it;
//! - `active`: active mode (`PORT`, `EPRT`) and the FTP bounce refused;
//! - `tls`: FTPS (`AUTH TLS`, `PROT P`, `--ftp-require-tls`);
//! - `balancer`: control and data connections through a load balancer
//!   (PROXY headers), a data connection naming another client refused.
//!
//! The tests' one FTP client is `tests/support/ftp.rs`; the real clients
//! (ftplib, curl, lftp, wget, rclone): `tests/clients/ftp.rs`,
//! `tests/clients/ftp_trees.rs`.

#[path = "../support/mod.rs"]
mod support;

mod active;
mod balancer;
mod control;
mod passive;
mod resume;
mod tls;
mod transfers;
