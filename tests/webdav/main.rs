//! WebDAV (docs/webdav.md) over real sockets:
//!
//! - `methods`: the one `OPTIONS` answer, `PROPFIND`, `MKCOL`, a folder's
//!   `DELETE`, `COPY` and `MOVE`, Finder's and Explorer's side files;
//! - `locks`: `LOCK` and `UNLOCK` (class 2);
//! - `props`: `PROPPATCH` and dead properties;
//! - `held`: listings answered from memory, or spilled to their spool;
//! - `semantics`: what folders are to each kind of client, a DAV client's
//!   `PUT` and `MOVE`, `Depth`, `Destination`.
//!
//! The real clients (litmus, rclone, davfs2, cadaver): `tests/clients/`.
//! One module alone: `cargo test --test webdav locks::`.

#[path = "../support/mod.rs"]
mod support;

mod held;
mod locks;
mod methods;
mod props;
mod semantics;
