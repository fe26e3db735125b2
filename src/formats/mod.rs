//! The byte formats ferry reads and writes, each sans-IO: the archives of
//! folder downloads (tar, zip), the body codings (HTTP's chunked, which
//! FERRY/1 shares; S3's aws-chunked, its signed chunks checked), JSON
//! string literals, tus-style upload metadata, MD5 (S3's `ETag`s),
//! CRC-32C by carry-less multiplies, CRCs combined (S3's full-object
//! checksums of multipart uploads),
//! calendar dates from and to Unix time, and numbers in hex.

pub mod aws_chunked;
pub mod calendar;
pub mod castagnoli;
pub mod chunked;
pub mod crc_combine;
pub mod hex;
pub mod json;
#[cfg(feature = "shares")]
pub mod json_reader;
pub mod md5;
pub mod tar;
pub mod upload_metadata;
pub mod zip;
