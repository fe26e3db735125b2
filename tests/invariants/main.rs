//! What no operation may do to the tree, whichever protocol asks (issue
//! 49; `serve/invariants.rs`):
//!
//! - `model`: random sequences of operations through FERRY/1, HTTP,
//!   WebDAV, S3, tus, FTP and SFTP, each step checked against a small model
//!   of the files, grants and locks (`FERRY_MODEL_CASES` for a longer run);
//! - `cases`: the rules case by case over real sockets, and what the
//!   model found, kept by name;
//! - `history`: many clients at once on one node and two, every answer
//!   recorded, then checked: quotas, ledgers, locks, acknowledged bytes;
//! - `simulation`: clients side by side without sockets or threads, every
//!   move seeded (`sim_conn.rs`: a connection without a socket;
//!   `sim_asks.rs`: what the clients ask; `sim_hear.rs`: what they learn
//!   from the answers; `sim_server.rs`: the server, restarted;
//!   `sim_crash.rs`: its crashes; `sim_locks.rs`: a lock granted between
//!   a write's admission and its change).

#[path = "../support/mod.rs"]
mod support;

mod cases;
mod history;
mod model;
mod sim_asks;
mod sim_conn;
mod sim_crash;
mod sim_hear;
mod sim_locks;
mod sim_server;
mod simulation;
