//! An SFTP session's codec: each request packet becomes a serve-layer
//! operation (or is answered here, where it asks nothing of the root:
//! `INIT`, `REALPATH`, `CLOSE`), and each reply becomes the answer packet
//! its request is waiting for. Requests are served one at a time in the
//! order they came; a client that pipelines (OpenSSH's `sftp` keeps 64 in
//! flight) gets its answers in that order, which SFTP allows.
//!
//! Paths: the client's `/` is the root, and every path is absolute from
//! it (SFTP has no working folder on the server: `REALPATH(".")` is `/`).
//! `.` and `..` are steps, and `..` above the root stays there, as FTP's
//! (`crate::ftp::path`).
//!
//! Handles are the open files and folders of the session (`handles.rs`).

use std::sync::{Arc, Mutex, PoisonError};

use crate::ftp::path::{file_name, folder_prefix, resolve};
use crate::serve::ops::{Describe, Get, List, ReadStaged, being_written};
use crate::serve::terms::Page;
use crate::serve::{Body, ErrorKind, Operation, Reply, Request, Scope, Want};

use super::handles::{Handles, MAX_HANDLES, Opened, Paging};
use super::listing::{Listed, Names, PAGE};
use super::pinned::Pinned;
use super::wire::{self, Fields, Status};
use crate::serve::decoded::{Decoded, Refusal};

/// The largest packet taken (OpenSSH's own limit, `SFTP_MAX_MSG_LENGTH`).
pub const MAX_PACKET: usize = 256 * 1024;

/// The most bytes one `READ` is answered with (what `limits@openssh.com`
/// would announce; OpenSSH asks for 32 KiB at a time).
pub(super) const MAX_READ: u32 = 64 * 1024;

/// The request being served, and how its reply is answered.
#[derive(Debug, Default)]
pub(super) enum Pending {
    #[default]
    None,
    /// `STAT`, `LSTAT`, `FSTAT`: its attributes.
    Describe(u32),
    /// `OPEN` for reading, once the name proves a file.
    Open(u32, String),
    /// `OPENDIR`, once the name proves a folder.
    OpenFolder(u32, String),
    /// `READ`: its bytes.
    Read(u32),
    /// `READDIR`: a page of the folder in the handle's slot, and what its
    /// listing's format found.
    ReadFolder(u32, usize, Arc<Mutex<Listed>>),
    /// `OPEN` for writing (`EXCL` or not): its upload session begun.
    Create(u32, bool),
    /// `WRITE`: its bytes staged in the handle's session (in its slot).
    Write(u32, usize),
    /// `FSETSTAT` of a file being written (in the slot): cut short.
    Resize(u32, usize),
    /// `CLOSE` of a file whose copy nothing changed: its session let go.
    Release(u32, usize),
    /// `CLOSE` of a file written: its session committed.
    Commit(u32, usize),
    /// `CLOSE` of a file a write failed in: its session let go.
    Discard(u32, usize),
    /// A change to the tree (`changes.rs`): done, or why not.
    Change(u32),
    /// `statvfs@openssh.com`: the room there.
    StatVfs(u32),
}

/// One SFTP session's codec state.
#[derive(Debug, Default)]
pub struct Sftp {
    /// `INIT` came.
    started: bool,
    /// Its open files and folders.
    pub(super) handles: Handles,
    pub(super) pending: Pending,
    /// Answers given here, for [`Sftp::answered`].
    pub(super) answer: Vec<u8>,
    /// Bytes of the last `WRITE`'s packet past its data, skipped before
    /// the next packet ([`Sftp::skip_trailing`]).
    pub(super) trailing: usize,
    /// The id of a request refused from its head alone (too long), for
    /// the refusal's answer ([`Sftp::refuse`]).
    refused_id: Option<u32>,
}

impl Sftp {
    /// A session before its `INIT`.
    pub fn new() -> Sftp {
        Sftp::default()
    }

