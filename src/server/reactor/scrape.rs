//! The metrics listener (`--metrics ADDR`): answers `GET /metrics` with
//! the Prometheus text of every reactor's and the I/O pool's counters
//! ([`crate::metrics`]), on the first reactor's loop, with no thread of
//! its own.
//!
//! It is deliberately not a [`crate::connection::Connection`]: it speaks
//! just enough HTTP/1.1 to answer one GET and close (no keep-alive, no
//! body, no TLS, no tokens: bind it where only the monitoring reaches), and
//! it shares nothing with the data listeners, so `/metrics` cannot be asked
//! of them and a scraper can reach no file. Any other request gets `404`.
//!
//! ```text
//! GET /metrics HTTP/1.1      ->  HTTP/1.1 200 OK
//! Host: ...                      Content-Type: text/plain; version=0.0.4; charset=utf-8
//!                                Content-Length: N, Connection: close
//! ```
//!
//! At most [`MAX_SCRAPERS`] at once. Each has [`HEAD_TIMEOUT`] to send its
//! head, and [`SCRAPE_TIMEOUT`] in all to take its answer. A newcomer when
//! every place is taken closes the oldest scraper still sending its head:
//! a scraper that connects and sends half a request holds its place only
//! until newer ones come, so a handful of them cannot turn a probe away
//! (Prometheus sends its whole request at once, and is answered in the
//! turn that accepts it). Only scrapers being answered, whose end is near,
//! keep their places against a newcomer.
//!
//! Built with the `metrics` feature; without it `server/mod.rs` puts
//! `scrape_absent.rs` here: no listener, no scraper.

use std::io;
use std::time::{Duration, Instant};

use log::debug;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use slab::Slab;

use super::Reactor;
use crate::metrics;
use crate::server::METRICS;
use crate::wire::socket::{self, Outcome};

/// Scraper `k` has token `SCRAPER_TOKENS + k`: far above any slab key.
const SCRAPER_TOKENS: usize = usize::MAX / 2;
/// Scrapers served at once; Prometheus sends one at a time.
const MAX_SCRAPERS: usize = 16;
/// Longest a request head may be.
const MAX_HEAD: usize = 8 * 1024;
/// How long a scraper may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a scraper may take to ask and to read the answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The listener and the scrapers being answered.
pub(in crate::server) struct Scrape {
    listener: TcpListener,
    scrapers: Slab<Scraper>,
    /// Scrapers accepted so far: their order of arrival (many arrive in
    /// one turn, at one `Instant`).
    accepted: u64,
}

struct Scraper {
    stream: TcpStream,
    /// The request head so far.
    head: Vec<u8>,
    /// The answer, once the head is in; `answer[sent..]` is unsent.
    answer: Vec<u8>,
    sent: usize,
    /// Its place in the order of arrival.
    arrival: u64,
    accepted: Instant,
    /// [`HEAD_TIMEOUT`] after `accepted` until the head is in, then
    /// [`SCRAPE_TIMEOUT`] after it.
    deadline: Instant,
}

impl Scrape {
    /// Serves scrapes on `listener` (registered by the reactor).
    fn new(listener: TcpListener) -> Scrape {
        Scrape {
            listener,
            scrapers: Slab::new(),
            accepted: 0,
        }
    }

    pub(in crate::server) fn listener_mut(&mut self) -> &mut TcpListener {
        &mut self.listener
    }

    /// Whether `token` is the listener's or a scraper's.
    pub(in crate::server) fn owns(token: Token) -> bool {
        token == METRICS || (SCRAPER_TOKENS..SCRAPER_TOKENS + MAX_SCRAPERS).contains(&token.0)
    }

    /// The scraper that has waited longest for its head, to make room for
    /// a newcomer; `None` if every scraper is being answered.
    fn oldest_asking(&self) -> Option<usize> {
        self.scrapers
            .iter()
            .filter(|(_, s)| s.answer.is_empty())
            .min_by_key(|(_, s)| s.arrival)
            .map(|(key, _)| key)
    }

    /// The earliest scraper deadline.
    pub(in crate::server) fn next_deadline(&self) -> Option<Instant> {
        self.scrapers.iter().map(|(_, s)| s.deadline).min()
    }
}

/// What a scraper's turn came to.
enum Progress {
    Wait(Interest),
    Close,
}

