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
//! - [`http`]: the HTTP/1.1 message layer and ferry's dialect on it (sans-IO),
//!   served beside FERRY/1.
//! - [`codec`]: the one place that picks a connection's codec.
//! - [`decoded`]: what either codec makes of a connection's input.
//! - [`wire`]: which protocol a connection speaks, by name and place (a leaf
//!   that serve, the pool, hooks and metrics use instead of the codecs).
//! - [`proxy`]: the PROXY protocol header (sans-IO) and which peers
//!   (`--trusted-proxy`) must send it.
//! - [`serve`]: one function per operation, every rule once (names,
//!   read-only, size limits, storage calls, the diagnostics of each);
//!   protocol-neutral operations, replies and error kinds.
//! - [`access`]: tokens, grants, the failed-authentication throttle (the
//!   serve layer decides with them which request may do what).
//! - [`storage`]: the root-directory jail and atomic uploads (no wire codes).
//! - [`checksums`]: the threads that compute files' CRC-32Cs from their
//!   bytes, apart from the I/O pool.
//! - [`crew`]: threads of one kind started on demand up to a cap and ended
//!   when idle (the I/O pool's, the checksums', the hooks').
//! - [`tar`]: the tar format of folder downloads (sans-IO).
//! - [`zip`]: the zip format of folder downloads (sans-IO).
//! - [`chunked`]: the chunked body coding HTTP/1.1 and FERRY/1 share (sans-IO).
//! - [`aws_chunked`]: S3's `aws-chunked` body coding, signed chunks checked (sans-IO).
//! - [`md5`]: MD5, which S3's `ETag`s are made of (aws-lc's where it is
//!   built in).
//! - [`page_buf`]: page-aligned buffers for body bytes and checksum reads
//!   (cheaper kernel copies into them).
//! - [`socket`]: nonblocking socket calls mapped to outcomes.
//! - [`stderr_relay`]: keeps `ferry serve`'s standard error writable, so a
//!   closed log pipe never ends the server.
//! - [`tls`]: certificates and the rustls set-up of both listeners (the
//!   connection's transport drives the sessions).
//! - [`connection`]: the per-connection state machine, which only moves
//!   bytes (reads, writes, sendfile, deadlines, lingering).
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
pub mod aws_chunked;
pub mod bench;
pub mod checksums;
pub mod chunked;
pub mod cli;
pub mod client;
pub mod codec;
pub mod config;
pub mod connection;
pub mod crew;
pub mod decoded;
pub mod hooks;
pub mod http;
pub mod json;
pub mod mailbox;
pub mod md5;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "metrics/absent.rs"]
pub mod metrics;
pub mod name;
pub mod node;
pub mod page_buf;
pub mod pool;
pub mod protocol;
pub mod proxy;
pub mod reload;
pub mod request_log;
pub mod serve;
pub mod server;
pub mod socket;
pub mod stderr_relay;
pub mod storage;
pub mod tar;
pub mod tls;
pub mod upload_metadata;
pub mod wire;
pub mod zip;

pub use client::Client;
pub use config::Config;
pub use server::{Server, ShutdownHandle, StartupSweep};
