//! The road back from the I/O pool to a reactor: a worker [`Mailbox::deliver`]s
//! a [`Finished`] job into its reactor's [`Inbox`] (a channel and the
//! reactor's `mio::Waker`), and a burst of finished jobs costs the reactor
//! one wake-up. Kept apart from the pool, which owns the queue and its
//! threads, because the reactor and the flusher use this road as well.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};

use log::error;
use mio::Waker;

use crate::serve::Outcome;

/// A finished job.
pub struct Finished {
    /// The connection's slab key.
    pub key: usize,
    /// Its client id.
    pub id: u64,
    /// What the job came to.
    pub outcome: Outcome,
}

/// Where a reactor's finished jobs go, and how it is woken for them.
#[derive(Debug)]
pub struct Mailbox {
    outbox: Sender<Finished>,
    waker: Arc<Waker>,
    /// Set by a worker that woke the reactor; cleared by the reactor before
    /// it collects, so a burst of finished jobs costs one wake-up.
    woken: AtomicBool,
}

impl Mailbox {
    /// Hands `finished` to the reactor and wakes it if it is not woken
    /// already. A reactor that has gone (shut down) drops the outcome,
    /// which releases what it holds, here on the worker.
    pub(crate) fn deliver(&self, finished: Finished) {
        let sent = self.outbox.send(finished);
        if sent.is_ok() && !self.woken.swap(true, Ordering::SeqCst) {
            self.wake();
        }
    }

    pub(crate) fn wake(&self) {
        if let Err(err) = self.waker.wake() {
            error!("an I/O thread could not wake a reactor: {err}");
        }
    }
}

/// A reactor's end of the pool: its finished jobs.
pub struct Inbox {
    mailbox: Arc<Mailbox>,
    finished: Receiver<Finished>,
}

impl Inbox {
    /// An inbox for a reactor woken through `waker`.
    pub fn new(waker: Arc<Waker>) -> Inbox {
        let (outbox, finished) = mpsc::channel();
        Inbox {
            mailbox: Arc::new(Mailbox {
                outbox,
                waker,
                woken: AtomicBool::new(false),
            }),
            finished,
        }
    }

    /// The address tasks of this reactor carry.
    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// Jobs finished since the last call.
    pub fn finished(&self) -> impl Iterator<Item = Finished> + '_ {
        // Cleared before collecting: a job finishing after this wakes the
        // reactor again.
        self.mailbox.woken.store(false, Ordering::SeqCst);
        self.finished.try_iter()
    }
}
