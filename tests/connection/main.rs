//! What a connection does beneath the protocols (`src/connection/`):
//!
//! - `tls`: TLS on both listeners, with ferry's client, the binary, curl
//!   and Python; `tls_records`: records as a hostile network delivers them;
//! - `proxy_protocol`: a trusted balancer's PROXY header;
//!   `proxy_header_properties`: its parser's property tests;
//! - `timeouts`: deadlines against slow peers (first byte, header, rate);
//! - `big_sends`: big bodies sent corked by a loop serving one connection,
//!   uncorked beside others.
//!
//! One module alone: `cargo test --test connection tls::`.

#[path = "../support/binary.rs"]
mod binary;
#[path = "../support/mod.rs"]
mod support;

mod big_sends;
mod proxy_header_properties;
mod proxy_protocol;
mod timeouts;
mod tls;
mod tls_records;
