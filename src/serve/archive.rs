//! A folder as one `.tar` (HTTP's `GET /<dir>/?tar`), streamed: no temp
//! file, no archive in memory.
//!
//! The folder is walked once on the I/O pool into a list of its members
//! (folders and files that `who` may read, with their sizes), which gives
//! the archive's exact length for the answer's head. Then, member by
//! member, a pool job writes the headers ([`crate::tar`]) as a
//! [`Reply::More`] and opens the next file, which the connection sends
//! like any GET body (`sendfile`, windows read ahead by the pool); once it
//! is out, [`resume`] sends the connection back to the pool for the next.
//! The reactor never opens a file or reads a directory, and a connection
//! holds the member list plus at most [`BATCH`] bytes of headers.
//!
//! A file that changed size since the walk, or vanished, cannot be put in
//! the announced length honestly: the connection is closed there, short of
//! its `Content-Length`, so the client sees a failed download, never a
//! corrupt archive (a warning names the file). A file that grows while it
//! is sent keeps the length it had when opened.

use std::time::Instant;

use log::{debug, warn};

use super::listing::walk_permit;
use super::{Ctx, ErrorKind, Failure, Job, Next, Outcome, Reply, Send, Source, abandoned, refuse};
use crate::access::per_client::Permit;
use crate::access::{Perm, Who};
use crate::name::{Name, Prefix};
use crate::storage::StorageError;
use crate::tar::{END, Member, padding};

/// Header bytes gathered before they are sent: folders and empty files
/// cost no open, so a run of them is sent in pieces of about this size.
const BATCH: usize = 64 * 1024;

/// Most members in one archive: the member list is the connection's
/// memory, so a folder with more is refused (413) rather than held.
pub const MAX_MEMBERS: usize = 100_000;

/// One folder or file to archive, by its full name (a folder's ends in `/`).
struct Entry {
    name: String,
    size: u64,
    mtime: i64,
}

/// An archive being sent: the members and where it stands.
pub struct Archive {
    prefix: Prefix,
    /// What member paths start with: the folder's own name and `/`.
    base: String,
    entries: Vec<Entry>,
    /// The next member to write.
    at: usize,
    /// Zero bytes owed after the file just sent.
    pad: usize,
    len: u64,
    started: Instant,
    /// Its place among the client's walks.
    _permit: Permit,
}

