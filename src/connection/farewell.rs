//! The last word to a connection closed mid-upload when the shutdown's
//! grace period ends: `503` (try again; HTTP's with `Retry-After`), where
//! a bare close left the client with a broken pipe and no status. The
//! upload is taken from it (the reactor ends it as a cut one), the answer
//! queued as its last, and the connection lingers (reading and dropping
//! what its client still sends, so no reset overtakes the answer) for
//! the short farewell the reactor gives it before it closes everything.

use super::{Connection, FAREWELL};
use crate::serve::Receive;
use crate::serve::decoded::Refusal;

impl Connection {
    /// The upload a connection was still receiving as the grace period
    /// ended, taken for the reactor to end; the connection then says
    /// `503` and lingers. `None` (and nothing changed) for any other.
    pub fn refuse_unfinished_upload(&mut self) -> Option<Box<Receive>> {
        let receive = self.abandon_upload()?;
        let refusal = Refusal {
            code: 503,
            message: "the server is shutting down: send it again".to_owned(),
            skip: None,
        };
        self.codec.refuse(&refusal, true, &mut self.output);
        self.set_flag(FAREWELL, true);
        Some(receive)
    }
}
