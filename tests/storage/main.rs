//! The root on disk, seen from the wire:
//!
//! - `jail`: names that try to leave the root, symlinks and special files
//!   in it, atomic uploads, the start-up sweep;
//! - `durability`: `--fsync`, a full disk, a read-only file system;
//! - `failures`: a failing storage is a `503` to try again, counted and
//!   retried by the client;
//! - `stalls`: the reactor never waits on a slow disk call (test gates);
//! - `write_behind`: bodies written by the I/O pool behind the connection;
//! - `loop_writes`: bodies written on the reactor as they are read;
//! - `checksums`: CRC-32C computed off the hot path;
//! - `listing_costs`: a listing's cost in directory entries read;
//! - `memory`: a root on tmpfs, whose brief file work runs on the reactor;
//! - `quotas`: folders' and tokens' quotas, counted in the root's ledger.
//! - `reserve`: `--min-free`, a write into the disk's reserve refused.
//! - `races`: shared state under requests side by side (the ledger).
//! - `conformance`, `conformance_uploads`, `conformance_sessions`,
//!   `conformance_parts`, `conformance_scattered`, `conformance_links`:
//!   the POSIX root and the memory store answer every `Store` verb alike.
//!
//! How loudly failures are logged is a program of its own
//! (`tests/storage_failure_logs.rs`). One module alone: `cargo test --test
//! storage stalls::`.

#[path = "../support/binary.rs"]
mod binary;
#[path = "../support/mod.rs"]
mod support;

mod checksums;
mod conformance;
mod conformance_links;
mod conformance_parts;
mod conformance_scattered;
mod conformance_sessions;
mod conformance_uploads;
mod durability;
mod failures;
mod jail;
mod listing_costs;
mod loop_writes;
mod memory;
mod quotas;
mod races;
mod reserve;
mod stalls;
mod write_behind;
