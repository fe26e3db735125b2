//! Fuzz bytes into an SSH server session (`ferry::ssh::SshSession`) over
//! a loopback socket (`fuzz/src/ssh.rs` says what is checked): the first
//! byte picks the kind of input (bit 0: the client ends its side; bit 1:
//! the rest is a recipe for a clear-text handshake, else raw bytes after a
//! good version line).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/ssh.rs"]
mod ssh;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let stream = if kind & 2 == 0 {
        [ssh::HELLO, rest].concat()
    } else {
        ssh::plaintext_phase(rest)
    };
    ssh::check_ssh_input(&stream, kind & 1 == 1);
});
