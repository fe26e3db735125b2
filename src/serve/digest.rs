//! What a client states its whole upload body hashes to, beside the
//! CRC-32C every upload has (S3's `x-amz-content-sha256` and
//! `Content-MD5`), and the MD5 an S3 upload's `ETag` is made of: all
//! computed as the body streams, and held against what was stated before
//! the commit, so a body that does not match stores nothing. Also S3's
//! additional checksums (`x-amz-checksum-crc32`, `-crc32c`,
//! `-crc64nvme`, `-sha1`, `-sha256`), one home for their names and
//! computation,
//! stated with the request or in its body's trailer (`aws_chunked.rs`):
//! the CRC-32C is the one every upload computes, never a second.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::hash_lane::{Absorb, HashLane};
use super::{ErrorKind, Failure};
use crate::formats::aws_chunked::Coding;
use crate::formats::md5::Md5;

/// The reason given for a body whose SHA-256 is not the one its request
/// signed (S3 answers it with its own code: `http/s3/error.rs`).
pub const SHA256_MISMATCH: &str = "the body's SHA-256 is not the one signed";
/// The reason given for a body whose MD5 is not its `Content-MD5`.
pub const MD5_MISMATCH: &str = "the body's MD5 is not its Content-MD5";
/// The reason given for an `aws-chunked` body whose payload is not as
/// long as declared (S3 answers it with `IncompleteBody`).
pub const INCOMPLETE_BODY: &str =
    "the body's decoded length is not its x-amz-decoded-content-length";

/// An additional checksum S3 clients state of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// CRC-32 (ISO-HDLC, zlib's).
    Crc32,
    /// CRC-32C (Castagnoli): ferry's own.
    Crc32c,
    /// CRC-64/NVME (the AWS SDKs' newest default).
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// Every algorithm, in the order fields are looked for.
const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::Crc32,
    Algorithm::Crc32c,
    Algorithm::Crc64Nvme,
    Algorithm::Sha1,
    Algorithm::Sha256,
];

impl Algorithm {
    /// The field that states it, in the head or the trailer.
    pub fn field(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Its name in a record (`storage`'s `user.ferry.checksum`), and in
    /// lower case S3's (`x-amz-checksum-algorithm`: `CRC64NVME`).
    pub fn record_name(self) -> &'static str {
        self.field().trim_start_matches("x-amz-checksum-")
    }

    /// The algorithm whose field is `name` (lower-case).
    pub fn of_field(name: &str) -> Option<Algorithm> {
        ALGORITHMS.into_iter().find(|a| a.field() == name)
    }

    /// The algorithm S3 names `name` (`SHA256`, any case).
    pub fn of_name(name: &str) -> Option<Algorithm> {
        ALGORITHMS
            .into_iter()
            .find(|a| a.record_name().eq_ignore_ascii_case(name))
    }

    /// Whether it is a CRC, whose values of consecutive bytes combine
    /// into the whole's (a multipart upload's full-object checksum).
    pub fn is_crc(self) -> bool {
        matches!(
            self,
            Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme
        )
    }

    /// Its value for `body`, held whole (a small body taken in hand:
    /// DeleteObjects'), as the field states it before base64.
    pub fn of_bytes(self, body: &[u8]) -> Vec<u8> {
        let mut summing = Summing::new(self);
        summing.update(body);
        let crc = match self {
            Algorithm::Crc32c => crate::formats::castagnoli::checksum(body),
            _ => 0,
        };
        summing.finish(crc)
    }
}

/// A checksum a request states of its body: with the request, or to come
/// in its trailer (`value` `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stated {
    /// Which.
    pub algorithm: Algorithm,
    /// Its bytes (the field's base64 decoded), if stated with the request.
    pub value: Option<Vec<u8>>,
}

/// A body's checksum, verified: what the answer states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// Which.
    pub algorithm: Algorithm,
    /// Its bytes (the answer's field has their base64).
    pub value: Vec<u8>,
    /// A multipart upload's composite checksum (of its parts' checksums)
    /// counts them: S3 answers it `<base64>-<parts>`. `None`: the
    /// checksum of the bytes themselves (S3's `FULL_OBJECT`).
    pub parts: Option<u32>,
}

