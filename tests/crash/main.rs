//! Crash consistency (docs/reliability.md): what an acknowledged upload
//! survives.
//!
//! - `kills`: `ferry serve` killed (SIGKILL) again and again under load;
//! - `power_cuts`: ferry on the power-cut simulator (`powercut`, a FUSE
//!   file system that forgets what was not flushed), cut off under load;
//! - `states`: every state a power cut could leave in each commit path,
//!   written out and served (ALICE-style).
//!
//! The simulator needs `/dev/fuse` and root; without them its tests say
//! "skipping" and pass. One module alone: `cargo test --test crash kills::`.

#[path = "../support/powercut/mod.rs"]
mod powercut;
#[path = "../support/mod.rs"]
mod support;

mod kills;
mod power_cuts;
mod states;
