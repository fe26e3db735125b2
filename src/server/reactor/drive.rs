//! Driving one connection and acting on the step it returns: its bytes
//! counted, its file-system job handed to the pool (or run here where no
//! call waits on a device), its named client counted against the cap, and
//! its interest, its place on the ready list or its close.

use std::sync::Arc;
use std::time::Instant;

use log::{debug, error};
use mio::Token;

use super::Reactor;
use crate::connection::{Counted, Env, Step};
use crate::pool::Task;

impl Reactor {
    /// Drives the connections that yielded last turn, each once.
    pub(super) fn drive_ready(&mut self) {
        for _ in 0..self.ready.len() {
            if let Some((key, id)) = self.ready.pop_front() {
                match self.connections.get_mut(key) {
                    Some(conn) if conn.id() == id => conn.set_queued(false),
                    _ => continue,
                }
                self.drive(key, Some(id));
            }
        }
    }

    /// Drives the connection at `key` (if it is still the one with `id`)
    /// and acts on the step it returns.
    pub(super) fn drive(&mut self, key: usize, id: Option<u64>) {
        let Some(conn) = self.connections.get_mut(key) else {
            return; // an event for a connection already closed
        };
        if id.is_some_and(|id| id != conn.id()) {
            return;
        }
        if id.is_none() && conn.is_queued() {
            return; // an event; its turn comes on the ready list
        }
        let alone = self.crowd.alone_when_driving(conn.id());
        let mut env = Env {
            served: self.shared.served(),
            access: &self.hub.access,
            shutting_down: self.shutdown_deadline.is_some(),
            held_input: &mut self.held_input,
            now: self.turn_began,
            alone,
        };
        let before = conn.traffic();
        let mut step = conn.drive(self.scratch.all_mut(), &mut env);
        let after = conn.traffic();
        self.metrics.bytes_received.add(after.0 - before.0);
        self.metrics.bytes_sent.add(after.1 - before.1);
        let was_full = conn.waits_for_write();
        if let Some(job) = conn.take_job() {
            let (id, peer, protocol) = (conn.id(), conn.peer(), conn.protocol());
            let reply = Arc::clone(self.inbox.mailbox());
            let task = Task {
                reply,
                key,
                id,
                peer,
                protocol,
                job,
                asked: Instant::now(),
            };
            self.start_job(task);
        }
        self.links_after_drive(key);
        let Some(conn) = self.connections.get_mut(key) else {
            unreachable!("the connection was just driven");
        };
        // A write handed to the pool that left room to read into (its full
        // buffer waits behind it while another gathers) needs another
        // turn: no event comes for bytes that have already arrived, and
        // the rate window would judge a client the server was not reading.
        if was_full && !conn.waits_for_write() && matches!(step, Step::Wait(_)) {
            step = Step::Yield;
        }
        if conn.counted() == Counted::Named && !(self.count_named(key) && self.data_named(key)) {
            return;
        }
        if self.follow(key, step) {
            self.reschedule(key);
            self.note_if_idle(key);
        }
    }

    /// Queues the connection at `key` among those a newcomer may displace
    /// if it began to idle this turn: to rest between requests, or to wait
    /// bare for its first request once its TLS handshake is through. At
    /// the back, where its wait begins: a walk that met it mid-handshake
    /// took it out, and where none did, its place from its accept would
    /// stop the walk with a wait younger than those behind.
    fn note_if_idle(&mut self, key: usize) {
        let Some(conn) = self.connections.get(key) else {
            return;
        };
        let now = Some(self.turn_began);
        if conn.resting_since() == now {
            if !self.pass_resting(key) {
                self.note_resting(key);
            }
        } else if conn.bare_since() == now {
            self.note_bare_again(key);
        }
    }

    /// Runs `task` here if it is brief and the file system never waits on
    /// a device (a memory one: its outcome is taken with the pool's next,
    /// `serve::Job::brief`), else hands it to the I/O pool.
    fn start_job(&mut self, task: Task) {
        match task.job.is_brief() && self.shared.engine.runs_brief_work_in_place() {
            true => self.done_here.extend(task.run_here(&self.shared)),
            false => self.submit(task),
        }
    }

    /// Counts the connection at `key` against its named client's cap now
    /// that the name is known (PROXY header, login); over the cap it is
    /// refused as busy. False if it was closed.
    fn count_named(&mut self, key: usize) -> bool {
        let Some(conn) = self.connections.get_mut(key) else {
            return false;
        };
        if self.hub.admit_named(conn.peer()) {
            conn.set_counted();
            return true;
        }
        self.metrics.refused_busy.add(1);
        debug!(
            "#{} refused {}: {} connections open from its address",
            conn.id(),
            conn.peer(),
            self.hub.per_client.cap()
        );
        if conn.refuse_busy(self.hub.tls.is_none()) {
            return true;
        }
        self.close(key);
        false
    }

    /// Acts on the step the connection at `key` returned: waits for what
    /// it asked, queues it for another turn, or closes it. False if it was
    /// closed.
    fn follow(&mut self, key: usize, step: Step) -> bool {
        let Some(conn) = self.connections.get_mut(key) else {
            return false;
        };
        match step {
            Step::Wait(interest) => {
                if interest != conn.interest() {
                    let id = conn.id();
                    match self
                        .poll
                        .registry()
                        .reregister(conn.stream_mut(), Token(key), interest)
                    {
                        Ok(()) => conn.set_interest(interest),
                        Err(err) => {
                            error!("#{id} reregister failed: {err}");
                            self.close(key);
                        }
                    }
                }
            }
            Step::Yield => {
                if !conn.is_queued() {
                    conn.set_queued(true);
                    self.ready.push_back((key, conn.id()));
                }
            }
            Step::Close => {
                self.close(key);
                return false;
            }
        }
        true
    }
}
