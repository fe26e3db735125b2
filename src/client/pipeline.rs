//! Many requests in flight on one connection, and a few connections side by
//! side: what makes copying a folder of small files fast.
//!
//! [`run`] splits a connection in two: a helper thread writes requests
//! (bodies included) while the calling thread reads the answers in order.
//! A bounded channel between them holds the jobs whose answers are due; a
//! [`Window`] caps how many requests and how many body bytes may be
//! unanswered. Reading while writing is what keeps both sides moving: the
//! server stops reading a connection while it cannot send, and stops taking
//! new requests once 64 KiB of answers wait (PROTOCOL.md §7.2); a client
//! that only wrote would end up waiting for a server that waits for it. The
//! byte cap bounds what a dropped connection wastes: answers lost with it
//! mean its unanswered uploads are sent again.
//!
//! Requests gather in a buffer and are flushed before the writer would
//! wait (window full, or no more jobs), so a run of small requests leaves
//! in few packets but an answer is never held up by an unsent request.
//!
//! [`run_all`] spreads a queue of jobs over several connections, and puts
//! the jobs of a connection that failed back in the queue for a new one.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Condvar, Mutex};

use super::retry::{Backoff, RetryPolicy};
use super::{Client, ClientError, Endpoint, Replies, Requests, Result};
use crate::threads::lock;

/// What one connection may have unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Requests.
    pub requests: usize,
    /// Body bytes of those requests (one larger request may always go).
    pub bytes: u64,
}

/// One request of a pipelined batch, with what to do before and after.
pub trait Exchange: Send {
    /// Body bytes the request carries, for [`Window::bytes`].
    fn weight(&self) -> u64 {
        0
    }

    /// Gets ready to send (opens a local file, say), on the writing
    /// thread. An error fails this job only: nothing was sent.
    ///
    /// # Errors
    /// Whatever keeps this job from being sent.
    fn prepare(&mut self) -> Result<()> {
        Ok(())
    }

    /// Writes the request, with its body if it has one.
    ///
    /// # Errors
    /// Connection failures, or a local failure halfway through a body
    /// (which leaves the connection out of step: it is given up).
    fn send(&mut self, requests: &mut Requests) -> Result<()>;

    /// Reads and handles the answer.
    ///
    /// # Errors
    /// Refusals (the connection carries on), connection failures, local
    /// failures and checksum mismatches.
    fn receive(&mut self, replies: &mut Replies) -> Result<()>;
}

/// How far a job got on the writing side.
enum Sent {
    /// The whole request is written (or buffered).
    Whole,
    /// [`Exchange::prepare`] failed: nothing was sent.
    Not(ClientError),
    /// Writing failed partway: the connection is out of step.
    Broken(ClientError),
}

/// Why [`run`] ended before the jobs ran out.
#[derive(Debug)]
pub struct Stopped<J> {
    /// Jobs whose answers did not arrive, in order: they may or may not
    /// have been carried out, and can be sent again on a new connection.
    pub unfinished: Vec<J>,
    /// The connection's failure; `None` if it was given up because a job
    /// failed locally halfway through its exchange (that job was reported).
    pub error: Option<ClientError>,
}

/// Runs jobs taken from `next` over `client`, with at most `window` of them
/// unanswered, until `next` has no more; calls `done` with each job and its
/// outcome, in order, on this thread.
///
/// # Errors
/// [`Stopped`] if the connection failed or had to be given up.
pub fn run<J: Exchange>(
    client: Client,
    window: Window,
    next: &(dyn Fn() -> Option<J> + Sync),
    done: &mut dyn FnMut(J, Result<()>),
) -> std::result::Result<(), Stopped<J>> {
    let (requests, replies) = client.split();
    let (due, answers) = sync_channel::<(J, Sent, u64)>(window.requests.max(1));
    let unanswered = Unanswered::default();
    std::thread::scope(|scope| {
        let unanswered = &unanswered;
        // `due` goes with the writer: its end ends the reader's loop.
        scope.spawn(move || send_all(requests, window, next, &due, unanswered));
        receive_all(replies, &answers, unanswered, done)
    })
}

/// The writing side of [`run`]: sends the jobs `next` gives, each handed
/// to the reader through `due` once written, while `unanswered` has room;
/// stops at the first broken write, or when the reader has stopped.
fn send_all<J: Exchange>(
    mut requests: Requests,
    window: Window,
    next: &(dyn Fn() -> Option<J> + Sync),
    due: &SyncSender<(J, Sent, u64)>,
    unanswered: &Unanswered,
) {
    while let Some(mut job) = next() {
        let weight = job.weight();
        let admitted = unanswered.admit(weight, window.bytes, || {
            // About to wait for answers to what may still be in
            // our buffer. A failure shows up on the reading side.
            let _ = requests.flush();
        });
        if !admitted {
            // The reader stopped: hand the job back.
            let _ = due.send((job, Sent::Whole, 0));
            return;
        }
        let sent = match job.prepare() {
            Err(err) => Sent::Not(err),
            Ok(()) => match job.send(&mut requests) {
                Ok(()) => Sent::Whole,
                Err(err) => Sent::Broken(err),
            },
        };
        let broken = matches!(sent, Sent::Broken(_));
        let item = match due.try_send((job, sent, weight)) {
            Ok(()) => None,
            Err(TrySendError::Full(item)) => Some(item),
            Err(TrySendError::Disconnected(_)) => return,
        };
        if let Some((job, mut sent, weight)) = item {
            // About to wait for the reader, which may be waiting
            // for answers to requests still in our buffer.
            if let (Sent::Whole, Err(err)) = (&sent, requests.flush()) {
                sent = Sent::Broken(err);
            }
            let broken = matches!(sent, Sent::Broken(_));
            if due.send((job, sent, weight)).is_err() || broken {
                return;
            }
        }
        if broken {
            return;
        }
    }
    // A failure here shows up on the reading side as well.
    let _ = requests.flush();
}

