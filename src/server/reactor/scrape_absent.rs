//! What stands in for the metrics listener (`scrape.rs`) in a build
//! without the `metrics` feature: a scrape no value has, so the reactor's
//! `Option<Scrape>` is always `None` and its few calls stay as they are.
//! `--metrics` is refused before anything is bound
//! ([`crate::config::Config::unbuilt`]).

use std::io;
use std::time::Instant;

use mio::Token;
use mio::net::TcpListener;

use super::Reactor;
use crate::server::METRICS;

/// The metrics listener, in a build without it: never made.
pub(in crate::server) enum Scrape {}

impl Scrape {
    pub(in crate::server) fn listener_mut(&mut self) -> &mut TcpListener {
        match *self {}
    }

    /// Only the metrics listener's token, which is never registered in
    /// this build: no event comes for it.
    pub(in crate::server) fn owns(token: Token) -> bool {
        token == METRICS
    }

    pub(in crate::server) fn next_deadline(&self) -> Option<Instant> {
        match *self {}
    }
}

impl Reactor {
    /// Never called: no metrics listener is bound in this build.
    pub(in crate::server) fn serve_scrapes(&mut self, _listener: TcpListener) -> io::Result<()> {
        unreachable!("--metrics is refused at start in a build without metrics")
    }

    /// No scraper's event ever comes.
    pub(in crate::server) fn scrape_event(&mut self, _token: Token, _now: Instant) {}

    /// No scraper to expire.
    pub(in crate::server) fn expire_scrapers(&mut self, _now: Instant) {}
}
