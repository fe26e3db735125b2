//! FERRY/1: request lines in, response lines out. Sans-IO.
//!
//! Nothing here touches a socket or a file. [`parse_request`] looks at the
//! bytes a connection has buffered and says "need more", "here is a request
//! and how many bytes it used", or "this is an error, answered like so".
//! Bodies are not parsed here: a request only says how long its body is, and
//! the connection state machine streams it.
//!
//! ```text
//! request  = verb *(" " token) [CR] LF        at most 4096 bytes with the LF
//! PUT  <name> <size>[ <crc32c>|" -"][ mtime=<secs>]
//!                                             then <size> body bytes, and
//!                                             after "-": "CRC <crc32c>\n"
//! GET  <name>[ <offset>[ <length>]]
//! STAT <name> | DEL <name> | DEL <folder>/ | LIST[ <prefix>] | DIR[ <folder>] | ECHO <size> | QUIT
//! MOVE <from> <to>
//! AUTH <token>
//! SHARE <name>|<folder>/|/ <read|upload>[ expires=<secs>][ max=<n>][ password=<pct>] | SHARES | UNSHARE <id>
//! response = "OK" *(" " field) LF | "ERR " code " " message LF
//! ```
//!
//! PROTOCOL.md is the normative description; this module implements it, in
//! both directions and for both ends, each in one file:
//!
//! - `request.rs`: the request grammar, parsed ([`parse_request`], the
//!   server's) and written ([`Request::encode`], [`RequestLine`]: the
//!   client's, `ferry bench`'s and the fuzz references');
//! - `response.rs`: the server's response lines ([`Response`]);
//! - `reply.rs`: the client's reading of them ([`parse_reply`]);
//! - `codec.rs`: the serve layer's side, lines to operations and replies to
//!   lines; `shares.rs` that side of the share links' verbs (feature
//!   `shares`).

pub mod codec;
pub mod reply;
pub mod request;
pub mod response;
#[cfg(feature = "shares")]
mod shares;

pub use codec::error_code;
pub use reply::{Reply, parse_reply};
pub use request::{
    CRC_TRAILER, LINKS_BUILT, LinkTerms, MAX_TOKEN, ProtocolError, Recovery, Request, RequestLine,
    encode_crc_trailer, encode_stream_trailer, is_upload_id, parse_crc_trailer, parse_request,
    parse_stream_trailer,
};
pub use response::Response;

/// Longest request line, newline included.
pub const MAX_HEADER: usize = 4096;
