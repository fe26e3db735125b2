//! The tar format (POSIX ustar, with pax extended headers), sans-IO: the
//! header blocks of one member, the padding after its data, the end of the
//! archive, and how many bytes each takes, so that a folder's archive can
//! be announced with its exact `Content-Length` before any of it is read.
//!
//! ```text
//! [pax header + records]?  ustar header  data  padding to 512 ... two zero blocks
//! ```
//!
//! A name of more than 100 bytes, or a size over ustar's 11 octal digits
//! (8 GiB), goes in a pax `x` header before the member's own header, as GNU
//! tar, bsdtar and the `tar` crate read it. Nothing here touches a file.

/// The tar block size: headers are one block, data is padded to whole ones.
pub const BLOCK: u64 = 512;

/// The end of an archive: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];

/// One member: a folder (its path ends in `/`) or a file of `size` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// Its path in the archive, `/`-separated, relative.
    pub path: &'a str,
    /// Data bytes (0 for a folder).
    pub size: u64,
    /// Modification time, Unix seconds (before 1970 is written as 0).
    pub mtime: i64,
}

impl Member<'_> {
    fn is_dir(&self) -> bool {
        self.path.ends_with('/')
    }

    /// The pax records this member needs (empty: none).
    fn pax_records(&self) -> Vec<u8> {
        let mut records = Vec::new();
        if self.path.len() > 100 {
            records.extend(pax_record("path", self.path));
        }
        if self.size > MAX_OCTAL_11 {
            records.extend(pax_record("size", &self.size.to_string()));
        }
        records
    }

    /// Bytes of its headers (pax ones included).
    pub fn header_len(&self) -> u64 {
        let pax = self.pax_records().len() as u64;
        let pax_blocks = if pax == 0 { 0 } else { BLOCK + padded(pax) };
        pax_blocks + BLOCK
    }

    /// Bytes it takes in the archive: headers, data and padding.
    pub fn archived_len(&self) -> u64 {
        self.header_len() + padded(self.size)
    }

    /// Appends its header blocks to `out`.
    pub fn header(&self, out: &mut Vec<u8>) {
        let records = self.pax_records();
        if !records.is_empty() {
            let pax_name = format!("PaxHeaders/{}", tail(self.path.trim_end_matches('/'), 80));
            out.extend(block(&pax_name, b'x', records.len() as u64, self.mtime));
            out.extend_from_slice(&records);
            out.resize(out.len() + padding(records.len() as u64), 0);
        }
        // With a pax path, the ustar name is only a fallback for readers
        // that ignore pax: its last 100 bytes.
        let kind = if self.is_dir() { b'5' } else { b'0' };
        out.extend(block(tail(self.path, 100), kind, self.size, self.mtime));
    }
}

/// Largest value of an 11-digit octal field.
const MAX_OCTAL_11: u64 = 0o77_777_777_777;

/// `size` rounded up to whole blocks.
pub fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK) * BLOCK
}

/// Zero bytes that follow `size` data bytes.
pub fn padding(size: u64) -> usize {
    (padded(size) - size) as usize
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// `"<len> <key>=<value>\n"`, where `<len>` counts the whole record,
/// its own digits included.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

/// One ustar header block.
fn block(name: &str, kind: u8, size: u64, mtime: i64) -> [u8; 512] {
    let mut header = [0u8; 512];
    let name = name.as_bytes();
    header[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    let mode: u64 = if kind == b'5' { 0o755 } else { 0o644 };
    octal(&mut header[100..108], mode);
    octal(&mut header[108..116], 0); // uid
    octal(&mut header[116..124], 0); // gid
    octal(&mut header[124..136], size.min(MAX_OCTAL_11));
    octal(
        &mut header[136..148],
        u64::try_from(mtime).unwrap_or(0).min(MAX_OCTAL_11),
    );
    header[156] = kind;
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum is summed with its own field as spaces.
    header[148..156].fill(b' ');
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
    octal(&mut header[148..155], sum);
    header
}

/// `value` in octal, zero-padded, NUL-terminated, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let text = &text.as_bytes()[text.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(text);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_name_is_one_block_with_a_valid_checksum() {
        let member = Member {
            path: "d/a.txt",
            size: 5,
            mtime: 1_700_000_000,
        };
        let mut out = Vec::new();
        member.header(&mut out);
        assert_eq!(out.len() as u64, member.header_len());
        assert_eq!(out.len(), 512);
        assert_eq!(&out[..7], b"d/a.txt");
        assert_eq!(&out[124..136], b"00000000005\0");
        let stored = u64::from_str_radix(std::str::from_utf8(&out[148..154]).unwrap(), 8);
        out[148..156].fill(b' ');
        let sum: u64 = out.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(stored, Ok(sum));
        assert_eq!(member.archived_len(), 1024);
        assert_eq!(padding(5), 507);
        assert_eq!(padding(512), 0);
    }

    #[test]
    fn a_long_name_goes_in_a_pax_record() {
        let path = format!("{}/file.bin", "x".repeat(150));
        let member = Member {
            path: &path,
            size: 0,
            mtime: 0,
        };
        let mut out = Vec::new();
        member.header(&mut out);
        assert_eq!(out.len() as u64, member.header_len());
        assert_eq!(out.len(), 3 * 512);
        assert_eq!(out[156], b'x');
        let record = format!("{} path={path}\n", 6 + path.len() + 4);
        assert_eq!(&out[512..512 + record.len()], record.as_bytes());
        assert_eq!(out[1024 + 156], b'0');
    }

    #[test]
    fn pax_lengths_count_their_own_digits() {
        for len in [1usize, 5, 90, 95, 96, 97, 990, 995] {
            let record = pax_record("path", &"p".repeat(len));
            let declared: usize = std::str::from_utf8(&record)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(declared, record.len(), "{len}");
        }
    }
}
