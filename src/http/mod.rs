//! HTTP/1.1 beside FERRY/1: the same reactor, state machine, serve layer
//! and storage, another codec. `message.rs` is the HTTP/1.1 message layer
//! (heads, body framing, persistence), `request.rs` ferry's own dialect on
//! top of it (what a head asks of files and listings), `response.rs`
//! formats responses, `listing.rs` directory listings (`page.rs`: the HTML
//! page, the web interface; `search.rs`: its search of a folder's tree), `origin.rs` keeps browsers to the web origin's
//! rules (Host, Origin, how user files are presented), and `codec.rs` turns
//! heads into operations and replies into responses, keeping the
//! per-exchange state in between. Chunked bodies are decoded by
//! [`crate::chunked`], which FERRY/1 shares.

#[cfg(not(all(feature = "webdav", feature = "tus", feature = "s3", feature = "web")))]
pub mod absent;
pub mod auth;
pub mod codec;
pub mod copymove;
pub mod cors;
pub mod dialect;
pub mod files;
pub mod health;
pub mod if_header;
pub mod listing;
pub mod message;
pub mod options;
pub mod origin;
pub mod page;
pub mod page_data;
pub mod preconditions;
pub mod remains;
pub mod request;
pub mod response;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(not(feature = "s3"))]
use absent as s3;
pub mod search;
#[cfg(feature = "tus")]
pub mod tus;
#[cfg(not(feature = "tus"))]
use absent as tus;
#[cfg(feature = "web")]
mod ui;
#[cfg(not(feature = "web"))]
use absent as ui;
#[cfg(feature = "webdav")]
pub mod webdav;
#[cfg(not(feature = "webdav"))]
use absent as webdav;
pub mod xml;

pub use crate::chunked::ChunkDecoder;
pub use request::{BodyLength, HttpRequest, Method, Range, Target, parse_request};
