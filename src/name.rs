//! File names as FERRY/1 carries them: percent-decoding, the naming rules,
//! and encoding back for the wire (and for a URL's path, [`url_path`]).
//!
//! This module owns the answer to "is this a name a client may use?". It is
//! pure (no filesystem access); the storage layer relies on a [`Name`] having
//! passed every rule here, so that joining its segments beneath the root can
//! never climb out of it.
//!
//! ```text
//! name     = segment *("/" segment)          1..=1024 bytes once decoded
//! segment  = 1..=255 bytes, not "." or "..", no control characters,
//!            no Unicode direction controls (see DIRECTION_CONTROLS)
//! reserved = any segment starting with ".ferry-" (server-internal files)
//! ```

use std::fmt;

/// Longest decoded name, in bytes.
pub const MAX_NAME: usize = 1024;
/// Longest single path segment, in bytes (the common filesystem limit).
pub const MAX_SEGMENT: usize = 255;
/// Segments starting with this are the server's own (temp files).
pub const RESERVED_PREFIX: &str = ".ferry-";

/// The Unicode characters that change the direction text is shown in, and
/// that no name may hold: `report\u{202E}fdp.exe` is shown as
/// `reportexe.pdf` in a listing, a tar member or a log line. The embeddings
/// and overrides (LRE, RLE, PDF, LRO, RLO: U+202A..=U+202E), the isolates
/// (LRI, RLI, FSI, PDI: U+2066..=U+2069) and the implicit marks (LRM, RLM:
/// U+200E, U+200F; ALM: U+061C), which can reorder neighbouring digits and
/// punctuation too. None has a place in a file name.
pub const DIRECTION_CONTROLS: [char; 12] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
];

/// Why a name was refused. Every variant is a bad request, except
/// [`NameError::Reserved`], which is forbidden (see `serve::ErrorKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// The name is empty.
    Empty,
    /// Longer than [`MAX_NAME`] bytes.
    TooLong,
    /// A segment longer than [`MAX_SEGMENT`] bytes.
    SegmentTooLong,
    /// A leading `/`, a trailing `/` or `//`.
    EmptySegment,
    /// A `.` or `..` segment.
    DotSegment,
    /// A control character (C0, DEL or C1).
    ControlCharacter,
    /// A Unicode direction control (see [`DIRECTION_CONTROLS`]).
    DirectionControl,
    /// A segment starting with [`RESERVED_PREFIX`].
    Reserved,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            NameError::BadEscape => "bad percent-escape in name",
            NameError::NotUtf8 => "name is not valid UTF-8",
            NameError::Empty => "empty name",
            NameError::TooLong => "name longer than 1024 bytes",
            NameError::SegmentTooLong => "name segment longer than 255 bytes",
            NameError::EmptySegment => "empty segment in name",
            NameError::DotSegment => "'.' or '..' segment in name",
            NameError::ControlCharacter => "control character in name",
            NameError::DirectionControl => {
                "Unicode direction control (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) in name"
            }
            NameError::Reserved => "names starting with .ferry- are reserved",
        };
        f.write_str(text)
    }
}

impl std::error::Error for NameError {}

