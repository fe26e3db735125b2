//! What S3 answers as an object's `ETag`, as recorded with its file
//! (storage's `checksum.rs` keeps the record): the MD5 of its bytes, or a multipart
//! upload's MD5 of its parts' MD5s and their number.

/// What S3 answers as an object's `ETag`, as recorded with its file: the
/// MD5 of its bytes (a PutObject's), or the MD5 of its parts' MD5s and
/// their number (a multipart upload's, `<hex>-N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md5Tag {
    /// The MD5 (of the bytes, or of the parts' MD5s).
    pub md5: [u8; 16],
    /// The number of parts, for a multipart upload's.
    pub parts: Option<u32>,
}

impl Md5Tag {
    /// The MD5 of no bytes: the tag of an empty object, and of a folder
    /// shown as one (S3's folder marker).
    pub const EMPTY: Md5Tag = Md5Tag {
        md5: [
            0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8,
            0x42, 0x7e,
        ],
        parts: None,
    };

    /// `<hex>` or `<hex>-N`, unquoted.
    pub fn text(&self) -> String {
        let hex: String = self.md5.iter().map(|b| format!("{b:02x}")).collect();
        match self.parts {
            Some(parts) => format!("{hex}-{parts}"),
            None => hex,
        }
    }

    /// [`Md5Tag::text`] in quotes: the `ETag` field's value.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.text())
    }

    /// Reads [`Md5Tag::text`]'s form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Md5Tag> {
        let (hex, parts) = match text.split_once('-') {
            Some((hex, parts)) => (hex, Some(parts.parse().ok().filter(|&n| n > 0)?)),
            None => (text, None),
        };
        if hex.len() != 32 || !hex.is_ascii() {
            return None;
        }
        let mut md5 = [0u8; 16];
        for (byte, pair) in md5.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Md5Tag { md5, parts })
    }
}

#[cfg(test)]
mod tests {
    use super::Md5Tag;

    #[test]
    fn md5_tags_read_back_single_and_multipart_forms_only() {
        let hex = "0123456789abcdef0123456789abcdef";
        let single = Md5Tag::parse(hex).unwrap();
        assert_eq!((single.parts, single.text()), (None, hex.to_owned()));
        let multi = Md5Tag::parse(&format!("{hex}-12")).unwrap();
        assert_eq!(multi.parts, Some(12));
        assert_eq!(multi.text(), format!("{hex}-12"));
        for bad in [
            "",
            "0123",
            &format!("{hex}-0"),
            &format!("{hex}-x"),
            &format!("{hex}0"),
        ] {
            assert_eq!(Md5Tag::parse(bad), None, "{bad}");
        }
        assert_eq!(Md5Tag::parse(&"zz".repeat(16)), None);
    }
}
