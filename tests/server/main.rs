//! The server as an operator runs it (docs/operating.md):
//!
//! - `signals`: SIGTERM, SIGINT and SIGKILL; `systemd`: readiness
//!   notifications and socket activation; `package`: the unit files and
//!   the `.deb`;
//! - `listeners`: `Config::listeners`; `workers`: `--workers N`;
//!   `hand_over`: `--hand-over`, connections moving between workers;
//!   `threads`: the threads a server holds and their stacks;
//! - `health`: `HEALTH` and `/.ferry-health`; `metrics`: `--metrics`;
//! - `access_log`: the access log; `hooks`: `--on-upload` and
//!   `--before-commit`.
//!
//! One module alone: `cargo test --test server hooks::`.

#[path = "../support/mod.rs"]
mod support;

mod access_log;
mod hand_over;
mod health;
mod hooks;
mod listeners;
mod metrics;
mod package;
mod signals;
mod systemd;
mod threads;
mod workers;
