//! `GET /.ferry-health` (and `HEAD`): the health check of a balancer or
//! an orchestrator's readiness probe, as FERRY/1's `HEALTH`. Under
//! ferry's reserved prefix, so it never shadows a file; it needs no
//! token. `200 ready` when the server can serve files, else `503` with
//! the reason (and `Retry-After`), as the serve layer decides
//! (`serve/ops/health.rs`).
//!
//! ```text
//! GET /.ferry-health   -> 200 text/plain "ready\n", Cache-Control: no-store
//!                      -> 503 "503 Service Unavailable: storage unavailable: not ready: ..."
//! ```

use super::dialect::{Answer, Decision, Dialect, Message};
use super::fields::path_of;
use super::message::{Head, Refused, Resume};
use super::origin::Site;
use super::response::{Framing, Head as ResponseHead};
use crate::serve::ops;
use crate::serve::{Operation, Reply, Request};

/// The check's path.
pub const PATH: &str = "/.ferry-health";
/// Its answer's body when ready.
const READY: &[u8] = b"ready\n";

/// The dialect of the health check.
#[derive(Debug)]
pub struct Health;

/// How the check is answered (nothing to remember).
#[derive(Debug, Clone, Copy)]
pub struct HealthAnswer;

impl Dialect for Health {
    type Answer = HealthAnswer;

    fn claims(&self, head: &Head<'_>) -> bool {
        matches!(head.method, "GET" | "HEAD") && path_of(head.target) == PATH
    }

    fn decode(
        &self,
        _: &Head<'_>,
        _: &Resume,
        _: Site<'_>,
    ) -> Result<Decision<HealthAnswer>, Refused> {
        let request = Request::from(Operation::Health(ops::Health));
        Ok(Decision::Serve(request, HealthAnswer))
    }
}

impl Answer for HealthAnswer {
    fn encode(&self, reply: &Reply, message: Message, out: &mut Vec<u8>) {
        if !matches!(reply, Reply::Done) {
            debug_assert!(false, "a health check answered {reply:?}");
            let framing = Framing {
                persistence: message.persistence,
                head_only: message.head,
                allow: self.allow(),
            };
            return self.error(500, "unexpected answer", framing, out);
        }
        ResponseHead::new(out, 200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .header("Cache-Control", "no-store")
            .finish(READY.len() as u64, message.persistence);
        if !message.head {
            out.extend_from_slice(READY);
        }
    }

    fn allow(&self) -> &'static str {
        "GET, HEAD"
    }
}
