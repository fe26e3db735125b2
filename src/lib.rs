//! ferry: a file-transfer server on one thread, and its client.
//!
//! Clients upload, download, list, stat and delete files over FERRY/1, a
//! line-oriented protocol with length-delimited binary bodies (see
//! PROTOCOL.md). One `mio` event loop serves thousands of connections; each
//! connection is a small state machine in a slab.
//!
//! # Layout
//!
//! ```text
//! bytes --codec--> Operation --serve--> storage --> Reply --codec--> bytes
//! ```
//!
//! - [`name`]: file names: percent-encoding and the naming rules (pure).
//! - [`node`]: node ids, which tell apart the servers sharing one root.
//! - [`protocol`]: the FERRY/1 codec: request lines to operations, replies
//!   to response lines (sans-IO).
//! - [`ftp`]: the FTP control connection's codec: commands to operations
//!   (sans-IO command lines, FTP paths as ferry names).
//! - [`http`]: the HTTP/1.1 message layer and ferry's dialect on it (sans-IO),
//!   served beside FERRY/1.
//! - [`wire`]: which protocol a connection speaks, by name and place (a leaf
//!   that serve, the pool, hooks and metrics use instead of the codecs);
//!   the socket adapter and page-aligned buffers beneath every codec.
//! - [`proxy`]: the PROXY protocol header (sans-IO) and which peers
//!   (`--trusted-proxy`) must send it.
//! - [`serve`]: one function per operation, every rule once (names,
//!   read-only, size limits, storage calls, the diagnostics of each);
//!   protocol-neutral operations, replies and error kinds.
//! - [`access`]: tokens, grants, the failed-authentication throttle (the
//!   serve layer decides with them which request may do what).
//! - [`model`]: the values every layer shares (file facts, listing entries,
//!   space, ETags, dead properties, locks, sessions), owned by no engine.
//! - [`storage`]: the root-directory jail and atomic uploads (no wire codes).
//! - [`pool`]: the I/O pool's threads, which run serve's jobs, their way
//!   back to the reactors, and the checksum threads.
//! - [`threads`]: crews of threads started on demand and ended when idle,
//!   the stderr relay, SIGHUP's re-reads.
//! - [`formats`]: tar, zip, the chunked and aws-chunked body codings, JSON
//!   strings, upload metadata, MD5 (all sans-IO).
//! - [`tls`]: certificates and the rustls set-up of both listeners (the
//!   connection's transport drives the sessions); [`tls_login`]: an FTPS
//!   login's sessions, which its data connections must resume.
//! - [`connection`]: the per-connection state machine, which only moves
//!   bytes (reads, writes, sendfile, deadlines, lingering), and the one
//!   place that picks its codec.
//! - [`server`]: the reactor: poll loop, slab, accept, timeouts, shutdown.
//! - [`metrics`]: per-reactor and I/O-pool counters, and their Prometheus
//!   text (`--metrics`; a stand-in counting nothing without the feature).
//! - [`request_log`]: the access log, one line per answered request,
//!   written in batches by a thread of its own.
//! - [`config`]: server settings and their defaults.
//! - [`client`]: a blocking client, used by the CLI and the tests.
//! - [`bench`]: the `ferry bench` load generator (a mio client).
//! - [`cli`]: the `ferry` command line (`main.rs` only calls into it).

#![warn(missing_docs)]

pub mod access;
pub mod bench;
pub mod cli;
pub mod client;
pub mod config;
pub mod connection;
pub mod formats;
pub mod ftp;
pub mod hooks;
pub mod http;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "metrics/absent.rs"]
pub mod metrics;
pub mod model;
pub mod name;
pub mod node;
pub mod node_rules;
pub mod pool;
pub mod protocol;
pub mod proxy;
pub mod request_log;
pub mod serve;
pub mod server;
#[cfg(feature = "sftp")]
pub mod sftp;
#[cfg(feature = "sftp")]
pub mod ssh;
pub mod storage;
pub mod threads;
pub mod tls;
pub mod tls_login;
pub mod wire;

pub use client::Client;
pub use config::Config;
pub use server::{Server, ShutdownHandle, StartupSweep};