impl Checksum {
    /// The checksum of the bytes themselves.
    pub fn full(algorithm: Algorithm, value: Vec<u8>) -> Checksum {
        Checksum {
            algorithm,
            value,
            parts: None,
        }
    }

    /// The field's value: base64 of the bytes, and `-<parts>` for a
    /// composite one.
    pub fn base64(&self) -> String {
        let base64 = STANDARD.encode(&self.value);
        match self.parts {
            Some(parts) => format!("{base64}-{parts}"),
            None => base64,
        }
    }

    /// S3's `x-amz-checksum-type` of it.
    pub fn kind(&self) -> &'static str {
        kind_of(&self.base64())
    }

    /// How it is recorded with a file: `<algorithm>:<base64>[-<parts>]`.
    pub fn record(&self) -> String {
        format!("{}:{}", self.algorithm.record_name(), self.base64())
    }

    /// The checksum a record ([`Checksum::record`]) stands for; `None`
    /// for anything else.
    pub fn of_record(record: &str) -> Option<Checksum> {
        let (name, text) = record.split_once(':')?;
        let algorithm = Algorithm::of_name(name)?;
        let (base64, parts) = match text.split_once('-') {
            Some((base64, parts)) => (base64, Some(parts.parse().ok()?)),
            None => (text, None),
        };
        let value = STANDARD.decode(base64).ok()?;
        Some(Checksum {
            algorithm,
            value,
            parts,
        })
    }

    /// The field and its value that `record` (a [`Checksum::record`])
    /// stands for; `None` for anything else.
    pub fn field_of_record(record: &str) -> Option<(&'static str, &str)> {
        let (name, base64) = record.split_once(':')?;
        let algorithm = Algorithm::of_field(&format!("x-amz-checksum-{name}"))?;
        Some((algorithm.field(), base64))
    }
}

/// S3's `x-amz-checksum-type` of a checksum's value as answered: a
/// composite one ends in `-<parts>`, which base64 never holds.
pub fn kind_of(value: &str) -> &'static str {
    match value.contains('-') {
        true => "COMPOSITE",
        false => "FULL_OBJECT",
    }
}

/// What a request states of its body, and whether its answer states the
/// body's MD5 (S3's `ETag`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyDigests {
    /// The SHA-256 it must have.
    pub sha256: Option<[u8; 32]>,
    /// The MD5 it must have.
    pub md5: Option<[u8; 16]>,
    /// An additional checksum it must have.
    pub checksum: Option<Stated>,
    /// Its `aws-chunked` coding, if it has one (decoded before digests).
    pub coding: Option<Box<Coding>>,
    /// An additional checksum nobody stated, computed to be kept (a part
    /// of a multipart upload with a checksum that sent none, as S3
    /// computes it); ignored where one is stated.
    pub computed: Option<Algorithm>,
}

/// An additional checksum being computed (the CRC-32C is the upload's).
#[derive(Debug)]
enum Summing {
    Crc32(crc32fast::Hasher),
    Crc32c,
    Crc64Nvme(Crc64Nvme),
    Sha1(Box<sha1::Sha1>),
    Sha256(Box<Sha256>),
}

/// A CRC-64/NVME as it runs (its crate's digest is not `Debug`).
struct Crc64Nvme(crc64fast_nvme::Digest);

impl std::fmt::Debug for Crc64Nvme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crc64Nvme({:016x})", self.0.sum64())
    }
}

impl Summing {
    fn new(algorithm: Algorithm) -> Summing {
        match algorithm {
            Algorithm::Crc32 => Summing::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Summing::Crc32c,
            Algorithm::Crc64Nvme => Summing::Crc64Nvme(Crc64Nvme(crc64fast_nvme::Digest::new())),
            Algorithm::Sha1 => Summing::Sha1(Box::default()),
            Algorithm::Sha256 => Summing::Sha256(Box::default()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Summing::Crc32(crc) => crc.update(data),
            Summing::Crc64Nvme(crc) => crc.0.write(data),
            Summing::Sha1(sha1) => sha1.update(data),
            Summing::Sha256(sha256) => sha256.update(data),
            Summing::Crc32c => {}
        }
    }

    /// What it came to; `crc` is the body's CRC-32C (the upload's).
    fn finish(self, crc: u32) -> Vec<u8> {
        match self {
            Summing::Crc32(crc32) => crc32.finalize().to_be_bytes().to_vec(),
            Summing::Crc32c => crc.to_be_bytes().to_vec(),
            Summing::Crc64Nvme(crc) => crc.0.sum64().to_be_bytes().to_vec(),
            Summing::Sha1(sha1) => sha1.finalize().to_vec(),
            Summing::Sha256(sha256) => sha256.finalize().to_vec(),
        }
    }
}

/// An additional checksum computed of bytes as they pass, stated by
/// nobody (a part copied from an object, of its upload's algorithm).
#[derive(Debug)]
pub struct Running {
    algorithm: Algorithm,
    summing: Summing,
}

impl Running {
    /// Of `algorithm`, over no bytes yet.
    pub fn new(algorithm: Algorithm) -> Running {
        Running {
            algorithm,
            summing: Summing::new(algorithm),
        }
    }

