//! ferry with the clients people use, each driven as its user would
//! drive it, from the scripts beside this file. Each test is skipped,
//! saying so, where its client is missing (`.ci/run` installs them):
//!
//! - `s3`: boto3, the AWS CLI, s3cmd (PyPI), rclone and restic (Debian;
//!   restic's `init` with a key granted one bucket, on a fresh root);
//! - `webdav`: litmus's suites (Debian `litmus`);
//! - `webdav_mounts`: rclone, a davfs2 mount (root and `/dev/fuse`; one
//!   of a folder its token's grant makes) and cadaver against a server
//!   that requires a token;
//! - `tus`: tuspy (PyPI) and tus-js-client (`npm ci` here);
//! - `python`: ferry's own Python client (`clients/python/`);
//! - `ftp`: Python's ftplib (the standard library, plain and `FTP_TLS`),
//!   curl (plain and `--ssl-reqd`; a write-only camera's
//!   `--ftp-create-dirs` and `-C -`) and the classic `ftp` (tnftp);
//! - `ftp_trees`: lftp, wget and rclone syncing folder trees (Debian);
//!   lftp into a folder its token's grant makes.
//!
//! All of them: `cargo test --test clients -- --nocapture`.

#[path = "../support/mod.rs"]
mod support;

mod ftp;
mod ftp_trees;
mod python;
mod s3;
mod tus;
mod webdav;
mod webdav_mounts;
