//! FTP on the wire (docs/ftp.md), over real sockets:
//!
//! - `control`: the control connection byte for byte: the login by token,
//!   the working folder, the commands that change the root, grants on
//!   each, garbage and an endless line;
//! - `transfers`: the data connection (`PASV`, `RETR`, `LIST`, `NLST`);
//! - `passive`: where it is listened for (the port range, the address
//!   behind NAT) and a data connection that never comes;
//! - `active`: active mode (`PORT`, `EPRT`) and the FTP bounce refused;
//! - `tls`: FTPS (`AUTH TLS`, `PROT P`, `--ftp-require-tls`);
//! - `wire`: the tests' one FTP client.
//!
//! The real clients (Python's ftplib): `tests/clients/ftp.rs`.

#[path = "../support/mod.rs"]
mod support;

mod active;
mod control;
mod passive;
mod tls;
mod transfers;
mod wire;