    /// Takes the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.summing.update(data);
    }

    /// What it came to; `crc` is the bytes' CRC-32C (computed beside it).
    pub fn finish(self, crc: u32) -> Checksum {
        Checksum::full(self.algorithm, self.summing.finish(crc))
    }
}

/// What a body's digests came to, all as stated.
#[derive(Debug, PartialEq, Eq)]
pub struct Digested {
    /// The MD5 (S3's `ETag`).
    pub md5: [u8; 16],
    /// The additional checksum stated, verified.
    pub checksum: Option<Checksum>,
}

/// The digests of a body being computed.
#[derive(Debug)]
pub struct Digesting {
    stated: BodyDigests,
    hashing: Hashing,
    /// Bytes taken so far.
    taken: u64,
}

/// Where a body's hashes are computed.
#[derive(Debug)]
enum Hashing {
    /// On the thread that takes the bytes.
    InLine(Box<Hashes>),
    /// On a lane beside the writes (`hash_lane.rs`).
    Beside(HashLane<Box<Hashes>>),
    /// The lane's thread went: the hashes are lost.
    Lost,
}

/// The hashes of a body.
#[derive(Debug)]
struct Hashes {
    sha256: Option<Sha256>,
    md5: Md5,
    summing: Option<Summing>,
}

impl Absorb for Box<Hashes> {
    fn absorb(&mut self, data: &[u8]) {
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(data);
        }
        self.md5.update(data);
        if let Some(summing) = &mut self.summing {
            summing.update(data);
        }
    }
}

impl Digesting {
    /// Digests of the bytes to come, to be held against `stated`; the
    /// MD5 is always computed (it is the answer's `ETag`).
    pub fn new(stated: BodyDigests) -> Digesting {
        let summing = match &stated.checksum {
            Some(checksum) => Some(Summing::new(checksum.algorithm)),
            None => stated.computed.map(Summing::new),
        };
        let hashes = Hashes {
            sha256: stated.sha256.map(|_| Sha256::new()),
            md5: Md5::new(),
            summing,
        };
        Digesting {
            hashing: Hashing::InLine(Box::new(hashes)),
            stated,
            taken: 0,
        }
    }

    /// Takes the next bytes of the body (to its lane, if it has one:
    /// waits there while the lane is behind).
    pub fn update(&mut self, data: &[u8]) {
        self.taken += data.len() as u64;
        match &mut self.hashing {
            Hashing::InLine(hashes) => hashes.absorb(data),
            Hashing::Beside(lane) => {
                if lane.send(data).is_err() {
                    self.hashing = Hashing::Lost;
                }
            }
            Hashing::Lost => {}
        }
    }

    /// From now on, hashes beside the writes where a lane is free
    /// (`hash_lane.rs`), once the body has taken `in_line` bytes (a
    /// buffer's worth: a small body is not worth a thread). Only on an I/O
    /// thread that writes behind a connection: [`Digesting::update`] may
    /// then wait.
    pub fn hash_beside_writes(&mut self, in_line: u64) {
        if self.taken < in_line {
            return;
        }
        self.hashing = match std::mem::replace(&mut self.hashing, Hashing::Lost) {
            Hashing::InLine(hashes) => match HashLane::start(hashes) {
                Ok(lane) => Hashing::Beside(lane),
                Err(hashes) => Hashing::InLine(hashes),
            },
            hashing => hashing,
        };
    }

