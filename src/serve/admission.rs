//! An admitted operation served under the lock rules, once for every
//! protocol: its conditions (HTTP's `If:`) judged (`412` when false), its
//! writes checked against the locks ([`locks::check`]: `423`), then its
//! own serve function; what it judges again as it ends kept with it
//! ([`Operation::keep`]) and judged there, next to its change, with the
//! lock table held still (`ops/at_change.rs`). At once on the reactor when
//! there are no conditions and this node's lock table is current; else
//! on the pool.
//! LOCK and UNLOCK are left to rules of their own (`locks.rs`).

use super::conditions::Conditions;
use super::operate::Needs;
use super::ops::locks::{self, NOTHING_THERE};
use super::ops::{Declared, Operation, Verb};
use super::{Ctx, ErrorKind, Failure, Outcome, refuse, skip_body};
use crate::access::Who;

/// Serves an admitted request under the lock rules: its conditions judged
/// (`412`), its writes checked ([`locks::check`]: `423`), then its own
/// function. At once on the reactor when there are no conditions and this
/// node's table is current; else on the pool.
pub(super) fn admitted(
    ctx: &Ctx<'_>,
    who: Who,
    operation: Operation,
    conditions: Option<Box<Conditions>>,
) -> Outcome {
    let declared = operation.declared();
    let writes = under_the_rule(&declared).is_some_and(locks::touches);
    if conditions.is_none() && !writes {
        return operation.serve(ctx, who);
    }
    let table = ctx.store.locks();
    let inline = conditions.is_none() && !ctx.store.writes_are_round_trips();
    if let Some(current) = table.fresh().filter(|_| inline) {
        if let Err(failure) = checked(&current, table.now(), &declared, &[]) {
            let next = skip_body(operation.body(), ctx.config);
            return refuse(ctx, declared.verb.name(), declared.subject, failure, next);
        }
        return operation.serve(ctx, who);
    }
    // A read of the lock folder, a look at the target: brief.
    Outcome::brief(move |ctx| judged(ctx, who, operation, conditions))
}

/// What of `declared` the lock rule judges: a write's needs. LOCK and
/// UNLOCK have rules of their own.
fn under_the_rule<'a>(declared: &Declared<'a>) -> Option<Needs<'a>> {
    let own_rules = matches!(declared.verb, Verb::Lock | Verb::Unlock);
    (declared.verb.writes() && !own_rules).then_some(declared.needs)
}

/// The lock rule for `declared` with the tokens `submitted`.
fn checked(
    table: &[crate::model::DavLock],
    now: i64,
    declared: &Declared<'_>,
    submitted: &[&str],
) -> Result<(), Failure> {
    match under_the_rule(declared) {
        Some(needs) => locks::check(table, now, needs, submitted),
        None => Ok(()),
    }
}

/// [`admitted`]'s judgement on the pool, with the table read again if it
/// may be stale.
fn judged(
    ctx: &Ctx<'_>,
    who: Who,
    mut operation: Operation,
    conditions: Option<Box<Conditions>>,
) -> Outcome {
    let declared = operation.declared();
    if let Err(failure) = verdict(ctx, &declared, conditions.as_deref()) {
        let next = skip_body(operation.body(), ctx.config);
        return refuse(ctx, declared.verb.name(), declared.subject, failure, next);
    }
    if let Some(conditions) = conditions.as_deref() {
        operation.keep(conditions);
    }
    operation.serve(ctx, who)
}

/// The conditions (`412` where none holds), then the lock rule, on the
/// table read again if it may be stale.
fn verdict(
    ctx: &Ctx<'_>,
    declared: &Declared<'_>,
    conditions: Option<&Conditions>,
) -> Result<(), Failure> {
    let locks = ctx.store.locks();
    let table = locks.current()?;
    if let Some(conditions) = conditions.filter(|conditions| !conditions.hold(ctx, &table)) {
        let failure = match conditions.want_what_is_absent(ctx) {
            true => NOTHING_THERE,
            false => "the If conditions do not hold",
        };
        return Err(Failure::new(ErrorKind::PreconditionFailed, failure));
    }
    let submitted: Vec<&str> = conditions.iter().flat_map(|c| c.submitted()).collect();
    checked(&table, locks.now(), declared, &submitted)
}