    /// Decodes the request packet at the front of `input`.
    pub fn decode(&mut self, input: &[u8]) -> Decoded {
        if self.trailing > 0 {
            return self.skip_trailing(input);
        }
        let Some(len) = wire::packet_len(input) else {
            return Decoded::Incomplete;
        };
        if len > MAX_PACKET + 4 {
            // Refused with its id, so the client says why (OpenSSH's
            // `sftp` reads a status for another id as "Reply id
            // mismatch"): the 5 bytes after the length are waited for.
            if self.started {
                let mut head = Fields::new(input.get(4..9).unwrap_or_default());
                match (head.byte(), head.u32()) {
                    (Some(_), Some(id)) => self.refused_id = Some(id),
                    _ => return Decoded::Incomplete,
                }
            }
            return refused(
                format!("a packet of {len} bytes: at most {MAX_PACKET}"),
                None,
            );
        }
        if len > 4 && input.get(4) == Some(&wire::WRITE) && self.started {
            // Its data is an APPEND's body: only its head is needed, unless it
            // is refused (skipped whole). An empty packet (`len` 4) has no type.
            let whole = input.len() >= len;
            if whole || self.takes_write(input, len) {
                return match self.write(input, len) {
                    Some((step, used)) => step.used(used),
                    None if whole => self
                        .fail(0, Status::BadMessage, "a malformed WRITE")
                        .used(len),
                    None => Decoded::Incomplete,
                };
            }
            return Decoded::Incomplete;
        }
        let Some(packet) = input.get(4..len) else {
            return Decoded::Incomplete;
        };
        let mut fields = Fields::new(packet);
        let kind = fields.byte().unwrap_or(0);
        if kind == wire::INIT && !self.started {
            return self.init(len);
        }
        let Some(id) = fields.u32() else {
            return refused("a packet without its id".into(), None);
        };
        if !self.started {
            return refused("a request before INIT".into(), None);
        }
        match self.request(kind, id, &mut fields) {
            Some(decoded) => decoded.used(len),
            None => self
                .fail(id, Status::BadMessage, "a malformed request")
                .used(len),
        }
    }

    /// `INIT`: version 3 whatever the client's (OpenSSH's sftp-server
    /// does the same).
    fn init(&mut self, len: usize) -> Decoded {
        self.started = true;
        wire::version(&mut self.answer, wire::OFFERED);
        Decoded::Answered(len)
    }

