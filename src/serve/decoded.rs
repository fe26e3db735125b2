//! What a codec makes of the front of a connection's input: a request for
//! the serve layer, a refusal to answer, or "not a whole head yet". Shared
//! by the codecs (FERRY/1, HTTP/1.1, FTP), which depend on it, not on each other
//! or on `connection/codec.rs`, which chooses between them.

use crate::serve::{Body, Request};

/// What the front of a connection's input holds.
#[derive(Debug)]
pub enum Decoded {
    /// Not a whole request head yet.
    Incomplete,
    /// A whole head whose body the codec gathers before it decodes the
    /// request, and whose client waits for a go-ahead to send it: say
    /// [`Reply::GoAhead`](crate::serve::Reply::GoAhead) (the codec writes
    /// it once), then wait for more as for [`Decoded::Incomplete`].
    GoAhead,
    /// A request, and the bytes of its head.
    Request(Request, usize),
    /// A request answered with an error instead of being served.
    Refused(Refusal),
    /// A request the codec answered itself, and its bytes: it asks
    /// nothing of the root (FTP's `NOOP`, `PWD`); the codec hands over
    /// the answer's bytes (`Codec::answered`).
    Answered(usize),
}

/// A request the codec refuses: its answer, and how the connection goes on.
#[derive(Debug)]
pub struct Refusal {
    /// The codec's own status code.
    pub code: u16,
    /// The reason.
    pub message: String,
    /// The refused head's length and its body, to skip before the next
    /// request; `None` when the stream is out of sync: close after the
    /// answer.
    pub skip: Option<(usize, Body)>,
}

/// `input` without the blank lines (CR and LF bytes) before a request.
pub fn after_blank_lines(input: &[u8]) -> &[u8] {
    let start = input
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(input.len());
    &input[start..]
}
