//! A folder as one `.tar` or `.zip` (HTTP's `GET /<dir>/?tar`, `?zip`),
//! streamed: no temp file and no archive in memory (a zip keeps its
//! central directory, about 50 bytes plus the path per member, until its
//! end).
//!
//! The folder is walked twice with a store's [`Cursor`](crate::storage::Cursor) (a few KiB
//! per level of depth however many members there are). The first walk, on
//! the I/O pool, only adds up the members' lengths (folders and files that
//! `who` may read), which gives the archive's exact `Content-Length`: a
//! browser shows progress and a client can tell a cut download from a
//! whole one, which chunked framing would not let it do. The second walk
//! is the download: member by member, a pool job writes the headers
//! ([`crate::formats::tar`], [`crate::formats::zip`]) as a [`Reply::More`] and opens the next file, which the
//! connection sends like any GET body (`sendfile`, windows read ahead by the
//! pool); once it is out, [`resume`] sends the connection back to the pool
//! for the next. The reactor never opens a file or reads a directory.
//! Members come in directory order, each folder before its contents,
//! the requested folder's own entry first (none for the root).
//!
//! A zip member's CRC-32 is computed on a checksum thread, and goes in the
//! data descriptor after its data (`archive_layout.rs`): the data itself
//! still goes out with `sendfile`.
//!
//! On a disk, while a member is sent, the next file with data is opened
//! and read from the disk on a checksum thread ([`Archive::look_ahead`]):
//! a zip's for its CRC-32, a tar's only into the page cache. That read
//! overlaps the send, and the next send finds its file cached. A file that
//! changes while it is sent and read may get a CRC that does not match
//! what was sent, which the client reports.
//!
//! The tree may change between the two walks. Each member's header is
//! written from the file as opened, so header and data always agree; if
//! the members then no longer add up to the announced length (a file grew,
//! shrank, appeared or vanished), the connection is closed where the
//! archive would overrun, or short of its end, so the client sees a failed
//! download, never an archive that looks whole but is not (a warning names
//! the cause). A file that grows while it is sent keeps the length it had
//! when opened.
//!
//! What the walk yields for `who` is `archive_walk.rs`'s; the two walks,
//! the look-ahead and the members' order are one piece of state (the
//! walk, what it gave ahead of its turn, the bytes written against the
//! announced length), here.

use std::collections::VecDeque;
use std::time::Instant;

use log::{debug, warn};

use crate::access::Who;
use crate::access::per_client::Permit;
use crate::model::Found;
use crate::name::{Name, Prefix};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::walk_permit;
use crate::serve::{
    Ctx, ErrorKind, Failure, Job, Next, Outcome, Reply, Send, Source, abandoned, refuse,
};
use crate::storage::{Open, Opened, StorageError};

use crate::serve::archive_layout::{Format, Layout, MemberCrc, MemberPath};
use crate::serve::archive_walk::Walk;

/// Header bytes gathered before they are sent: folders and empty files
/// cost no open, so a run of them is sent in pieces of about this size.
const BATCH: usize = 64 * 1024;

/// Entries the walk may give past the member being sent while looking
/// for the next file with data ([`Archive::look_ahead`]): a bound on
/// what waits in memory, and on one pool job's work.
const LOOK_AHEAD: usize = 256;

/// Largest file opened, and its CRC-32 started, before its turn.
const LOOK_AHEAD_SIZE: u64 = 64 * 1024 * 1024;

/// A member ready to be written: its header, and a file with data opened.
struct Ready {
    member: MemberPath,
    data: Option<Data>,
}

/// A member's file, opened to be sent, with its CRC-32 if it was started
/// before its turn.
struct Data {
    file: Opened,
    crc: Option<MemberCrc>,
}

/// What the walk gave before its turn, in order.
enum Peeked {
    Found(Found),
    Ready(Box<Ready>),
    /// The walk failed: the archive stops short there.
    Failed(String),
}

/// An archive being sent: where its walk and its bytes stand.
pub struct Archive {
    prefix: Prefix,
    /// What member paths start with: the folder's own name and `/`.
    base: String,
    who: Who,
    /// The download's walk.
    walk: Walk,
    /// Entries it gave before their turn ([`Archive::look_ahead`]).
    peeked: VecDeque<Peeked>,
    /// Its bytes, as its format lays them out.
    layout: Layout,
    /// The announced length, end records included.
    len: u64,
    /// Bytes of members written so far, all they take counted (data,
    /// padding, a zip member's central header).
    written: u64,
    started: Instant,
    /// Its place among the client's walks.
    _permit: Permit,
}

