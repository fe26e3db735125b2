//! A body arriving into its sink (a PUT's temp file, an APPEND's session,
//! an S3 part), between the serve layer, which makes the [`Receive`] and
//! ends it, and the connection, which offers it the bytes it reads
//! ([`Receive::feed`]) and never looks inside: the body's framing (a fixed
//! length, or chunks), the size limit, the checksum and writes gathered
//! for the I/O pool are all kept here. A body's digests (S3's MD5...) go
//! with its gathered bytes to the pool, which hashes them as it writes.
//!
//! Why it is long: a body's two framings (fixed and chunked) and the
//! write-behind buffers share one state (the sink, the two buffers, the
//! trailer, the coding's refusal); split apart, each half would reach
//! into the other's fields. The next thing added here should move the
//! write-behind pair into a file of its own.

use std::time::Instant;

use log::warn;

use super::access::Sender;
use super::coded::Coded;
use super::conditions::Conditions;
use super::digest::{BodyDigests, Digesting};
use super::piece::PieceCheck;
use super::sink::{DEFERRED_WRITE, Sink, WriteBehind, hash_and_write};
use super::{ErrorKind, Failure, Next, Outcome, Trailer};
use crate::access::Owner;
use crate::config::Config;
use crate::formats::chunked::ChunkDecoder;
use crate::name::Name;
use crate::storage::StorageError;
use crate::wire::page_buf::PageBuf;

/// A PUT, APPEND or S3 part whose body is arriving. Where writes may wait
/// ([`Receive::deferred`]), its bytes are gathered and the I/O pool writes
/// them behind the connection, which reads on meanwhile: `pending` fills
/// while `ready` (a full buffer) waits for the sink, and the sink is away
/// ([`Receive::take_write`]) while the pool writes one buffer. Only when both
/// buffers are full, or the body is complete, does the connection wait for
/// the write to come back. At most 3 × [`DEFERRED_WRITE`] per uploading
/// connection: one buffer at the pool, one full and waiting, one filling
/// (each allocated once per upload, then passed round).
pub struct Receive {
    /// Where its bytes go; `None` while the I/O pool writes to it.
    sink: Option<Sink>,
    /// It goes into an upload session (an APPEND), which keeps what
    /// arrived if the body is cut off.
    resumable: bool,
    /// The file it is for.
    pub name: Name,
    /// Its declared length, or for a chunked body the bytes so far.
    pub(super) size: u64,
    /// Bytes still to come of a fixed-length body.
    pub(super) left: u64,
    /// CRC-32C of the bytes so far.
    pub crc: u32,
    /// The CRC-32C the client declared, checked at the end.
    pub expected_crc: Option<u32>,
    /// When the request began.
    pub started: Instant,
    /// Whose upload it is, for the hooks.
    pub user: Option<Owner>,
    /// For a chunked body: its decoder (`size` then counts up).
    pub(super) chunked: Option<Box<ChunkDecoder>>,
    /// A body that ends with its stream (FTP's `STOR`): whether the end
    /// has come (`size` then counts up; `left` from `u64::MAX` down until
    /// then).
    until_eof: Option<bool>,
    /// Where such a body's bytes begin in their file (a resumed upload's):
    /// held to the size limit with them.
    from: u64,
    /// Whose upload such a body is, cut off, kept for (a token's name;
    /// `None` without access control): `ops/resume.rs`.
    kept_for: Option<String>,
    /// Body bytes gathered, newest, not yet written (page-aligned, as
    /// the file's pages are: see `page_buf.rs`).
    pending: PageBuf,
    /// A full buffer of body bytes (older than `pending`) waiting for the
    /// sink to come back from the pool.
    ready: PageBuf,
    /// A buffer back from the pool that neither of those needs yet: the
    /// next one `pending` gathers in (not allocated and zeroed again).
    spare: PageBuf,
    /// A write behind the connection failed: the upload is over.
    failed: Option<StorageError>,
    defer: bool,
    /// The body ends with a checksum trailer (counted in `size` and
    /// `left`), whose bytes are gathered here instead of written.
    trailer: Option<(Trailer, Vec<u8>)>,
    /// An APPEND that commits its session once it holds this many bytes
    /// (tus's last `PATCH`).
    pub(super) commit_at: Option<u64>,
    /// That commit never replaces a file (through a share link).
    pub(super) commit_new_only: bool,
    /// An APPEND whose bytes must add up to a stated checksum.
    pub(super) piece: Option<Box<PieceCheck>>,
    /// A PUT's body digests (S3's), checked before the commit; they take
    /// the bytes as written (away with the sink while the pool writes).
    pub(super) digests: Option<Box<Digesting>>,
    /// A PUT's preconditions on its target, judged again at its commit.
    pub(super) preconditions: Option<Box<Conditions>>,
    /// An S3 body's `aws-chunked` coding, decoded after the framing and
    /// before everything else (the file gets its payload only).
    pub(super) coded: Option<Coded>,
    /// Why the body's coding refused it: the upload stops.
    refused: Option<Failure>,
}

