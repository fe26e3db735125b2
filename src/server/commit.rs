//! Durable commits (`--fsync`) on a helper thread.
//!
//! `fsync` can take milliseconds or more, and the reactor must never wait on
//! the disk for that long: one slow flush would stall every connection. So
//! with `--fsync` a verified upload is handed to this thread, which flushes
//! the data, renames the file into place and flushes the directory, then
//! reports back through a channel and wakes the reactor with its
//! `mio::Waker`. The connection waits in its `Committing` state meanwhile,
//! so its `OK` still means "complete, verified and on stable storage" and
//! its responses stay in order.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use log::error;
use mio::Waker;

use crate::storage::{StorageError, Upload};

/// An upload to commit, and the connection (slab key, client id) to tell.
struct Job {
    key: usize,
    id: u64,
    upload: Upload,
    crc: u32,
}

/// A finished commit.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) key: usize,
    pub(super) id: u64,
    pub(super) result: Result<(), StorageError>,
}

/// The helper thread and its two channels.
pub(super) struct Committer {
    jobs: Option<Sender<Job>>,
    finished: Receiver<Finished>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts the thread; it wakes the reactor through `waker`.
    pub(super) fn start(waker: Arc<Waker>) -> io::Result<Committer> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (outbox, finished) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ferry-fsync".into())
            .spawn(move || {
                for Job {
                    key,
                    id,
                    upload,
                    crc,
                } in inbox
                {
                    let result = upload.commit_durably(crc);
                    if outbox.send(Finished { key, id, result }).is_err() {
                        return; // the reactor is gone
                    }
                    if let Err(err) = waker.wake() {
                        error!("fsync thread could not wake the reactor: {err}");
                    }
                }
            })?;
        Ok(Committer {
            jobs: Some(jobs),
            finished,
            thread: Some(thread),
        })
    }

    /// Queues `upload` for a durable commit.
    pub(super) fn submit(&self, key: usize, id: u64, upload: Upload, crc: u32) {
        let job = Job {
            key,
            id,
            upload,
            crc,
        };
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        if !matches!(sent, Some(Ok(()))) {
            error!("#{id} fsync thread is gone; upload dropped");
        }
    }

    /// Commits finished since the last call.
    pub(super) fn finished(&self) -> impl Iterator<Item = Finished> + '_ {
        self.finished.try_iter()
    }
}

impl Drop for Committer {
    /// Finishes the queued commits before the server exits.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            error!("fsync thread panicked");
        }
    }
}
