//! Where a COPY or MOVE lands: what has the name it goes to, and whether
//! it may take it. The one home of the destination's two rules, for
//! every COPY and MOVE (`folders.rs`'s `clear`) and a reservation's MOVE
//! (`reservations.rs`), which makes and removes nothing there.
//!
//! Must never remove or make anything: it only looks (on the pool).

use crate::model::Occupant;
use crate::name::Name;
use crate::serve::{Ctx, ErrorKind, Failure};
use crate::storage::StorageError;

/// What has the name `to`, where a COPY or MOVE may take it: its parent
/// folder must exist, and something there may be replaced only with
/// `overwrite`.
///
/// # Errors
/// `409` for a missing parent, `Exists` (`412` in WebDAV) for a name
/// taken without `overwrite`, the storage's error otherwise.
pub(in crate::serve) fn destination(
    ctx: &Ctx<'_>,
    to: &Name,
    overwrite: bool,
) -> Result<Occupant, Failure> {
    match ctx.store.occupant(to) {
        Ok(Occupant::Nothing) => Ok(Occupant::Nothing),
        Ok(_) if !overwrite => Err(Failure::new(
            ErrorKind::Exists,
            "the destination exists (Overwrite: F)",
        )),
        Ok(occupant) => Ok(occupant),
        Err(StorageError::NotFound) => Err(Failure::new(
            ErrorKind::Conflict,
            "the destination's parent folder does not exist",
        )),
        Err(err) => Err(err.into()),
    }
}
