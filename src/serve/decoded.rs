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
    /// Work for the reactor beyond this connection (FTP's data
    /// connection), and the request's bytes: the connection waits until
    /// the reactor answers for it ([`Relay`]).
    Link(Link, usize),
}

/// What a connection asks of the reactor beyond itself (FTP's passive
/// data connection).
#[derive(Debug)]
pub enum Link {
    /// Listen for the client's data connection (FTP's `PASV`, `EPSV`):
    /// the reactor says where.
    Listen {
        /// The data connection is under TLS (FTP's `PROT P`).
        private: bool,
    },
    /// Serve `request` on the data connection, which reports back.
    Hand(Box<Request>),
    /// Connect to the client (FTP's active mode) and serve the transfer
    /// on that data connection (boxed: a waiting connection stays small).
    Connect(Box<Connect>),
    /// Turn this connection to TLS (FTP's `AUTH TLS`): the reactor makes
    /// the session, the connection begins it once its answer is out.
    Tls,
    /// Its client did not open the data connection in time (the request
    /// deadline): the listener and the transfer waiting for it go, and
    /// the transfer is refused.
    Abandon,
    /// Its client stops the transfer under way (FTP's `ABOR`): the data
    /// connection is cut, as if its client had reset it.
    Interrupt,
}

/// A transfer over a data connection the server opens ([`Link::Connect`]).
#[derive(Debug)]
pub struct Connect {
    /// Where the client listens.
    pub to: std::net::SocketAddr,
    /// The data connection is under TLS (FTP's `PROT P`).
    pub private: bool,
    /// The transfer.
    pub request: Request,
}

/// What the reactor tells a connection that asked it for a [`Link`].
#[derive(Debug)]
pub enum Relay {
    /// It listens for the data connection at this address.
    Listening(std::net::SocketAddr),
    /// TLS begins once this answer is out ([`Link::Tls`]).
    Secured,
    /// No data connection can be had (the listener could not be made,
    /// nothing was listening for one): the reason.
    Refused(String),
    /// The transfer began on the data connection.
    Began,
    /// The transfer ended: `None` when it was whole, else why it was
    /// refused.
    Ended(Option<crate::serve::Failure>),
    /// The data connection closed before its transfer was whole.
    Cut,
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
