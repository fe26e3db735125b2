//! A request line FERRY/1 refuses: the `ERR` code and message it is
//! answered with, and what the connection does next ([`Recovery`]).

use std::fmt;

use crate::name::NameError;
use crate::protocol::codec::error_code;

/// What the connection must do after answering a [`ProtocolError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The stream is out of sync or hostile: close after the answer.
    Close,
    /// Skip the request line (`line` bytes, newline included), read and
    /// discard `body` bytes, then carry on with the next request.
    Skip {
        /// Length of the refused line.
        line: usize,
        /// Body bytes to discard after it.
        body: u64,
    },
}

/// A request that gets an `ERR` answer instead of being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// The FERRY/1 error code (400, 403, 431 ...).
    pub code: u16,
    /// Human-readable reason, sent after the code.
    pub message: String,
    /// How the connection continues.
    pub recovery: Recovery,
}

impl ProtocolError {
    pub(super) fn fatal(code: u16, message: impl Into<String>) -> ProtocolError {
        ProtocolError {
            code,
            message: message.into(),
            recovery: Recovery::Close,
        }
    }

    /// A bad name in a well-formed line; [`parse_request`] fills in `line`.
    pub(super) fn bad_name(err: NameError, body: u64) -> ProtocolError {
        ProtocolError {
            code: error_code(err.into()),
            message: err.to_string(),
            recovery: Recovery::Skip { line: 0, body },
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl std::error::Error for ProtocolError {}
