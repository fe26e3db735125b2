//! A connection's one-byte flags (`Connection::flags`): what it knows
//! beside its state that a state change must not lose (the peer's end,
//! the last request due, the farewell, a place on the ready list, a body
//! cut short), each its own bit, kept in one byte so that a connection at
//! rest stays small (`mod.rs`'s size assertion).

use super::Connection;

/// [`Connection::flags`]: the peer has ended its side (`Ok(0)` read).
pub(super) const PEER_EOF: u8 = 1;
/// The server is shutting down and a request had begun to arrive: that
/// one is still served, then the connection ends.
pub(super) const LAST_REQUEST_DUE: u8 = 2;
/// Told `503` as the grace period ended mid-upload: it lingers through
/// the reactor's farewell (`farewell.rs`) though the server is stopping.
pub(super) const FAREWELL: u8 = 4;
/// On the reactor's ready list (see [`Connection::set_queued`]).
const QUEUED: u8 = 8;
/// A body going out could not be read whole (its file shrank, or the
/// disk failed) after its answer had begun: the connection closes, and
/// what it reports of its transfer (FTP's `426`) says it was cut.
pub(super) const CUT: u8 = 16;
// Each its own bit: FAREWELL once shared QUEUED's, so a connection's
// turn off the ready list took its farewell with it.
const _: () = assert!((PEER_EOF | LAST_REQUEST_DUE | FAREWELL | QUEUED | CUT).count_ones() == 5);

impl Connection {
    pub(super) fn flag(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub(super) fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// Whether the connection is on the reactor's ready list.
    pub fn is_queued(&self) -> bool {
        self.flag(QUEUED)
    }

    /// Records whether the connection is on the reactor's ready list: it
    /// is there at most once, and an event for it meanwhile waits for its
    /// turn there rather than earning it a second share of the turn.
    pub fn set_queued(&mut self, queued: bool) {
        self.set_flag(QUEUED, queued);
    }
}
