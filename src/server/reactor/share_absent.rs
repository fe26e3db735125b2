//! What stands in for `share.rs` in a build without the `hand-over`
//! feature (the small host's, which runs one loop): the same names, and
//! every connection stays on the loop that accepted it, as with
//! `--hand-over never`. `--hand-over always` is refused when the server
//! starts ([`crate::config::Config::unbuilt`]).

use std::sync::Arc;
use std::time::Instant;

use mio::Waker;

use super::Reactor;
use super::accept::Newcomer;
use crate::config::HandOver;

/// A reactor's lane: nothing to tell.
#[derive(Default)]
pub(in crate::server) struct Lane {}

impl Lane {
    /// Keeps nothing.
    pub(in crate::server) fn set_waker(&self, _waker: Arc<Waker>) {}
}

/// A reactor's own side: nothing to weigh.
pub(super) struct Share;

impl Share {
    pub(super) fn new(_mode: HandOver, _now: Instant) -> Share {
        Share
    }
}

impl Reactor {
    /// Weighs nothing.
    pub(super) fn weigh_load(&mut self, _now: Instant) {}

    /// Keeps every connection: false.
    pub(super) fn pass_resting(&mut self, _key: usize) -> bool {
        false
    }

    /// No other reactor to pass it to: gives it back.
    pub(super) fn pass_newcomer(&mut self, newcomer: Newcomer) -> Result<(), Newcomer> {
        Err(newcomer)
    }

    /// None arrive.
    pub(super) fn take_arrivals(&mut self) {}

    /// Nothing to close: true.
    pub(super) fn close_lane(&mut self) -> bool {
        true
    }

    /// Nothing to close or take.
    pub(super) fn seal_lane(&mut self) {}
}