impl Reactor {
    /// Serves scrapes on `listener` from this reactor's loop.
    ///
    /// # Errors
    /// The listener cannot be registered.
    pub(in crate::server) fn serve_scrapes(&mut self, mut listener: TcpListener) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut listener, METRICS, Interest::READABLE)?;
        self.scrape = Some(Scrape::new(listener));
        Ok(())
    }

    /// Acts on an event for the metrics listener or a scraper.
    pub(in crate::server) fn scrape_event(&mut self, token: Token, now: Instant) {
        if token == METRICS {
            self.accept_scrapers(now);
            return;
        }
        let key = token.0 - SCRAPER_TOKENS;
        let hub = &self.hub;
        let engine = &self.shared.engine;
        let node = &self.shared.config.node_id;
        let Some(scrape) = &mut self.scrape else {
            return;
        };
        let Some(scraper) = scrape.scrapers.get_mut(key) else {
            return; // closed already
        };
        let close = match scraper.progress(|| {
            let counted = engine.counters();
            metrics::render(
                &hub.metrics,
                (hub.pool.metrics(), hub.pool.threads()),
                metrics::Stored {
                    sessions: counted.sessions,
                    walked: counted.walked,
                    checksums: counted.checksums,
                    flushes: counted.flushes,
                    failures: crate::storage::storage_failures(),
                    usage: counted.usage,
                },
                node,
            )
        }) {
            Progress::Wait(interest) => self
                .poll
                .registry()
                .reregister(&mut scraper.stream, token, interest)
                .is_err(),
            Progress::Close => true,
        };
        if close {
            self.close_scraper(key);
        }
    }

    fn accept_scrapers(&mut self, now: Instant) {
        loop {
            let Some(scrape) = &mut self.scrape else {
                return;
            };
            let (mut stream, peer) = match scrape.listener.accept() {
                Ok(accepted) => accepted,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(err) => {
                    debug!("metrics accept: {err}");
                    return;
                }
            };
            if scrape.scrapers.len() >= MAX_SCRAPERS {
                let Some(oldest) = scrape.oldest_asking() else {
                    debug!("metrics: {MAX_SCRAPERS} scrapers being answered; {peer} closed");
                    continue;
                };
                debug!("metrics: {MAX_SCRAPERS} scrapers; the oldest still asking closed");
                self.close_scraper(oldest);
            }
            let Some(scrape) = &mut self.scrape else {
                return;
            };
            scrape.accepted += 1;
            let arrival = scrape.accepted;
            let entry = scrape.scrapers.vacant_entry();
            let token = Token(SCRAPER_TOKENS + entry.key());
            if let Err(err) = self
                .poll
                .registry()
                .register(&mut stream, token, Interest::READABLE)
            {
                debug!("metrics: register {peer}: {err}");
                continue;
            }
            entry.insert(Scraper {
                stream,
                head: Vec::new(),
                answer: Vec::new(),
                sent: 0,
                arrival,
                accepted: now,
                deadline: now + HEAD_TIMEOUT,
            });
            // Its request may be there already; edge-triggered, so look now.
            self.scrape_event(token, now);
        }
    }

    fn close_scraper(&mut self, key: usize) {
        if let Some(scrape) = &mut self.scrape
            && let Some(mut scraper) = scrape.scrapers.try_remove(key)
        {
            let _ = self.poll.registry().deregister(&mut scraper.stream);
        }
    }

    /// Closes scrapers past their deadline.
    pub(in crate::server) fn expire_scrapers(&mut self, now: Instant) {
        let Some(scrape) = &self.scrape else { return };
        let late: Vec<usize> = scrape
            .scrapers
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(key, _)| key)
            .collect();
        for key in late {
            self.close_scraper(key);
        }
    }
}

impl Scraper {
    /// Reads the head until it is complete, then sends the answer (the
    /// metrics text comes from `body`, asked for only for `GET /metrics`).
    fn progress(&mut self, body: impl FnOnce() -> String) -> Progress {
        let mut body = Some(body);
        loop {
            if !self.answer.is_empty() {
                return match socket::write(&self.stream, &self.answer[self.sent..], false) {
                    Outcome::Done(n) => {
                        self.sent += n;
                        if self.sent < self.answer.len() {
                            continue;
                        }
                        Progress::Close
                    }
                    Outcome::WouldBlock => Progress::Wait(Interest::WRITABLE),
                    _ => Progress::Close,
                };
            }
            let mut buf = [0; 1024];
            match socket::read(&mut self.stream, &mut buf) {
                Outcome::Done(n) => self.head.extend_from_slice(&buf[..n]),
                Outcome::WouldBlock => return Progress::Wait(Interest::READABLE),
                _ => return Progress::Close,
            }
            if self.head.len() > MAX_HEAD {
                return Progress::Close;
            }
            if let Some(end) = head_end(&self.head) {
                let wants_metrics = is_metrics_request(&self.head[..end]);
                self.answer = match (wants_metrics, body.take()) {
                    (true, Some(body)) => answer("200 OK", &body()),
                    _ => answer("404 Not Found", "only GET /metrics is served here\n"),
                };
                self.deadline = self.accepted + SCRAPE_TIMEOUT;
            }
        }
    }
}

/// Where the head ends (a blank line; bare LFs accepted, as in HTTP).
fn head_end(head: &[u8]) -> Option<usize> {
    let crlf = head.windows(4).position(|w| w == b"\r\n\r\n");
    crlf.or_else(|| head.windows(2).position(|w| w == b"\n\n"))
}

/// Whether the request line is `GET /metrics` (a query is allowed).
fn is_metrics_request(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = line.trim_ascii().split(|&b| b == b' ');
    let (method, target) = (words.next(), words.next());
    let path = target.map(|t| t.split(|&b| b == b'?').next().unwrap_or_default());
    method == Some(b"GET") && path == Some(b"/metrics")
}

fn answer(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_of_metrics_is_the_metrics() {
        assert!(is_metrics_request(b"GET /metrics HTTP/1.1\r\nHost: x"));
        assert!(is_metrics_request(b"GET /metrics?x=1 HTTP/1.0"));
        assert!(!is_metrics_request(b"GET /metricsx HTTP/1.1"));
        assert!(!is_metrics_request(b"POST /metrics HTTP/1.1"));
        assert!(!is_metrics_request(b"STAT metrics"));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