    /// The body's MD5 and checksum, if they match what was stated; `crc`
    /// is the body's CRC-32C (the upload's), `trailers` its trailer's
    /// fields (where a checksum may be stated).
    ///
    /// # Errors
    /// A checksum mismatch naming the digest that did not match (the
    /// signed SHA-256 first: it says the body is not the one signed); a
    /// checksum promised in the trailer that is not there, or not base64.
    pub fn finish(self, crc: u32, trailers: &[(String, String)]) -> Result<Digested, Failure> {
        let lost = || {
            Failure::new(
                ErrorKind::Internal,
                "the body's hashes were lost".to_owned(),
            )
        };
        let hashes = match self.hashing {
            Hashing::InLine(hashes) => hashes,
            Hashing::Beside(lane) => lane.finish().map_err(|_| lost())?,
            Hashing::Lost => return Err(lost()),
        };
        let mismatch = |message: String| Failure::new(ErrorKind::ChecksumMismatch, message);
        if let (Some(sha256), Some(stated)) = (hashes.sha256, self.stated.sha256)
            && sha256.finalize()[..] != stated[..]
        {
            return Err(mismatch(SHA256_MISMATCH.to_owned()));
        }
        let md5 = hashes.md5.finalize();
        if let Some(stated) = self.stated.md5
            && stated != md5
        {
            return Err(mismatch(MD5_MISMATCH.to_owned()));
        }
        let checksum = match (self.stated.checksum, hashes.summing) {
            (Some(stated), Some(summing)) => Some(checked(stated, summing, crc, trailers)?),
            (None, Some(summing)) => self
                .stated
                .computed
                .map(|algorithm| Checksum::full(algorithm, summing.finish(crc))),
            _ => None,
        };
        Ok(Digested { md5, checksum })
    }
}

