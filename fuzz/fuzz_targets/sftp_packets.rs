//! Fuzz bytes into an SFTP session's codec (`ferry::sftp::Sftp`), as a
//! channel's stream of packets, whole and cut at a point the first byte
//! picks: no panic; what a request uses is a whole packet within the
//! input; nothing is decided before a packet is whole; a cut stream gives
//! the same decisions as the whole one; every request the codec answers
//! itself is answered with whole packets.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/sftp.rs"]
mod sftp;

use sftp::check_sftp_stream;

fuzz_target!(|data: &[u8]| {
    if let Some((&cut, stream)) = data.split_first() {
        check_sftp_stream(stream, usize::from(cut));
    }
});
