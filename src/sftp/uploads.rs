//! Files written over SFTP: an `OPEN` for writing begins one of the serve
//! layer's upload sessions (its temp file, quota counted as bytes come,
//! the reserve), each `WRITE` stages its data at its offset in the
//! session (an APPEND: at the end as it comes in order, with its CRC-32C
//! running; anywhere else, before or past the end, a hole reading as
//! zeros, only the growth counted, the CRC computed at the commit), and
//! `CLOSE` commits it (the rename, its CRC record, hooks, the flush
//! before the answer): readers see the old file or the new one, never a
//! mix, and a connection cut before `CLOSE` leaves the old file, its bytes
//! kept as an upload session.
//!
//! A write that fails (the quota, the disk) fails the file: its `CLOSE`
//! lets its session go and answers that it was not stored, so a client
//! that went on writing after the failure never finds a file with a hole.
//!
//! The session is the upload kept for the token and name (as FTP keeps a
//! cut `STOR`'s: `serve/ops/resume.rs`), begun holding nothing
//! (`TRUNCATE`: `put`, `scp`, rclone), what was kept, else the file's
//! bytes (`APPEND`: `reput`, `put -a`), or, for an open in place, the
//! file's bytes where a file is (sshfs's, editors') and what was kept
//! where none is (WinSCP's resume of its `.filepart`, which writes on
//! from the size `STAT` told); all but the first need `read` on the
//! file; a connection cut before
//! `CLOSE` leaves it there to go on with. A newer open of the name by
//! the token takes it over: a handle that opened it before is refused by
//! the engine from then on (its opener, `SessionInfo::opened_by`), so
//! the newest opener's `CLOSE` stores its bytes alone, never a mix. An
//! `EXCL` open is refused where the file is,
//! and its commit's rename never replaces one (one check-and-change).
//! `FSETSTAT` times are given to the file at its commit, and its size
//! cuts the staged bytes short; a `READ` reads them back;
//! `fsync@openssh.com` is answered once they are flushed. A file opened
//! with its bytes and never changed through its handle is not committed
//! at its `CLOSE`: its copy is let go, the file left as it is.

use crate::ftp::path::file_name;
use crate::serve::decoded::Decoded;
use crate::serve::ops::{Abort, Append, Close, Presence, Reopen, Seed};
use crate::serve::{Operation, Reply};

use super::codec::{Pending, Sftp, Step, serve};
use super::handles::Opened;
use super::wire::{self, Fields, Status};

/// How far past what a file holds a write may begin: the hole it leaves
/// reads as zeros, and a commit reads those zeros for the file's CRC, so a
/// byte written exabytes out would hold a thread for ever. Pipelined and
/// concurrent writes land at most a few MiB ahead (OpenSSH's 64 requests
/// of 32 KiB, rclone's and sshfs's alike).
const MAX_HOLE: u64 = 64 << 20;

/// Whether a `WRITE` at `offset` would leave more than [`MAX_HOLE`] past
/// the `received` bytes of its file: refused.
fn too_far(received: u64, offset: u64) -> bool {
    offset > received.saturating_add(MAX_HOLE)
}

impl Sftp {
    /// `OPEN` with `flags` that write: the upload kept for the token and
    /// name, holding nothing (`TRUNCATE`), what was kept (`APPEND`), or
    /// for an open in place the file's bytes, what was kept where no file
    /// is ([`Seed::InPlace`]).
    pub(super) fn create(&mut self, id: u32, path: &str, flags: u32) -> Step {
        let Some(name) = file_name(path) else {
            return self.fail(id, Status::Failure, "not a file name ferry takes");
        };
        let seed = match flags {
            _ if flags & wire::OPEN_TRUNCATE != 0 => Seed::Nothing,
            _ if flags & wire::OPEN_APPEND != 0 => Seed::Kept,
            _ => Seed::InPlace,
        };
        // Without CREAT, EXCL asks nothing more: as Linux's open(2) takes
        // O_EXCL without O_CREAT (OpenSSH's sftp-server passes both on).
        let presence = match flags {
            _ if flags & wire::OPEN_CREATE == 0 => Presence::Present,
            _ if flags & wire::OPEN_EXCLUDE != 0 => Presence::Absent,
            _ => Presence::Any,
        };
        self.pending = Pending::Create(id, presence == Presence::Absent);
        serve(Operation::Reopen(Reopen {
            name,
            seed,
            presence,
            held: None,
        }))
    }

