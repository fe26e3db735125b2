//! Folders as wholes: the DELETE of a folder with what it holds (RFC 4918
//! 9.6.1). One rule set with a file's DELETE: `--read-only` refuses it in
//! `admit` (its verb writes), and every file is checked against the
//! client's `delete` grant as the walk finds it; a file it may not delete
//! stays and is reported, with every member that failed, and the rest
//! goes. The walk runs on the pool's listing threads like a listing's
//! (one directory's names held per level, stopped when its client goes).

use log::debug;

use super::listing::walk_permit;
use super::{Ctx, ErrorKind, Failure, Next, Outcome, Reply, abandoned, refuse, storage_refusal};
use crate::access::{Perm, Who};
use crate::name::Prefix;
use crate::storage::Removal;

/// DELETE of folder `prefix`: everything in it that `who` may delete,
/// then the folders left empty. [`Reply::Done`] when all is gone, else
/// [`Reply::Remains`] naming what stayed and why.
pub(super) fn delete(ctx: &Ctx<'_>, who: Who, prefix: Prefix) -> Outcome {
    if prefix.as_str().is_empty() {
        let failure = Failure::new(ErrorKind::Forbidden, "the root is not removed");
        return refuse(ctx, "DEL", "/", failure, Next::Request);
    }
    let permit = match walk_permit(ctx) {
        Ok(permit) => permit,
        Err(failure) => return refuse(ctx, "DEL", prefix.as_str(), failure, Next::Request),
    };
    Outcome::on_pool_long(move |ctx| {
        let _permit = permit;
        let removed = ctx.storage.delete_folder(
            &prefix,
            |name| who.allows(Perm::Delete, name),
            || !ctx.is_abandoned(),
        );
        match removed {
            Ok(removal) if removal.is_complete() => {
                debug!("#{} DEL {}", ctx.client, prefix.as_str());
                Outcome::answer(Reply::Done)
            }
            Ok(removal) => {
                let remains = remains(&who, removal);
                debug!(
                    "#{} DEL {}: {} members remain",
                    ctx.client,
                    prefix.as_str(),
                    remains.len()
                );
                Outcome::answer(Reply::Remains(remains))
            }
            Err(_) if ctx.is_abandoned() => abandoned(ctx, "DEL", prefix.as_str()),
            Err(err) => storage_refusal(ctx, "DEL", prefix.as_str(), err),
        }
    })
}

/// What a removal left, as the client is told it: the files `who` may not
/// delete with the grant's refusal, then the failures.
fn remains(who: &Who, removal: Removal) -> Vec<(String, Failure)> {
    let kept = removal.kept.into_iter().map(|name| {
        let failure = super::access::refusal(who, Perm::Delete, &name);
        (name, failure)
    });
    let failed = removal
        .failed
        .into_iter()
        .map(|(name, err)| (name, Failure::from(err)));
    kept.chain(failed).collect()
}
