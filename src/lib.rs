//! ferry: a file-transfer server on one thread, and its client.
//!
//! Clients upload, download, list, stat and delete files over FERRY/1, a
//! line-oriented protocol with length-delimited binary bodies (see
//! PROTOCOL.md). One `mio` event loop serves thousands of connections; each
//! connection is a small state machine in a slab.
//!
//! # Layout
//!
//! - [`name`]: file names: percent-encoding and the naming rules (pure).
//! - [`protocol`]: the FERRY/1 codec: request lines in, responses out (sans-IO).
//! - [`storage`]: the root-directory jail and atomic uploads.
//! - [`socket`]: nonblocking socket calls mapped to outcomes.
//! - [`http`]: the HTTP/1.1 codec (sans-IO), served beside FERRY/1.
//! - [`connection`]: the per-connection state machine.
//! - [`server`]: the reactor: poll loop, slab, accept, timeouts, shutdown.
//! - [`config`]: server settings and their defaults.
//! - [`client`]: a blocking client, used by the CLI and the tests.
//! - [`bench`]: the `ferry bench` load generator (a mio client).
//! - [`cli`]: the `ferry` command line (`main.rs` only calls into it).

#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod client;
pub mod config;
pub mod connection;
pub mod http;
pub mod name;
pub mod protocol;
pub mod server;
pub mod socket;
pub mod storage;

pub use client::Client;
pub use config::Config;
pub use server::{Server, ShutdownHandle};
