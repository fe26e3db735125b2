//! A folder as one `.tar` (HTTP's `GET /<dir>/?tar`), streamed: no temp
//! file, no archive and no list of its members in memory.
//!
//! The folder is walked twice with a [`TreeCursor`], which holds a few KiB
//! per level of depth however many members there are. The first walk, on
//! the I/O pool, only adds up the members' lengths (folders and files that
//! `who` may read), which gives the archive's exact `Content-Length`: a
//! browser shows progress and a client can tell a cut download from a
//! whole one, which chunked framing would not let it do. The second walk
//! is the download: member by member, a pool job writes the headers
//! ([`crate::tar`]) as a [`Reply::More`] and opens the next file, which the
//! connection sends like any GET body (`sendfile`, windows read ahead by the
//! pool); once it is out, [`resume`] sends the connection back to the pool
//! for the next. The reactor never opens a file or reads a directory.
//! Members come in directory order, each folder before its contents.
//!
//! The tree may change between the two walks. Each member's header is
//! written from the file as opened, so header and data always agree; if
//! the members then no longer add up to the announced length (a file grew,
//! shrank, appeared or vanished), the connection is closed where the
//! archive would overrun, or short of its end, so the client sees a failed
//! download, never an archive that looks whole but is not (a warning names
//! the cause). A file that grows while it is sent keeps the length it had
//! when opened.

use std::time::Instant;

use log::{debug, warn};

use super::listing::walk_permit;
use super::{Ctx, ErrorKind, Failure, Job, Next, Outcome, Reply, Send, Source, abandoned, refuse};
use crate::access::per_client::Permit;
use crate::access::{Perm, Who};
use crate::name::{Name, Prefix};
use crate::storage::{Found, OpenFile, Storage, StorageError, TreeCursor};
use crate::tar::{END, Member, padding};

/// Header bytes gathered before they are sent: folders and empty files
/// cost no open, so a run of them is sent in pieces of about this size.
const BATCH: usize = 64 * 1024;

/// An archive being sent: where its walk and its bytes stand.
pub struct Archive {
    prefix: Prefix,
    /// What member paths start with: the folder's own name and `/`.
    base: String,
    who: Who,
    /// The download's walk.
    cursor: TreeCursor,
    /// Zero bytes owed after the file just sent.
    pad: usize,
    /// The announced length, end blocks included.
    len: u64,
    /// Bytes of members written so far, data and padding included.
    written: u64,
    started: Instant,
    /// Its place among the client's walks.
    _permit: Permit,
}

/// A `.tar` of the folder `prefix` (its head only when `body` is false).
pub(super) fn archive(ctx: &Ctx<'_>, who: Who, prefix: Prefix, body: bool) -> Outcome {
    // One of the client's walks, until the archive's last byte is out.
    let permit = match walk_permit(ctx) {
        Ok(permit) => permit,
        Err(failure) => return refuse(ctx, "TAR", prefix.as_str(), failure, Next::Request),
    };
    // Walking a tree is CPU work when it is cached: a long job.
    Outcome::on_pool_long(move |ctx| {
        let mut archive = Archive::new(prefix, who, permit);
        match archive.measure(ctx) {
            Ok(()) => {}
            Err(_) if ctx.is_abandoned() => return abandoned(ctx, "TAR", archive.prefix.as_str()),
            Err(failure) => {
                return refuse(ctx, "TAR", archive.prefix.as_str(), failure, Next::Request);
            }
        }
        debug!(
            "#{} TAR {:?} {} bytes",
            ctx.client,
            archive.prefix.as_str(),
            archive.len
        );
        let reply = Reply::Archive {
            len: archive.len,
            name: archive.file_name(),
        };
        if !body {
            return Outcome::answer(reply);
        }
        Outcome::new(reply, Next::Pool(Job::new(move |ctx| archive.next(ctx))))
    })
}

/// A file of the archive has gone out: its padding and the next members
/// come from the pool, which also closes the file.
pub fn resume(send: Send) -> Next {
    let Send { file, source, .. } = send;
    let Source::Archive(archive) = source else {
        unreachable!("resume is only called for an archive's send");
    };
    Outcome::on_pool(move |ctx| {
        drop(file);
        archive.next(ctx)
    })
    .next
}

/// The next member of `who`'s archive: a folder it may list or a file it
/// may read (the cursor prunes the folders; files are checked here).
fn next_member(
    who: &Who,
    cursor: &mut TreeCursor,
    storage: &Storage,
) -> Result<Option<Found>, StorageError> {
    loop {
        match cursor.next(storage, |folder| who.may_list(folder))? {
            Some(Found::File { name, .. }) if !who.allows(Perm::Read, &name) => continue,
            found => return Ok(found),
        }
    }
}

/// Why a walk stopped before its end: nobody waits for it (its answer is
/// dropped unread).
fn gone() -> Failure {
    Failure::new(ErrorKind::Busy, "the client has gone")
}

impl Archive {
    fn new(prefix: Prefix, who: Who, permit: Permit) -> Box<Archive> {
        let folder = prefix.as_str().trim_end_matches('/');
        let base = match folder.rsplit_once('/') {
            Some((_, last)) => format!("{last}/"),
            None if folder.is_empty() => String::new(),
            None => format!("{folder}/"),
        };
        Box::new(Archive {
            cursor: TreeCursor::new(&prefix),
            prefix,
            base,
            who,
            pad: 0,
            len: 0,
            written: 0,
            started: Instant::now(),
            _permit: permit,
        })
    }

