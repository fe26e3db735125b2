//! A write's last judgement, at its change: its preconditions and the
//! lock rule judged again where it renames, unlinks, makes a folder or
//! writes a record, with the lock table held still through that change
//! (an upload's commit: the engine's, asking [`judged_under`], and the
//! rename step after a durable commit's flush: `published.rs`; a
//! DELETE, MOVE, MKCOL, PROPPATCH: their own serve functions). Admission
//! judged them first
//! (`admission.rs`); what they submitted is kept for this
//! ([`crate::serve::operate::Operate::keep`]).

use crate::model::DavLock;
use crate::serve::conditions::Conditions;
use crate::serve::operate::Needs;
use crate::serve::{Ctx, ErrorKind, Failure};
use crate::storage::Steady;

/// A write's preconditions (`preconditions`, kept by `Operate::keep`:
/// `412` if they no longer hold) and the lock rule for what it `needs`, with the tokens they submit (`423`), judged again
/// where the write makes its change, on the pool: with the lock table
/// held still until the returned hold is dropped, so that a lock granted
/// since the admission (on this node or another) is seen, and none is
/// granted until the change is made (a rename, an unlink, a folder made).
/// Drop the hold before anything changes the table (a removal's release
/// of its locks): a change waits for every hold.
pub(in crate::serve) fn judged_again<'c>(
    ctx: &Ctx<'c>,
    needs: Needs<'_>,
    preconditions: Option<&Conditions>,
) -> Result<Steady<'c>, Failure> {
    let (steady, table) = ctx.store.locks().steady()?;
    judged_under(ctx, &table, needs, preconditions)?;
    Ok(steady)
}

/// [`judged_again`]'s judgement, given the lock table as it stands
/// (`table`), held still by the caller (the engine's commit asks it:
/// [`crate::storage::Landable`]).
pub(in crate::serve) fn judged_under(
    ctx: &Ctx<'_>,
    table: &[DavLock],
    needs: Needs<'_>,
    preconditions: Option<&Conditions>,
) -> Result<(), Failure> {
    if preconditions.is_some_and(|preconditions| !preconditions.required_hold(ctx)) {
        let changed = "the target changed meanwhile: the condition no longer holds";
        return Err(Failure::new(ErrorKind::PreconditionFailed, changed));
    }
    let submitted: Vec<&str> = preconditions.iter().flat_map(|c| c.submitted()).collect();
    super::locks::check(table, ctx.store.locks().now(), needs, &submitted)
}