/// Chunk payloads this large are written on their own; smaller ones are
/// gathered, up to [`GATHER_LIMIT`] bytes per write, so that a body of
/// one-byte chunks costs a system call per read, not per chunk.
const DIRECT_WRITE: usize = 16 * 1024;
const GATHER_LIMIT: usize = 64 * 1024;

impl Receive {
    /// A body that ends with its stream (FTP's `STOR`), for `name`, going
    /// to `sink`: its size counts up as it arrives, held to the size
    /// limit; it is whole once [`Receive::reach_eof`] says so (into a
    /// session: then committed). Cut off, a temp file's is kept for
    /// `kept_for` ([`Receive::take_cut_file`]).
    pub fn until_eof(sink: Sink, name: Name, kept_for: Option<String>) -> Box<Receive> {
        let mut receive = Receive::new(sink, name, Some(0), None);
        receive.left = u64::MAX;
        receive.until_eof = Some(false);
        receive.kept_for = kept_for;
        receive
    }

    /// Its bytes go on from `offset` of their file (a resumed upload).
    pub fn from(mut self: Box<Self>, offset: u64) -> Box<Receive> {
        self.from = offset;
        self
    }

    /// Whose upload it is kept for, cut off ([`Receive::until_eof`]).
    pub fn kept_for(&self) -> Option<&str> {
        self.kept_for.as_deref()
    }

    /// A body that ends with its stream, cut off before its end, going to
    /// a temp file: its bytes written, the upload and how much of it
    /// arrived (length and CRC-32C), to be kept. `None` for any other
    /// (or if what was gathered cannot be written: it goes then).
    pub fn take_cut_file(&mut self) -> Option<(crate::storage::Upload, (u64, u32))> {
        if self.until_eof.is_none() || !matches!(self.sink, Some(Sink::File(_))) {
            return None;
        }
        self.flush().ok()?;
        match self.sink.take() {
            Some(Sink::File(upload)) => Some((upload, (self.size, self.crc))),
            _ => None,
        }
    }

    /// Whether it ends with its stream ([`Receive::until_eof`]).
    pub fn ends_at_eof(&self) -> bool {
        self.until_eof.is_some()
    }

    /// Its stream ended in order: it is whole.
    pub fn reach_eof(&mut self) {
        if self.until_eof.is_some() {
            self.until_eof = Some(true);
            self.left = 0;
            // Into a session (a resumed `STOR`): committed, as its user's,
            // with what the session then holds.
            if self.resumable {
                self.commit_at = Some(self.from + self.size);
            }
        }
    }

    /// A body of `size` bytes (or chunked) for `name`, going to `sink`.
    pub fn new(
        sink: Sink,
        name: Name,
        size: Option<u64>,
        expected_crc: Option<u32>,
    ) -> Box<Receive> {
        Box::new(Receive {
            resumable: matches!(sink, Sink::Session(_)),
            sink: Some(sink),
            name,
            size: size.unwrap_or(0),
            left: size.unwrap_or(0),
            crc: 0,
            expected_crc,
            started: Instant::now(),
            user: None,
            chunked: match size {
                Some(_) => None,
                None => Some(Box::default()),
            },
            pending: PageBuf::default(),
            ready: PageBuf::default(),
            spare: PageBuf::default(),
            failed: None,
            defer: false,
            trailer: None,
            commit_at: None,
            commit_new_only: false,
            piece: None,
            digests: None,
            coded: None,
            refused: None,
            preconditions: None,
            until_eof: None,
            from: 0,
            kept_for: None,
        })
    }

