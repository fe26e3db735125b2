//! The zip format (PKWARE APPNOTE 6.3, stored members only), sans-IO: the
//! records of one member and the end of the archive, and how many bytes
//! each takes, so that a folder's zip can be announced with its exact
//! `Content-Length` before any of it is read, as [`crate::formats::tar`] does.
//!
//! ```text
//! per member:  local header  data  [data descriptor]      (in walk order)
//! then:        central header per member
//!              [zip64 end record, zip64 locator]  end record
//! ```
//!
//! Members are stored (no compression): the data is sent as it is, with
//! `sendfile`, and only its CRC-32 is computed, after it went out, which is
//! why a file's local header sets flag bit 3 and a data descriptor follows
//! its data. Sizes are known from the walk, so they are in the local header
//! too (streaming readers use them). Names are UTF-8 (flag bit 11).
//!
//! An archive whose offsets, sizes or member count would not fit the
//! classic 32-bit and 16-bit fields is written as zip64 *throughout*: every
//! member carries a zip64 extra field and 8-byte descriptor sizes. Deciding
//! once per archive keeps every member's length a function of its name and
//! size alone, which is what lets the archive be measured before it is sent.
//! Nothing here touches a file.

/// Whether an archive is written with zip64 records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Zip64(pub bool);

/// One member: a folder (its path ends in `/`) or a file of `size` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// Its path in the archive, `/`-separated, relative.
    pub path: &'a str,
    /// Data bytes (0 for a folder).
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

const LOCAL: u32 = 0x0403_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
const END: u32 = 0x0605_4b50;
/// Version 4.5: zip64 (and everything a stored member needs).
const VERSION: u16 = 45;
/// Made by Unix (3): external attributes carry the mode.
const MADE_BY: u16 = (3 << 8) | VERSION;
/// Flag bit 3: CRC and sizes follow in a data descriptor.
const HAS_DESCRIPTOR: u16 = 1 << 3;
/// Flag bit 11: the name is UTF-8.
const UTF8: u16 = 1 << 11;
/// A 32-bit field whose value is in the zip64 extra field.
const IN_ZIP64: u32 = u32::MAX;

/// Largest member count, size and offset of a classic archive.
pub fn needs_zip64(members: u64, classic_len: u64) -> Zip64 {
    Zip64(members >= u64::from(u16::MAX) || classic_len >= u64::from(u32::MAX))
}

impl Member<'_> {
    fn is_dir(&self) -> bool {
        self.path.ends_with('/')
    }

    /// A data descriptor follows its data (a file with data: its CRC is
    /// known only once the data is out).
    pub fn has_descriptor(&self) -> bool {
        self.size > 0
    }

    /// Bytes of its local header.
    pub fn local_len(&self, zip64: Zip64) -> u64 {
        30 + self.path.len() as u64 + if zip64.0 { 20 } else { 0 }
    }

    /// Bytes of its data descriptor (0 if it has none).
    pub fn descriptor_len(&self, zip64: Zip64) -> u64 {
        match (self.has_descriptor(), zip64.0) {
            (false, _) => 0,
            (true, false) => 16,
            (true, true) => 24,
        }
    }

    /// Bytes of its central directory header.
    pub fn central_len(&self, zip64: Zip64) -> u64 {
        46 + self.path.len() as u64 + if zip64.0 { 28 } else { 0 }
    }

    /// Bytes it takes in the archive: local header, data, descriptor and
    /// central header.
    pub fn archived_len(&self, zip64: Zip64) -> u64 {
        self.local_len(zip64) + self.size + self.descriptor_len(zip64) + self.central_len(zip64)
    }

    fn flags(&self) -> u16 {
        if self.has_descriptor() {
            UTF8 | HAS_DESCRIPTOR
        } else {
            UTF8
        }
    }

    /// A classic 32-bit field for `value`, or the zip64 marker.
    fn field(value: u64, zip64: Zip64) -> u32 {
        match zip64.0 {
            true => IN_ZIP64,
            false => u32::try_from(value).unwrap_or(IN_ZIP64),
        }
    }

    /// Appends its local header to `out` (CRC 0: it is in the descriptor).
    pub fn local(&self, zip64: Zip64, out: &mut Vec<u8>) {
        let (time, date) = dos_time(self.mtime);
        put32(out, LOCAL);
        put16(out, VERSION);
        put16(out, self.flags());
        put16(out, 0); // stored
        put16(out, time);
        put16(out, date);
        put32(out, 0); // CRC-32: in the descriptor (or 0 for no data)
        put32(out, Self::field(self.size, zip64));
        put32(out, Self::field(self.size, zip64));
        put16(out, self.path.len() as u16);
        put16(out, if zip64.0 { 20 } else { 0 });
        out.extend_from_slice(self.path.as_bytes());
        if zip64.0 {
            put16(out, 1);
            put16(out, 16);
            put64(out, self.size);
            put64(out, self.size);
        }
    }

    /// Appends its data descriptor to `out`, if it has one.
    pub fn descriptor(&self, crc: u32, zip64: Zip64, out: &mut Vec<u8>) {
        if !self.has_descriptor() {
            return;
        }
        put32(out, DESCRIPTOR);
        put32(out, crc);
        if zip64.0 {
            put64(out, self.size);
            put64(out, self.size);
        } else {
            put32(out, Self::field(self.size, zip64));
            put32(out, Self::field(self.size, zip64));
        }
    }

    /// Appends its central directory header to `out`: its local header
    /// is at `offset`.
    pub fn central(&self, crc: u32, offset: u64, zip64: Zip64, out: &mut Vec<u8>) {
        let (time, date) = dos_time(self.mtime);
        let mode: u32 = if self.is_dir() { 0o40755 } else { 0o100644 };
        // MS-DOS attributes in the low byte: 0x10 is a directory.
        let external = (mode << 16) | if self.is_dir() { 0x10 } else { 0 };
        put32(out, CENTRAL);
        put16(out, MADE_BY);
        put16(out, VERSION);
        put16(out, self.flags());
        put16(out, 0);
        put16(out, time);
        put16(out, date);
        put32(out, crc);
        put32(out, Self::field(self.size, zip64));
        put32(out, Self::field(self.size, zip64));
        put16(out, self.path.len() as u16);
        put16(out, if zip64.0 { 28 } else { 0 });
        put16(out, 0); // comment
        put16(out, 0); // disk
        put16(out, 0); // internal attributes
        put32(out, external);
        put32(out, Self::field(offset, zip64));
        out.extend_from_slice(self.path.as_bytes());
        if zip64.0 {
            put16(out, 1);
            put16(out, 24);
            put64(out, self.size);
            put64(out, self.size);
            put64(out, offset);
        }
    }
}

