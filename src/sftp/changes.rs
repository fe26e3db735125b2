//! Requests that change the tree, each one of the serve layer's
//! operations under the same grants, locks and invariants as every
//! protocol's (a folder moved into itself, a file onto its folder, a
//! locked name: refused below the codecs): `REMOVE` a file, `MKDIR`,
//! `RMDIR` an empty folder, `RENAME` (refused onto a name taken, as
//! OpenSSH's; `posix-rename@openssh.com` replaces a file there), and
//! `SETSTAT`'s times. Folders are things of their own, as a POSIX file
//! system's: a file or folder moved needs its new parent there.
//!
//! `SETSTAT` sets a file's times; modes, owners and the access time are
//! accepted and ignored (ferry keeps none). A size of 0 (`truncate -s 0`)
//! stores an empty file in its place, as any upload would (of a path
//! nothing has: no such file, as truncate(2)); another size
//! of a file not open is refused: it would copy the whole file to cut or
//! grow it (open it and `FSETSTAT` its size: `uploads.rs`).

use crate::ftp::path::{file_name, resolve};
use crate::model::Folders;
use crate::serve::PropUpdate;
use crate::serve::conditions::Conditions;
use crate::serve::ops::{Delete, MakeFolder, MoveFile, PropPatch, Put, RemoveFolder, Request};
use crate::serve::{Body, Change, Failure, Making, Operation, Overwrite, Patched, PropTarget};

use super::codec::{Pending, Sftp, Step, serve};
use super::wire::{self, Attrs, Fields, Status};

impl Sftp {
    /// `REMOVE`, `MKDIR`, `RMDIR`, `RENAME` or `SETSTAT` (`kind`), decoded
    /// from `fields`; `None` if they are malformed.
    pub(super) fn change(&mut self, kind: u8, id: u32, fields: &mut Fields<'_>) -> Option<Step> {
        let path = resolve("", fields.path()?);
        let Some(name) = file_name(&path) else {
            return Some(self.fail(id, Status::PermissionDenied, "the root itself"));
        };
        let operation = match kind {
            super::wire::REMOVE => Operation::Delete(Delete {
                name,
                folders: Folders::Explicit,
                folder_whole: false,
                preconditions: None,
            }),
            super::wire::MKDIR => {
                fields.skip_attrs()?;
                Operation::MakeFolder(MakeFolder {
                    name,
                    making: Making::Alone,
                    preconditions: None,
                })
            }
            super::wire::RMDIR => Operation::RemoveFolder(RemoveFolder { name }),
            super::wire::RENAME => {
                let to = file_name(&resolve("", fields.path()?))?;
                rename(name, to, Overwrite::Nothing)
            }
            _ => return self.set_stat(id, name, fields.attrs()?),
        };
        self.pending = Pending::Change(id);
        Some(serve(operation))
    }

    /// `posix-rename@openssh.com`: as `RENAME`, replacing a file there.
    pub(super) fn posix_rename(&mut self, id: u32, fields: &mut Fields<'_>) -> Option<Step> {
        let from = file_name(&resolve("", fields.path()?));
        let to = file_name(&resolve("", fields.path()?));
        let (Some(from), Some(to)) = (from, to) else {
            return Some(self.fail(id, Status::PermissionDenied, "the root itself"));
        };
        self.pending = Pending::Change(id);
        Some(serve(rename(from, to, Overwrite::Files)))
    }

    /// `SETSTAT` of `name`: its modification time set, where `attrs` has
    /// one; the rest accepted and ignored, but a size.
    pub(super) fn set_stat(
        &mut self,
        id: u32,
        name: crate::name::Name,
        attrs: Attrs,
    ) -> Option<Step> {
        match attrs.size {
            Some(0) => {
                self.pending = Pending::Change(id);
                let mtime = attrs.mtime.map(i64::from);
                return Some(self.cut_to_nothing(name, mtime));
            }
            Some(_) => {
                let why = "a size other than 0 of a file not open would copy it whole: open it and set the size of its handle";
                return Some(self.unsupported(id, why));
            }
            None => {}
        }
        let Some(mtime) = attrs.mtime else {
            return Some(self.fail(id, Status::Ok, "nothing to change"));
        };
        self.pending = Pending::Change(id);
        Some(serve(Operation::PropPatch(PropPatch {
            target: PropTarget {
                name: Some(name),
                folder: false,
            },
            updates: vec![PropUpdate {
                ns: String::new(),
                local: "modify".to_owned(),
                change: Change::Mtime(i64::from(mtime)),
            }],
            preconditions: None,
        })))
    }
}

impl Sftp {
    /// An empty file stored in `name`'s place (given `mtime`), as an
    /// upload that only replaces: a cut of a missing path makes nothing
    /// (truncate(2)'s `ENOENT`), judged before (the serve layer's
    /// conditions) and again at the commit. A file this session has open
    /// for writing is there, as a POSIX file is from its `open`.
    fn cut_to_nothing(&self, name: crate::name::Name, mtime: Option<i64>) -> Step {
        let must_exist = (!self.handles.writes(&name))
            .then(|| Box::new(Conditions::whether_exists(name.as_str(), true)));
        let put = Put {
            name,
            body: Body::fixed(0),
            crc: None,
            mtime,
            trailer: None,
            digests: None,
            folders: Folders::Explicit,
            props: None,
            preconditions: None,
        };
        Step::Serve(Box::new(Request {
            conditions: must_exist,
            ..Request::from(Operation::Put(put))
        }))
    }
}

/// A move of the file or folder `from` to `to` (a folder's move is found
/// on the pool: folders are things of their own).
fn rename(from: crate::name::Name, to: crate::name::Name, overwrite: Overwrite) -> Operation {
    Operation::MoveFile(MoveFile {
        from,
        to,
        overwrite,
        folders: Folders::Explicit,
        preconditions: None,
    })
}

impl Sftp {
    /// The answer to a `SETSTAT` of a time: done, or why it was not set
    /// (a time the file system refused is never told as set).
    pub(super) fn patched(out: &mut Vec<u8>, id: u32, patched: &Patched) {
        match patched.not_made() {
            Some(kind) => {
                let failure = Failure::new(kind, "its time was not set");
                wire::status(out, id, wire::status_of(&failure), &failure.message);
            }
            None => wire::status(out, id, Status::Ok, "done"),
        }
    }
}