    /// Holds the body against the digests `stated` (S3's), decoding its
    /// `aws-chunked` coding first if it has one.
    pub fn digesting(mut self: Box<Self>, stated: Option<Box<BodyDigests>>) -> Box<Receive> {
        if let Some(mut stated) = stated {
            self.coded = stated.coding.take().map(|coding| Coded::new(*coding));
            self.digests = Some(Box::new(Digesting::new(*stated)));
        }
        self
    }

    /// Takes the body's bytes at the front of `data` that it needs now
    /// (no more than the body has left and the write buffers hold),
    /// decoded from their framing, and passes them on. Returns the bytes
    /// used, and the receive to go on with or, if the upload cannot go
    /// on, the outcome that ends it.
    pub fn feed(
        mut self: Box<Self>,
        data: &[u8],
        config: &Config,
        sender: Sender<'_>,
    ) -> (usize, Result<Box<Receive>, Outcome>) {
        let client = sender.client;
        if self.chunked.is_some() {
            return self.feed_chunks(data, config, sender);
        }
        let take = usize::try_from(self.left).map_or(data.len(), |left| left.min(data.len()));
        let take = take.min(self.room());
        self.left -= take as u64;
        if self.until_eof.is_some() {
            self.size += take as u64;
            if let Err(failure) = super::check_size(config, self.from + self.size) {
                warn!("#{client} PUT {}: {failure}", self.name);
                return (take, Err(super::abandon(self, failure, Next::Close)));
            }
        }
        match self.write(&data[..take]) {
            Ok(()) => match self.refused.take() {
                // Nothing of the rest is stored; it is drained, where the
                // limits allow, so that the client reads the answer.
                Some(failure) => {
                    sender.refused(&failure);
                    let next = super::skip_body(super::Body::fixed(self.left), config);
                    (take, Err(super::abandon(self, failure, next)))
                }
                None => (take, Ok(self)),
            },
            // Removing the temp file is disk work: on the pool.
            Err(err) => (take, Err(super::write_failed(self, err, client))),
        }
    }

    /// [`Receive::feed`] for a chunked body: chunks are decoded as far as
    /// `data` goes and small ones gathered into one write. A chunked body
    /// has no known end to skip to, so every failure here is the
    /// connection's last answer.
    fn feed_chunks(
        mut self: Box<Self>,
        data: &[u8],
        config: &Config,
        sender: Sender<'_>,
    ) -> (usize, Result<Box<Receive>, Outcome>) {
        let client = sender.client;
        let mut used = 0;
        let mut gathered = Vec::new();
        let failure = loop {
            let Some(decoder) = self.chunked.as_mut() else {
                unreachable!("feed_chunks without a decoder");
            };
            let (n, payload) = match decoder.decode(&data[used..]) {
                Ok(decoded) => decoded,
                Err(err) => {
                    warn!("#{client} PUT {}: {}", self.name, err.0);
                    used = data.len();
                    break Some(Failure::new(ErrorKind::BadRequest, err.0));
                }
            };
            let done = decoder.is_done();
            used += n;
            self.size += payload.len() as u64;
            if let Err(failure) = super::check_size(config, self.size) {
                warn!("#{client} PUT {}: {failure}", self.name);
                break Some(failure);
            }
            let written = if payload.len() >= DIRECT_WRITE {
                // Large enough to write from where it lies.
                self.write_gathered(&mut gathered)
                    .and_then(|()| self.write(payload))
            } else {
                gathered.extend_from_slice(payload);
                match gathered.len() >= GATHER_LIMIT {
                    true => self.write_gathered(&mut gathered),
                    false => Ok(()),
                }
            };
            let written = match written {
                Ok(()) if n == 0 || used == data.len() || done || self.is_full() => {
                    match self.write_gathered(&mut gathered) {
                        Ok(()) => break None,
                        Err(err) => Err(err),
                    }
                }
                written => written,
            };
            if let Err(err) = written {
                log::log!(err.log_level(), "#{client} PUT {} failed: {err}", self.name);
                break Some(self.failure(err));
            }
            if let Some(failure) = self.refused.take() {
                sender.refused(&failure);
                break Some(failure);
            }
        };
        match failure {
            Some(failure) => (used, Err(super::abandon(self, failure, Next::Close))),
            None => (used, Ok(self)),
        }
    }