    /// The request of `kind`, or `None` if its fields are malformed.
    fn request(&mut self, kind: u8, id: u32, fields: &mut Fields<'_>) -> Option<Step> {
        Some(match kind {
            wire::REALPATH => {
                let path = resolve("", fields.path()?);
                wire::one_name(&mut self.answer, id, &format!("/{path}"));
                Step::Answered
            }
            wire::STAT | wire::LSTAT => self.describe(id, resolve("", fields.path()?)),
            wire::FSTAT => match self.opened(fields.string()?) {
                Some(Opened::File(path, _) | Opened::Folder(path, _)) => {
                    let path = path.clone();
                    self.look(id, path, Pending::Describe(id))
                }
                // What it holds so far: it is not the file's until CLOSE.
                Some(Opened::Upload { received, .. }) => {
                    let received = *received;
                    wire::attrs(&mut self.answer, id, &being_written(received));
                    Step::Answered
                }
                None => self.stale(id),
            },
            wire::OPEN => {
                let path = resolve("", fields.path()?);
                let flags = fields.u32()?;
                fields.skip_attrs()?;
                let writes = wire::OPEN_WRITE | wire::OPEN_APPEND | wire::OPEN_CREATE;
                if flags & (writes | wire::OPEN_TRUNCATE) != 0 {
                    return Some(self.create(id, &path, flags));
                }
                self.look(id, path.clone(), Pending::Open(id, path))
            }
            wire::OPENDIR => {
                let path = resolve("", fields.path()?);
                self.look(id, path.clone(), Pending::OpenFolder(id, path))
            }
            wire::READ => {
                let handle = fields.string()?;
                let offset = fields.u64()?;
                let len = fields.u32()?.min(MAX_READ);
                match self.opened(handle) {
                    Some(Opened::File(path, found)) => {
                        let Some(name) = file_name(path) else {
                            return Some(self.fail(id, Status::NoSuchFile, "no such file"));
                        };
                        let pinned = Pinned::to(found, offset, u64::from(len));
                        self.pending = Pending::Read(id);
                        let want = Want::Chosen(Box::new(pinned));
                        serve(Operation::Get(Get { name, want }))
                    }
                    Some(Opened::Folder(..)) => self.fail(id, Status::Failure, "a folder's handle"),
                    Some(Opened::Upload {
                        session, opener, ..
                    }) => {
                        // What it holds now: the bytes written so far.
                        let read = ReadStaged {
                            id: session.clone(),
                            offset,
                            len,
                            opener: *opener,
                        };
                        self.pending = Pending::Read(id);
                        serve(Operation::ReadStaged(read))
                    }
                    None => self.stale(id),
                }
            }
            wire::READDIR => self.read_folder(id, fields.string()?),
            wire::CLOSE => {
                let handle = fields.string()?;
                if let (Some(slot), Some(Opened::Upload { .. })) =
                    (self.handles.slot_of(handle), self.opened(handle))
                {
                    return Some(self.close_upload(id, slot));
                }
                match self.handles.close(handle) {
                    true => self.fail(id, Status::Ok, "closed"),
                    false => self.stale(id),
                }
            }
            wire::REMOVE | wire::MKDIR | wire::RMDIR | wire::RENAME | wire::SETSTAT => {
                return self.change(kind, id, fields);
            }
            wire::FSETSTAT => {
                let handle = fields.string()?;
                match (self.opened(handle), self.handles.slot_of(handle)) {
                    (Some(Opened::File(path, _) | Opened::Folder(path, _)), _) => {
                        let name = file_name(&path.clone())?;
                        return self.set_stat(id, name, fields.attrs()?);
                    }
                    (Some(Opened::Upload { .. }), Some(slot)) => {
                        self.set_upload_stat(id, slot, fields.attrs()?)
                    }
                    _ => self.stale(id),
                }
            }
            wire::EXTENDED => return self.extended(id, fields),
            wire::SYMLINK => self.fail(id, Status::OpUnsupported, "ferry makes no symlinks"),
            _ => self.unsupported(id, "not served yet"),
        })
    }

    /// `READDIR`: the next page of the folder's listing, or its end.
    fn read_folder(&mut self, id: u32, handle: &[u8]) -> Step {
        let slot = self.handles.slot_of(handle);
        let (path, after) = match (self.opened(handle), slot) {
            (Some(Opened::Folder(_, paging)), _) if paging.done => {
                return self.fail(id, Status::Eof, "end of the folder");
            }
            (Some(Opened::Folder(path, paging)), Some(_)) => (path.clone(), paging.after.clone()),
            (Some(Opened::File(..)), _) => {
                return self.fail(id, Status::Failure, "a file's handle");
            }
            _ => return self.stale(id),
        };
        let (Some(prefix), Some(slot)) = (folder_prefix(&path), slot) else {
            return self.fail(id, Status::NoSuchFile, "not a folder name ferry takes");
        };
        let (format, listed) = Names::new();
        self.pending = Pending::ReadFolder(id, slot, listed);
        let page = Page {
            delimiter: Some("/".to_owned()),
            after,
            max: PAGE,
            within: file_name(&path),
        };
        serve(Operation::List(List {
            prefix,
            scope: Scope::Keys(Box::new(page)),
            format: Box::new(format),
            body: true,
        }))
    }

