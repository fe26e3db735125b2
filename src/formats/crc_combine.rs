//! The CRC of two runs of bytes made from the CRCs of each and the
//! second's length, without reading a byte again (zlib's
//! `crc32_combine`, for any reflected CRC whose start value and final
//! XOR are all ones): how a multipart upload's full-object CRC-32,
//! CRC-32C or CRC-64/NVME is made from its parts'
//! (`serve/upload_checksum.rs`).
//!
//! A CRC of `A` then `B` is `crc(A)` moved on by `len(B)` zero bytes
//! (a product with `x^(8 len(B))` modulo the polynomial) XOR `crc(B)`;
//! the all-ones start and final XOR cancel out in it. The power of `x`
//! is built by squaring, so a combine costs two products per bit of the
//! length: a few thousand instructions, whatever the parts' sizes.

/// A reflected CRC, as combining needs it: its width in bits and its
/// polynomial, bit-reversed (the form its tables use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reflected {
    /// 32 or 64.
    pub width: u32,
    /// The polynomial, reversed, without its top term.
    pub poly: u64,
}

/// CRC-32 (ISO-HDLC: zlib's, S3's `x-amz-checksum-crc32`).
pub const CRC32: Reflected = Reflected {
    width: 32,
    poly: 0xEDB8_8320,
};

/// CRC-32C (Castagnoli: iSCSI's, S3's `x-amz-checksum-crc32c`).
pub const CRC32C: Reflected = Reflected {
    width: 32,
    poly: 0x82F6_3B78,
};

/// CRC-64/NVME (S3's `x-amz-checksum-crc64nvme`).
pub const CRC64_NVME: Reflected = Reflected {
    width: 64,
    poly: 0x9A6C_9329_AC4B_C9B5,
};

impl Reflected {
    /// The CRC of `A` then `B`, of `first = crc(A)`, `second = crc(B)`
    /// and `B`'s length in bytes.
    pub fn combine(self, first: u64, second: u64, second_len: u64) -> u64 {
        self.times(self.x_to_8n(second_len), first) ^ second
    }

    /// `1` (`x^0`): the top bit, in reflected form.
    fn one(self) -> u64 {
        1 << (self.width - 1)
    }

    /// `a * b` modulo the polynomial, both reflected.
    fn times(self, a: u64, mut b: u64) -> u64 {
        let mut bit = self.one();
        let mut product = 0;
        while bit != 0 {
            if a & bit != 0 {
                product ^= b;
            }
            bit >>= 1;
            b = if b & 1 != 0 {
                (b >> 1) ^ self.poly
            } else {
                b >> 1
            };
        }
        product
    }

    /// `x^(8 n)` modulo the polynomial: `n` zero bytes.
    fn x_to_8n(self, mut n: u64) -> u64 {
        // x^8, by squaring x three times: x^2, x^4, x^8.
        let x = self.one() >> 1;
        let mut square = (0..3).fold(x, |power, _| self.times(power, power));
        let mut power = self.one();
        while n != 0 {
            if n & 1 != 0 {
                power = self.times(square, power);
            }
            square = self.times(square, square);
            n >>= 1;
        }
        power
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three CRCs as their crates compute them.
    fn crc(kind: Reflected, bytes: &[u8]) -> u64 {
        match kind {
            CRC32 => u64::from(crc32fast::hash(bytes)),
            CRC32C => u64::from(crc32c::crc32c(bytes)),
            _ => {
                let mut digest = crc64fast_nvme::Digest::new();
                digest.write(bytes);
                digest.sum64()
            }
        }
    }

    #[test]
    fn the_check_values_of_the_catalogue() {
        assert_eq!(crc(CRC32, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc(CRC32C, b"123456789"), 0xE306_9283);
        assert_eq!(crc(CRC64_NVME, b"123456789"), 0xAE8B_1486_0A79_9888);
    }

    #[test]
    fn a_combine_is_the_crc_of_both_at_every_split() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for kind in [CRC32, CRC32C, CRC64_NVME] {
            for split in [0, 1, 2, 7, 8, 9, 255, 256, 511, 999, 1000] {
                let (a, b) = bytes.split_at(split);
                let combined = kind.combine(crc(kind, a), crc(kind, b), b.len() as u64);
                assert_eq!(combined, crc(kind, &bytes), "{kind:?} split at {split}");
            }
        }
    }

    #[test]
    fn a_combine_over_parts_of_gibibytes() {
        for kind in [CRC32, CRC32C, CRC64_NVME] {
            // 1 GiB of zeros two ways: 1 KiB doubled, 1 MiB a thousand times.
            let gib = zeros_of(kind);
            assert_eq!(gib, zeros_of_gib(kind), "{kind:?}");
            // 5 GiB (S3's largest part) at once, and a GiB at a time.
            let head = crc(kind, b"head");
            let five = (1..5).fold(gib, |sum, _| kind.combine(sum, gib, 1 << 30));
            let stepwise = (0..5).fold(head, |sum, _| kind.combine(sum, gib, 1 << 30));
            assert_eq!(kind.combine(head, five, 5 << 30), stepwise, "{kind:?}");
        }
    }

    /// The CRC of 1 GiB of zeros, by doubling 1 KiB twenty times.
    fn zeros_of(kind: Reflected) -> u64 {
        (0..20).fold(crc(kind, &[0; 1024]), |sum, doubled| {
            kind.combine(sum, sum, 1024 << doubled)
        })
    }

    /// The same, by 1 MiB at a time (another path to the same number).
    fn zeros_of_gib(kind: Reflected) -> u64 {
        let mib = crc(kind, &vec![0; 1 << 20]);
        (0..1023).fold(mib, |sum, _| kind.combine(sum, mib, 1 << 20))
    }
}