    /// `WRITE`, decoded from its head alone (`input`; the packet is `len`
    /// bytes): its data follows as the body of an APPEND to the handle's
    /// session, at its offset wherever that is (before or past the end, a
    /// hole reading as zeros).
    pub(super) fn write(&mut self, input: &[u8], len: usize) -> Option<(Step, usize)> {
        // Its head within its packet: never the next packet's bytes.
        let mut fields = Fields::new(input.get(5..len.min(input.len()))?);
        let id = fields.u32()?;
        let handle = fields.string()?;
        let offset = fields.u64()?;
        let data = fields.u32()? as usize;
        // Counted within its packet, as its fields were read.
        let head = len.min(input.len()) - fields.left();
        if head + data > len {
            return Some((self.fail(id, Status::BadMessage, "a WRITE's length"), len));
        }
        let slot = self.handles.slot_of(handle);
        let step = match (slot, self.opened(handle)) {
            (
                Some(slot),
                Some(Opened::Upload {
                    received,
                    failed: false,
                    ..
                }),
            ) if too_far(*received, offset) => {
                self.fail_upload(slot);
                let why = "a write more than 64 MiB past the file's end is not taken";
                // Its data is skipped with the packet.
                return Some((self.fail(id, Status::Failure, why), len));
            }
            (
                Some(slot),
                Some(Opened::Upload {
                    session,
                    opener,
                    received,
                    failed: false,
                    scattered,
                    ..
                }),
            ) => {
                let opener = Some(*opener);
                // In order, the session's CRC runs as bytes come; once one
                // is written elsewhere, it is computed at the commit.
                let anywhere = *scattered || *received != offset;
                let id_of = session.clone();
                if let Some(Opened::Upload {
                    scattered,
                    unchanged_copy,
                    ..
                }) = self.handles.at(slot)
                {
                    (*scattered, *unchanged_copy) = (anywhere, false);
                }
                self.pending = Pending::Write(id, slot);
                serve(Operation::Append(Append {
                    id: id_of,
                    offset,
                    len: data as u64,
                    commit: false,
                    checksum: None,
                    size: None,
                    anywhere,
                    opener,
                    create_only: false,
                }))
            }
            (Some(slot), Some(Opened::Upload { failed: true, .. })) => {
                self.fail_upload(slot);
                let why = "an earlier write to this file failed: it will not be stored";
                // Its data is skipped with the packet.
                return Some((self.fail(id, Status::Failure, why), len));
            }
            (_, Some(_)) => {
                return Some((self.fail(id, Status::Failure, "not open for writing"), len));
            }
            (_, None) => return Some((self.stale(id), len)),
        };
        self.trailing = len - head - data;
        Some((step, head))
    }

    /// Skips what is left of the last `WRITE`'s packet past its data
    /// (`trailing`): OpenSSH's server skips a packet's bytes its request
    /// did not read, and rclone's concurrent writes send such packets (a
    /// buffer longer than its data). Answers nothing.
    pub(super) fn skip_trailing(&mut self, input: &[u8]) -> Decoded {
        let skipped = self.trailing.min(input.len());
        if skipped == 0 {
            return Decoded::Incomplete;
        }
        self.trailing -= skipped;
        Decoded::Answered(skipped)
    }

