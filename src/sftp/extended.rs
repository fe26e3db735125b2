//! OpenSSH's extensions (`SSH_FXP_EXTENDED`), named in the `VERSION`
//! answer so that its clients use them: `posix-rename@openssh.com` (a
//! rename that replaces a file), `statvfs@openssh.com` (`df`: the room and
//! the quota as ferry's `DF` counts them), `limits@openssh.com` (the
//! largest packet, read, write and the handles a session may hold) and
//! `fsync@openssh.com` (`uploads.rs`). Any other is refused as not served.

use crate::ftp::path::{folder_prefix, resolve};
use crate::serve::Operation;
use crate::serve::ops::FreeSpace;

use super::codec::{MAX_PACKET, MAX_READ, Pending, Sftp, Step, serve};
use super::handles::MAX_HANDLES;
use super::wire::{self, Fields, Status};

impl Sftp {
    /// `EXTENDED` request `id`, decoded from `fields`; `None` if it is
    /// malformed.
    pub(super) fn extended(&mut self, id: u32, fields: &mut Fields<'_>) -> Option<Step> {
        match fields.string()? {
            b"posix-rename@openssh.com" => self.posix_rename(id, fields),
            b"statvfs@openssh.com" => {
                let path = resolve("", fields.path()?);
                let Some(prefix) = folder_prefix(&path) else {
                    return Some(self.fail(
                        id,
                        Status::NoSuchFile,
                        "not a folder name ferry takes",
                    ));
                };
                self.pending = Pending::StatVfs(id);
                Some(serve(Operation::FreeSpace(FreeSpace { prefix })))
            }
            b"fsync@openssh.com" => Some(self.fsync(id, fields.string()?)),
            b"limits@openssh.com" => {
                let write = (MAX_PACKET - 1024) as u64;
                let limits = [
                    MAX_PACKET as u64,
                    u64::from(MAX_READ),
                    write,
                    MAX_HANDLES as u64,
                ];
                wire::extended_reply(&mut self.answer, id, &limits);
                Some(Step::Answered)
            }
            _ => Some(self.unsupported(id, "an extension not served")),
        }
    }
}
