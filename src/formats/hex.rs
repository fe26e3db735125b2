//! Numbers in lowercase hex, written by hand: every upload's answer and
//! checksum record carry a CRC's eight digits, and `fmt` costs more than
//! the rest of a small answer's head. And bytes both ways ([`of_bytes`],
//! [`to_bytes`]): digests, keys, salts.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A CRC-32C as its eight digits, as `format!("{crc:08x}")` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcHex([u8; 8]);

impl CrcHex {
    /// The digits of `crc`, leading zeros kept.
    pub fn of(crc: u32) -> CrcHex {
        let mut digits = [0u8; 8];
        for (i, digit) in digits.iter_mut().enumerate() {
            *digit = DIGITS[(crc >> (28 - 4 * i) & 0xf) as usize];
        }
        CrcHex(digits)
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Appends `value` in hex without leading zeros, as `{:x}` writes it.
pub fn push_hex(value: u64, out: &mut String) {
    let digits = (64 - value.leading_zeros()).div_ceil(4).max(1);
    for at in (0..digits).rev() {
        out.push(char::from(DIGITS[((value >> (at * 4)) & 0xf) as usize]));
    }
}

/// `bytes` as lowercase hex, two digits a byte.
pub fn of_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// The bytes hex digits (either case) stand for; `None` for an odd count
/// or anything but digits.
pub fn to_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_go_there_and_back() {
        let bytes = [0u8, 1, 0x7f, 0xab, 0xff];
        assert_eq!(of_bytes(&bytes), "00017fabff");
        assert_eq!(to_bytes("00017FABff"), Some(bytes.to_vec()));
        assert_eq!(to_bytes(""), Some(Vec::new()));
        for bad in ["0", "0g", "+1", " 1"] {
            assert_eq!(to_bytes(bad), None, "{bad:?}");
        }
    }

    /// Both write what `format!` does, at the edges and between.
    #[test]
    fn hex_is_what_fmt_writes() {
        for value in [
            0u64,
            1,
            9,
            10,
            15,
            16,
            0xdead_beef,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut text = String::new();
            push_hex(value, &mut text);
            assert_eq!(text, format!("{value:x}"));
        }
        for crc in [0u32, 1, 0x0eb4_061a, 0x8000_0000, u32::MAX] {
            assert_eq!(CrcHex::of(crc).as_str(), format!("{crc:08x}"));
        }
    }
}
