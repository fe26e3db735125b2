//! What a client states its whole upload body hashes to, beside the
//! CRC-32C every upload has (S3's `x-amz-content-sha256` and
//! `Content-MD5`), and the MD5 an S3 upload's `ETag` is made of: all
//! computed as the body streams, and held against what was stated before
//! the commit, so a body that does not match stores nothing.

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::{ErrorKind, Failure};

/// The reason given for a body whose SHA-256 is not the one its request
/// signed (S3 answers it with its own code: `http/s3/error.rs`).
pub const SHA256_MISMATCH: &str = "the body's SHA-256 is not the one signed";
/// The reason given for a body whose MD5 is not its `Content-MD5`.
pub const MD5_MISMATCH: &str = "the body's MD5 is not its Content-MD5";

/// What a request states of its body, and whether its answer states the
/// body's MD5 (S3's `ETag`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyDigests {
    /// The SHA-256 it must have.
    pub sha256: Option<[u8; 32]>,
    /// The MD5 it must have.
    pub md5: Option<[u8; 16]>,
}

/// The digests of a body being computed.
#[derive(Debug)]
pub struct Digesting {
    stated: BodyDigests,
    sha256: Option<Sha256>,
    md5: Md5,
}

impl Digesting {
    /// Digests of the bytes to come, to be held against `stated`; the
    /// MD5 is always computed (it is the answer's `ETag`).
    pub fn new(stated: BodyDigests) -> Digesting {
        Digesting {
            sha256: stated.sha256.map(|_| Sha256::new()),
            md5: Md5::new(),
            stated,
        }
    }

    /// Takes the next bytes of the body.
    pub fn update(&mut self, data: &[u8]) {
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(data);
        }
        self.md5.update(data);
    }

    /// The body's MD5, if it matches what was stated.
    ///
    /// # Errors
    /// A checksum mismatch naming the digest that did not match (the
    /// signed SHA-256 first: it says the body is not the one signed).
    pub fn finish(self) -> Result<[u8; 16], Failure> {
        let mismatch = |message| Failure::new(ErrorKind::ChecksumMismatch, message);
        if let (Some(sha256), Some(stated)) = (self.sha256, self.stated.sha256)
            && sha256.finalize()[..] != stated[..]
        {
            return Err(mismatch(SHA256_MISMATCH));
        }
        let md5: [u8; 16] = self.md5.finalize().into();
        match self.stated.md5 {
            Some(stated) if stated != md5 => Err(mismatch(MD5_MISMATCH)),
            _ => Ok(md5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digesting(stated: BodyDigests, pieces: &[&[u8]]) -> Result<[u8; 16], Failure> {
        let mut digesting = Digesting::new(stated);
        for piece in pieces {
            digesting.update(piece);
        }
        digesting.finish()
    }

    #[test]
    fn stated_digests_hold_across_pieces_and_others_do_not() {
        let sha256: [u8; 32] = Sha256::digest(b"hello world").into();
        let md5: [u8; 16] = Md5::digest(b"hello world").into();
        let both = BodyDigests {
            sha256: Some(sha256),
            md5: Some(md5),
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
}