    /// Writes the gathered body bytes (if any) and empties `gathered`.
    fn write_gathered(&mut self, gathered: &mut Vec<u8>) -> Result<(), StorageError> {
        let written = self.write(gathered);
        gathered.clear();
        written
    }

    /// Body bytes it takes now: what a read is sized for.
    pub fn wanted(&self) -> u64 {
        self.left.min(self.room() as u64)
    }

    /// Whether a body cut off keeps what arrived (an APPEND: its upload
    /// goes on from there), so that the cut is no damage to warn of.
    pub fn is_resumable(&self) -> bool {
        self.resumable
    }

    /// Body bytes received so far and declared (0 for a chunked body), for
    /// a log line.
    pub fn progress(&self) -> (u64, u64) {
        match self.until_eof {
            Some(_) => (self.size, self.size),
            None => (self.size - self.left, self.size),
        }
    }

    /// Judged again at the commit: the PUT's `preconditions` on its
    /// target (`If-Match`, `If-None-Match`).
    pub fn expecting(mut self: Box<Self>, preconditions: Option<Box<Conditions>>) -> Box<Receive> {
        self.preconditions = preconditions;
        self
    }

    /// Sent by `user` (for the hooks).
    pub fn by(mut self: Box<Self>, user: Option<Owner>) -> Box<Receive> {
        self.user = user;
        self
    }

    /// The body is followed by `trailer` (if any): its bytes are taken
    /// after the body's and held back from the sink. A chunked body's
    /// trailer is its chunked trailer section (kept by the decoder).
    pub fn with_trailer(mut self: Box<Self>, trailer: Option<Trailer>) -> Box<Receive> {
        if let Some(trailer) = trailer {
            debug_assert!(
                self.chunked.is_none() || trailer.len == 0,
                "a chunked body's trailer is in its framing"
            );
            self.size = self.size.saturating_add(trailer.len);
            self.left = self.size;
            let held = Vec::with_capacity(usize::try_from(trailer.len).unwrap_or(0));
            self.trailer = Some((trailer, held));
        }
        self
    }

    /// The trailer and its bytes, once the body is complete.
    pub fn take_trailer(&mut self) -> Option<(Trailer, Vec<u8>)> {
        let (trailer, held) = self.trailer.take()?;
        Some(match &self.chunked {
            Some(decoder) => (trailer, decoder.trailer_section().to_vec()),
            None => (trailer, held),
        })
    }

    /// Writes go through the I/O pool: bytes are gathered (up to
    /// [`DEFERRED_WRITE`]) and written there, behind the connection, for a
    /// file system where a write can wait (see [`crate::config::PoolWrites`]).
    pub fn deferred(mut self: Box<Self>, defer: bool) -> Box<Receive> {
        self.defer = defer;
        self
    }

    /// Whether [`Receive::feed`] writes what it is fed to the file before it
    /// returns (on the loop), not gathered for the I/O pool.
    pub fn writes_as_fed(&self) -> bool {
        !self.defer
    }

    /// Commits the session this APPEND stages into, as `user`'s, once it
    /// holds `size` bytes (tus: the `PATCH` that completes an upload ends
    /// it), never over a file with `create_only`.
    pub fn commit_when_whole(&mut self, size: u64, user: Option<Owner>, create_only: bool) {
        self.commit_at = Some(size);
        self.user = user;
        self.commit_new_only = create_only;
    }

    /// Holds the body's bytes against `check` at the end: on a mismatch
    /// the APPEND's bytes are taken back.
    pub fn check_piece(&mut self, check: PieceCheck) {
        self.piece = Some(Box::new(check));
    }

    /// How many more body bytes this receive takes now: all of them when
    /// writing directly, else what the gathering buffers have room for.
    pub fn room(&self) -> usize {
        match self.defer {
            true => DEFERRED_WRITE.saturating_sub(self.pending.len()),
            false => usize::MAX,
        }
    }

    /// Whether it takes no more bytes until a write behind it comes back.
    pub fn is_full(&self) -> bool {
        self.room() == 0
    }

    /// Whether the I/O pool is writing behind it (its sink is away).
    pub fn is_writing(&self) -> bool {
        self.sink.is_none()
    }

    /// Whether the connection has to wait for a write behind it: its
    /// buffers are full (the next write starts as soon as the sink is
    /// home), or the body is complete and the sink is away.
    pub fn waits_for_write(&self) -> bool {
        self.is_full() || (self.is_writing() && self.is_complete())
    }

