//! Access control (docs/security.md):
//!
//! - `grants`: every permission in and out of a granted folder over both
//!   protocols, anonymous grants, `AUTH`, Bearer and Basic, the throttle;
//! - `process`: what needs a whole process: tokens re-read on SIGHUP, no
//!   token in any log line, the non-loopback refusal, `ferry token`.
//!
//! What no operation may do whatever its grants: `tests/invariants/`.

#[path = "../support/binary.rs"]
mod binary;
#[path = "../support/mod.rs"]
mod support;

mod grants;
mod process;
