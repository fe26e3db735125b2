//! FTP on the wire (docs/ftp.md), over real sockets:
//!
//! - `control`: the control connection byte for byte: the login by token,
//!   the working folder, the commands that change the root, grants on
//!   each, garbage and an endless line;
//! - `transfers`: the data connection (`PASV`, `RETR`, `LIST`, `NLST`).
//!
//! The real clients (Python's ftplib): `tests/clients/ftp.rs`.

#[path = "../support/mod.rs"]
mod support;

mod control;
mod transfers;