/// The checksum `summing` came to, if it is the one stated (with the
/// request, or in `trailers`).
fn checked(
    stated: Stated,
    summing: Summing,
    crc: u32,
    trailers: &[(String, String)],
) -> Result<Checksum, Failure> {
    let field = stated.algorithm.field();
    let value = match stated.value {
        Some(value) => value,
        None => trailers
            .iter()
            .find(|(name, _)| name == field)
            .and_then(|(_, value)| STANDARD.decode(value).ok())
            .ok_or_else(|| {
                let message = format!("the trailer has no {field} in base64");
                Failure::new(ErrorKind::BadRequest, message)
            })?,
    };
    match summing.finish(crc) == value {
        true => Ok(Checksum::full(stated.algorithm, value)),
        false => Err(Failure::new(
            ErrorKind::ChecksumMismatch,
            format!("the body's {field} is not the one stated"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digesting(stated: BodyDigests, pieces: &[&[u8]]) -> Result<[u8; 16], Failure> {
        let mut digesting = Digesting::new(stated);
        let mut crc = 0;
        for piece in pieces {
            digesting.update(piece);
            crc = crc32c::crc32c_append(crc, piece);
        }
        digesting.finish(crc, &[]).map(|digested| digested.md5)
    }

    /// The checksums of "abc" as S3 states them (base64, big-endian).
    #[test]
    fn checksums_stated_with_the_request_or_in_the_trailer() {
        let cases = [
            (Algorithm::Crc32, "NSRBwg=="),
            (Algorithm::Crc32c, "Nks/tw=="),
            (
                Algorithm::Sha256,
                "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            ),
        ];
        for (algorithm, value) in cases {
            let bytes = STANDARD.decode(value).unwrap();
            let run = |stated: Option<Vec<u8>>, trailers: &[(String, String)]| {
                let mut digesting = Digesting::new(BodyDigests {
                    checksum: Some(Stated {
                        algorithm,
                        value: stated,
                    }),
                    ..BodyDigests::default()
                });
                digesting.update(b"ab");
                digesting.update(b"c");
                let crc = crc32c::crc32c(b"abc");
                digesting.finish(crc, trailers).map(|d| d.checksum)
            };
            let expected = Checksum::full(algorithm, bytes.clone());
            assert_eq!(run(Some(bytes.clone()), &[]), Ok(Some(expected.clone())));
            let trailer = [(algorithm.field().to_owned(), value.to_owned())];
            assert_eq!(run(None, &trailer), Ok(Some(expected.clone())));
            assert_eq!(expected.base64(), value);
            let mut other = bytes.clone();
            other[0] ^= 1;
            let failed = run(Some(other), &[]).unwrap_err();
            assert_eq!(failed.kind, ErrorKind::ChecksumMismatch);
            let failed = run(None, &[]).unwrap_err();
            assert_eq!(failed.kind, ErrorKind::BadRequest);
        }
    }

    #[test]
    fn a_body_hashed_beside_its_writes_has_the_digests_of_one_hashed_in_line() {
        let body: Vec<u8> = (0..3 * super::super::sink::DEFERRED_WRITE + 12345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let stated = BodyDigests {
            sha256: Some(Sha256::digest(&body).into()),
            md5: Some(Md5::digest(&body)),
            checksum: Some(Stated {
                algorithm: Algorithm::Crc32,
                value: Some(Algorithm::Crc32.of_bytes(&body)),
            }),
            coding: None,
            computed: None,
        };
        let mut digesting = Digesting::new(stated.clone());
        // As the writes behind a connection take it: a buffer at a time,
        // each asking for the lane first (the first is hashed in line).
        for piece in body.chunks(super::super::sink::DEFERRED_WRITE) {
            digesting.hash_beside_writes(super::super::sink::DEFERRED_WRITE as u64);
            digesting.update(piece);
        }
        // No other unit test takes a lane: this body's is free.
        assert!(matches!(digesting.hashing, Hashing::Beside(_)));
        let digested = digesting.finish(crc32c::crc32c(&body), &[]).unwrap();
        assert_eq!(Some(digested.md5), stated.md5);
        assert_eq!(
            digested.checksum.unwrap().value,
            Algorithm::Crc32.of_bytes(&body)
        );
    }

    #[test]
    fn stated_digests_hold_across_pieces_and_others_do_not() {
        let sha256: [u8; 32] = Sha256::digest(b"hello world").into();
        let md5 = Md5::digest(b"hello world");
        let both = BodyDigests {
            sha256: Some(sha256),
            md5: Some(md5),
            ..BodyDigests::default()
        };
        assert_eq!(digesting(both.clone(), &[b"hello", b" world"]), Ok(md5));
        assert_eq!(
            digesting(BodyDigests::default(), &[b"hello world"]),
            Ok(md5)
        );
        let failed = digesting(both.clone(), &[b"hello there"]).unwrap_err();
        assert_eq!(failed.message, SHA256_MISMATCH);
        let md5_only = BodyDigests {
            sha256: None,
            ..both
        };
        let failed = digesting(md5_only, &[b"hello there"]).unwrap_err();
        assert_eq!(failed.message, MD5_MISMATCH);
    }

    #[test]
    fn one_home_computes_each_algorithm_of_a_held_body() {
        let hex = |bytes: Vec<u8>| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
        let sha1 = Algorithm::Sha1.of_bytes(b"abc");
        assert_eq!(hex(sha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let crc32c = Algorithm::Crc32c.of_bytes(b"hello world");
        assert_eq!(crc32c, crc32c::crc32c(b"hello world").to_be_bytes());
        assert_eq!(
            Algorithm::of_field("x-amz-checksum-sha1"),
            Some(Algorithm::Sha1)
        );
        assert_eq!(
            Algorithm::of_field("x-amz-checksum-crc64nvme"),
            Some(Algorithm::Crc64Nvme)
        );
        assert_eq!(Algorithm::of_field("x-amz-checksum-md5"), None);
        // ceph's test_object_checksum_crc64nvme: 1024 bytes of 'A'.
        let crc64 = Algorithm::Crc64Nvme.of_bytes(&[b'A'; 1024]);
        assert_eq!(STANDARD.encode(crc64), "Qeh8oXvGiSo=");
        let composite =
            Checksum::of_record("sha256:Ok6Cs5b96ux6+MWQkJO7UBT5sKPBeXBLwvj/hK89smg=-1");
        let composite = composite.unwrap();
        assert_eq!((composite.parts, composite.kind()), (Some(1), "COMPOSITE"));
        assert_eq!(
            composite.record(),
            "sha256:Ok6Cs5b96ux6+MWQkJO7UBT5sKPBeXBLwvj/hK89smg=-1"
        );
        assert_eq!(
            Checksum::of_record("crc64nvme:Qeh8oXvGiSo=").map(|c| c.kind()),
            Some("FULL_OBJECT")
        );
    }
}
