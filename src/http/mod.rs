//! HTTP/1.1 beside FERRY/1: the same reactor, state machine, serve layer
//! and storage, another codec. `message.rs` is the HTTP/1.1 message layer
//! (heads, body framing, persistence); `dialect.rs` says what a dialect
//! is, and each dialect has its file or folder: `files/` is ferry's own
//! (what a head asks of files, listings, archives and searches), then
//! WebDAV, tus and S3. What they all read the same way is no dialect's:
//! `fields.rs` (targets, names, `Destination`), `range.rs`, `auth.rs`.
//! `response.rs` formats responses, `listing.rs` directory listings
//! (`page.rs`: the HTML page, the web interface), `origin.rs` keeps
//! browsers to the web origin's rules (Host, Origin, how user files are
//! presented), `shares.rs` share links (made, listed, revoked, used),
//! and `codec.rs` turns
//! heads into operations and replies into responses, keeping the
//! per-exchange state in between. Chunked bodies are decoded by
//! [`crate::formats::chunked`], which FERRY/1 shares.

#[cfg(not(feature = "web"))]
pub mod absent;
pub mod auth;
pub mod codec;
pub mod copymove;
pub mod cors;
pub mod dialect;
pub mod dialects;
pub mod fields;
pub mod files;
pub mod health;
pub mod if_header;
#[cfg(feature = "shares")]
pub mod link_page;
#[cfg(feature = "shares")]
mod link_requests;
pub mod listing;
pub mod message;
pub mod origin;
pub mod page;
pub mod page_data;
pub mod preconditions;
pub mod range;
pub mod remains;
pub mod response;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "shares")]
mod share_answer;
#[cfg(feature = "shares")]
pub mod shares;
#[cfg(feature = "tus")]
pub mod tus;
#[cfg(feature = "web")]
mod ui;
#[cfg(not(feature = "web"))]
use absent as ui;
#[cfg(feature = "webdav")]
pub mod webdav;
pub mod xml;

pub use crate::formats::chunked::ChunkDecoder;
pub use fields::Target;
pub use files::request::{BodyLength, HttpRequest, Method, parse_request};
pub use range::Range;
