//! HEALTH (FERRY/1) and `/.ferry-health` (HTTP): whether this server can
//! serve files now, for a balancer's check, which carries no token. Ready
//! when the storage answers its probe (`storage/posix/health.rs`), which most
//! checks find in the storage's one-second cache without leaving the
//! loop; otherwise `503` with the reason, as any storage failure, so the
//! balancer takes the node out. A draining server (SIGTERM) has closed
//! its listeners: its checks fail at once, before its connections end.

use crate::access::Who;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Ctx, ErrorKind, Failure, Next, Outcome, Reply};

/// Whether the server can serve files now: its storage answers, and takes
/// writes unless it is read-only (FERRY/1 `HEALTH`, HTTP
/// `/.ferry-health`: a balancer's check).
#[derive(Debug)]
pub struct Health;

impl Operate for Health {
    /// A balancer has no token; the answer tells nothing of files.
    fn aim(&self) -> Aim<'_> {
        Aim::none(Needs::Nothing)
    }

    /// Answers from the storage's cache, or after a probe on the I/O pool.
    fn serve(self, ctx: &Ctx<'_>, _who: Who) -> Outcome {
        match ctx.store.health_known() {
            Some(known) => answer(known),
            None => Outcome::on_pool(|ctx| answer(ctx.store.probe_health())),
        }
    }
}

fn answer(health: Result<(), String>) -> Outcome {
    match health {
        Ok(()) => Outcome::answer(Reply::Done),
        Err(reason) => {
            // Logged by the storage when its failures begin and end, not
            // at every check.
            log::debug!("health check: not ready: {reason}");
            let failure = Failure::new(ErrorKind::Unavailable, format!("not ready: {reason}"));
            Outcome::failed(failure, Next::Request)
        }
    }
}
