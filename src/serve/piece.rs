//! A checksum a client states for the bytes of one request's body (tus's
//! `Upload-Checksum` on a `PATCH`), and its computation as they arrive:
//! a piece whose bytes do not match is taken back, so the upload stands
//! where it stood and the client sends the piece again.

use sha1::Digest as _;

use crate::formats::md5::Md5;

/// A checksum of one request's body, as stated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceChecksum {
    /// CRC-32C (Castagnoli), as ferry checks whole files.
    Crc32c(u32),
    /// SHA-1.
    Sha1([u8; 20]),
    /// MD5.
    Md5([u8; 16]),
}

/// The algorithms a piece may be checked with, by their tus names.
pub const ALGORITHMS: &str = "crc32c,sha1,md5";

impl PieceChecksum {
    /// The checksum `algorithm` (a tus name) gives as `digest`; `None` for
    /// an algorithm not served or a digest of the wrong length.
    pub fn new(algorithm: &str, digest: &[u8]) -> Option<PieceChecksum> {
        Some(match algorithm.to_ascii_lowercase().as_str() {
            "crc32c" => PieceChecksum::Crc32c(u32::from_be_bytes(digest.try_into().ok()?)),
            "sha1" => PieceChecksum::Sha1(digest.try_into().ok()?),
            "md5" => PieceChecksum::Md5(digest.try_into().ok()?),
            _ => return None,
        })
    }

    /// Its algorithm's name.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PieceChecksum::Crc32c(_) => "crc32c",
            PieceChecksum::Sha1(_) => "sha1",
            PieceChecksum::Md5(_) => "md5",
        }
    }
}

/// A piece's checksum being computed, to be held against the one stated.
#[derive(Debug)]
pub struct PieceCheck {
    stated: PieceChecksum,
    computing: Computing,
}

#[derive(Debug)]
enum Computing {
    Crc32c(u32),
    Sha1(sha1::Sha1),
    Md5(Md5),
}

impl PieceCheck {
    /// A check of the bytes to come against `stated`.
    pub fn new(stated: PieceChecksum) -> PieceCheck {
        let computing = match stated {
            PieceChecksum::Crc32c(_) => Computing::Crc32c(0),
            PieceChecksum::Sha1(_) => Computing::Sha1(sha1::Sha1::new()),
            PieceChecksum::Md5(_) => Computing::Md5(Md5::new()),
        };
        PieceCheck { stated, computing }
    }

    /// Takes the next bytes of the piece.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.computing {
            Computing::Crc32c(crc) => *crc = crate::formats::castagnoli::append(*crc, data),
            Computing::Sha1(sha1) => sha1.update(data),
            Computing::Md5(md5) => md5.update(data),
        }
    }

    /// Whether the piece's bytes match the checksum stated.
    pub fn holds(self) -> bool {
        match (self.computing, &self.stated) {
            (Computing::Crc32c(crc), PieceChecksum::Crc32c(stated)) => crc == *stated,
            (Computing::Sha1(sha1), PieceChecksum::Sha1(stated)) => {
                sha1.finalize()[..] == stated[..]
            }
            (Computing::Md5(md5), PieceChecksum::Md5(stated)) => md5.finalize() == *stated,
            _ => unreachable!("a check computes the algorithm it was made for"),
        }
    }

    /// The algorithm, for the refusal's message.
    pub fn algorithm(&self) -> &'static str {
        self.stated.algorithm()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(stated: PieceChecksum, pieces: &[&[u8]]) -> bool {
        let mut check = PieceCheck::new(stated);
        for piece in pieces {
            check.update(piece);
        }
        check.holds()
    }

    #[test]
    fn known_digests_hold_across_pieces_and_others_do_not() {
        // Check values of "123456789" (CRC-32C) and of "abc" (SHA-1, MD5).
        let crc = PieceChecksum::new("crc32c", &0xe306_9283_u32.to_be_bytes()).unwrap();
        assert!(checked(crc.clone(), &[b"1234", b"56789"]));
        assert!(!checked(crc, &[b"123456780"]));
        let sha1: Vec<u8> = (0..20)
            .map(|i| {
                u8::from_str_radix(
                    &"a9993e364706816aba3e25717850c26c9cd0d89d"[i * 2..i * 2 + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        assert!(checked(
            PieceChecksum::new("SHA1", &sha1).unwrap(),
            &[b"a", b"bc"]
        ));
        let md5: Vec<u8> = (0..16)
            .map(|i| {
                u8::from_str_radix(&"900150983cd24fb0d6963f7d28e17f72"[i * 2..i * 2 + 2], 16)
                    .unwrap()
            })
            .collect();
        assert!(checked(PieceChecksum::new("md5", &md5).unwrap(), &[b"abc"]));
        assert!(!checked(
            PieceChecksum::new("md5", &md5).unwrap(),
            &[b"abd"]
        ));
        assert_eq!(PieceChecksum::new("sha256", &[0; 32]), None);
        assert_eq!(PieceChecksum::new("md5", &[0; 15]), None);
    }
}