/// A `.tar` of the folder `prefix` (its head only when `body` is false).
pub(super) fn archive(ctx: &Ctx<'_>, who: Who, prefix: Prefix, body: bool) -> Outcome {
    // One of the client's walks, until the archive's last byte is out (its
    // member list is memory held for it).
    let permit = match walk_permit(ctx) {
        Ok(permit) => permit,
        Err(failure) => return refuse(ctx, "TAR", prefix.as_str(), failure, Next::Request),
    };
    // Walking a tree is CPU work when it is cached: a long job.
    Outcome::on_pool_long(move |ctx| {
        let entries = match walk(ctx, &who, &prefix) {
            Ok(entries) => entries,
            Err(_) if ctx.is_abandoned() => return abandoned(ctx, "TAR", prefix.as_str()),
            Err(failure) => return refuse(ctx, "TAR", prefix.as_str(), failure, Next::Request),
        };
        let archive = Archive::new(prefix, entries, permit);
        debug!(
            "#{} TAR {:?} {} members, {} bytes",
            ctx.client,
            archive.prefix.as_str(),
            archive.entries.len(),
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

/// Every folder and file below `prefix` that `who` may see, folders before
/// their contents, each level in name order.
fn walk(ctx: &Ctx<'_>, who: &Who, prefix: &Prefix) -> Result<Vec<Entry>, Failure> {
    let too_many = || {
        Failure::new(
            ErrorKind::TooLarge,
            format!("more than {MAX_MEMBERS} files and folders to archive at once"),
        )
    };
    let mut entries = Vec::new();
    // Folders still to read, the next one last.
    let mut pending = vec![prefix.clone()];
    while let Some(dir) = pending.pop() {
        if ctx.is_abandoned() {
            return Err(gone());
        }
        let listing = match ctx.storage.list_directory(&dir) {
            Ok(listing) => listing,
            // A folder gone since its parent was read: nothing in it.
            Err(StorageError::NotFound) if dir != *prefix => continue,
            Err(StorageError::NotFound) => {
                return Err(Failure::new(ErrorKind::NotFound, "no such directory"));
            }
            Err(err) => return Err(err.into()),
        };
        let files = listing
            .files
            .into_iter()
            .filter(|entry| who.allows(Perm::Read, &entry.name));
        for entry in files {
            entries.push(Entry {
                name: entry.name,
                size: entry.info.size,
                mtime: entry.info.mtime,
            });
        }
        let dirs = listing
            .dirs
            .into_iter()
            .filter(|(dir, _)| who.may_list(dir));
        for (name, mtime) in dirs.rev() {
            // A folder no request could name (a control character, a path
            // too long) is left out with what is in it, as LIST leaves such
            // names out, rather than refusing the whole archive.
            let Ok(folder) = Prefix::new(name.clone()) else {
                log::warn!("#{} archive: left out folder {name:?}", ctx.client);
                continue;
            };
            pending.push(folder);
            entries.push(Entry {
                name,
                size: 0,
                mtime,
            });
        }
        if entries.len() > MAX_MEMBERS {
            return Err(too_many());
        }
    }
    // Each folder before what is in it, each level in name order.
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Why a walk stopped before its end: nobody waits for it (its answer is
/// dropped unread).
fn gone() -> Failure {
    Failure::new(ErrorKind::Busy, "the client has gone")
}

impl Archive {
    fn new(prefix: Prefix, entries: Vec<Entry>, permit: Permit) -> Box<Archive> {
        let folder = prefix.as_str().trim_end_matches('/');
        let base = match folder.rsplit_once('/') {
            Some((_, last)) => format!("{last}/"),
            None if folder.is_empty() => String::new(),
            None => format!("{folder}/"),
        };
        let mut archive = Archive {
            prefix,
            base,
            entries,
            at: 0,
            pad: 0,
            len: END.len() as u64,
            started: Instant::now(),
            _permit: permit,
        };
        archive.len += (0..archive.entries.len())
            .map(|at| archive.member(at, |member| member.archived_len()))
            .sum::<u64>();
        Box::new(archive)
    }

    /// The name a browser saves it as.
    fn file_name(&self) -> String {
        match self.base.trim_end_matches('/') {
            "" => "ferry.tar".to_owned(),
            folder => format!("{folder}.tar"),
        }
    }

    /// `with` the tar member of entry `at`.
    fn member<T>(&self, at: usize, with: impl FnOnce(&Member<'_>) -> T) -> T {
        let entry = &self.entries[at];
        let path = format!("{}{}", self.base, &entry.name[self.prefix.as_str().len()..]);
        with(&Member {
            path: &path,
            size: entry.size,
            mtime: entry.mtime,
        })
    }

    /// The next piece (on the pool): the padding owed, the headers up to
    /// the next file with data (which is opened and sent next) or up to
    /// the end of the archive.
    fn next(mut self: Box<Self>, ctx: &Ctx<'_>) -> Outcome {
        let mut bytes = vec![0; std::mem::take(&mut self.pad)];
        while self.at < self.entries.len() {
            let at = self.at;
            self.at += 1;
            let size = self.entries[at].size;
            if size == 0 {
                self.member(at, |member| member.header(&mut bytes));
                if bytes.len() >= BATCH {
                    return Outcome::new(
                        Reply::More(bytes),
                        Next::Pool(Job::new(move |ctx| self.next(ctx))),
                    );
                }
                continue;
            }
            let opened = Name::new(self.entries[at].name.clone())
                .map_err(|_| StorageError::NotFound)
                .and_then(|name| ctx.storage.open_read_unchecked(&name));
            let found = match opened {
                Ok(found) if found.info.size == size => found,
                Ok(found) => {
                    return self.cut(ctx, at, &format!("now {} bytes", found.info.size), bytes);
                }
                Err(err) => return self.cut(ctx, at, &err.to_string(), bytes),
            };
            self.member(at, |member| member.header(&mut bytes));
            self.pad = padding(size);
            let flags = (found.in_memory, found.round_trips);
            let send = Send::new(found.file, Source::Archive(self), 0, size, flags);
            return Outcome::new(Reply::More(bytes), Next::Send(send));
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

    /// Entry `at` is not what the walk found: the archive stops short of
    /// its announced length (see the module's header).
    fn cut(&self, ctx: &Ctx<'_>, at: usize, why: &str, bytes: Vec<u8>) -> Outcome {
        warn!(
            "#{} TAR {:?}: {} changed while archived ({why}): closing short of the announced length",
            ctx.client,
            self.prefix.as_str(),
            self.entries[at].name
        );
        Outcome::new(Reply::More(bytes), Next::Close)
    }

    /// The folder archived, for the log.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }
}
