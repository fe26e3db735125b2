//! Invariants of the SFTP session codec (`ferry::sftp::Sftp`), written
//! once and checked twice: by the `sftp_packets` fuzz target and by
//! `tests/sftp/packets.rs` (which includes this file with `#[path]`).
//!
//! Fed a channel's stream of packets, whole and cut at a point: no panic;
//! what a request uses is a whole packet within the input; nothing is
//! decided before a packet is whole; a cut stream gives the same decisions
//! as the whole one; every answer the codec gives itself is whole packets.

use ferry::serve::decoded::Decoded;
use ferry::sftp::Sftp;
use ferry::sftp::wire::packet_len;

/// The decisions the codec makes over `stream`, fed in pieces cut at
/// `cut` (a piece's end), and the answer bytes it gave itself.
fn decide(stream: &[u8], cut: usize) -> (Vec<String>, Vec<u8>) {
    let mut codec = Sftp::new();
    let mut decisions = Vec::new();
    let mut answers = Vec::new();
    let mut at = 0;
    let mut end = cut.min(stream.len());
    loop {
        let input = &stream[at..end];
        match codec.decode(input) {
            Decoded::Incomplete if end < stream.len() => end = stream.len(),
            Decoded::Incomplete => break,
            Decoded::Answered(used) => {
                assert_eq!(Some(used), packet_len(input), "a whole packet");
                codec.answered(&mut answers);
                decisions.push(format!("answered {used}"));
                at += used;
            }
            Decoded::Request(request, used) => {
                assert_eq!(Some(used), packet_len(input), "a whole packet");
                assert!(used <= input.len());
                decisions.push(format!("request {:?} {used}", request.operation));
                at += used;
            }
            Decoded::Refused(refusal) => {
                decisions.push(format!("refused {}", refusal.message));
                break;
            }
            other => panic!("an SFTP codec decided {other:?}"),
        }
    }
    (decisions, answers)
}

/// Checks the codec over `stream`, cut first at `cut`.
pub fn check_sftp_stream(stream: &[u8], cut: usize) {
    let (whole, answers) = decide(stream, stream.len());
    assert_eq!(decide(stream, cut), (whole, answers.clone()));
    let mut rest = &answers[..];
    while !rest.is_empty() {
        let len = packet_len(rest).expect("an answer's length");
        assert!(len <= rest.len(), "answers are whole packets");
        rest = &rest[len..];
    }
}