/// A decoded, validated file name, relative to the server root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Decodes a percent-encoded name from a request line and validates it.
    ///
    /// # Errors
    /// Any rule in the module docs that the name breaks.
    pub fn decode(encoded: &[u8]) -> Result<Name, NameError> {
        Name::new(decode_utf8(encoded)?)
    }

    /// Validates an already decoded name.
    ///
    /// # Errors
    /// Any rule in the module docs that the name breaks.
    pub fn new(name: String) -> Result<Name, NameError> {
        Name::check(&name)?;
        Ok(Name(name))
    }

    /// Whether `name` would make a [`Name`], without making one (a walk
    /// asks it of every entry it reads).
    ///
    /// # Errors
    /// Any rule in the module docs that the name breaks.
    pub fn check(name: &str) -> Result<(), NameError> {
        // All of it is the leaf: no part is a name already.
        Name::check_leaf(name, 0)
    }

    /// Whether `path` would make a [`Name`], where its part before
    /// `leaf_at` (a folder's name and its `/`; nothing at the root) is one
    /// already: only its length and its last segment are looked at (a
    /// one-level listing asks it of every entry).
    ///
    /// # Errors
    /// As [`Name::check`]'s.
    pub fn check_leaf(path: &str, leaf_at: usize) -> Result<(), NameError> {
        debug_assert!(leaf_at == 0 || Name::check(&path[..leaf_at - 1]).is_ok());
        let leaf = path.get(leaf_at..).unwrap_or_default();
        if leaf.is_empty() {
            return Err(NameError::Empty);
        }
        if path.len() > MAX_NAME {
            return Err(NameError::TooLong);
        }
        check_text(leaf)?;
        leaf.split('/').try_for_each(check_segment)
    }

    /// The decoded name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory segments (all but the last) and the file's own segment.
    pub fn split_parent(&self) -> (impl Iterator<Item = &str> + Clone, &str) {
        let (dirs, leaf) = match self.0.rfind('/') {
            Some(at) => (&self.0[..at], &self.0[at + 1..]),
            None => ("", self.0.as_str()),
        };
        (dirs.split('/').filter(|s| !s.is_empty()), leaf)
    }

    /// The name encoded for a FERRY/1 line.
    pub fn encoded(&self) -> String {
        encode(&self.0)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `LIST` prefix: a string that names must start with. Everything before
/// its last `/` must be whole valid segments (that part is the directory that
/// gets walked); the rest is only compared, never used as a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    /// The root: everything.
    pub fn root() -> Prefix {
        Prefix(String::new())
    }

    /// Decodes and validates a percent-encoded prefix (may be empty).
    ///
    /// # Errors
    /// A bad escape, invalid UTF-8, a control character, a prefix longer than
    /// [`MAX_NAME`], or a directory part that is not a valid name.
    pub fn decode(encoded: &[u8]) -> Result<Prefix, NameError> {
        Prefix::new(decode_utf8(encoded)?)
    }

    /// Validates a prefix that is already decoded (a directory's name as a
    /// walk found it).
    ///
    /// # Errors
    /// As [`Prefix::decode`], but for the escapes.
    pub fn new(text: String) -> Result<Prefix, NameError> {
        if text.len() > MAX_NAME {
            return Err(NameError::TooLong);
        }
        check_text(&text)?;
        if let Some(at) = text.rfind('/') {
            for segment in text[..at].split('/') {
                check_segment(segment)?;
            }
        }
        Ok(Prefix(text))
    }

    /// The prefix of the entries in folder `name` (`name` and a `/`): a
    /// prefix whatever its length, as a name of [`MAX_NAME`] bytes is a
    /// folder too (one that can hold no file, so its listing is empty).
    pub fn of_folder(name: &Name) -> Prefix {
        Prefix(format!("{}/", name.as_str()))
    }

    /// The decoded prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The directory segments that contain every possible match.
    pub fn dir_segments(&self) -> impl Iterator<Item = &str> {
        let dir = self.0.rfind('/').map_or("", |at| &self.0[..at]);
        dir.split('/').filter(|s| !s.is_empty())
    }
}

