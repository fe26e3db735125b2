//! DF (FERRY/1): the room a client has to write, as `df` tells it: the
//! bytes and files the root's file system has free above the reserve no
//! write may eat into (`--min-free`, `serve/room.rs`'s rule), and
//! those in use; or, where a quota leaves less (the token's own, a
//! folder's above), the quota's room and use. Asked of a folder (the root by default), which must be
//! there. Needs some grant, of any kind, within the folder (a write-only
//! camera may ask about its inbox): one out of the client's reach is
//! refused before it is looked for, so the answer never tells whether it
//! is there, and it tells nothing of any file.

use log::debug;

use super::folders::folder_name;
use crate::access::Who;
use crate::model::Space;
use crate::name::Prefix;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Ctx, Outcome, Reply, folder_refusal, room_for};
use crate::storage::StorageError;

/// The room to write in folder `prefix`.
#[derive(Debug)]
pub struct FreeSpace {
    /// The folder (empty for the root, else ending in `/`).
    pub prefix: Prefix,
}

impl Operate for FreeSpace {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.prefix.as_str(), Needs::Within(self.prefix.as_str()))
    }

    /// On the pool: the folder found, then the file system asked.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::on_pool(move |ctx| {
            let folder = self.prefix.as_str();
            match room_in(ctx, &who, &self.prefix) {
                Ok(room) => {
                    debug!("#{} DF {folder:?}: {} free", ctx.client, room.available);
                    Outcome::answer(Reply::Space(Box::new(room)))
                }
                Err(err) => folder_refusal(ctx, "DF", folder, err),
            }
        })
    }
}

/// The room `who` has in `folder`: the file system's space, what is free
/// counted above the reserve, narrowed to the tightest quota a write
/// there counts in.
fn room_in(ctx: &Ctx<'_>, who: &Who, folder: &Prefix) -> Result<Space, StorageError> {
    if !folder.as_str().is_empty() {
        // A prefix's folder is always a name; were it not, it is not there.
        let name = folder_name(folder).ok_or(StorageError::NotFound)?;
        ctx.store.find_folder(&name)?;
    }
    room_for(ctx, who, folder.as_str())
}
