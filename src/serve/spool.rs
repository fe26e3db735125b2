//! The spool a listing is written into (LIST, an HTTP or WebDAV listing,
//! a search, an S3 listing page): the codec's [`ListingFormat`] puts each
//! piece into a buffer, so that its length is known before the body is
//! sent. The buffer grows in memory while the server's room for listings
//! allows (`storage/spool_room.rs`: a budget for the whole server, an
//! eighth of it per listing) and the answer is then sent from there
//! ([`Held`]); a listing that outgrows its room goes on into an unlinked
//! file of the storage's, through a bounded buffer, and is sent from the
//! file, so that a listing of any size costs a descriptor, not memory.
//!
//! Memory first because the file costs more than the bytes: a 2.3 MB
//! PROPFIND spooled on a tmpfs root had its pages allocated, written, sent
//! and freed each time (`write`, `sendfile` and the file's `close` took 17 %
//! of the server's CPU for it; benches/notes/dav_nginx.md, issue 54).

use std::io::Write;

use super::{Ctx, ListingFormat, Piece};
use crate::name::Prefix;
use crate::storage::{Room, Spill, StorageError, Store};
use crate::wire::content::Content;

/// Listing bytes gathered before each write to the spool file, and the
/// first room a listing takes in memory.
const SPOOL_BUFFER: usize = 64 * 1024;

/// Room kept free at the end of a held buffer for the next piece (one
/// response of a multistatus is well under it): a piece that is larger
/// still only makes its buffer take the room it grew into afterwards.
const PIECE_ROOM: usize = 4 * 1024;

/// A listing being written, in memory while its room lasts, else into its
/// spool file through a bounded buffer.
pub(super) struct Spool<'a> {
    store: &'a dyn Store,
    /// The folder listed, as the listing's names are relative to it.
    pub(super) prefix: &'a str,
    pub(super) format: ListingFormat,
    buffer: Vec<u8>,
    /// The buffer's length at which it must grow (in memory) or be
    /// written to the file: one comparison per piece.
    mark: usize,
    /// What the buffer holds of the server's room (nothing once spilled).
    room: Room,
    /// The spill file, once the listing has outgrown its room.
    file: Option<Box<dyn Spill>>,
    /// Bytes written to the file.
    len: u64,
}

/// A spooled listing: where its bytes are, their count, and the entries
/// it lists (for the log).
pub(super) struct Spooled {
    pub(super) body: Body,
    pub(super) len: u64,
    pub(super) files: u64,
}

/// Where a spooled listing's bytes are.
pub(super) enum Body {
    /// In memory, within the server's room.
    Held(Held),
    /// In its spool file (the store's).
    File(Content),
}

/// A listing's answer held in memory while it is sent: its bytes and the
/// room they take, given back when it is dropped (sent, or its connection
/// gone).
pub struct Held {
    bytes: Vec<u8>,
    sent: usize,
    room: Room,
}

impl Drop for Held {
    /// Its buffer is kept for the next listing, pages and all, where few
    /// are.
    fn drop(&mut self) {
        self.room.keep_spare(std::mem::take(&mut self.bytes));
    }
}

impl Held {
    /// The bytes still to send.
    pub fn rest(&self) -> &[u8] {
        &self.bytes[self.sent..]
    }

    /// `n` more bytes went out.
    pub fn advance(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.bytes.len());
    }

    /// Bytes still to send.
    pub fn left(&self) -> u64 {
        (self.bytes.len() - self.sent) as u64
    }
}

impl<'a> Spool<'a> {
    pub(super) fn new(ctx: &Ctx<'a>, prefix: &'a Prefix, format: ListingFormat) -> Self {
        let mut room = ctx.store.spool_room();
        let buffer = room.take_spare();
        Spool {
            store: ctx.store,
            prefix: prefix.as_str(),
            format,
            mark: buffer.capacity().saturating_sub(PIECE_ROOM),
            buffer,
            room,
            file: None,
            len: 0,
        }
    }

    /// Writes `piece`; past the mark the buffer grows within its room,
    /// or goes to the file.
    pub(super) fn put(&mut self, piece: Piece<'_>) -> std::io::Result<()> {
        self.format.put(self.prefix, piece, &mut self.buffer);
        if self.buffer.len() >= self.mark {
            self.outgrown()?;
        }
        Ok(())
    }

    /// The buffer reached its mark: in memory, it takes twice the room
    /// (or 64 KiB at first) if the server has it; else, or once spilled,
    /// it goes to the file.
    fn outgrown(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            let len = self.buffer.len();
            let want = (len * 2).max(SPOOL_BUFFER).min(self.room.share());
            if want >= len + PIECE_ROOM && self.room.grow_to(want) {
                self.buffer.reserve_exact(want - len);
                // What the allocator gave beyond is the listing's too.
                if !self.room.grow_to(self.buffer.capacity()) {
                    return self.spill();
                }
                self.mark = want - PIECE_ROOM;
                return Ok(());
            }
            return self.spill();
        }
        self.flush()
    }

    /// Moves the listing to its spool file: what is held so far is
    /// written, the room given back, and from now on the buffer is bounded.
    fn spill(&mut self) -> std::io::Result<()> {
        let file = self.store.spill().map_err(|err| match err {
            // Out of descriptors stays a 503 once the walk's error is read.
            StorageError::Busy => std::io::Error::from(rustix::io::Errno::MFILE),
            err => std::io::Error::other(err),
        })?;
        self.file = Some(file);
        self.flush()?;
        self.buffer = Vec::with_capacity(SPOOL_BUFFER);
        self.room.give_back();
        self.mark = SPOOL_BUFFER;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(file) = &mut self.file {
            file.write_all(&self.buffer)?;
            self.len += self.buffer.len() as u64;
            self.buffer.clear();
        }
        Ok(())
    }

    /// The listing, held or in its file, with `files` for the log.
    pub(super) fn finish(mut self, files: u64) -> Result<Spooled, StorageError> {
        if self.file.is_none() {
            let len = self.buffer.len() as u64;
            let held = Held {
                bytes: self.buffer,
                sent: 0,
                room: self.room,
            };
            return Ok(Spooled {
                body: Body::Held(held),
                len,
                files,
            });
        }
        self.flush()?;
        let (Some(file), len) = (self.file, self.len) else {
            unreachable!("a spilled listing has its file");
        };
        Ok(Spooled {
            body: Body::File(file.into_content()),
            len,
            files,
        })
    }
}