fn check_text(text: &str) -> Result<(), NameError> {
    // Direction controls are not ASCII: most names need one pass of bytes.
    if text.is_ascii() {
        return match text.bytes().any(|b| b.is_ascii_control()) {
            true => Err(NameError::ControlCharacter),
            false => Ok(()),
        };
    }
    if text.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if text.chars().any(|c| DIRECTION_CONTROLS.contains(&c)) {
        return Err(NameError::DirectionControl);
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), NameError> {
    match segment {
        "" => Err(NameError::EmptySegment),
        "." | ".." => Err(NameError::DotSegment),
        s if s.len() > MAX_SEGMENT => Err(NameError::SegmentTooLong),
        s if s.starts_with(RESERVED_PREFIX) => Err(NameError::Reserved),
        _ => Ok(()),
    }
}

fn decode_utf8(encoded: &[u8]) -> Result<String, NameError> {
    String::from_utf8(percent_decode(encoded)?).map_err(|_| NameError::NotUtf8)
}

/// Decodes `%XX` escapes (either hex case); every other byte stands for itself.
///
/// # Errors
/// [`NameError::BadEscape`] for a `%` without two hex digits after it.
pub fn percent_decode(encoded: &[u8]) -> Result<Vec<u8>, NameError> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let byte = encoded[i];
        if byte == b'%' {
            let hi = encoded.get(i + 1).and_then(|b| hex_value(*b));
            let lo = encoded.get(i + 2).and_then(|b| hex_value(*b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(NameError::BadEscape),
            }
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|v| v as u8)
}

/// Encodes a name for a FERRY/1 line: space, `%`, control bytes and 0x7F
/// become `%XX`; everything else (UTF-8 included) is kept as it is.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch == ' ' || ch == '%' || ch.is_ascii_control() {
            out.push_str(&format!("%{:02X}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    out
}

/// Percent-encodes a name for use in a URL path: everything but unreserved
/// characters and `/`.
pub fn url_path(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_url_path(text, &mut out);
    out
}

/// Appends [`url_path`] of `text` to `out`.
pub fn push_url_path(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let kept = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte);
    // Runs of bytes kept as they are go in whole (a listing writes a URL
    // per entry). A run is ASCII, every byte of a multi-byte character
    // being escaped, so it begins and ends on characters' boundaries.
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        if kept(byte) {
            continue;
        }
        out.push_str(text.get(run..at).unwrap_or_default());
        out.push('%');
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
        run = at + 1;
    }
    out.push_str(text.get(run..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A leaf checked in a folder that is a name says what the whole
    /// path checked says.
    #[test]
    fn a_leaf_checked_alone_agrees_with_the_whole_name() {
        let long = "x".repeat(MAX_NAME);
        let leaves = [
            "a.txt",
            "a b",
            "x&y",
            "<tag>",
            "é ü 名",
            "",
            ".",
            "..",
            ".ferry-tmp-x",
            "bell\u{7}",
            "rtl\u{202e}txt",
            &long,
        ];
        for dir in ["", "docs", "docs/deep er"] {
            for leaf in leaves {
                let (path, at) = match dir {
                    "" => (leaf.to_owned(), 0),
                    dir => (format!("{dir}/{leaf}"), dir.len() + 1),
                };
                assert_eq!(
                    Name::check_leaf(&path, at).is_ok(),
                    Name::check(&path).is_ok(),
                    "{path:?}"
                );
            }
        }
    }

    fn name(s: &str) -> Result<Name, NameError> {
        Name::decode(s.as_bytes())
    }

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "a",
            "a/b/c.csv",
            "sensor 1/x",
            "..x",
            ".hidden",
            "dir/.ferry",
            "ünï/コード",
        ] {
            assert_eq!(name(ok).map(|n| n.0), Ok(ok.to_string()), "{ok}");
        }
        assert_eq!(name("a%20b").map(|n| n.0), Ok("a b".to_string()));
        assert_eq!(name("%2e%2Ex").map(|n| n.0), Ok("..x".to_string()));
    }

    #[test]
    fn refuses_every_rule_break() {
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            ("/a", NameError::EmptySegment),
            ("a/", NameError::EmptySegment),
            ("a//b", NameError::EmptySegment),
            (".", NameError::DotSegment),
            ("..", NameError::DotSegment),
            ("a/../b", NameError::DotSegment),
            ("a/./b", NameError::DotSegment),
            ("%2e%2e/x", NameError::DotSegment),
            ("..%2fetc", NameError::DotSegment),
            ("a%00b", NameError::ControlCharacter),
            ("a%0ab", NameError::ControlCharacter),
            ("a%7fb", NameError::ControlCharacter),
            ("a%c2%85b", NameError::ControlCharacter),
            ("a%", NameError::BadEscape),
            ("a%4", NameError::BadEscape),
            ("a%zz", NameError::BadEscape),
            ("%ff", NameError::NotUtf8),
            (".ferry-tmp", NameError::Reserved),
            ("a/.ferry-x/b", NameError::Reserved),
        ];
        for (input, want) in cases {
            assert_eq!(name(input), Err(*want), "{input:?}");
        }
    }

    #[test]
    fn enforces_length_limits() {
        let segment = "s".repeat(MAX_SEGMENT);
        assert!(name(&segment).is_ok());
        assert_eq!(name(&format!("{segment}s")), Err(NameError::SegmentTooLong));
        let long = [segment.as_str(); 4].join("/"); // 4*255+3 = 1023
        assert!(name(&long).is_ok());
        assert_eq!(name(&format!("{long}xx")), Err(NameError::TooLong));
    }

    #[test]
    fn encode_decode_round_trip() {
        for text in ["a b", "100%", "tab\there", "ü/ß", "del\u{7f}", "plain/name"] {
            let encoded = encode(text);
            assert!(!encoded.contains(' '));
            assert!(!encoded.bytes().any(|b| b.is_ascii_control()));
            assert_eq!(percent_decode(encoded.as_bytes()).unwrap(), text.as_bytes());
        }
    }

    #[test]
    fn split_parent_gives_dirs_and_leaf() {
        let n = name("a/b/c").unwrap();
        let (dirs, leaf) = n.split_parent();
        assert_eq!(dirs.collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(leaf, "c");
        let n = name("c").unwrap();
        let (dirs, leaf) = n.split_parent();
        assert_eq!(dirs.count(), 0);
        assert_eq!(leaf, "c");
    }

    #[test]
    fn prefixes_check_only_their_directory_part() {
        let p = Prefix::decode(b"logs/2026-").unwrap();
        assert_eq!(p.dir_segments().collect::<Vec<_>>(), ["logs"]);
        assert!(Prefix::decode(b"").is_ok());
        assert!(
            Prefix::decode(b"..").is_ok(),
            "a partial segment is only compared"
        );
        assert_eq!(Prefix::decode(b"../x"), Err(NameError::DotSegment));
        assert_eq!(Prefix::decode(b"/x"), Err(NameError::EmptySegment));
        assert_eq!(Prefix::decode(b"a%0a"), Err(NameError::ControlCharacter));
        assert_eq!(
            Prefix::decode("a\u{202E}".as_bytes()),
            Err(NameError::DirectionControl)
        );
    }

    #[test]
    fn refuses_every_direction_control_raw_or_escaped_and_nothing_near_them() {
        for control in DIRECTION_CONTROLS {
            let raw = format!("invoice{control}fdp.exe");
            assert_eq!(name(&raw), Err(NameError::DirectionControl), "{raw:?}");
            let escaped = encode_every_byte(&format!("dir{control}/x"));
            assert_eq!(
                name(&escaped),
                Err(NameError::DirectionControl),
                "{escaped}"
            );
        }
        // Their neighbours, and right-to-left text itself, are names.
        for fine in [
            "\u{2010}x",
            "\u{2065}",
            "\u{206A}",
            "\u{200D}",
            "\u{061B}",
            "שלום.txt",
        ] {
            assert!(name(fine).is_ok(), "{fine:?}");
        }
    }

    fn encode_every_byte(text: &str) -> String {
        text.bytes().map(|b| format!("%{b:02x}")).collect()
    }
}
