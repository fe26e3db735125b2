//! Big file bodies as a loop sends them: corked for the call when the
//! loop serves that connection alone, uncorked beside others
//! (`src/wire/socket.rs`, `src/server/reactor/crowd.rs`). Either way every
//! byte arrives, the tail with it, and the connection goes on.

use std::fs;

use crate::support::{Raw, TestServer, pattern};

#[test]
fn big_gets_arrive_whole_alone_and_side_by_side() {
    // One loop, so the two connections below share it.
    let server = TestServer::start_with(|c| c.workers = 1);
    let body = pattern(12 << 20, 11);
    fs::write(server.path("big"), &body).unwrap();
    // The checksum is "-" until a first read has computed and kept it.
    let whole = format!("OK {} {} ", body.len(), body.len());
    let mut alone = Raw::connect_narrow(server.addr, 16 * 1024);
    assert!(alone.line().starts_with("OK FERRY/1 "));
    // Again and again: the loop counts a connection alone after a streak
    // of drives of it.
    for _ in 0..3 {
        alone.send("GET big\n");
        assert!(alone.get_line().starts_with(&whole));
        assert!(alone.bytes(body.len()) == body);
    }
    alone.send("STAT big\n");
    assert!(alone.line().starts_with("OK "));

    // Two taking turns in small reads: each read lets the other's
    // window open, so neither makes a streak for long.
    let mut pair = [server.raw(), server.raw()];
    for raw in &mut pair {
        raw.send("GET big\n");
        assert!(raw.get_line().starts_with(&whole));
    }
    let mut got = [Vec::new(), Vec::new()];
    while got[0].len() < body.len() {
        for (raw, got) in pair.iter_mut().zip(&mut got) {
            got.extend(raw.bytes(64 << 10));
        }
    }
    for (raw, got) in pair.iter_mut().zip(&got) {
        assert!(*got == body);
        raw.send("STAT big\n");
        assert!(raw.line().starts_with("OK "));
    }
}
