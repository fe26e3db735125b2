//! A body's hashes computed on a thread of their own, beside the writes
//! (S3's MD5 `ETag`, a signed SHA-256): the I/O thread that writes a
//! buffer hands a copy of it to the lane and goes on, so that hashing
//! buffer N runs while buffer N+1 is written and N+2 received, where it
//! used to run before each write on the same thread. MD5 cannot be
//! split (each block needs the last), and on this machine it costs 1.4 s
//! per GiB against the whole HTTP PUT's 0.8: in line, it and the write
//! took turns on one thread (0.34 GB/s for a 1 GiB PutObject).
//!
//! The lane is a thread per body, started from the body's second buffer
//! (a small body is hashed in line: a thread would cost more than it
//! saves) while fewer lanes than the host has cores run; a body that finds
//! none free is hashed in line, as before. The copies go through a
//! bounded channel ([`QUEUED`]), so a sender that outruns the lane waits
//! for it (the I/O thread, never the loop: only writes behind the
//! connection use a lane), and come back to be filled again: at most
//! [`QUEUED`] + 2 buffers per lane.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// Copies queued for a lane before its sender waits.
const QUEUED: usize = 2;

/// Lanes running now, across the server.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// A hash state a lane feeds.
pub(super) trait Absorb: Send + 'static {
    /// Takes the next bytes.
    fn absorb(&mut self, data: &[u8]);
}

/// A lane hashing one body (see the module).
pub(super) struct HashLane<T> {
    to: SyncSender<Vec<u8>>,
    /// Copies hashed, to be filled again.
    back: Receiver<Vec<u8>>,
    thread: JoinHandle<Option<T>>,
}

impl<T> std::fmt::Debug for HashLane<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashLane").finish_non_exhaustive()
    }
}

/// A running lane's place in its count, given back when its thread ends.
struct Running(&'static AtomicUsize);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T: Absorb> HashLane<T> {
    /// A lane that hashes into `state` from now on, or `state` back if
    /// as many lanes as cores run or a thread cannot be started.
    ///
    /// # Errors
    /// No lane: hash in line.
    pub(super) fn start(state: T) -> Result<HashLane<T>, T> {
        // Read once: `available_parallelism` reads the cgroup's files.
        static CAP: OnceLock<usize> = OnceLock::new();
        let cap = *CAP.get_or_init(crate::threads::crew::cores);
        HashLane::start_within(state, &RUNNING, cap)
    }

    /// As [`HashLane::start`], with at most `cap` lanes counted in
    /// `running`.
    fn start_within(state: T, running: &'static AtomicUsize, cap: usize) -> Result<HashLane<T>, T> {
        if running.fetch_add(1, Ordering::AcqRel) >= cap {
            running.fetch_sub(1, Ordering::AcqRel);
            return Err(state);
        }
        let place = Running(running);
        // Handed over through a slot, so that a thread that cannot be
        // started leaves it here.
        let slot = Arc::new(Mutex::new(Some(state)));
        let (to, from) = mpsc::sync_channel::<Vec<u8>>(QUEUED);
        let (give_back, back) = mpsc::channel();
        let taken = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("ferry-hash".into())
            .stack_size(crate::threads::crew::STACK)
            .spawn(move || {
                let _place = place;
                let mut state = taken.lock().unwrap_or_else(|e| e.into_inner()).take()?;
                for data in from {
                    state.absorb(&data);
                    // The lane's owner may have finished: nothing to give.
                    let _ = give_back.send(data);
                }
                Some(state)
            });
        match spawned {
            Ok(thread) => Ok(HashLane { to, back, thread }),
            Err(err) => {
                // The closure, and its place, went with the error.
                log::warn!("a body is hashed in line: no thread for it: {err}");
                match slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    Some(state) => Err(state),
                    None => unreachable!("a thread never started took the hash state"),
                }
            }
        }
    }

    /// Hands a copy of `data`, the body's next bytes, to the lane; waits
    /// while [`QUEUED`] copies are ahead of it. Blocks: an I/O thread's
    /// call.
    ///
    /// # Errors
    /// The lane's thread has gone (it cannot, but for a panic): the
    /// body's hashes are lost.
    pub(super) fn send(&mut self, data: &[u8]) -> Result<(), LaneLost> {
        let mut copy = self.back.try_recv().unwrap_or_default();
        copy.clear();
        copy.extend_from_slice(data);
        self.to.send(copy).map_err(|_| LaneLost)
    }

    /// Waits for the lane to hash everything sent, and gives its state
    /// back.
    ///
    /// # Errors
    /// The lane's thread has gone (a panic): the hashes are lost.
    pub(super) fn finish(self) -> Result<T, LaneLost> {
        drop(self.to);
        self.thread.join().ok().flatten().ok_or(LaneLost)
    }
}

/// A lane's thread ended before its body did.
#[derive(Debug)]
pub(super) struct LaneLost;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Log(Vec<u8>);

    impl Absorb for Log {
        fn absorb(&mut self, data: &[u8]) {
            self.0.extend_from_slice(data);
        }
    }

    #[test]
    fn a_lane_takes_every_byte_in_order_and_gives_its_state_back() {
        static COUNTED: AtomicUsize = AtomicUsize::new(0);
        let mut lane = HashLane::start_within(Log::default(), &COUNTED, 1).unwrap();
        let mut expected = Vec::new();
        for i in 0..50u8 {
            let piece = vec![i; 1000 + usize::from(i)];
            lane.send(&piece).unwrap();
            expected.extend_from_slice(&piece);
        }
        assert_eq!(lane.finish().unwrap().0, expected);
    }

    #[test]
    fn no_more_lanes_than_the_cap_run_at_once_and_a_finished_one_frees_its_place() {
        static COUNTED: AtomicUsize = AtomicUsize::new(0);
        let start = || HashLane::start_within(Log::default(), &COUNTED, 2);
        let (first, second) = (start(), start());
        assert!(first.is_ok() && second.is_ok());
        let Err(refused) = start() else {
            panic!("a third lane beside two")
        };
        assert!(refused.0.is_empty(), "the state comes back whole");
        first.unwrap().finish().unwrap();
        assert!(start().is_ok_and(|lane| lane.finish().is_ok()));
        second.unwrap().finish().unwrap();
    }
}