/// The reading side of [`run`]: takes each job's answer, in order, and
/// says it to `done`; after a connection failure, collects the jobs still
/// handed over as unfinished.
fn receive_all<J: Exchange>(
    mut replies: Replies,
    answers: &Receiver<(J, Sent, u64)>,
    unanswered: &Unanswered,
    done: &mut dyn FnMut(J, Result<()>),
) -> std::result::Result<(), Stopped<J>> {
    let mut stopped: Option<Stopped<J>> = None;
    for (mut job, sent, weight) in answers {
        if let Some(stopped) = &mut stopped {
            stopped.unfinished.push(job);
            continue;
        }
        unanswered.release(weight);
        let error = match sent {
            Sent::Not(err) => {
                done(job, Err(err));
                continue;
            }
            Sent::Whole => match job.receive(&mut replies) {
                Ok(()) => {
                    done(job, Ok(()));
                    continue;
                }
                Err(err) if err.keeps_connection() => {
                    done(job, Err(err));
                    continue;
                }
                Err(err) => err,
            },
            // Writing failed; the server may have refused and closed
            // (a 413), and then its answer is the better explanation.
            Sent::Broken(err @ ClientError::Io(_)) => match job.receive(&mut replies) {
                Err(refusal @ ClientError::Remote { .. }) => {
                    done(job, Err(refusal));
                    replies.shut_down();
                    unanswered.stop();
                    stopped = Some(Stopped {
                        unfinished: Vec::new(),
                        error: Some(err),
                    });
                    continue;
                }
                _ => err,
            },
            Sent::Broken(err) => err,
        };
        // Stop the writer (a write to a shut-down socket fails at once)
        // and collect what it still hands over.
        replies.shut_down();
        unanswered.stop();
        stopped = Some(if let ClientError::Local(_) = error {
            done(job, Err(error));
            Stopped {
                unfinished: Vec::new(),
                error: None,
            }
        } else {
            Stopped {
                unfinished: vec![job],
                error: Some(error),
            }
        });
    }
    stopped.map_or(Ok(()), Err)
}

/// Runs every job in `jobs` over up to `connections` connections to `addr`
/// side by side, each with at most `window` unanswered; calls `done`
/// with each job and its outcome, from any of the connections' threads.
/// A connection that fails is replaced, as `policy` allows, and its
/// unanswered jobs go back to the queue.
///
/// # Errors
/// The last connection failure, with the jobs never carried out, once no
/// connection is left to carry them.
pub fn run_all<J: Exchange>(
    endpoint: &Endpoint,
    jobs: Vec<J>,
    connections: usize,
    window: Window,
    policy: RetryPolicy,
    done: &(dyn Fn(J, Result<()>) + Sync),
) -> std::result::Result<(), (ClientError, Vec<J>)> {
    let queue = Mutex::new(VecDeque::from(jobs));
    let failures: Vec<ClientError> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections.max(1))
            .map(|_| scope.spawn(|| work(endpoint, &queue, window, policy, done)))
            .collect();
        workers
            .into_iter()
            .filter_map(|worker| match worker.join() {
                Ok(result) => result.err(),
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    let left: Vec<J> = queue
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into();
    match failures.into_iter().last() {
        Some(err) if !left.is_empty() => Err((err, left)),
        _ => Ok(()),
    }
}

/// One connection's worth of workers in [`run_all`]: runs pipelines until
/// the queue is empty, reconnecting after failures.
fn work<J: Exchange>(
    endpoint: &Endpoint,
    queue: &Mutex<VecDeque<J>>,
    window: Window,
    policy: RetryPolicy,
    done: &(dyn Fn(J, Result<()>) + Sync),
) -> Result<()> {
    let take = || lock(queue).pop_front();
    let mut backoff = Backoff::new(policy);
    while !lock(queue).is_empty() {
        let client = backoff.connect(endpoint)?;
        let mut answered = false;
        let result = run(client, window, &take, &mut |job, outcome| {
            answered = true;
            done(job, outcome);
        });
        let Err(stopped) = result else {
            continue;
        };
        {
            let mut queue = lock(queue);
            for job in stopped.unfinished.into_iter().rev() {
                queue.push_front(job);
            }
        }
        if answered {
            backoff.progressed();
        }
        if let Some(err) = stopped.error {
            backoff.after(err)?;
        }
    }
    Ok(())
}

/// Body bytes sent and not yet answered, shared by a pipeline's writer
/// (which waits for room) and reader (which makes room).
#[derive(Default)]
struct Unanswered {
    state: Mutex<(u64, bool)>,
    changed: Condvar,
}

impl Unanswered {
    /// Waits until `weight` more bytes fit under `limit` (anything fits
    /// when nothing is unanswered), calling `before_waiting` first if it
    /// must wait; then counts them. False if the reader stopped.
    fn admit(&self, weight: u64, limit: u64, before_waiting: impl FnOnce()) -> bool {
        let mut state = lock(&self.state);
        let fits = |(bytes, _): &(u64, bool)| *bytes == 0 || bytes + weight <= limit;
        if !fits(&state) && !state.1 {
            before_waiting();
            while !fits(&state) && !state.1 {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        if state.1 {
            return false;
        }
        state.0 += weight;
        true
    }

    /// An answer arrived for a request of `weight` bytes.
    fn release(&self, weight: u64) {
        lock(&self.state).0 -= weight;
        self.changed.notify_all();
    }

    /// The reader stopped: no more room will be made.
    fn stop(&self) {
        lock(&self.state).1 = true;
        self.changed.notify_all();
    }
}
