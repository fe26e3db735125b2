//! Listings answered from memory (`Config::listing_memory`, docs/architecture.md
//! "The disk is off the loop"): a PROPFIND held whole, one that outgrows
//! its share and spills into its spool file midway, and one with no room
//! at all are the same bytes, whatever names the folder holds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::support::dav::propfind;
use crate::support::{TestServer, listen_http};

const PROPS: &str = r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/><D:getlastmodified/><D:resourcetype/><D:getetag/><D:displayname/></D:prop></D:propfind>"#;

/// A folder whose multistatus is some 700 KB, with names to escape.
fn fill(root: &std::path::Path) {
    let dir = root.join("wide");
    std::fs::create_dir_all(dir.join("sub dir")).unwrap();
    for n in 0..3000 {
        std::fs::write(dir.join(format!("f-{n:05}.bin")), [b'x'; 64]).unwrap();
    }
    for name in ["a b.txt", "x&y.txt", "<tag>.txt", "é ü 名.txt", "100%.txt"] {
        std::fs::write(dir.join(name), name.as_bytes()).unwrap();
    }
    std::fs::write(dir.join("sub dir/in.txt"), b"in").unwrap();
}

/// Each answer of interest from the server at `addr`, as bytes.
fn answers(addr: SocketAddr) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for target in ["/wide/", "/wide/sub%20dir/", "/"] {
        for depth in ["0", "1"] {
            for body in [PROPS, ""] {
                let answer = propfind(addr, target, Some(depth), "", body);
                assert_eq!(answer.status, 207, "{target} {depth}: {}", answer.head);
                let len: usize = answer.header("Content-Length").unwrap().parse().unwrap();
                assert_eq!(len, answer.body.len());
                let key = format!("{target} depth {depth} {}", body.len());
                all.push((key, answer.body));
            }
        }
    }
    all
}

/// Three servers on one root, one node each: the room of the first holds
/// every answer, the second's is so small that the wide folder's answer
/// spills (its share is 64 KiB), the third has none.
#[test]
fn propfind_answers_are_the_same_held_spilled_or_spooled() {
    let held = TestServer::start_with(listen_http);
    fill(held.root.path());
    let on_root = |node: &'static str, memory: usize| {
        let root = held.root.path().to_path_buf();
        TestServer::start_with(move |config| {
            listen_http(config);
            config.root = root;
            config.node_id = node.to_owned();
            config.listing_memory = memory;
        })
    };
    let spilled = on_root("spilled", 512 * 1024);
    let spooled = on_root("spooled", 0);
    let reference = answers(held.http.unwrap());
    let wide = &reference[3].1;
    assert!(wide.len() > 600_000, "{}", wide.len());
    for name in [
        "a%20b.txt",
        "x&amp;y.txt",
        "%3Ctag%3E.txt",
        "100%25.txt",
        "&lt;tag&gt;.txt",
    ] {
        let text = String::from_utf8_lossy(wide);
        assert!(text.contains(name), "{name} not in the answer");
    }
    for other in [&spilled, &spooled] {
        let theirs = answers(other.http.unwrap());
        for ((key, ours), (_, theirs)) in reference.iter().zip(&theirs) {
            assert!(ours == theirs, "{key}: the answers differ");
        }
    }
}

/// A held answer goes out in order behind its head and before the next
/// answer on the connection, to a client that reads slowly: requests
/// pipelined behind it wait for it, and each answer is whole.
#[test]
fn held_answers_keep_their_place_on_a_connection() {
    let server = TestServer::start_with(listen_http);
    fill(server.root.path());
    let addr = server.http.unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "PROPFIND /wide/ HTTP/1.1\r\nHost: localhost\r\nDepth: 1\r\nContent-Length: {}\r\n\r\n{PROPS}",
        PROPS.len()
    );
    let three = [request.as_bytes(), request.as_bytes(), request.as_bytes()].concat();
    stream.write_all(&three).unwrap();
    let mut reader = BufReader::new(stream);
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let mut len = None;
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                len = Some(value.trim().parse::<usize>().unwrap());
            }
        }
        let mut body = vec![0; len.unwrap()];
        // A few bytes at a time at first: the server waits for the reader.
        reader.read_exact(&mut body[..10]).unwrap();
        reader.read_exact(&mut body[10..]).unwrap();
        assert!(body.ends_with(b"</D:multistatus>\n"));
        bodies.push(body);
    }
    assert!(bodies.iter().all(|body| *body == bodies[0]));
}
