//! The SFTP codec's invariants (shared with the `sftp_packets` fuzz
//! target: `fuzz/src/sftp.rs`), on generated input: random bytes, and
//! streams of well-formed requests with random fields, each cut at a
//! random point. Longer runs: `PROPTEST_CASES=20000 cargo test --release
//! --test sftp packets::`.

#[path = "../../fuzz/src/sftp.rs"]
mod invariants;

use invariants::check_sftp_stream;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// A request packet of `kind` with `id` and `fields`.
fn packet(kind: u8, id: u32, fields: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let len = 1 + if kind == 1 { 0 } else { 4 } + fields.len();
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.push(kind);
    if kind != 1 {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out.extend_from_slice(fields);
    out
}

/// A string field.
fn string(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Request packets with fields a server reads: paths with steps and
/// reserved names, handles, offsets and lengths, and random kinds.
fn requests() -> impl Strategy<Value = Vec<u8>> {
    let path = select(vec![
        "/",
        ".",
        "..",
        "a.txt",
        "/docs/../a",
        ".ferry-ssh/k",
        "",
        "a\0b",
    ]);
    let one = (
        1u8..=21,
        any::<u32>(),
        path,
        vec(any::<u8>(), 0..24),
        any::<u64>(),
    );
    vec(one, 1..12).prop_map(|requests| {
        let mut stream = packet(1, 0, &3u32.to_be_bytes());
        for (kind, id, path, handle, offset) in requests {
            let mut fields = match kind {
                4 | 5 | 8 | 12 => string(&handle),
                _ => string(path.as_bytes()),
            };
            fields.extend_from_slice(&offset.to_be_bytes());
            fields.extend_from_slice(&0u32.to_be_bytes());
            stream.extend(packet(kind, id, &fields));
        }
        stream
    })
}

proptest! {
    #[test]
    fn random_bytes_hold_every_invariant(stream in vec(any::<u8>(), 0..600), cut in any::<u8>()) {
        check_sftp_stream(&stream, usize::from(cut));
    }

    #[test]
    fn well_formed_requests_hold_every_invariant(stream in requests(), cut in 0usize..400) {
        check_sftp_stream(&stream, cut);
    }
}

#[test]
fn a_packet_longer_than_the_cap_is_refused_before_it_arrives() {
    let mut stream = ((300 * 1024) as u32).to_be_bytes().to_vec();
    stream.push(17);
    check_sftp_stream(&stream, 2);
}

/// Found by the `sftp_packets` fuzz target: a packet of no bytes (its
/// length 0) read the next packet's first byte as its type, a `WRITE`,
/// and was answered otherwise when the stream came cut.
#[test]
fn regression_a_packet_of_no_bytes_has_no_type() {
    let stream = [
        0x00, 0x00, 0x00, 0x0a, 0x01, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x60, 0x00,
        0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x64, 0x64, 0x64,
        0x10, 0xff, 0xff, 0xff, 0xec, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    check_sftp_stream(&stream, 29);
}
