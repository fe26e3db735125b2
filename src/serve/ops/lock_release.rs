//! The locks an operation's removals end (RFC 4918 7.5, 9.6.1: locks do
//! not move, and a deleted resource's locks go with it): after a DELETE
//! or MOVE, on the pool, the locks rooted on what went are taken out of
//! the table in one change. The lock rule itself, and LOCK and UNLOCK:
//! `locks.rs`.

use crate::model::{DavLock, Occupant, is_below};
use crate::name::Name;
use crate::serve::Ctx;
use crate::storage::{Edit, StorageError};

/// After a DELETE or MOVE of `name` (a folder: `folder`, with all in
/// it), on the pool: the locks rooted there go with it (RFC 4918 7.5:
/// locks do not move). Costs nothing where this node knows of none.
pub(in crate::serve) fn release(ctx: &Ctx<'_>, name: &str, folder: bool) {
    let name = name.trim_end_matches('/');
    let gone = |lock: &DavLock| lock.root == name || (folder && is_below(&lock.root, name));
    remove_where(ctx, name, gone);
}

/// The tokens of the locks rooted below folder `prefix` as the table
/// stands before a folder's DELETE begins: the most that
/// [`release_removed`] may take after it (a lock taken meanwhile, such
/// as another client's reservation of a free name, is not the DELETE's
/// to release). Costs nothing where this node knows of no lock.
pub(in crate::serve) fn below(ctx: &Ctx<'_>, prefix: &str) -> Vec<String> {
    let prefix = prefix.trim_end_matches('/');
    ctx.store.locks().current().map_or_else(
        |_| Vec::new(),
        |table| {
            let below = table.iter().filter(|lock| is_below(&lock.root, prefix));
            below.map(|lock| lock.token.clone()).collect()
        },
    )
}

/// After a DELETE of folder `prefix` that left some of what it holds
/// (what its client may not delete), on the pool: of the locks `known`
/// below it before it began ([`below`]), those rooted on a name it
/// removed (nothing has it now, or its folder went too) go, as a whole
/// DELETE's do; those on what stayed stay. (The DELETE was judged
/// against every lock below the folder first: those known are its
/// client's own, its reservations of free names included.) A name that
/// cannot be looked at keeps its lock.
pub(in crate::serve) fn release_removed(ctx: &Ctx<'_>, prefix: &str, known: &[String]) {
    if known.is_empty() {
        return;
    }
    let removed = |root: &str| {
        Name::new(root.to_owned()).is_ok_and(|name| {
            matches!(
                ctx.store.occupant(&name),
                Ok(Occupant::Nothing) | Err(StorageError::NotFound)
            )
        })
    };
    let Ok(table) = ctx.store.locks().current() else {
        return;
    };
    let tokens: Vec<&str> = table
        .iter()
        .filter(|lock| known.contains(&lock.token) && removed(&lock.root))
        .map(|lock| lock.token.as_str())
        .collect();
    if !tokens.is_empty() {
        remove(ctx, prefix, |lock| tokens.contains(&lock.token.as_str()));
    }
}

/// Removes the locks `gone` picks (`name`: what the log says they were
/// on), in one change of the table; nothing where none is known here.
fn remove_where(ctx: &Ctx<'_>, name: &str, gone: impl Fn(&DavLock) -> bool) {
    if ctx
        .store
        .locks()
        .current()
        .is_ok_and(|table| table.iter().any(&gone))
    {
        remove(ctx, name, gone);
    }
}

/// Removes the locks `gone` picks from the table as it stands under its
/// lock, in one change (a failure is logged: the locks stay until they
/// expire).
fn remove(ctx: &Ctx<'_>, name: &str, gone: impl Fn(&DavLock) -> bool) {
    let removed = ctx.store.locks().change(|table, _| {
        let remove = table
            .iter()
            .filter(|lock| gone(lock))
            .map(|lock| lock.token.clone())
            .collect();
        Ok::<_, StorageError>((
            (),
            Edit {
                write: Vec::new(),
                remove,
            },
        ))
    });
    if let Err(err) = removed {
        log::warn!("#{} the locks of {name} stay: {err}", ctx.client);
    }
}
