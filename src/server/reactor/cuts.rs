//! Uploads cut off with their connection (an FTP data connection reset
//! mid-`STOR`): ended on the I/O pool, where a `STOR`'s bytes are kept to
//! go on with (`serve/ops/resume.rs`). One whose write behind is still
//! away waits for it first (else the bytes gathered with it would be
//! lost), and its control connection hears of the cut (`426`) only once
//! what was kept is there: a client told `426` that asks `SIZE` at once
//! finds it.
//!
//! Must never hold a connection's slot: the connection is gone; what
//! waits here is keyed by its client id, which no other connection takes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::Reactor;
use crate::pool::{Finished, Task};
use crate::serve::decoded::Relay;
use crate::serve::{self, Next, Receive};
use crate::wire::Protocol;

/// What a control connection is told of its data connection's end.
pub(super) type Report = ((usize, u64), Relay);

/// An upload cut off, on its way to being ended.
pub(super) struct Cut {
    /// Its receive, while a write behind it is away.
    receive: Option<Box<Receive>>,
    /// What its control connection hears once it is ended.
    report: Option<Report>,
    /// Its client's address and protocol, for the job that ends it.
    peer: IpAddr,
    protocol: Protocol,
}

/// The cuts of a reactor's connections, by client id.
pub(super) type Cuts = HashMap<u64, Cut>;

impl Reactor {
    /// The connection `(id, peer, protocol)`, closing, was receiving
    /// `receive`: it is ended on the pool.
    /// Returns the report to send now, or `None` where it waits for the
    /// end (a body to its stream's end: a `STOR`).
    pub(super) fn cut_off(
        &mut self,
        (id, peer, protocol): (u64, IpAddr, Protocol),
        receive: Box<Receive>,
        report: Option<Report>,
    ) -> Option<Report> {
        let keeps = receive.ends_at_eof();
        let cut = Cut {
            receive: Some(receive),
            report,
            peer,
            protocol,
        };
        match keeps {
            true => {
                self.end_cut(id, cut);
                None
            }
            false => {
                let cut = self.end_at_once(id, cut);
                cut.report
            }
        }
    }

    /// A job of a connection that has gone came back: taken here if it
    /// was a cut's (its write behind, then it ending); else given back.
    pub(super) fn cut_job_done(&mut self, done: Finished) -> Option<Finished> {
        let Some(mut cut) = self.cuts.remove(&done.id) else {
            return Some(done);
        };
        match (&mut cut.receive, done.outcome.next) {
            (Some(receive), Next::Wrote(back)) => {
                receive.wrote(*back);
                self.end_cut(done.id, cut);
            }
            // Ended: what was kept is there.
            (None, _) => {
                if let Some((control, relay)) = cut.report {
                    self.report(control, relay);
                }
            }
            (Some(_), _) => {
                debug_assert!(false, "a write behind came back as something else");
                let cut = self.end_at_once(done.id, cut);
                self.cuts.insert(done.id, cut);
            }
        }
        None
    }

    /// Ends `cut` once no write behind it is away; its report waits for
    /// the end.
    fn end_cut(&mut self, id: u64, cut: Cut) {
        let writing = cut.receive.as_ref().is_some_and(|r| r.is_writing());
        let cut = match writing {
            true => cut,
            false => self.end_at_once(id, cut),
        };
        self.cuts.insert(id, cut);
    }

    /// Submits the job that ends `cut`'s receive (`serve::discard`).
    fn end_at_once(&mut self, id: u64, mut cut: Cut) -> Cut {
        if let Some(receive) = cut.receive.take() {
            self.submit(Task {
                reply: Arc::clone(self.inbox.mailbox()),
                key: usize::MAX,
                id,
                peer: cut.peer,
                protocol: cut.protocol,
                job: serve::discard(receive),
                asked: Instant::now(),
            });
        }
        cut
    }
}
