//! Lock-null reservations (RFC 2518 7.4, as Apache keeps them): a `LOCK`
//! of a name nothing has makes nothing, but reserves the name for the
//! lock's holder (`locks.rs`'s `take`), so that no reader ever reads,
//! lists or copies a 0-byte version of a file its writer has not sent
//! yet. This file says what a reservation is and what its holder may do
//! with it besides writing it (a `PUT` or `MKCOL` gives it content) or
//! deleting it (`deletes.rs`: the lock's end):
//!
//! - **MOVE it** ([`move_reserved`]): davfs2 (with its default
//!   `delay_upload 10`) LOCKs a new file's name at once and sends its
//!   bytes up to 10 s later, so `cp f mnt/a; mv mnt/a mnt/b` MOVEs a
//!   reservation. The reservation goes to the destination, the lock with
//!   it (same token: a client that PUTs to the new name with the token it
//!   has is served), and nothing is made there.
//! - **LOCK it again, having lost its token** ([`taken_over`]): after a
//!   MOVE, davfs2 forgets the source's token (RFC 4918 7.5: locks do not
//!   move) and LOCKs the destination afresh. An exclusive lock there
//!   conflicts, and the RFC's way back to a lock one holds (its
//!   `lockdiscovery`, as davfs2 tries) cannot work on a name ferry hides
//!   from every PROPFIND; so a new LOCK of a reservation by the holder of
//!   the lock that makes it takes it over: the old lock goes, the new one
//!   reserves the name.
//!
//! A COPY of a reservation stays `404`, as every read of it: a copy
//! duplicates content, and a reservation has none; making a 0-byte file
//! at the destination would break the promise above, and reserving it
//! would make a lock its client never asked for and holds no token of.

use log::debug;

use crate::model::DavLock;
use crate::model::Occupant;
use crate::name::Name;
use crate::serve::terms::Overwrite;
use crate::serve::{Ctx, ErrorKind, Failure, Next, Outcome, Reply, refuse};
use crate::storage::{Edit, StorageError};

/// Whether a live lock is rooted at `name` (on the pool): where nothing
/// has the name, it is a reservation.
pub(in crate::serve) fn reserved(ctx: &Ctx<'_>, name: &str) -> bool {
    let locks = ctx.store.locks();
    let now = locks.now();
    locks.current().is_ok_and(|table| {
        table
            .iter()
            .any(|lock| lock.root == name && lock.expires > now)
    })
}

/// Whether `lock` (live) makes a reservation of `name`, where nothing
/// has it, that `holder`'s new LOCK of `name` takes over (see the
/// module's header). Only the same holder (a token's name, or a client
/// address without one: `locks.rs`'s caps count the same way), since
/// only it could have lost the token; a lock with no holder (a record of
/// an earlier version) is nobody's to take.
pub(super) fn taken_over(lock: &DavLock, name: &str, holder: &str) -> bool {
    lock.root == name && !lock.holder.is_empty() && lock.holder == holder
}

/// MOVE of the reservation `from` (nothing has the name, a live lock is
/// rooted there) to `to`, on the pool. The lock rule let it through
/// (`admission.rs`): the request holds the grants of any MOVE (delete at
/// `from`, write at `to`) and submitted a token of each lock in its way,
/// the reservation's among them. Every lock rooted at `from` (one, or its
/// shared ones) is rooted at `to` from now on, tokens and expiry kept;
/// nothing is made or removed on disk, so nobody sees a 0-byte `to`.
///
/// A file at `to` (`Overwrite: T`) is not removed: its holder's `PUT`
/// replaces it atomically, as any PUT does, and until then readers read
/// the file that was there, and the lock keeps others from writing it.
/// Removing it now would lose its bytes for a file that may never come
/// (a client that gives up, a lock that runs out) and show readers a
/// name with nothing, or a 0-byte file, in between. Answered `204`, as a
/// MOVE that replaces: to its holder the name is the moved file's now.
/// A folder at `to` is refused (`409`) rather than removed for a file
/// not sent yet, for the same reason (davfs2 never asks it: `EISDIR`).
/// Onto itself, nothing moves (`204`, as a file's MOVE onto itself); onto
/// its folder or a name inside itself, refused as any MOVE is.
pub(super) fn move_reserved(ctx: &Ctx<'_>, (from, to): (&Name, &Name), ow: Overwrite) -> Outcome {
    if from == to {
        // Nothing moves: answered as a file's MOVE onto itself is (204).
        return Outcome::answer(Reply::Moved { replaced: true });
    }
    let subject = format!("{from} -> {to}");
    let refused = |failure| refuse(ctx, "MOVE", &subject, failure, Next::Request);
    let replaced = match super::destination::destination(ctx, to, ow != Overwrite::Nothing) {
        Ok(Occupant::Nothing) => false,
        Ok(Occupant::File) => true,
        Ok(Occupant::Folder) => {
            let folder = "a name reserved by a lock, with nothing written yet, does not replace a folder: PUT it first";
            return refused(Failure::new(ErrorKind::Conflict, folder));
        }
        Err(failure) => return refused(failure),
    };
    let moved = ctx.store.locks().change(|table, _| {
        let (from, to) = (from.as_str(), to.as_str());
        let moving: Vec<&DavLock> = table.iter().filter(|lock| lock.root == from).collect();
        if moving.is_empty() {
            // Run out since the lock rule looked: nothing to move.
            let gone = "no such file or folder (its lock ran out)";
            return Err(Failure::new(ErrorKind::NotFound, gone));
        }
        let shared = moving.iter().all(|lock| lock.shared);
        let conflict = table
            .iter()
            .find(|lock| lock.root != from && lock.covers(to) && !(shared && lock.shared));
        if let Some(lock) = conflict {
            // Submitted or not, two exclusive locks on one name cannot be.
            let message = format!("/{} holds a conflicting lock", lock.root);
            return Err(Failure::new(ErrorKind::Locked, message));
        }
        let write = moving
            .into_iter()
            .map(|lock| DavLock {
                root: to.to_owned(),
                ..lock.clone()
            })
            .collect();
        let edit = Edit {
            write,
            remove: Vec::new(),
        };
        Ok(((), edit))
    });
    match moved {
        Ok(()) => {
            debug!("#{} MOVE {subject}: a reservation", ctx.client);
            Outcome::answer(Reply::Moved { replaced })
        }
        Err(failure) => refused(failure),
    }
}

/// Whether `from` is a reservation its MOVE takes to another name (on the
/// pool): a live lock rooted there and nothing has the name (`found`
/// there already, or looked up). The lock table this node keeps is looked
/// at first, so a MOVE where no lock is rooted at its source pays no
/// lookup more.
pub(super) fn is_reservation(
    ctx: &Ctx<'_>,
    from: &Name,
    found: Option<&Result<Occupant, StorageError>>,
) -> bool {
    let nothing = |found: &Result<Occupant, StorageError>| matches!(found, Ok(Occupant::Nothing));
    reserved(ctx, from.as_str())
        && match found {
            Some(found) => nothing(found),
            None => nothing(&ctx.store.occupant(from)),
        }
}
