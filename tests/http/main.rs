//! HTTP/1.1 (docs/http.md): the message layer, ferry's files dialect and
//! tus, over real sockets.
//!
//! - `exchanges`: HTTP beside FERRY/1 with ureq, curl and raw bytes: HEAD,
//!   ranges, conditions, chunked bodies, `100-continue`, keep-alive,
//!   pipelining, malformed and hostile requests;
//! - `properties`: the HTTP parsers' property tests, checks shared with
//!   the fuzzers (`fuzz/src/http.rs`);
//! - `conditional_writes`: `If-None-Match: *` and `If-Match` on writes
//!   (and S3's conditional PutObject);
//! - `shares`: share links, made by a token and used without one;
//! - `share_uploads`: what an upload link's holder may take of its
//!   creator: the cap on its open uploads, the words of a `507`; a name
//!   taken at its upload's rename;
//! - `share_readers`: share links' JSON and record readers on generated
//!   text (checks shared with the `share_links` fuzzer: `fuzz/src/links.rs`);
//! - `tus`: tus 1.0.0 (its real clients: `tests/clients/`).
//!
//! The web page: `tests/web/`; WebDAV and S3 have programs of their own.
//! One module alone: `cargo test --test http tus::`.

#[path = "../support/edits.rs"]
mod edits;
#[path = "../support/mod.rs"]
mod support;

mod conditional_writes;
mod exchanges;
mod properties;
mod share_readers;
mod share_uploads;
mod shares;
mod tus;