/// The folder `prefix` as one archive.
#[derive(Debug)]
pub struct ArchiveFolder {
    /// The folder (empty for the top, else ending in `/`).
    pub prefix: Prefix,
    /// Tar or zip.
    pub format: Format,
    /// The archive follows the answer (false: only its length).
    pub body: bool,
}

impl Operate for ArchiveFolder {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.prefix.as_str(), Needs::Listing(self.prefix.as_str()))
    }

    /// A `format` archive of the folder `prefix` (its head only when
    /// `body` is false).
    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        archive(ctx, who, self.prefix, self.format, self.body)
    }
}

fn archive(ctx: &Ctx<'_>, who: Who, prefix: Prefix, format: Format, body: bool) -> Outcome {
    let verb = format.verb();
    // One of the client's walks, until the archive's last byte is out.
    let permit = match walk_permit(ctx) {
        Ok(permit) => permit,
        Err(failure) => return refuse(ctx, verb, prefix.as_str(), failure, Next::Request),
    };
    // Walking a tree is CPU work when it is cached: a long job.
    Outcome::on_pool_long(move |ctx| {
        let mut archive = Archive::new(prefix, who, format, permit);
        match archive.measure(ctx) {
            Ok(()) => {}
            Err(_) if ctx.is_abandoned() => return abandoned(ctx, verb, archive.prefix.as_str()),
            Err(failure) => {
                return refuse(ctx, verb, archive.prefix.as_str(), failure, Next::Request);
            }
        }
        debug!(
            "#{} {verb} {:?} {} bytes",
            ctx.client,
            archive.prefix.as_str(),
            archive.len
        );
        let reply = Reply::Archive {
            len: archive.len,
            name: archive.file_name(),
            format,
        };
        if !body {
            return Outcome::answer(reply);
        }
        Outcome::new(reply, Next::Pool(Job::new(move |ctx| archive.next(ctx))))
    })
}

/// A file of the archive has gone out: what is owed after it and the next
/// members come from the pool, in one job, which also closes the file.
/// A zip member's CRC-32 that is not done yet (a thread still reads the
/// file, or none has started) is waited for or computed on the checksum
/// threads first, as every whole-file checksum is, not on the I/O pool.
pub fn resume(send: Send) -> Next {
    let Send { body, source, .. } = send;
    let Source::Archive(mut archive) = source else {
        unreachable!("resume is only called for an archive's send");
    };
    let waits = archive.layout.waits_for_crc();
    let after = move |ctx: &Ctx<'_>| {
        let sent = archive.layout.file_sent(&body);
        drop(body);
        match sent {
            Ok(()) if waits => Outcome::on_pool(move |ctx| archive.next(ctx)),
            Ok(()) => archive.next(ctx),
            Err(err) => archive.cut(ctx, &format!("reading it: {err}"), Vec::new()),
        }
    };
    match waits {
        true => Next::Pool(Job::checksum(after)),
        false => Next::Pool(Job::new(after)),
    }
}

/// Why a walk stopped before its end: nobody waits for it (its answer is
/// dropped unread).
fn gone() -> Failure {
    Failure::new(ErrorKind::Busy, "the client has gone")
}

impl Archive {
    fn new(prefix: Prefix, who: Who, format: Format, permit: Permit) -> Box<Archive> {
        let folder = prefix.as_str().trim_end_matches('/');
        let base = match folder.rsplit_once('/') {
            Some((_, last)) => format!("{last}/"),
            None if folder.is_empty() => String::new(),
            None => format!("{folder}/"),
        };
        Box::new(Archive {
            walk: Walk::new(&prefix),
            peeked: VecDeque::new(),
            prefix,
            base,
            who,
            layout: Layout::new(format),
            len: 0,
            written: 0,
            started: Instant::now(),
            _permit: permit,
        })
    }