    /// The first walk (on the pool): the archive's length, from the
    /// members as they stand now.
    fn measure(&mut self, ctx: &Ctx<'_>) -> Result<(), Failure> {
        let mut cursor = TreeCursor::new(&self.prefix);
        let mut len = END.len() as u64;
        let mut members = 0_u64;
        loop {
            let found = match next_member(&self.who, &mut cursor, ctx.storage) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(StorageError::NotFound) => {
                    return Err(Failure::new(ErrorKind::NotFound, "no such directory"));
                }
                Err(err) => return Err(err.into()),
            };
            len += match &found {
                Found::Folder { name, mtime } => self.member(name, 0, *mtime).archived_len(),
                Found::File { name, info } => {
                    self.member(name, info.size, info.mtime).archived_len()
                }
            };
            members += 1;
            // Checked now and then, not per member: an atomic load is cheap
            // but not free, and a member costs little more.
            if members.is_multiple_of(256) && ctx.is_abandoned() {
                return Err(gone());
            }
        }
        self.len = len;
        Ok(())
    }

    /// The name a browser saves it as.
    fn file_name(&self) -> String {
        match self.base.trim_end_matches('/') {
            "" => "ferry.tar".to_owned(),
            folder => format!("{folder}.tar"),
        }
    }

    /// The tar member for the folder or file `name`.
    fn member(&self, name: &str, size: u64, mtime: i64) -> MemberPath {
        MemberPath {
            path: format!("{}{}", self.base, &name[self.prefix.as_str().len()..]),
            size,
            mtime,
        }
    }

    /// The next piece (on the pool): the padding owed, the headers up to
    /// the next file with data (which is opened and sent next) or up to
    /// the end of the archive.
    fn next(mut self: Box<Self>, ctx: &Ctx<'_>) -> Outcome {
        let mut bytes = vec![0; std::mem::take(&mut self.pad)];
        while bytes.len() < BATCH {
            let found = match next_member(&self.who, &mut self.cursor, ctx.storage) {
                Ok(Some(found)) => found,
                Ok(None) => return self.end(ctx, bytes),
                Err(err) => return self.cut(ctx, &format!("the walk failed: {err}"), bytes),
            };
            let (name, mtime) = match found {
                Found::Folder { name, mtime } => (name, mtime),
                Found::File { name, info } if info.size == 0 => (name, info.mtime),
                Found::File { name, .. } => match self.open(ctx, &name) {
                    Ok(Some(found)) if found.info.size > 0 => {
                        let member = self.member(&name, found.info.size, found.info.mtime);
                        if !self.write(&member, &mut bytes) {
                            return self.cut(ctx, "it holds more than announced", bytes);
                        }
                        self.pad = padding(found.info.size);
                        let flags = (found.in_memory, found.round_trips);
                        let send =
                            Send::new(found.file, Source::Archive(self), 0, member.size, flags);
                        return Outcome::new(Reply::More(bytes), Next::Send(send));
                    }
                    Ok(Some(found)) => (name, found.info.mtime),
                    // Gone since the cursor saw it: not in the archive.
                    Ok(None) => continue,
                    Err(err) => return self.cut(ctx, &format!("{name}: {err}"), bytes),
                },
            };
            let member = self.member(&name, 0, mtime);
            if !self.write(&member, &mut bytes) {
                return self.cut(ctx, "it holds more than announced", bytes);
            }
        }
        Outcome::new(
            Reply::More(bytes),
            Next::Pool(Job::new(move |ctx| self.next(ctx))),
        )
    }

    /// File `name` opened to be sent, `None` if it is no longer there.
    fn open(&self, ctx: &Ctx<'_>, name: &str) -> Result<Option<OpenFile>, StorageError> {
        let Ok(name) = Name::new(name.to_owned()) else {
            return Ok(None);
        };
        match ctx.storage.open_read_unchecked(&name) {
            Ok(found) => Ok(Some(found)),
            Err(StorageError::NotFound) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Appends `member`'s headers to `bytes` and counts all it takes, if
    /// it fits in the announced length (false: it does not, nothing done).
    fn write(&mut self, member: &MemberPath, bytes: &mut Vec<u8>) -> bool {
        let member = member.as_member();
        let after = self.written + member.archived_len();
        if after + END.len() as u64 > self.len {
            return false;
        }
        member.header(bytes);
        self.written = after;
        true
    }

    /// The walk is over: the end blocks, if the members filled exactly
    /// the announced length.
    fn end(&self, ctx: &Ctx<'_>, mut bytes: Vec<u8>) -> Outcome {
        if self.written + END.len() as u64 != self.len {
            return self.cut(ctx, "it holds less than announced", bytes);
        }
        bytes.extend_from_slice(&END);
        debug!(
            "#{} TAR {:?} {} bytes {:.3}s",
            ctx.client,
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
            "#{} TAR {:?} changed while archived ({why}): closing short of the announced length",
            ctx.client,
            self.prefix.as_str(),
        );
        Outcome::new(Reply::More(bytes), Next::Close)
    }

    /// The folder archived, for the log.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }
}

/// A member with its path in the archive, owned.
struct MemberPath {
    path: String,
    size: u64,
    mtime: i64,
}

impl MemberPath {
    fn as_member(&self) -> Member<'_> {
        Member {
            path: &self.path,
            size: self.size,
            mtime: self.mtime,
        }
    }

    fn archived_len(&self) -> u64 {
        self.as_member().archived_len()
    }
}