    /// What `path` is, answered with its attributes: for a file being
    /// written by this token, or cut off, what it holds (`reput`'s offset).
    fn describe(&mut self, id: u32, path: String) -> Step {
        match file_name(&path) {
            Some(name) => {
                self.pending = Pending::Describe(id);
                serve(Operation::Describe(Describe::kept_or(&name)))
            }
            None => self.look(id, path, Pending::Describe(id)),
        }
    }

    /// What `path` is, answered as `pending` says; a name ferry takes
    /// for none (a reserved `.ferry-` one, a NUL, a segment too long) is
    /// not there.
    fn look(&mut self, id: u32, path: String, pending: Pending) -> Step {
        let describe = match file_name(&path) {
            Some(name) => Describe::of(&name),
            None if path.is_empty() => Describe::root(),
            None => return self.fail(id, Status::NoSuchFile, "no such file"),
        };
        self.pending = pending;
        serve(Operation::Describe(describe))
    }

    /// A status answered here.
    pub(super) fn fail(&mut self, id: u32, code: Status, message: &str) -> Step {
        wire::status(&mut self.answer, id, code, message);
        Step::Answered
    }

    pub(super) fn unsupported(&mut self, id: u32, message: &str) -> Step {
        self.fail(id, Status::OpUnsupported, message)
    }

    pub(super) fn stale(&mut self, id: u32) -> Step {
        self.fail(id, Status::Failure, "no such handle")
    }

    /// Takes the answers given here (after [`Decoded::Answered`]).
    pub fn answered(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.answer);
    }

    /// Appends the answer to the request being served.
    pub fn encode(&mut self, reply: &Reply, out: &mut Vec<u8>) {
        if reply.answer_code().is_none() {
            // Not an answer yet (nothing, a go-ahead).
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        if self.upload_answer(&pending, reply, out) {
            return;
        }
        match (pending, reply) {
            (Pending::Describe(id), Reply::Described(found)) => wire::attrs(out, id, found),
            (Pending::Open(id, path), Reply::Described(found)) if !found.folder => {
                self.open(out, id, Opened::File(path, *found));
            }
            (Pending::OpenFolder(id, path), Reply::Described(found)) if found.folder => {
                self.open(out, id, Opened::Folder(path, Paging::default()));
            }
            (Pending::StatVfs(id), Reply::Space(room)) => wire::statvfs(out, id, room),
            (Pending::Change(id), Reply::Remains(..)) => {
                wire::status(out, id, Status::Failure, "not empty");
            }
            (Pending::Change(id), Reply::Patched(patched)) => Self::patched(out, id, patched),
            // The one change with a precondition: a cut's, that its file be there.
            (Pending::Change(id), Reply::Failed(failure))
                if failure.kind == ErrorKind::PreconditionFailed =>
            {
                wire::status(out, id, Status::NoSuchFile, "no such file");
            }
            (Pending::Change(id), reply) if !matches!(reply, Reply::Failed(_)) => {
                wire::status(out, id, Status::Ok, "done");
            }
            (Pending::ReadFolder(id, slot, listed), Reply::Listing { len }) => {
                self.page_read(out, (id, slot), &listed, *len);
            }
            (Pending::Open(id, _), Reply::Described(_)) => {
                wire::status(out, id, Status::Failure, "a folder, not a file");
            }
            (Pending::OpenFolder(id, _), Reply::Described(_)) => {
                wire::status(out, id, Status::Failure, "a file, not a folder");
            }
            (Pending::Read(id), Reply::File { len: 0, .. } | Reply::Unsatisfiable { .. }) => {
                wire::status(out, id, Status::Eof, "end of file");
            }
            (Pending::Read(id), Reply::Staged(bytes)) if bytes.is_empty() => {
                wire::status(out, id, Status::Eof, "end of file");
            }
            (Pending::Read(id), Reply::Staged(bytes)) => wire::data(out, id, bytes),
            (Pending::Read(id), Reply::File { len, .. }) => {
                wire::data_head(out, id, u32::try_from(*len).unwrap_or(MAX_READ));
            }
            (Pending::Read(id), Reply::Failed(failure))
                if failure.kind == ErrorKind::PreconditionFailed =>
            {
                let why = "the file changed since it was opened: open it again";
                wire::status(out, id, Status::Failure, why);
            }
            (pending, Reply::Failed(failure)) => {
                let id = pending.id().unwrap_or(0);
                wire::status(out, id, wire::status_of(failure), &failure.message);
            }
            (pending, _) => {
                let (id, why) = (pending.id(), "an answer this request has no words for");
                wire::status(out, id.unwrap_or(0), Status::Failure, why);
            }
        }
    }

    /// A page of a folder's listing answered: its head (the entries
    /// follow, `len` bytes), or the folder's end; where the next begins.
    fn page_read(
        &mut self,
        out: &mut Vec<u8>,
        (id, slot): (u32, usize),
        listed: &Mutex<Listed>,
        len: u64,
    ) {
        let listed = listed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(Opened::Folder(_, paging)) = self.handles.at(slot) {
            paging.after.clone_from(&listed.last);
            paging.done = !listed.more;
        }
        match listed.count {
            0 => wire::status(out, id, Status::Eof, "end of the folder"),
            count => wire::names_head(out, id, count, len),
        }
    }

    /// Appends the answer to a request the codec refused.
    pub fn refuse(&mut self, refusal: &Refusal, out: &mut Vec<u8>) {
        let pending = std::mem::take(&mut self.pending).id();
        let id = self.refused_id.take().or(pending).unwrap_or(0);
        wire::status(out, id, Status::BadMessage, &refusal.message);
    }

    /// A handle for `opened`, answered; or a refusal if the session holds
    /// [`MAX_HANDLES`] already.
    pub(super) fn open(&mut self, out: &mut Vec<u8>, id: u32, opened: Opened) {
        match self.handles.open(opened) {
            Some(handle) => wire::handle(out, id, &handle),
            None => {
                let why = format!("{MAX_HANDLES} files and folders open already: close one");
                wire::status(out, id, Status::Failure, &why);
            }
        }
    }

    /// What `handle` stands for, if it is one of the session's.
    pub(super) fn opened(&self, handle: &[u8]) -> Option<&Opened> {
        self.handles.get(handle)
    }
}

