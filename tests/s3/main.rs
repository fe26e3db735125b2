//! The S3 listener (docs/s3.md) over real sockets, the XML parsed:
//!
//! - `listener`: each operation's answer and errors, grants, signatures
//!   (wrong, unknown, a body not the one signed), objects seen through
//!   HTTP and back;
//! - `objects`: ETags, conditional GETs and HEADs; `copy`: CopyObject's
//!   conditions, UploadPartCopy; `metadata`: `x-amz-meta-*` and kept
//!   fields; `multipart`: multipart uploads;
//! - `folders`: folder markers and wide folders (with boto3 and rclone);
//!   `listings`: `<Owner>`, delimiters, DeleteObjects;
//! - `streams`: aws-chunked bodies, additional checksums, presigned URLs;
//! - `virtual_host`: `--s3-domain`, buckets named by `Host`.
//!
//! The clients people use (boto3, the AWS CLI, s3cmd, rclone, restic):
//! `tests/clients/`. One module alone: `cargo test --test s3 copy::`.

#[path = "../support/binary.rs"]
mod binary;
#[path = "../support/mod.rs"]
mod support;

mod checksums;
mod copy;
mod folders;
mod listener;
mod listings;
mod metadata;
mod multipart;
mod objects;
mod streams;
mod virtual_host;
