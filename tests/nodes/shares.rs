//! Share links across nodes on one root (docs/shares.md, "Where links
//! live"): a link made on one node works on the other, its downloads are
//! counted once for both (racing on both never passes the limit), and a
//! revocation on one holds on the other at once.

use crate::support::TestServer;
use crate::support::http::{bearer, exchange};
use crate::support::process::Process;
use crate::support::tokens::tokens_in;

const HOST: &str = "Host: 127.0.0.1\r\n";

#[test]
fn a_link_is_one_link_on_every_node() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("f"), b"shared").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tokens_path, tokens) = tokens_in(dir.path(), &[("alice", &["read:/"])]);
    let tokens_arg = tokens_path.to_str().unwrap().to_owned();
    let a = Process::start(
        root.path(),
        &[
            "--node-id",
            "a",
            "--tokens",
            &tokens_arg,
            "--http",
            "127.0.0.1:0",
        ],
    );
    let b = TestServer::start_in(root, |config| {
        config.node_id = "b".into();
        crate::support::listen_http(config);
        config.access.tokens = Some(tokens_path.clone());
    });
    let (on_a, on_b) = (a.http_addr(), b.http.unwrap());

    let headers = format!("{HOST}{}", bearer(&tokens[0]));
    let body = br#"{"path":"f","max_downloads":4}"#;
    let made = exchange(on_a, "POST", "/.ferry-shares", &headers, body);
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.text().split('"').nth(3).unwrap().to_owned();
    let link = format!("/s/{id}/f");
    let racers: Vec<_> = (0..10)
        .map(|n| {
            let (node, link) = (if n % 2 == 0 { on_a } else { on_b }, link.clone());
            std::thread::spawn(move || exchange(node, "GET", &link, HOST, b"").status)
        })
        .collect();
    let mut statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 410, 410, 410, 410, 410, 410]);

    let second = exchange(on_b, "POST", "/.ferry-shares", &headers, br#"{"path":"f"}"#);
    let id = second.text().split('"').nth(3).unwrap().to_owned();
    let link = format!("/s/{id}/f");
    assert_eq!(exchange(on_a, "GET", &link, HOST, b"").status, 200);
    let revoked = exchange(
        on_a,
        "DELETE",
        &format!("/.ferry-shares/{id}"),
        &headers,
        b"",
    );
    assert_eq!(revoked.status, 204);
    assert_eq!(exchange(on_b, "GET", &link, HOST, b"").status, 404);
}