    /// The gathered bytes (oldest first) and the sink, for the I/O pool to
    /// write; `None` if the sink is away or what is gathered may wait.
    pub fn take_write(&mut self) -> Option<WriteBehind> {
        // A PUT's or part's bytes wait for a full buffer (a pool round trip
        // per buffer, not per read); a session's go at once: others see them.
        let due = !self.ready.is_empty()
            || (!self.pending.is_empty()
                && (self.is_complete() || matches!(self.sink, Some(Sink::Session(_)))));
        if !self.defer || self.failed.is_some() || !due {
            return None;
        }
        let sink = self.sink.take()?;
        let buffer = match self.ready.is_empty() {
            false => std::mem::take(&mut self.ready),
            true => std::mem::take(&mut self.pending),
        };
        // A full `pending` waits in `ready` now, so that reading goes on
        // into the spare buffer while this one is written.
        self.move_full_pending();
        Some(WriteBehind::new(sink, self.digests.take(), buffer))
    }

    /// A write behind came back: the sink is home again, its buffer is
    /// reused, and a failure ends the upload ([`Receive::take_failure`]).
    pub fn wrote(&mut self, back: WriteBehind) {
        let WriteBehind {
            sink,
            digests,
            mut buffer,
            result,
        } = back;
        self.sink = Some(sink);
        self.digests = digests;
        if let Err(err) = result {
            self.failed = Some(err);
        }
        buffer.clear();
        if self.pending.capacity() == 0 {
            self.pending = buffer;
        } else if self.ready.capacity() == 0 {
            self.ready = buffer;
        } else {
            self.spare = buffer;
        }
        self.move_full_pending();
    }

    /// The failure of a write behind, once. The bytes gathered behind it
    /// go with it: written after the failed ones (as an APPEND that ends
    /// keeps what arrived), they would land after a gap, and the kept
    /// bytes a client resumes from would hold the wrong part of its file.
    pub fn take_failure(&mut self) -> Option<StorageError> {
        let failed = self.failed.take();
        if failed.is_some() {
            self.ready.clear();
            self.pending.clear();
        }
        failed
    }

    /// A full `pending` becomes `ready` (if that is free), so that bytes
    /// can be gathered again while it waits to be written.
    fn move_full_pending(&mut self) {
        if self.ready.is_empty() && self.pending.len() >= DEFERRED_WRITE {
            std::mem::swap(&mut self.pending, &mut self.ready);
        }
    }

    /// Hashes and writes the gathered bytes (on the I/O pool), oldest
    /// first.
    ///
    /// # Errors
    /// As for [`Receive::write`]; a write behind that failed, or a sink
    /// still away (a broken invariant: the connection waits for it).
    pub fn flush(&mut self) -> Result<(), StorageError> {
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        let Some(sink) = &mut self.sink else {
            log::error!("{}: flushed while a write behind was away", self.name);
            return Err(StorageError::Io(std::io::Error::other(
                "write still in progress",
            )));
        };
        let mut digests = self.digests.as_deref_mut();
        let written = hash_and_write(sink, digests.as_deref_mut(), self.ready.as_slice())
            .and_then(|()| hash_and_write(sink, digests, self.pending.as_slice()));
        self.ready.clear();
        self.pending.clear();
        written
    }

    /// The sink, for a receive that is complete and flushed.
    pub fn take_sink(&mut self) -> Option<Sink> {
        self.sink.take()
    }

    /// Ends a receive that will not complete, on the I/O pool: an APPEND
    /// keeps what arrived (its gathered bytes are written, unless a write
    /// behind is still away: they would land after a gap); a PUT's temp
    /// file goes.
    pub fn settle(mut self: Box<Self>) {
        if matches!(self.sink, Some(Sink::Session(_))) {
            let _ = self.flush();
        }
    }

    /// What to tell the client of `err`, a failed write (see
    /// [`Sink::failure`]).
    pub fn failure(&self, err: StorageError) -> Failure {
        match &self.sink {
            Some(sink) => sink.failure(&self.name, err),
            None => err.into(),
        }
    }