    /// Whether the `WRITE` whose head is at the front of `input` (a packet
    /// of `len` bytes) will be taken (an APPEND of its data, which may
    /// follow later), rather than refused once whole (a refusal skips it):
    /// exactly the case [`Self::write`] serves with an APPEND. Every
    /// refusal uses the whole packet, so one judged here as taken and
    /// refused there would use more than the input holds (a panic: the
    /// data of rclone's packets that do not end them; a write too far).
    pub(super) fn takes_write(&self, input: &[u8], len: usize) -> bool {
        let mut fields = Fields::new(input.get(9..len.min(input.len())).unwrap_or_default());
        let (Some(handle), Some(offset), Some(n)) = (fields.string(), fields.u64(), fields.u32())
        else {
            return false;
        };
        // Counted within its packet, as its fields were read.
        let head = len.min(input.len()) - fields.left();
        head.checked_add(n as usize) == Some(len)
            && matches!(
                self.opened(handle),
                Some(Opened::Upload { failed: false, received, .. }) if !too_far(*received, offset)
            )
    }

    /// `CLOSE` of a file being written: its session committed, whole at
    /// what it holds (with the time `FSETSTAT` gave, and not over a file
    /// if opened with `EXCL`); or, where a write failed, let go.
    pub(super) fn close_upload(&mut self, id: u32, slot: usize) -> Step {
        let Some(Opened::Upload {
            session,
            opener,
            received,
            failed,
            exclusive,
            mtime,
            unchanged_copy,
            ..
        }) = self.handles.at(slot)
        else {
            return self.stale(id);
        };
        let (session, opener) = (session.clone(), *opener);
        if *failed || *unchanged_copy {
            // A failed write is told at the close (the file stays as it
            // is either way); nothing changed, the handle simply closes.
            self.pending = match failed {
                true => Pending::Discard(id, slot),
                false => Pending::Release(id, slot),
            };
            // Let go only if still its newest open: a newer one's is not
            // this handle's to drop.
            let opener = Some(opener);
            return serve(Operation::Abort(Abort {
                id: session,
                opener,
            }));
        }
        let close = Close {
            id: session,
            size: *received,
            mtime: *mtime,
            create_only: *exclusive,
            opener,
        };
        self.pending = Pending::Commit(id, slot);
        serve(Operation::Close(close))
    }

    /// `FSETSTAT` of a file being written: its time kept for its commit;
    /// its size cut short (the staged bytes past it go).
    pub(super) fn set_upload_stat(&mut self, id: u32, slot: usize, attrs: wire::Attrs) -> Step {
        let Some(Opened::Upload {
            received,
            mtime,
            opener,
            unchanged_copy,
            ..
        }) = self.handles.at(slot)
        else {
            return self.stale(id);
        };
        let held = Some(*opener);
        if let Some(given) = attrs.mtime {
            *mtime = Some(i64::from(given));
            // Given to the file at the commit.
            *unchanged_copy = false;
        }
        let received = *received;
        match attrs.size {
            Some(size) if size > received => {
                let why = "growing a file open for writing by its size is not served yet: write its bytes";
                self.unsupported(id, why)
            }
            Some(size) if size < received => {
                let Some(name) = self.upload_name(slot) else {
                    return self.stale(id);
                };
                self.pending = Pending::Resize(id, slot);
                serve(Operation::Reopen(Reopen {
                    name,
                    seed: Seed::KeptUpTo(size),
                    presence: Presence::Any,
                    held,
                }))
            }
            _ => self.fail(id, Status::Ok, "set"),
        }
    }

