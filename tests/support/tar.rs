//! Tar archives as ferry sends them (`?tar`), parsed and checked byte for
//! byte: headers' checksums, pax paths, padding and the end blocks.

/// A member of a parsed archive: path, type flag, data.
#[derive(Debug, PartialEq)]
pub struct Member {
    pub path: String,
    pub kind: u8,
    pub data: Vec<u8>,
}

/// Parses a ustar archive with pax `path` records, checking every header's
/// checksum, the padding and the two zero blocks at the end.
pub fn untar(bytes: &[u8]) -> Vec<Member> {
    assert_eq!(bytes.len() % 512, 0, "whole blocks");
    let octal = |field: &[u8]| {
        let text = std::str::from_utf8(field).unwrap();
        u64::from_str_radix(text.trim_matches(|c| c == '\0' || c == ' '), 8).unwrap()
    };
    let mut members = Vec::new();
    let mut at = 0;
    let mut pax_path = None;
    loop {
        let header = &bytes[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            assert!(bytes[at..].iter().all(|&b| b == 0));
            assert_eq!(bytes.len() - at, 1024, "two zero blocks end it");
            return members;
        }
        let mut blank = header.to_vec();
        blank[148..156].fill(b' ');
        let sum: u64 = blank.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(octal(&header[148..156]), sum, "header checksum");
        assert_eq!(&header[257..263], b"ustar\0");
        let size = octal(&header[124..136]) as usize;
        let data = bytes[at + 512..at + 512 + size].to_vec();
        at += 512 + size.div_ceil(512) * 512;
        let kind = header[156];
        if kind == b'x' {
            let text = String::from_utf8(data).unwrap();
            let (len, record) = text.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), text.len());
            let path = record.strip_prefix("path=").unwrap().trim_end_matches('\n');
            pax_path = Some(path.to_owned());
            continue;
        }
        let end = header[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let short = String::from_utf8(header[..end].to_vec()).unwrap();
        members.push(Member {
            path: pax_path.take().unwrap_or(short),
            kind,
            data,
        });
    }
}

/// The members of `untar(bytes)` in name order, once checked to be in
/// an order `tar` can extract: every folder before what is in it. (ferry
/// archives in directory order, as `tar` itself does.)
pub fn untar_sorted(bytes: &[u8]) -> Vec<Member> {
    let mut members = untar(bytes);
    for (at, member) in members.iter().enumerate() {
        let trimmed = member.path.trim_end_matches('/');
        if let Some((parent, _)) = trimmed.rsplit_once('/') {
            let parent = format!("{parent}/");
            if let Some(folder_at) = members.iter().position(|m| m.path == parent) {
                assert!(folder_at < at, "{parent} after {}", member.path);
            }
        }
    }
    members.sort_by(|a, b| a.path.cmp(&b.path));
    members
}