    /// Passes body bytes to where they go (or gathers them, if deferred).
    ///
    /// # Errors
    /// The sink could not take them (disk full, upload taken over...).
    fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let data = match &mut self.trailer {
            // `left` already excludes `data`: the trailer is the last
            // `len` bytes of what was left before it.
            Some((trailer, held)) => {
                let before = self.left + data.len() as u64;
                let body = before.saturating_sub(trailer.len);
                let body = usize::try_from(body).map_or(data.len(), |b| b.min(data.len()));
                held.extend_from_slice(&data[body..]);
                &data[..body]
            }
            None => data,
        };
        let Some(mut coded) = self.coded.take() else {
            return self.write_payload(data);
        };
        let written = coded.decode(data, |payload| self.write_payload(payload));
        self.coded = Some(coded);
        match written? {
            Ok(()) => Ok(()),
            Err(refused) => {
                warn!(
                    "PUT {}: aws-chunked body refused: {}",
                    self.name, refused.message
                );
                self.refused = Some(refused);
                Ok(())
            }
        }
    }

    /// Passes payload bytes on: checksums, then the sink (or gathered; the
    /// digests take them when they are written).
    fn write_payload(&mut self, data: &[u8]) -> Result<(), StorageError> {
        if data.is_empty() {
            return Ok(());
        }
        self.crc = crate::formats::castagnoli::append(self.crc, data);
        if let Some(piece) = &mut self.piece {
            piece.update(data);
        }
        if self.defer {
            self.gathering(data.len());
            self.pending.extend_from_slice(data);
            self.move_full_pending();
            return Ok(());
        }
        match &mut self.sink {
            Some(sink) => hash_and_write(sink, self.digests.as_deref_mut(), data),
            None => unreachable!("the sink leaves only for deferred writes"),
        }
    }

    /// Gives `pending` a buffer, if it has none, for `n` bytes to come:
    /// no larger than the body still needs (a chunked body's grows as it
    /// fills).
    fn gathering(&mut self, n: usize) {
        if self.pending.capacity() > 0 {
            return;
        }
        self.pending = match self.spare.capacity() {
            0 => {
                let body = usize::try_from(self.left).unwrap_or(usize::MAX);
                PageBuf::with_capacity(DEFERRED_WRITE.min(n.saturating_add(body)))
            }
            _ => std::mem::take(&mut self.spare),
        };
    }

    /// Where the connection may read body bytes straight into (instead of
    /// through the reactor's buffer and a copy): the room of the gathering
    /// buffer, for a body written behind the connection with nothing to
    /// take off its bytes first (a fixed length or to its stream's end, no
    /// chunks, no coding, no trailer), whose buffer is large enough to be
    /// page-aligned (see [`crate::wire::page_buf::ALIGNED_FROM`]). `None`
    /// for every other body: it goes through [`Receive::feed`].
    pub fn read_target(&mut self, config: &Config) -> Option<&mut [u8]> {
        let plain = self.defer
            && self.chunked.is_none()
            && self.coded.is_none()
            && self.trailer.is_none()
            && self.failed.is_none()
            && self.refused.is_none();
        let left = match self.until_eof {
            // A body to its stream's end counts up: read here no further
            // than the size limit lets it grow; what comes past that goes
            // through `feed`, which refuses it.
            Some(_) => super::size_room(config, self.from + self.size),
            None => self.left,
        };
        let want = usize::try_from(left).map_or(self.room(), |left| left.min(self.room()));
        if !plain || want == 0 {
            return None;
        }
        self.gathering(0);
        self.pending.reserve(want);
        // A small body's buffer is not page-aligned, and its room is not
        // initialised: it is read through the reactor's buffer.
        Some(&mut self.pending.spare_mut()?[..want])
    }

    /// `n` bytes were read into [`Receive::read_target`]: they are taken as
    /// [`Receive::feed`] takes them (the checksums now; the digests with
    /// the write behind).
    pub fn took_in_place(&mut self, n: usize) {
        let at = self.pending.len();
        self.pending.filled(n);
        let data = &self.pending.as_slice()[at..];
        self.crc = crate::formats::castagnoli::append(self.crc, data);
        if let Some(piece) = &mut self.piece {
            piece.update(data);
        }
        self.left -= data.len() as u64;
        if self.until_eof.is_some() {
            self.size += data.len() as u64;
        }
        self.move_full_pending();
    }

    /// Whether the whole body has arrived.
    pub fn is_complete(&self) -> bool {
        match &self.chunked {
            Some(decoder) => decoder.is_done(),
            None => self.left == 0,
        }
    }
}