    /// The first walk (on the pool): the archive's length, from the
    /// members as they stand now.
    fn measure(&mut self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let mut walk = Walk::new(&self.prefix);
        // Members' lengths as classic and as zip64 records: which one the
        // zip is is known only at the end.
        let mut lens = [0_u64; 2];
        let mut members = 0_u64;
        loop {
            let found = match walk.next(&self.who, ctx.store) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(StorageError::NotFound) => {
                    return Err(Failure::new(
                        ErrorKind::NotFound,
                        crate::serve::NO_SUCH_FOLDER,
                    ));
                }
                Err(err) => return Err(err.into()),
            };
            let member = match &found {
                Found::Folder { name, mtime } => self.member(name, 0, *mtime),
                Found::File { name, info } => self.member(name, info.size, info.mtime),
            };
            let [classic, zip64] = self.layout.member_lens(&member);
            lens[0] += classic;
            lens[1] += zip64;
            members += 1;
            // Checked now and then, not per member: an atomic load is cheap
            // but not free, and a member costs little more.
            if members.is_multiple_of(256) && ctx.is_abandoned() {
                return Err(gone());
            }
        }
        self.len = self.layout.measured(members, lens);
        Ok(())
    }

    /// The name a browser saves it as.
    fn file_name(&self) -> String {
        let ext = self.layout.format.extension();
        match self.base.trim_end_matches('/') {
            "" => format!("ferry.{ext}"),
            folder => format!("{folder}.{ext}"),
        }
    }

    /// The member for the folder or file `name`.
    fn member(&self, name: &str, size: u64, mtime: i64) -> MemberPath {
        MemberPath {
            path: format!("{}{}", self.base, &name[self.prefix.as_str().len()..]),
            size,
            mtime,
        }
    }

    /// The next piece (on the pool): what is owed after the file just
    /// sent, the headers up to the next file with data (which is opened
    /// and sent next) or up to the end of the archive.
    fn next(mut self: Box<Self>, ctx: &Ctx<'_>) -> Outcome {
        let mut bytes = self.layout.take_owed();
        while bytes.len() < BATCH {
            let Ready { member, data } = match self.ready(ctx) {
                Ok(Some(ready)) => ready,
                Ok(None) => return self.end(ctx, bytes),
                Err(why) => return self.cut(ctx, &why, bytes),
            };
            if !self.write(member, &mut bytes) {
                return self.cut(ctx, "it holds more than announced", bytes);
            }
            let Some(Data { file, crc }) = data else {
                continue;
            };
            let size = file.version.info.size;
            let crc = crc.or_else(|| self.layout.start_crc(&file.body, size, ctx.store));
            self.layout.sending(crc);
            if !file.body.never_waits() {
                self.look_ahead(ctx);
            }
            let send = Send::new(file.body, Source::Archive(self), 0, size);
            return Outcome::new(Reply::More(bytes), Next::Send(send));
        }
        Outcome::new(
            Reply::More(bytes),
            Next::Pool(Job::new(move |ctx| self.next(ctx))),
        )
    }

    /// The next member: the first looked ahead ([`Self::look_ahead`]),
    /// else the walk's next; `Err` says why the archive stops short.
    fn ready(&mut self, ctx: &Ctx<'_>) -> Result<Option<Ready>, String> {
        loop {
            let found = match self.peeked.pop_front() {
                Some(Peeked::Found(found)) => found,
                Some(Peeked::Ready(ready)) => return Ok(Some(*ready)),
                Some(Peeked::Failed(why)) => return Err(why),
                None => match self.walk.next(&self.who, ctx.store) {
                    Ok(Some(found)) => found,
                    Ok(None) => return Ok(None),
                    Err(err) => return Err(format!("the walk failed: {err}")),
                },
            };
            // `None`: a file gone since the cursor saw it, not in the archive.
            if let Some(ready) = self.prepare(ctx, found)? {
                return Ok(Some(ready));
            }
        }
    }

    /// `found` as a member, a file with data opened to be sent (its
    /// header is written from the file as opened); `None` if it is gone.
    fn prepare(&self, ctx: &Ctx<'_>, found: Found) -> Result<Option<Ready>, String> {
        let (name, mtime) = match found {
            Found::Folder { name, mtime } => (name, mtime),
            Found::File { name, info } if info.size == 0 => (name, info.mtime),
            Found::File { name, .. } => {
                let file = match self.open(ctx, &name) {
                    Ok(Some(file)) => file,
                    Ok(None) => return Ok(None),
                    Err(err) => return Err(format!("{name}: {err}")),
                };
                let info = file.version.info;
                let member = self.member(&name, info.size, info.mtime);
                let data = (info.size > 0).then_some(Data { file, crc: None });
                return Ok(Some(Ready { member, data }));
            }
        };
        let member = self.member(&name, 0, mtime);
        Ok(Some(Ready { member, data: None }))
    }

    /// While a member is sent, the walk goes on to the next file with data
    /// (through at most [`LOOK_AHEAD`] entries), which is opened and, if
    /// it is not in the page cache, read from the disk on a checksum
    /// thread: for its CRC-32 (a zip's member, [`Layout::start_crc`]), or
    /// only into the cache ([`crate::storage::Store::cache_ahead`]).
    /// That read overlaps this member's send, and the next send finds its
    /// file cached, with no trip to the pool to read it in (from a cold
    /// disk, 1,000 files of 1 MiB: a tar 1.3-1.5 -> 2.3-2.4 GB/s, a first
    /// zip 0.9 -> 2.2 GB/s; benches/notes/archive.md). A file larger than
    /// [`LOOK_AHEAD_SIZE`] is left to its turn, so that its read cannot
    /// evict it before its send on a host with little memory. Not for a
    /// file in memory (tmpfs), nor one found cached: there is no disk read
    /// to overlap, and a zip's CRC read of the file being sent, beside its
    /// send, shares the CPU caches with it where the next file's would not
    /// (first zips ran 5 % slower on a tmpfs, 10-15 % on ext4 in the page
    /// cache, when they read ahead). What the walk gives meanwhile waits,
    /// in order, in `peeked`.
    fn look_ahead(&mut self, ctx: &Ctx<'_>) {
        if !self.peeked.is_empty() {
            return;
        }
        for _ in 0..LOOK_AHEAD {
            let found = match self.walk.next(&self.who, ctx.store) {
                Ok(Some(found)) => found,
                Ok(None) => return,
                Err(err) => {
                    let why = format!("the walk failed: {err}");
                    return self.peeked.push_back(Peeked::Failed(why));
                }
            };
            match &found {
                Found::File { info, .. } if info.size > LOOK_AHEAD_SIZE => {
                    return self.peeked.push_back(Peeked::Found(found));
                }
                Found::File { info, .. } if info.size > 0 => {}
                _ => {
                    self.peeked.push_back(Peeked::Found(found));
                    continue;
                }
            }
            let again = found.clone();
            match self.prepare(ctx, found) {
                Ok(Some(mut ready)) => {
                    if let Some(data) = &mut ready.data {
                        self.read_before_its_turn(ctx, data);
                    }
                    return self.peeked.push_back(Peeked::Ready(Box::new(ready)));
                }
                Ok(None) => {}
                // Opened again at its turn, where a failure counts: what
                // failed early (a descriptor short, EMFILE) may not then.
                Err(_) => return self.peeked.push_back(Peeked::Found(again)),
            }
        }
    }

    /// Starts reading `data`'s file from the disk on a checksum thread,
    /// unless it is in the page cache: for its CRC-32 (a zip's member), or
    /// only into the cache when there is none to compute (a tar's member,
    /// or a CRC-32 recorded with the file).
    fn read_before_its_turn(&self, ctx: &Ctx<'_>, data: &mut Data) {
        let (body, size) = (&data.file.body, data.file.version.info.size);
        if body.is_cached_window(0, size) {
            return;
        }
        let crc = self.layout.start_crc(body, size, ctx.store);
        if crc.as_ref().is_none_or(MemberCrc::is_done) {
            ctx.store.cache_ahead(body, size);
        }
        data.crc = crc;
    }

    /// File `name` opened to be sent, `None` if it is no longer there.
    fn open(&self, ctx: &Ctx<'_>, name: &str) -> Result<Option<Opened>, StorageError> {
        let Ok(name) = Name::new(name.to_owned()) else {
            return Ok(None);
        };
        match ctx.store.open(&name, Open::Unchecked) {
            Ok(found) => Ok(found),
            Err(StorageError::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Appends `member`'s headers to `bytes` and counts all it takes, if
    /// it fits in the announced length (false: it does not, nothing done).
    fn write(&mut self, member: MemberPath, bytes: &mut Vec<u8>) -> bool {
        let after = self.written + self.layout.member_len(&member);
        if after + self.layout.end_len() > self.len {
            return false;
        }
        self.written = after;
        self.layout.header(member, bytes);
        true
    }

    /// The walk is over: the end records, if the members filled exactly
    /// the announced length.
    fn end(&mut self, ctx: &Ctx<'_>, mut bytes: Vec<u8>) -> Outcome {
        if self.written + self.layout.end_len() != self.len {
            return self.cut(ctx, "it holds less than announced", bytes);
        }
        self.layout.end(&mut bytes);
        debug!(
            "#{} {} {:?} {} bytes {:.3}s",
            ctx.client,
            self.layout.format.verb(),
            self.prefix.as_str(),
            self.len,
            self.started.elapsed().as_secs_f64()
        );
        Outcome::new(Reply::More(bytes), Next::Request)
    }

    /// The folder changed since it was measured: the archive stops short
    /// of its announced length (see the module's header).
    fn cut(&self, ctx: &Ctx<'_>, why: &str, bytes: Vec<u8>) -> Outcome {
        warn!(
            "#{} {} {:?} changed while archived ({why}): closing short of the announced length",
            ctx.client,
            self.layout.format.verb(),
            self.prefix.as_str(),
        );
        Outcome::new(Reply::More(bytes), Next::Close)
    }

    /// The folder archived, for the log.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// The archive's name in the log (`TAR`, `ZIP`).
    pub fn verb(&self) -> &'static str {
        self.layout.format.verb()
    }
}