/// Bytes of the end records.
pub fn end_len(zip64: Zip64) -> u64 {
    if zip64.0 { 56 + 20 + 22 } else { 22 }
}

/// Appends the end records to `out`: `members` central headers of
/// `central_len` bytes in all start at `central_at`.
pub fn end(members: u64, central_at: u64, central_len: u64, zip64: Zip64, out: &mut Vec<u8>) {
    if zip64.0 {
        let end64_at = central_at + central_len;
        put32(out, END64);
        put64(out, 44); // what follows this field
        put16(out, MADE_BY);
        put16(out, VERSION);
        put32(out, 0);
        put32(out, 0);
        put64(out, members);
        put64(out, members);
        put64(out, central_len);
        put64(out, central_at);
        put32(out, LOCATOR64);
        put32(out, 0);
        put64(out, end64_at);
        put32(out, 1);
    }
    let count = match zip64.0 {
        true => u16::MAX,
        false => u16::try_from(members).unwrap_or(u16::MAX),
    };
    put32(out, END);
    put16(out, 0);
    put16(out, 0);
    put16(out, count);
    put16(out, count);
    put32(out, Member::field(central_len, zip64));
    put32(out, Member::field(central_at, zip64));
    put16(out, 0); // comment
}

/// MS-DOS time and date of Unix time `mtime` (UTC), clamped to the years
/// DOS can say (1980 to 2107).
fn dos_time(mtime: i64) -> (u16, u16) {
    const MIN: i64 = 315_532_800; // 1980-01-01
    const MAX: i64 = 4_354_819_198; // 2107-12-31 23:59:58
    let t = mtime.clamp(MIN, MAX);
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (year, month, day) = civil(days);
    let time = ((secs / 3600) << 11) | (((secs % 3600) / 60) << 5) | ((secs % 60) / 2);
    let date = ((year - 1980) << 9) | (month << 5) | day;
    (time as u16, date as u16)
}

/// Year, month and day of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(zip64: Zip64) -> Vec<u8> {
        let members = [
            Member {
                path: "d/",
                size: 0,
                mtime: 1_700_000_000,
            },
            Member {
                path: "d/a.txt",
                size: 5,
                mtime: 1_700_000_000,
            },
        ];
        let (mut out, mut central, mut offsets) = (Vec::new(), Vec::new(), Vec::new());
        for member in &members {
            offsets.push(out.len() as u64);
            member.local(zip64, &mut out);
            let crc = if member.size > 0 {
                out.extend_from_slice(b"hello");
                crc32fast::hash(b"hello")
            } else {
                0
            };
            member.descriptor(crc, zip64, &mut out);
            member.central(crc, *offsets.last().unwrap(), zip64, &mut central);
        }
        let at = out.len() as u64;
        out.extend_from_slice(&central);
        end(2, at, central.len() as u64, zip64, &mut out);
        let measured: u64 = members.iter().map(|m| m.archived_len(zip64)).sum();
        assert_eq!(out.len() as u64, measured + end_len(zip64));
        out
    }

    #[test]
    fn lengths_match_what_is_written() {
        for zip64 in [Zip64(false), Zip64(true)] {
            let out = whole(zip64);
            assert_eq!(&out[..4], b"PK\x03\x04");
            assert_eq!(&out[out.len() - 22..out.len() - 18], b"PK\x05\x06");
        }
    }

    #[test]
    fn dos_times() {
        // 2023-11-14 22:13:20 UTC.
        let (time, date) = dos_time(1_700_000_000);
        assert_eq!(date >> 9, 2023 - 1980);
        assert_eq!((date >> 5) & 15, 11);
        assert_eq!(date & 31, 14);
        assert_eq!(time >> 11, 22);
        assert_eq!((time >> 5) & 63, 13);
        assert_eq!((time & 31) * 2, 20);
        assert_eq!(dos_time(0).1, (1 << 5) | 1);
    }

    #[test]
    fn zip64_when_fields_overflow() {
        assert_eq!(needs_zip64(10, 1000), Zip64(false));
        assert_eq!(needs_zip64(65_535, 1000), Zip64(true));
        assert_eq!(needs_zip64(1, 1 << 32), Zip64(true));
    }
}
