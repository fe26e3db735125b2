//! Why a client call failed, sorted by what the caller can do about it:
//! the server refused (act on the code), the connection failed (reconnect
//! and maybe retry), a local file failed (give up on that file), or the
//! bytes do not add up (discard them).

use std::fmt;
use std::io;

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered `ERR`.
    Remote {
        /// Three-digit code.
        code: u16,
        /// The server's reason.
        message: String,
    },
    /// The connection failed: refused, reset, closed early, timed out.
    Io(io::Error),
    /// A local file failed: reading an upload's source or writing a
    /// download's destination.
    Local(io::Error),
    /// The server said something that is not FERRY/1, or not what was asked.
    Protocol(String),
    /// The port speaks another protocol (HTTP, TLS): the message says
    /// which, and what to connect with instead.
    WrongPort(String),
    /// The file on the server is not the one a download began with (its
    /// size, CRC-32C or time differ): the bytes held are of another
    /// version, and the download must start over.
    Changed,
    /// A download's bytes do not match the CRC-32C the server reported.
    Checksum {
        /// What the server said the file's CRC-32C is.
        expected: u32,
        /// What the received bytes add up to.
        received: u32,
    },
}

impl ClientError {
    pub(crate) fn protocol(what: impl Into<String>) -> ClientError {
        ClientError::Protocol(what.into())
    }

    pub(crate) fn closed(what: impl Into<String>) -> ClientError {
        ClientError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, what.into()))
    }

    /// Whether the connection is still in step after this error, so further
    /// requests can follow on it: true for refusals and checksum mismatches
    /// (the whole reply was read), false when the connection or a local file
    /// failed partway through an exchange.
    pub fn keeps_connection(&self) -> bool {
        matches!(
            self,
            ClientError::Remote { .. } | ClientError::Checksum { .. }
        )
    }

    /// Whether trying again on a new connection may succeed: connection
    /// failures, and a server that is busy (`503`).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Io(_) => true,
            ClientError::Remote { code, .. } => *code == 503,
            _ => false,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Remote { code, message } => write!(f, "{message} (ERR {code})"),
            ClientError::Io(err) => write!(f, "{err}"),
            ClientError::Local(err) => write!(f, "local file: {err}"),
            ClientError::Protocol(what) => write!(f, "protocol error: {what}"),
            ClientError::Changed => {
                f.write_str("the file changed on the server since the download began")
            }
            ClientError::WrongPort(what) => write!(f, "{what}"),
            ClientError::Checksum { expected, received } => write!(
                f,
                "checksum mismatch: received data has CRC-32C {received:08x}, the server's file {expected:08x}"
            ),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(err) | ClientError::Local(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for ClientError {
    /// An I/O error without more context is the connection's.
    fn from(err: io::Error) -> ClientError {
        ClientError::Io(err)
    }
}

/// Result alias for client calls.
pub type Result<T> = std::result::Result<T, ClientError>;