impl Pending {
    fn id(&self) -> Option<u32> {
        match self {
            Pending::None => None,
            Pending::Describe(id) | Pending::Read(id) => Some(*id),
            Pending::ReadFolder(id, ..) => Some(*id),
            Pending::Create(id, _) | Pending::Write(id, ..) => Some(*id),
            Pending::Commit(id, _) | Pending::Discard(id, _) => Some(*id),
            Pending::Resize(id, _) | Pending::Release(id, _) => Some(*id),
            Pending::Change(id) | Pending::StatVfs(id) => Some(*id),
            Pending::Open(id, _) | Pending::OpenFolder(id, _) => Some(*id),
        }
    }
}

/// What a request came to, before its length is known to the caller.
pub(super) enum Step {
    /// Answered here.
    Answered,
    /// For the serve layer.
    Serve(Box<Request>),
}

impl Step {
    pub(super) fn used(self, len: usize) -> Decoded {
        match self {
            Step::Answered => Decoded::Answered(len),
            Step::Serve(request) => Decoded::Request(*request, len),
        }
    }
}

pub(super) fn serve(operation: Operation) -> Step {
    Step::Serve(Box::new(Request::from(operation)))
}

/// A packet the session cannot go on from: answered, then the
/// connection closes (`skip` `None`: out of sync).
fn refused(message: String, skip: Option<(usize, Body)>) -> Decoded {
    Decoded::Refused(Refusal {
        code: Status::BadMessage as u16,
        message,
        skip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session after `INIT`, with a file open for writing at 0.
    fn writing() -> (Sftp, [u8; 8]) {
        let mut sftp = Sftp::new();
        assert!(matches!(
            sftp.decode(&[0, 0, 0, 5, 1, 0, 0, 0, 3]),
            Decoded::Answered(9)
        ));
        let handle = sftp.handles.open(Opened::Upload {
            name: crate::name::Name::new("f".into()).unwrap(),
            session: "s".into(),
            opener: 1,
            received: 0,
            failed: false,
            scattered: false,
            exclusive: false,
            mtime: None,
            unchanged_copy: false,
        });
        (sftp, handle.unwrap())
    }

    /// A `WRITE` at 0 of `data` bytes of data in a packet of `len`.
    fn write(handle: &[u8], data: u32, len: usize) -> Vec<u8> {
        let mut packet = ((len - 4) as u32).to_be_bytes().to_vec();
        packet.extend_from_slice(&[wire::WRITE, 0, 0, 0, 7, 0, 0, 0, handle.len() as u8]);
        packet.extend_from_slice(handle);
        packet.extend_from_slice(&[0; 8]);
        packet.extend_from_slice(&data.to_be_bytes());
        packet.resize(len, b'x');
        packet
    }

    #[test]
    fn a_write_longer_than_its_data_is_taken_whole_and_the_rest_skipped() {
        let (mut sftp, handle) = writing();
        sftp.answered(&mut Vec::new()); // INIT's VERSION
        let packet = write(&handle, 100, 1000);
        // rclone's: a packet of 1000 bytes whose data says 100, taken
        // only once whole (never refused after a part was taken).
        assert!(matches!(sftp.decode(&packet[..500]), Decoded::Incomplete));
        assert!(matches!(sftp.decode(&packet), Decoded::Request(_, 33)));
        // Its 100 bytes of data are the APPEND's body; the rest is
        // skipped, answering nothing, before the next packet.
        let rest = &packet[133..];
        assert!(matches!(sftp.decode(&rest[..400]), Decoded::Answered(400)));
        assert!(matches!(sftp.decode(&rest[400..]), Decoded::Answered(467)));
        let mut answer = Vec::new();
        sftp.answered(&mut answer);
        assert!(answer.is_empty());
        assert!(matches!(sftp.decode(&[]), Decoded::Incomplete));
    }

    #[test]
    fn a_packet_too_long_is_refused_with_its_id_once_its_head_is_in() {
        let (mut sftp, _) = writing();
        sftp.answered(&mut Vec::new()); // INIT's VERSION
        let mut packet = (10u32 << 20).to_be_bytes().to_vec();
        packet.extend_from_slice(&[wire::WRITE, 0, 0, 1, 2, 0, 0]);
        assert!(matches!(sftp.decode(&packet[..8]), Decoded::Incomplete));
        let Decoded::Refused(refusal) = sftp.decode(&packet) else {
            panic!("refused");
        };
        let mut answer = Vec::new();
        sftp.refuse(&refusal, &mut answer);
        // A STATUS (101) for id 258.
        assert_eq!(&answer[4..9], &[101, 0, 0, 1, 2]);
    }

    #[test]
    fn a_write_too_far_past_the_end_is_refused_only_once_whole() {
        let (mut sftp, handle) = writing();
        sftp.answered(&mut Vec::new()); // INIT's VERSION
        let mut packet = write(&handle, 967, 1000);
        let offset = 13 + handle.len();
        packet[offset..offset + 8].copy_from_slice(&(100u64 << 20).to_be_bytes());
        // Its refusal uses the whole packet: never decided from its head
        // (that used more than had come, a panic).
        assert!(matches!(sftp.decode(&packet[..40]), Decoded::Incomplete));
        assert!(matches!(sftp.decode(&packet), Decoded::Answered(1000)));
    }

    #[test]
    fn a_write_whose_data_ends_its_packet_is_taken_from_its_head() {
        let (mut sftp, handle) = writing();
        let packet = write(&handle, 967, 1000);
        assert!(matches!(
            sftp.decode(&packet[..40]),
            Decoded::Request(_, 33)
        ));
    }
}
