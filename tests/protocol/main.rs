//! FERRY/1 on the wire (PROTOCOL.md), over real sockets, one module per
//! part of the protocol:
//!
//! - `verbs`: every verb byte for byte, ranges, pipelining, input cut down
//!   to single bytes, half-closes, malformed input;
//! - `sessions`: resumable uploads (`UPLOAD`, `APPEND`, `COMMIT`) across
//!   dropped connections and restarts; `session_faults`: the same against
//!   a kill mid-`COMMIT`, a `COMMIT` short of descriptors, crafted ids;
//! - `stream_put`: `PUT <name> * -`, an upload of unknown length;
//! - `folders`: `DEL <folder>/`; `listings`: `LIST` through a spool;
//! - `shares`: `SHARE`, `SHARES`, `UNSHARE` byte for byte;
//! - `properties`: the parsers' property tests, checks shared with the
//!   fuzzers (`fuzz/src/lib.rs`).
//!
//! One module alone: `cargo test --test protocol sessions::`.

#[path = "../support/edits.rs"]
mod edits;
#[path = "../support/mod.rs"]
mod support;

mod folders;
mod listings;
mod properties;
mod session_faults;
mod sessions;
mod shares;
mod stream_put;
mod verbs;
