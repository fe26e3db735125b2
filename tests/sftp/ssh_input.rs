//! The SSH session's input path on generated input (its invariants shared
//! with the `ssh_input` fuzz target: `fuzz/src/ssh.rs`): random bytes
//! after a good version line, and clear-text handshakes built from random
//! recipes (version lines, KEXINITs, a key exchange's first step, garbage,
//! huge and zero lengths and paddings), the client ending its side or
//! not. Each case runs under a watchdog: a session that loops inside one
//! read never returns, and the case fails instead of hanging the suite.
//! Longer runs: `PROPTEST_CASES=5000 cargo test --release --test sftp
//! ssh_input::`.

#[path = "../../fuzz/src/ssh.rs"]
mod invariants;

use std::sync::mpsc;

use invariants::{Ending, HELLO, Seen, check_ssh_input, plaintext_phase};
use proptest::collection::vec;
use proptest::prelude::*;

use crate::support::PATIENCE;

/// Runs the check on a thread of its own, failing if it takes longer than
/// [`PATIENCE`] (it spins on where the session loops).
fn checked(stream: Vec<u8>, eof: bool) -> Ending {
    seen(stream, eof).ending
}

/// [`checked`], with the bytes the server sent.
fn seen(stream: Vec<u8>, eof: bool) -> Seen {
    let (tx, rx) = mpsc::channel();
    let _detached = std::thread::spawn(move || {
        let _ = tx.send(check_ssh_input(&stream, eof));
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(ending) => ending,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("a case never returned"),
        // The check panicked: its message is above.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the check failed"),
    }
}

fn config() -> ProptestConfig {
    // Seeded, so that every run tries the same cases (`PROPTEST_CASES`
    // for more), a few hundred of a few milliseconds each; a failure is
    // printed, not saved into the tree.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_55b1),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_after_a_version_line(bytes in vec(any::<u8>(), 0..4096), eof: bool) {
        let mut stream = HELLO.to_vec();
        stream.extend(bytes);
        checked(stream, eof);
    }

    #[test]
    fn plaintext_handshakes(recipe in vec(any::<u8>(), 0..160), eof: bool) {
        checked(plaintext_phase(&recipe), eof);
    }
}

#[test]
fn a_session_waits_for_the_rest_of_a_packet_and_ends_at_eof() {
    let mut stream = plaintext_phase(&[0, 0, 2, 0, 0, 5, 7, 7, 10, 10, 12, 12, 14, 14]);
    // Half a packet: the session must wait for the rest, not end.
    stream.extend([0, 0, 1, 0, 4, 20]);
    assert_eq!(checked(stream.clone(), false), Ending::Waits);
    assert_eq!(checked(stream, true), Ending::Ended);
}

#[test]
fn huge_lengths_end_the_session() {
    for arg in [4, 5, 6, 7] {
        let stream = plaintext_phase(&[0, 0, 6, arg]);
        assert_eq!(checked(stream, false), Ending::Ended, "length {arg}");
    }
}

/// The recipes reach past the server's KEXINIT: a KEXINIT it agrees with
/// and a key exchange's first step get its reply (the host key and its
/// signature), so the fuzzer drives the key exchange, not only the
/// version line.
#[test]
fn a_recipe_reaches_the_key_exchange() {
    // Version line; a KEXINIT of curve25519, ed25519, chacha20, hmac,
    // none both ways; then (or not) the client's ephemeral key.
    let kexinit = [0, 0, 2, 0, 0, 5, 7, 7, 10, 10, 12, 12, 14, 14];
    let alone = seen(plaintext_phase(&kexinit), false);
    let mut recipe = kexinit.to_vec();
    recipe.extend([3, 2]);
    let exchanged = seen(plaintext_phase(&recipe), false);
    assert_eq!(alone.ending, Ending::Waits);
    assert!(
        exchanged.sent > alone.sent + 100,
        "the key exchange's reply: {} bytes, {} before it",
        exchanged.sent,
        alone.sent
    );
}
