//! HTTP/1.1 beside FERRY/1: the same reactor, state machine and storage,
//! another codec. `request.rs` parses request heads (with `httparse`),
//! `response.rs` formats responses and listings, `chunked.rs` decodes
//! chunked uploads. What each method does is in `connection/http.rs`.

pub mod chunked;
pub mod request;
pub mod response;

pub use chunked::ChunkDecoder;
pub use request::{BodyLength, HttpRequest, Method, Range, Target, parse_request};
