//! The `ferry` command line (docs/cli.md) as a user runs it, against a
//! real server on 127.0.0.1 with temporary folders:
//!
//! - `commands`: put, get, ls, stat, rm, their output and exit codes;
//! - `edges`, `more_edges`, `misuse`: rough edges new users hit;
//! - `transfers`: one read per upload, times kept, `--limit-rate`,
//!   `--connect-timeout`, `--max-time`, `put -`;
//! - `folders`: `put -r` and `get -r`; `sync`: ls, mv, rm -r, sync;
//! - `resume`: `--resume` through a proxy that cuts connections;
//!   `verify`: every download checked against the server's CRC-32C;
//! - `progress`: bars and `--verbose`; `sessions`: `ferry sessions`;
//! - `shares`: `ferry share`, its list and rm, links fetched over HTTP;
//! - `bench`: `ferry bench` against tokens and TLS;
//! - `serve_doc`: docs/serve.md against `serve --help`, flag by flag;
//! - `tls_errors`: a certificate the client cannot accept, in words.
//!
//! Built with the `client` feature only. One module alone: `cargo test
//! --test cli resume::`.

#[path = "../support/binary.rs"]
mod binary;
#[path = "../support/mod.rs"]
mod support;

mod bench;
mod commands;
mod edges;
mod folders;
mod misuse;
mod more_edges;
mod progress;
mod resume;
mod serve_doc;
mod sessions;
mod shares;
mod sync;
mod tls_errors;
mod transfers;
mod verify;
