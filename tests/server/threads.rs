//! The threads a server holds (docs/operating.md, "Footprint"): how many
//! when idle, and whether their stacks hold the deepest work there is.
//!
//! Every thread ferry starts beside its event loops has a stack of
//! `ferry::threads::crew::STACK` bytes ending at a guard page, where an overflow
//! ends the whole test process ("has overflowed its stack"): so the test
//! that drives the deepest work through them in a debug build (which needs
//! several times the stack of a release build) is the measurement that
//! the size is enough. The deepest work: a first start's sweep walking a
//! root with a folder [`DEPTH`] levels deep (the sweep's thread), that
//! folder's listing, search, `.tar` and `.zip` (the long and short lanes
//! of the I/O pool), its copy and removal, and the CRC-32C of a file placed
//! there by other means (a checksum thread).

use crate::support;

use support::TestServer;
use support::http::exchange;
use support::process::Process;

const HOST: &str = "Host: localhost\r\n";

/// Folders one inside the other under `deep/`.
const DEPTH: usize = 120;

/// `deep/d/d/.../d` ([`DEPTH`] folders in all), and the file at the bottom.
fn deep_file() -> String {
    let mut path = String::from("deep");
    for _ in 1..DEPTH {
        path.push_str("/d");
    }
    path + "/leaf.txt"
}

#[test]
fn the_deepest_work_fits_the_threads_stacks() {
    let root = tempfile::tempdir().unwrap();
    let leaf = root.path().join(deep_file());
    std::fs::create_dir_all(leaf.parent().unwrap()).unwrap();
    std::fs::write(&leaf, b"at the bottom").unwrap();
    // A first start: the sweep walks the whole root (an older ferry's
    // temp files could be anywhere).
    let server = TestServer::start_in(root, support::listen_http);
    let addr = server.http.unwrap();
    let get = |target: &str| {
        let answer = exchange(addr, "GET", target, HOST, b"");
        assert_eq!(answer.status, 200, "{target}: {}", answer.head);
        answer.body
    };
    let listing = get("/deep/?json");
    assert!(String::from_utf8_lossy(&listing).contains("\"d"));
    let found = get("/deep/?q=leaf");
    assert!(String::from_utf8_lossy(&found).contains("leaf.txt"));
    for archive in ["/deep/?tar", "/deep/?zip"] {
        let bytes = get(archive);
        let tail = b"at the bottom";
        assert!(bytes.windows(tail.len()).any(|w| w == tail), "{archive}");
    }
    // A checksum thread reads the file placed by other means.
    let crc = exchange(addr, "GET", &format!("/{}", deep_file()), HOST, b"");
    assert_eq!(crc.body, b"at the bottom");
    assert!(crc.header("X-Checksum-Crc32c").is_some(), "{}", crc.head);
    // A folder's removal walks it on the pool.
    let removed = exchange(addr, "DELETE", "/deep/", HOST, b"");
    assert!(
        matches!(removed.status, 200 | 204),
        "DELETE: {}",
        removed.head
    );
    assert!(!server.path("deep").exists());
    // Still serving: nothing overflowed.
    assert_eq!(exchange(addr, "GET", "/", HOST, b"").status, 200);
}

#[test]
fn an_idle_server_holds_its_loop_and_a_handful_of_threads() {
    let root = tempfile::tempdir().unwrap();
    let server = Process::start(root.path(), &["--workers", "1"]);
    let mut raw = support::Raw::connect(server.addr);
    let greeting = raw.line();
    assert!(greeting.starts_with("OK FERRY/1 "), "{greeting:?}");
    // The loop (the main thread, named after the binary), one I/O thread,
    // the sweeps' thread, the stderr relay and the access log's writer:
    // the crews' other threads start only when work queues up.
    let mut names = server.thread_names();
    names.sort();
    let expected = [
        "ferry",
        "ferry-io-0",
        "ferry-log",
        "ferry-stderr",
        "ferry-sweep",
    ];
    assert!(
        names.iter().all(|n| expected.contains(&n.as_str())),
        "{names:?}"
    );
    assert!(names.len() <= expected.len(), "{names:?}");
}