    /// `fsync@openssh.com`: answered once the handle's staged bytes are
    /// flushed as every write's are (an APPEND of nothing: on stable
    /// storage under `--fsync`, as every protocol's); a file open for
    /// reading has nothing to flush.
    pub(super) fn fsync(&mut self, id: u32, handle: &[u8]) -> Step {
        let slot = self.handles.slot_of(handle);
        let (slot, session, received, anywhere, opener) = match (slot, self.opened(handle)) {
            // The copy its open made, untouched: nothing of its own (and a
            // newer open of the name may have taken it over meanwhile).
            (
                _,
                Some(Opened::Upload {
                    unchanged_copy: true,
                    failed: false,
                    ..
                }),
            ) => return self.fail(id, Status::Ok, "nothing to flush"),
            (
                Some(slot),
                Some(Opened::Upload {
                    session,
                    opener,
                    received,
                    failed: false,
                    scattered,
                    ..
                }),
            ) => (slot, session.clone(), *received, *scattered, *opener),
            (_, Some(Opened::Upload { .. })) => {
                return self.fail(id, Status::Failure, "a write to this file failed");
            }
            (_, Some(_)) => return self.fail(id, Status::Ok, "nothing to flush"),
            (_, None) => return self.stale(id),
        };
        self.pending = Pending::Write(id, slot);
        serve(Operation::Append(Append {
            id: session,
            offset: received,
            len: 0,
            commit: false,
            checksum: None,
            size: None,
            anywhere,
            opener: Some(opener),
            create_only: false,
        }))
    }

    /// The name of the file being written in `slot`.
    fn upload_name(&mut self, slot: usize) -> Option<crate::name::Name> {
        match self.handles.at(slot)? {
            Opened::Upload { name, .. } => Some(name.clone()),
            _ => None,
        }
    }

    /// Marks the file in `slot` as not to be stored.
    fn fail_upload(&mut self, slot: usize) {
        if let Some(Opened::Upload { failed, .. }) = self.handles.at(slot) {
            *failed = true;
        }
    }

    /// The answer to an upload's request, if `pending` is one's.
    pub(super) fn upload_answer(
        &mut self,
        pending: &Pending,
        reply: &Reply,
        out: &mut Vec<u8>,
    ) -> bool {
        match (pending, reply) {
            (
                Pending::Create(id, exclusive),
                Reply::Reopened {
                    session: info,
                    copied,
                },
            ) => {
                let opened = Opened::Upload {
                    name: info.name.clone(),
                    session: info.id.clone(),
                    opener: info.opener,
                    received: info.received,
                    failed: false,
                    scattered: false,
                    exclusive: *exclusive,
                    mtime: None,
                    unchanged_copy: *copied,
                };
                self.open(out, *id, opened);
            }
            (Pending::Resize(id, slot), Reply::Reopened { session: info, .. }) => {
                if let Some(Opened::Upload {
                    session,
                    opener,
                    received,
                    scattered,
                    unchanged_copy,
                    ..
                }) = self.handles.at(*slot)
                {
                    (*session, *received) = (info.id.clone(), info.received);
                    // The cut was an open of its own: this handle's now.
                    *opener = info.opener;
                    (*scattered, *unchanged_copy) = (true, false);
                }
                wire::status(out, *id, Status::Ok, "cut short");
            }
            (Pending::Write(id, slot), Reply::Appended { received: now, .. }) => {
                if let Some(Opened::Upload { received, .. }) = self.handles.at(*slot) {
                    *received = *now;
                }
                wire::status(out, *id, Status::Ok, "written");
            }
            (Pending::Write(_, slot), Reply::Failed(_)) => {
                self.fail_upload(*slot);
                return false;
            }
            (Pending::Commit(id, slot), Reply::Stored { .. } | Reply::Appended { .. }) => {
                self.handles.close_slot(*slot);
                wire::status(out, *id, Status::Ok, "stored");
            }
            (Pending::Commit(_, slot) | Pending::Discard(_, slot), Reply::Failed(_)) => {
                // The handle goes, as a failed `close(2)` closes the file.
                self.handles.close_slot(*slot);
                return false;
            }
            (Pending::Release(id, slot), _) => {
                self.handles.close_slot(*slot);
                wire::status(out, *id, Status::Ok, "closed: nothing changed");
            }
            (Pending::Discard(id, slot), _) => {
                self.handles.close_slot(*slot);
                let why = "not stored: a write to it failed";
                wire::status(out, *id, Status::Failure, why);
            }
            _ => return false,
        }
        true
    }
}
