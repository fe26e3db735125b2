//! The steps of a send, by name: every hand-off of a GET (and of the end
//! every body going out shares: a listing's, an archive member's) from
//! one thread to another is a [`SendStep`], a value that holds exactly
//! what the step needs, run by [`SendStep::run`] where its [`super::Job`] says.
//! The steps' own work stays where its rule lives (`ops/get.rs`,
//! `send.rs`); this file only names them and calls that work:
//!
//! ```text
//! GET admitted --(name and checksum cached: opened on the reactor)--+
//!     --Open (brief)--> opened, what is recorded with it read ------+
//!     --Checksum (checksum threads: an answer that states a CRC-32C
//!       nobody knows yet)--> computed --------------------------------+
//!   --> the reply; the bytes sent by the connection, window by window,
//!       ReadAhead (pool) first where a window is not in the page cache
//!   --> sent: Close (pool) where closing the body is a round trip
//! ```

use std::fmt;

use super::ops::get::Checksumming;
use super::{Ctx, Outcome, Place, Reply, Send, Want};
use crate::name::Name;

/// One step of a send, with what it needs.
pub enum SendStep {
    /// A GET whose file is opened on the pool, with what is recorded with
    /// it that the answer tells (`ops/get.rs`). Brief.
    Open {
        /// The file.
        name: Name,
        /// Which bytes of it.
        want: Want,
    },
    /// An open file whose CRC-32C the answer states and nobody knows
    /// yet: computed from its bytes, then the answer (`ops/get.rs`). On
    /// the checksum threads.
    Checksum(Box<Checksumming>),
    /// The next window of a body going out is not in the page cache:
    /// read in, then the body goes on, or is cut if it cannot be read
    /// (`send.rs`). On the pool.
    ReadAhead(Send),
    /// A body that has gone out, whose close is a round trip (a file on a
    /// network file system): closed, then the next request. On the pool.
    Close(Send),
}

impl SendStep {
    /// Where this step runs: one place per step, read by [`Job::send`].
    pub fn place(&self) -> Place {
        match self {
            SendStep::Open { .. } => Place::Brief,
            SendStep::Checksum(_) => Place::Checksum,
            SendStep::ReadAhead(_) | SendStep::Close(_) => Place::Pool,
        }
    }

    /// Takes the step (where its job runs).
    pub fn run(self, ctx: &Ctx<'_>) -> Outcome {
        match self {
            SendStep::Open { name, want } => super::ops::get::open(ctx, name, want),
            SendStep::Checksum(checksumming) => super::ops::get::checksummed(ctx, *checksumming),
            SendStep::ReadAhead(send) => super::send::read_in(ctx, send),
            SendStep::Close(send) => {
                drop(send);
                Outcome::answer(Reply::Nothing)
            }
        }
    }
}

/// The step's name and what it sends (a name the client gave, or a
/// listing's or an archive's prefix: never a secret).
impl fmt::Debug for SendStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendStep::Open { name, .. } => write!(f, "Send::Open {name}"),
            SendStep::Checksum(checksumming) => write!(f, "Send::Checksum {}", checksumming.name),
            SendStep::ReadAhead(send) => write!(f, "Send::ReadAhead {}", send.source),
            SendStep::Close(send) => write!(f, "Send::Close {}", send.source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::Job;

    #[test]
    fn a_pending_gets_debug_names_its_step_and_file() {
        let name = Name::new("a/b.txt".to_owned()).unwrap();
        let want = Want::Whole { body: true };
        let open = Job::send(SendStep::Open { name, want });
        assert_eq!(format!("{open:?}"), "brief Send::Open a/b.txt");
    }

    #[test]
    fn a_body_whose_close_is_a_round_trip_is_closed_on_the_pool() {
        use crate::serve::{Next, Source, closing_job, leftover};
        use crate::wire::content::Content;
        let file = tempfile::tempfile().unwrap();
        let send = |round_trips| {
            let body = Content::file(file.try_clone().unwrap(), (false, round_trips));
            let name = Name::new("n.bin".to_owned()).unwrap();
            Send::new(body, Source::File(name), 0, 0)
        };
        assert!(
            closing_job(send(false)).is_none(),
            "a local file closes at once"
        );
        let close = closing_job(send(true)).expect("closed on the pool");
        assert_eq!(format!("{close:?}"), "pool Send::Close GET n.bin");
        // Read in for a client that went meanwhile: the same.
        let gone = |send| leftover(Outcome::new(Reply::Nothing, Next::Send(send)));
        assert!(gone(send(false)).is_none());
        let close = gone(send(true)).expect("closed on the pool");
        assert_eq!(format!("{close:?}"), "pool Send::Close GET n.bin");
    }
}
