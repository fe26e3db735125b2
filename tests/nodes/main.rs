//! Several nodes on one root (docs/scaling.md), here as several `ferry
//! serve` processes with distinct `--node-id`s on one local folder:
//!
//! - `shared_root`: each other's files, temp files named by node, sweeps
//!   of dead nodes' leftovers;
//! - `sessions`: upload sessions across nodes;
//! - `shares`: share links made, counted and revoked across nodes;
//! - `one_server_per_root`: a second server with a node id already
//!   serving the root is refused;
//! - `rules`: a node whose rules differ from a live node's is refused;
//! - `cluster`: the JuiceFS and HAProxy cluster of `deploy/cluster/`,
//!   only when asked: `FERRY_CLUSTER_TEST=1 cargo test --release --test
//!   nodes cluster:: -- --nocapture`.

#[path = "../support/mod.rs"]
mod support;

mod cluster;
mod one_server_per_root;
mod rules;
mod sessions;
mod shared_root;
#[cfg(feature = "shares")]
mod shares;
