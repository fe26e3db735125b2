//! Many clients and hostile ones against one server:
//!
//! - `limits`: hundreds of clients at once, large streams, a reader that
//!   never reads, the connection caps, `--idle-timeout`,
//!   `--max-file-size`, `--read-only`;
//! - `overload`: a server out of file descriptors refuses cleanly and
//!   recovers;
//! - `abuse`: hundreds of connections with random valid and invalid
//!   requests, checked against a model (`FERRY_ABUSE_SEED`).
//!
//! The long soak is a program of its own (`tests/soak.rs`).

#[path = "../support/mod.rs"]
mod support;

mod abuse;
mod limits;
mod overload;
