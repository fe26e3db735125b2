//! The operation log of a recording mount: every call that changes the
//! file system or makes something durable, in the order the kernel sent
//! it, named by backing inode, with the bytes written. What the crash-state
//! enumeration (`states.rs`) replays; the simulator's own durable image
//! (`model.rs`) is kept as usual beside it.
//!
//! Writes are kept at page granularity (`PAGE` bytes, aligned to the
//! file's offsets): contiguous writes to one file with nothing else
//! recorded in between are one run of pages however the server's reads
//! from its sockets split them, so the log (and the number of crash
//! states) is the same on every run. Times (atime, mtime) are
//! not recorded: nothing ferry promises depends on them.

use std::ffi::OsString;

/// The unit of partial writeback: what a disk writes back at a time.
pub const PAGE: u64 = 4096;

/// One recorded call. `dir` and `ino` are backing inodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new directory `ino`, named `name` in `dir`.
    Mkdir {
        dir: u64,
        name: OsString,
        ino: u64,
        mode: u32,
    },
    /// A new, empty regular file `ino`, named `name` in `dir`.
    Create {
        dir: u64,
        name: OsString,
        ino: u64,
        mode: u32,
    },
    /// Another name for file `ino`.
    Link { dir: u64, name: OsString, ino: u64 },
    /// A name removed (unlink or rmdir).
    Unlink { dir: u64, name: OsString },
    /// A name moved, replacing what the new name held.
    Rename {
        from: (u64, OsString),
        to: (u64, OsString),
    },
    /// Bytes written at `at`, within one page.
    Write { ino: u64, at: u64, data: Vec<u8> },
    /// A new length.
    Truncate { ino: u64, len: u64 },
    /// A new mode.
    Mode { ino: u64, mode: u32 },
    /// An extended attribute set (`Some`) or removed (`None`).
    Xattr {
        ino: u64,
        name: OsString,
        value: Option<Vec<u8>>,
    },
    /// `fsync`/`fdatasync` of a file, or `fsync` of a directory: the
    /// barrier for everything recorded before it on `ino`.
    Flush { ino: u64 },
}

impl Event {
    /// The inodes whose durable state this event changes, each of which
    /// persists its events in order: a directory's names, a file's bytes
    /// and attributes. A rename belongs to both its directories.
    pub fn streams(&self) -> Vec<u64> {
        match self {
            Event::Mkdir { dir, .. }
            | Event::Create { dir, .. }
            | Event::Link { dir, .. }
            | Event::Unlink { dir, .. } => vec![*dir],
            Event::Rename { from, to } if from.0 == to.0 => vec![from.0],
            Event::Rename { from, to } => vec![from.0, to.0],
            Event::Write { ino, .. }
            | Event::Truncate { ino, .. }
            | Event::Mode { ino, .. }
            | Event::Xattr { ino, .. }
            | Event::Flush { ino } => vec![*ino],
        }
    }
}

/// The log of a recording mount.
#[derive(Debug, Default, Clone)]
pub struct Log {
    pub events: Vec<Event>,
    /// Events before this one are never added to (see [`Log::mark`]).
    sealed: usize,
}

impl Log {
    /// A point in the log: how many events are recorded so far. Bytes
    /// written later are never added to an event before it.
    pub fn mark(&mut self) -> usize {
        self.sealed = self.events.len();
        self.sealed
    }

    /// Records `event`; a write is cut at page boundaries, and continues
    /// the last page of the file's run of writes if it is contiguous with
    /// it (see the module).
    pub fn push(&mut self, event: Event) {
        let Event::Write { ino, at, data } = event else {
            self.events.push(event);
            return;
        };
        let (mut at, mut data) = (at, &data[..]);
        while !data.is_empty() {
            let room = (PAGE - at % PAGE) as usize;
            let (head, rest) = data.split_at(room.min(data.len()));
            if !self.continue_page(ino, at, head) {
                self.events.push(Event::Write {
                    ino,
                    at,
                    data: head.to_vec(),
                });
            }
            at += head.len() as u64;
            data = rest;
        }
    }

    /// Adds `data` (within one page) to the last event if that is a write
    /// to `ino` ending in the same page exactly where `data` begins. Only
    /// the very last: moving bytes before another event would make states
    /// that hold them before they were written.
    fn continue_page(&mut self, ino: u64, at: u64, data: &[u8]) -> bool {
        if self.events.len() <= self.sealed {
            return false;
        }
        match self.events.last_mut() {
            Some(Event::Write {
                ino: last,
                at: start,
                data: page,
            }) if *last == ino
                && *start + page.len() as u64 == at
                && *start / PAGE == at / PAGE =>
            {
                page.extend_from_slice(data);
                true
            }
            _ => false,
        }
    }
}
