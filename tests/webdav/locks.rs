//! WebDAV class 2 over real sockets (issue 28): `LOCK` and `UNLOCK`,
//! exclusive and shared, on files and folders (Depth infinity covers the
//! members), timeouts capped, refreshed and expiring (on a clock the test
//! moves, never by sleeping), a `LOCK` of an unmapped name making an empty
//! file (201), `If:` with lock tokens, `Not` and entity tags (412), every
//! write refused with 423 without the token and served with it, whatever
//! the protocol (FERRY/1 and tus too), locks seen by two nodes on one root
//! and across a restart, grants and `--read-only`. Answers are parsed
//! with quick-xml, not matched as text.
#![cfg(feature = "webdav")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;
use support::TestServer;
use support::http::{Answer, bearer, exchange};
use support::tokens::guarded;

const HOST: &str = "Host: localhost\r\n";

fn lockinfo(scope: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:tester</D:href></D:owner></D:lockinfo>"
    )
}

/// A server with both listeners on `root` (which outlives it), its locks'
/// clock moved by `clock`.
fn on(root: &Path, node: &str, clock: &Arc<AtomicI64>) -> TestServer {
    let (root, node, clock) = (root.to_path_buf(), node.to_owned(), Arc::clone(clock));
    TestServer::start_with(move |c| {
        c.root = root;
        c.node_id = node;
        c.lock_clock = Some(clock);
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    })
}

/// A server on a root of its own, and its clock.
fn server() -> (TestServer, Arc<AtomicI64>) {
    let clock = Arc::new(AtomicI64::new(0));
    let server = TestServer::start_with(|c| {
        c.lock_clock = Some(Arc::clone(&clock));
        support::listen_http(c);
    });
    (server, clock)
}

fn send(addr: SocketAddr, method: &str, target: &str, headers: &str, body: &str) -> Answer {
    exchange(
        addr,
        method,
        target,
        &format!("{HOST}{headers}"),
        body.as_bytes(),
    )
}

/// LOCK of `target` with `headers`: the answer and the token it granted.
fn lock(addr: SocketAddr, target: &str, scope: &str, headers: &str) -> (Answer, String) {
    let answer = send(addr, "LOCK", target, headers, &lockinfo(scope));
    let token = answer
        .header("Lock-Token")
        .map(|t| t.trim_matches(|c| c == '<' || c == '>').to_owned())
        .unwrap_or_default();
    (answer, token)
}

fn put(addr: SocketAddr, target: &str, headers: &str, body: &str) -> u16 {
    send(addr, "PUT", target, headers, body).status
}

/// Every DAV element's text in `body`, by its path of local names
/// (`prop/lockdiscovery/activelock/depth`); empty elements with "".
fn texts(body: &[u8]) -> Vec<(String, String)> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(true);
    let (mut path, mut found) = (Vec::<String>::new(), Vec::new());
    loop {
        let (ns, event) = reader.read_resolved_event().unwrap();
        let local = |e: &quick_xml::events::BytesStart<'_>| {
            let dav = matches!(ns, ResolveResult::Bound(Namespace(b"DAV:")));
            let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
            if dav { name } else { format!("?{name}") }
        };
        match event {
            Event::Start(e) => path.push(local(&e)),
            Event::Empty(e) => {
                let mut at = path.clone();
                at.push(local(&e));
                found.push((at.join("/"), String::new()));
            }
            Event::Text(t) => found.push((path.join("/"), t.decode().unwrap().into_owned())),
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => return found,
            _ => {}
        }
    }
}

/// The texts under `under` (a path prefix), with that prefix cut.
fn under(found: &[(String, String)], under: &str) -> Vec<(String, String)> {
    found
        .iter()
        .filter_map(|(path, text)| {
            let rest = path.strip_prefix(under)?.strip_prefix('/')?;
            Some((rest.to_owned(), text.clone()))
        })
        .collect()
}

fn text<'a>(found: &'a [(String, String)], path: &str) -> Option<&'a str> {
    found
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, text)| text.as_str())
}

/// The activelocks a PROPFIND of `target` tells, each as its texts.
fn discovered(addr: SocketAddr, target: &str) -> Vec<Vec<(String, String)>> {
    let body = "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:lockdiscovery/><D:supportedlock/></D:prop></D:propfind>";
    let answer = send(addr, "PROPFIND", target, "Depth: 0\r\n", body);
    assert_eq!(answer.status, 207, "{}", answer.head);
    let found = texts(&answer.body);
    let prefix = "multistatus/response/propstat/prop";
    let supported = under(&found, &format!("{prefix}/supportedlock"));
    let scopes: Vec<_> = supported
        .iter()
        .filter(|(p, _)| p.starts_with("lockentry/lockscope/"))
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        scopes,
        [
            "lockentry/lockscope/exclusive",
            "lockentry/lockscope/shared"
        ]
    );
    // One activelock per token.
    let active = under(&found, &format!("{prefix}/lockdiscovery"));
    let mut locks: Vec<Vec<(String, String)>> = Vec::new();
    for (path, text) in active {
        let Some(rest) = path.strip_prefix("activelock/") else {
            continue;
        };
        if rest == "locktype/write" {
            locks.push(Vec::new());
        }
        if let Some(lock) = locks.last_mut() {
            lock.push((rest.to_owned(), text));
        }
    }
    locks
}

/// A refusal for a lock is `423 Locked`, in the status line and in a
/// 207's body (it went out as "423 Internal Server Error").
#[test]
fn a_write_to_a_locked_name_is_423_locked() {
    let (server, _clock) = server();
    let addr = server.http.unwrap();
    assert_eq!(put(addr, "/d/f.txt", "", "one"), 201);
    let (locked, _token) = lock(addr, "/d/f.txt", "exclusive", "");
    assert_eq!(locked.status, 200, "{}", locked.head);
    let refused = send(addr, "PUT", "/d/f.txt", "", "two");
    assert!(
        refused.head.starts_with("HTTP/1.1 423 Locked\r\n"),
        "{}",
        refused.head
    );
    // A folder's DELETE or COPY over the locked member says so of it.
    let gone = send(addr, "DELETE", "/d/", "", "");
    let said = match gone.status {
        207 => gone.text(),
        _ => gone.head.clone(),
    };
    assert!(said.contains("423 Locked"), "{}\n{said}", gone.head);
    assert!(!said.contains("Internal Server Error"), "{said}");
    assert_eq!(std::fs::read(server.path("d/f.txt")).unwrap(), b"one");
}

#[test]
fn a_file_lock_is_granted_told_kept_and_given_back() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(put(addr, "/f.txt", "", "one"), 201);
    let (answer, token) = lock(addr, "/f.txt", "exclusive", "Timeout: Second-100\r\n");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(token.starts_with("opaquelocktoken:"), "{token}");
    let found = texts(&answer.body);
    let active = under(&found, "prop/lockdiscovery/activelock");
    assert_eq!(text(&active, "locktoken/href"), Some(token.as_str()));
    assert_eq!(text(&active, "lockscope/exclusive"), Some(""));
    // A file's lock is Depth 0 whatever was asked.
    assert_eq!(text(&active, "depth"), Some("0"));
    assert_eq!(text(&active, "timeout"), Some("Second-100"));
    assert_eq!(text(&active, "owner/href"), Some("mailto:tester"));
    assert_eq!(text(&active, "lockroot/href"), Some("/f.txt"));

    let locks = discovered(addr, "/f.txt");
    assert_eq!(locks.len(), 1);
    assert_eq!(text(&locks[0], "locktoken/href"), Some(token.as_str()));

    // Every write without the token is refused; with it, served.
    assert_eq!(put(addr, "/f.txt", "", "two"), 423);
    assert_eq!(send(addr, "DELETE", "/f.txt", "", "").status, 423);
    let moved = send(addr, "MOVE", "/f.txt", "Destination: /g.txt\r\n", "");
    assert_eq!(moved.status, 423);
    let if_token = format!("If: (<{token}>)\r\n");
    assert_eq!(put(addr, "/f.txt", &if_token, "two"), 204);

    // UNLOCK: only with a token that covers the name.
    let wrong = send(
        addr,
        "UNLOCK",
        "/f.txt",
        "Lock-Token: <opaquelocktoken:nope>\r\n",
        "",
    );
    assert_eq!(wrong.status, 409);
    let why = texts(&wrong.body);
    assert_eq!(text(&why, "error/lock-token-matches-request-uri"), Some(""));
    let right = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(send(addr, "UNLOCK", "/f.txt", &right, "").status, 204);
    assert!(discovered(addr, "/f.txt").is_empty());
    assert_eq!(put(addr, "/f.txt", "", "three"), 204);
}

#[test]
fn timeouts_are_capped_refreshed_and_run_out() {
    let (server, clock) = server();
    let addr = server.http.unwrap();
    let (answer, token) = lock(
        addr,
        "/t",
        "exclusive",
        "Timeout: Infinite, Second-99999\r\n",
    );
    assert_eq!(answer.status, 201, "{}", answer.head);
    let active = under(&texts(&answer.body), "prop/lockdiscovery/activelock");
    assert_eq!(text(&active, "timeout"), Some("Second-3600"));

    // A refresh: no body, the token in If.
    clock.store(3000, Ordering::Relaxed);
    let refresh = format!("If: (<{token}>)\r\nTimeout: Second-500\r\n");
    let answer = send(addr, "LOCK", "/t", &refresh, "");
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert_eq!(answer.header("Lock-Token"), None);
    let active = under(&texts(&answer.body), "prop/lockdiscovery/activelock");
    assert_eq!(text(&active, "timeout"), Some("Second-500"));
    assert_eq!(text(&active, "locktoken/href"), Some(token.as_str()));
    // A refresh of a lock not submitted: 412.
    let stranger = "If: (<opaquelocktoken:nope>)\r\n";
    assert_eq!(send(addr, "LOCK", "/t", stranger, "").status, 412);

    // The locks' clock is the system's seconds plus the offset: a margin
    // of 10 s, or a second ticking between two requests would make the
    // lock run out early (it did, once in CI).
    clock.store(3490, Ordering::Relaxed);
    assert_eq!(put(addr, "/t", "", "x"), 423);
    clock.store(3501, Ordering::Relaxed);
    // Never written under its lock: the name was only reserved.
    assert_eq!(put(addr, "/t", "", "x"), 201);
    assert!(discovered(addr, "/t").is_empty());
    let (again, _) = lock(addr, "/t", "exclusive", "");
    assert_eq!(again.status, 200);
}

#[test]
fn exclusive_locks_exclude_and_shared_ones_share() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(put(addr, "/x", "", "x"), 201);
    let (first, token) = lock(addr, "/x", "exclusive", "");
    assert_eq!(first.status, 200);
    for scope in ["exclusive", "shared"] {
        let (answer, _) = lock(addr, "/x", scope, "");
        assert_eq!(answer.status, 423, "{scope}");
        assert_eq!(
            text(&texts(&answer.body), "error/no-conflicting-lock"),
            Some("")
        );
    }
    let unlock = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(send(addr, "UNLOCK", "/x", &unlock, "").status, 204);

    let (one, a) = lock(addr, "/x", "shared", "");
    let (two, b) = lock(addr, "/x", "shared", "");
    assert_eq!((one.status, two.status), (200, 200));
    assert_ne!(a, b);
    assert_eq!(discovered(addr, "/x").len(), 2);
    assert_eq!(lock(addr, "/x", "exclusive", "").0.status, 423);
    // Either shared lock's token lets its holder write.
    assert_eq!(put(addr, "/x", "", "x"), 423);
    assert_eq!(put(addr, "/x", &format!("If: (<{b}>)\r\n"), "x"), 204);
}

#[test]
fn a_deep_folder_lock_covers_its_members() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(send(addr, "MKCOL", "/c/", "", "").status, 201);
    assert_eq!(put(addr, "/c/a", "", "a"), 201);
    assert_eq!(put(addr, "/elsewhere", "", "e"), 201);
    let (answer, token) = lock(addr, "/c/", "exclusive", "Depth: infinity\r\n");
    assert_eq!(answer.status, 200, "{}", answer.head);
    let active = under(&texts(&answer.body), "prop/lockdiscovery/activelock");
    assert_eq!(text(&active, "depth"), Some("infinity"));
    assert_eq!(text(&active, "lockroot/href"), Some("/c/"));
    // The member is locked, and told so.
    assert_eq!(discovered(addr, "/c/a").len(), 1);
    assert_eq!(lock(addr, "/c/a", "shared", "").0.status, 423);

    let refused = [
        send(addr, "PUT", "/c/a", "", "b"),
        send(addr, "PUT", "/c/new", "", "b"),
        send(addr, "MKCOL", "/c/sub/", "", ""),
        send(addr, "DELETE", "/c/a", "", ""),
        send(addr, "DELETE", "/c/", "", ""),
        send(addr, "MOVE", "/c/a", "Destination: /moved\r\n", ""),
        send(addr, "MOVE", "/c/", "Destination: /d/\r\n", ""),
        send(addr, "COPY", "/elsewhere", "Destination: /c/copy\r\n", ""),
    ];
    for answer in refused {
        assert_eq!(answer.status, 423, "{}", answer.head);
    }
    // With the token (tagged with the folder's URL), served.
    let tagged = format!("If: <http://localhost/c/> (<{token}>)\r\n");
    assert_eq!(put(addr, "/c/new", &tagged, "b"), 201);
    let copy = format!("Destination: /c/copy\r\n{tagged}");
    assert_eq!(send(addr, "COPY", "/elsewhere", &copy, "").status, 201);
    // A folder's DELETE with the token: the lock goes with it.
    assert_eq!(send(addr, "DELETE", "/c/", &tagged, "").status, 204);
    assert_eq!(send(addr, "MKCOL", "/c/", "", "").status, 201);
    assert_eq!(put(addr, "/c/a", "", "a"), 201);
}

/// A lock of an unmapped name reserves it and makes nothing (RFC 2518's
/// lock-null resource, as Apache keeps them): nobody reads or lists a
/// 0-byte file under the name while its holder writes it ("readers see
/// the old file or the new one, never a partial one"), others' writes
/// are refused, and it is gone with the lock.
#[test]
fn a_lock_of_an_unmapped_name_reserves_it_and_makes_nothing() {
    let (server, clock) = server();
    let addr = server.http.unwrap();
    let (answer, token) = lock(addr, "/new.txt", "exclusive", "");
    assert_eq!(answer.status, 201, "{}", answer.head);
    assert!(!server.path("new.txt").exists());
    assert_eq!(send(addr, "GET", "/new.txt", "", "").status, 404);
    assert_eq!(send(addr, "HEAD", "/new.txt", "", "").status, 404);
    let listing = send(addr, "GET", "/?json", "", "");
    assert!(!listing.text().contains("new.txt"), "{}", listing.text());
    let mut raw = server.raw();
    raw.send("LIST\n");
    assert_eq!(raw.line(), "OK 0");
    raw.send("PUT new.txt 1\nx");
    assert!(raw.line().starts_with("ERR 423 "));
    assert_eq!(put(addr, "/new.txt", "", "x"), 423);
    assert_eq!(
        put(addr, "/new.txt", &format!("If: (<{token}>)\r\n"), "hi"),
        201
    );
    assert_eq!(std::fs::read(server.path("new.txt")).unwrap(), b"hi");
    // Unwritten, a reservation goes with its lock's time.
    let (_, _) = lock(addr, "/later.txt", "exclusive", "Timeout: Second-10\r\n");
    assert_eq!(put(addr, "/later.txt", "", "x"), 423);
    clock.fetch_add(11, Ordering::Relaxed);
    assert_eq!(put(addr, "/later.txt", "", "x"), 201);
    assert_eq!(lock(addr, "/no/parent.txt", "exclusive", "").0.status, 409);
    assert_eq!(lock(addr, "/", "exclusive", "").0.status, 403);
}

#[test]
fn if_conditions_on_tokens_and_tags_hold_or_answer_412() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(put(addr, "/e", "", "one"), 201);
    let get = send(addr, "GET", "/e", "", "");
    let etag = get.header("ETag").unwrap().to_owned();
    let holds = [
        format!("If: ([{etag}])\r\n"),
        "If: (Not [\"other\"])\r\n".to_owned(),
        "If: (Not <DAV:no-lock>)\r\n".to_owned(),
        format!("If: (<DAV:no-lock>) ([{etag}])\r\n"),
        format!("If: </e> ([{etag}])\r\n"),
    ];
    for field in &holds {
        assert_eq!(send(addr, "GET", "/e", field, "").status, 200, "{field}");
    }
    let fails = [
        "If: ([\"other\"])\r\n".to_owned(),
        format!("If: (Not [{etag}])\r\n"),
        "If: (<DAV:no-lock>)\r\n".to_owned(),
        "If: (<opaquelocktoken:none>)\r\n".to_owned(),
    ];
    for field in &fails {
        assert_eq!(send(addr, "GET", "/e", field, "").status, 412, "{field}");
        assert_eq!(put(addr, "/e", field, "two"), 412, "{field}");
    }
    assert_eq!(send(addr, "GET", "/e", "If: (garbage)\r\n", "").status, 400);
    // A condition that holds does not submit a token it does not name.
    let (_, token) = lock(addr, "/e", "exclusive", "");
    let bogus = "If: (<opaquelocktoken:bogus>) (Not <DAV:no-lock>)\r\n";
    assert_eq!(put(addr, "/e", bogus, "two"), 423);
    let with_tag = format!("If: (<{token}> [{etag}])\r\n");
    assert_eq!(put(addr, "/e", &with_tag, "two"), 204);
}

#[test]
fn a_delete_or_move_with_the_token_takes_the_lock_away() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    let (_, token) = lock(addr, "/gone", "exclusive", "");
    let submit = format!("If: (<{token}>)\r\n");
    assert_eq!(send(addr, "DELETE", "/gone", &submit, "").status, 204);
    assert_eq!(put(addr, "/gone", "", "back"), 201);
    assert!(discovered(addr, "/gone").is_empty());

    let (_, token) = lock(addr, "/from", "exclusive", "");
    let submit = format!("If: (<{token}>)\r\n");
    assert_eq!(put(addr, "/from", &submit, "x"), 201);
    let submit = format!("Destination: /to\r\nIf: (<{token}>)\r\n");
    assert_eq!(send(addr, "MOVE", "/from", &submit, "").status, 201);
    // Locks do not move (RFC 4918 7.5): neither name is locked now.
    assert_eq!(put(addr, "/to", "", "x"), 204);
    assert_eq!(put(addr, "/from", "", "x"), 201);

    // Moved onto itself, nothing moves: its lock stays.
    let (_, token) = lock(addr, "/stays", "exclusive", "");
    let submit = format!("If: (<{token}>)\r\n");
    assert_eq!(put(addr, "/stays", &submit, "x"), 201);
    let submit = format!("Destination: /stays\r\nIf: (<{token}>)\r\n");
    let onto_itself = send(addr, "MOVE", "/stays", &submit, "");
    assert!(onto_itself.status < 300, "{}", onto_itself.head);
    assert_eq!(put(addr, "/stays", "", "x"), 423);
    assert_eq!(discovered(addr, "/stays").len(), 1);
}

#[test]
fn nodes_on_one_root_see_one_lock_and_it_outlives_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(0));
    let a = on(root.path(), "node-a", &clock);
    let b = on(root.path(), "node-b", &clock);
    let (a_http, b_http) = (a.http.unwrap(), b.http.unwrap());
    assert_eq!(put(b_http, "/shared", "", "x"), 201);
    let (answer, token) = lock(a_http, "/shared", "exclusive", "");
    assert_eq!(answer.status, 200);
    assert_eq!(put(b_http, "/shared", "", "y"), 423);
    assert_eq!(lock(b_http, "/shared", "shared", "").0.status, 423);
    assert_eq!(discovered(b_http, "/shared").len(), 1);
    drop(a);
    drop(b);

    let again = on(root.path(), "node-a", &clock);
    let http = again.http.unwrap();
    assert_eq!(put(http, "/shared", "", "z"), 423);
    let locks = discovered(http, "/shared");
    assert_eq!(text(&locks[0], "locktoken/href"), Some(token.as_str()));
    let unlock = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(send(http, "UNLOCK", "/shared", &unlock, "").status, 204);
    assert_eq!(put(http, "/shared", "", "z"), 204);
}

#[test]
fn ferry_and_tus_writes_into_a_locked_name_are_refused() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(send(addr, "MKCOL", "/d/", "", "").status, 201);
    assert_eq!(put(addr, "/d/f", "", "x"), 201);
    let (_, _token) = lock(addr, "/d/", "exclusive", "");

    let mut raw = server.raw();
    raw.send("PUT d/f 3\nabc");
    assert!(raw.line().starts_with("ERR 423 "));
    raw.send("PUT d/new 3\nabc");
    assert!(raw.line().starts_with("ERR 423 "));
    raw.send("DEL d/f\n");
    assert!(raw.line().starts_with("ERR 423 "));
    raw.send("MOVE d/f elsewhere\n");
    assert!(raw.line().starts_with("ERR 423 "));
    raw.send("PUT free 3\nabc");
    assert!(raw.line().starts_with("OK"));

    let metadata = format!(
        "Tus-Resumable: 1.0.0\r\nUpload-Length: 1\r\nUpload-Metadata: filename {}\r\n",
        "Zg==" // "f"
    );
    let created = send(addr, "POST", "/d/", &metadata, "");
    assert_eq!(created.status, 423, "{}", created.head);
    assert_eq!(std::fs::read(server.path("d/f")).unwrap(), b"x");
}

/// An upload session begun before a lock commits only once the lock is
/// gone (its commit is judged as it renames): FERRY/1's COMMIT and tus's
/// last PATCH alike, the session kept meanwhile.
#[test]
fn a_session_begun_before_a_lock_does_not_commit_under_it() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(put(addr, "/f", "", "old"), 201);
    // FERRY/1: UPLOAD and APPEND, then someone locks the name.
    let mut raw = server.raw();
    let (id, _) = support::upload(&mut raw, "f", b"new");
    assert!(support::append(&mut raw, &id, 0, b"new").starts_with("OK"));
    let (_, token) = lock(addr, "/f", "exclusive", "");
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("ERR 423 "));
    assert_eq!(std::fs::read(server.path("f")).unwrap(), b"old");
    // tus: created and filled but for its last byte under the same lock.
    let unlock = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(send(addr, "UNLOCK", "/f", &unlock, "").status, 204);
    let metadata = "Tus-Resumable: 1.0.0\r\nUpload-Length: 3\r\nUpload-Metadata: filename Zg==\r\n";
    let created = send(addr, "POST", "/", metadata, "");
    assert_eq!(created.status, 201, "{}", created.head);
    let at = created.header("Location").unwrap().to_owned();
    let at = at
        .split_once("://")
        .map_or(at.as_str(), |(_, rest)| &rest[rest.find('/').unwrap()..])
        .to_owned();
    let patch = |offset: u64, bytes: &str| {
        let fields = format!(
            "Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
        );
        send(addr, "PATCH", &at, &fields, bytes)
    };
    assert_eq!(patch(0, "tu").status, 204);
    let (_, token) = lock(addr, "/f", "exclusive", "");
    let last = patch(2, "s");
    assert_eq!(last.status, 423, "{}", last.head);
    assert_eq!(std::fs::read(server.path("f")).unwrap(), b"old");
    // Once the lock is gone, the FERRY/1 session commits.
    let unlock = format!("Lock-Token: <{token}>\r\n");
    assert_eq!(send(addr, "UNLOCK", "/f", &unlock, "").status, 204);
    raw.send(format!("COMMIT {id}\n"));
    assert!(raw.line().starts_with("OK"));
    assert_eq!(std::fs::read(server.path("f")).unwrap(), b"new");
}

/// A PUT whose body is still arriving when another client locks its
/// name, or its folder, is refused at its commit (423) and stores
/// nothing: the lock rule is judged again as it renames, not only before
/// its body (it replaced the file under the new holder's lock).
#[test]
fn a_put_whose_body_arrives_across_a_lock_does_not_commit_under_it() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(put(addr, "/d/f", "", "old"), 201);
    for (target, locked, depth) in [
        ("/d/f", "/d/f", ""),
        ("/d/new", "/d/new", ""),
        ("/d/f", "/d/", "Depth: infinity\r\n"),
    ] {
        let mut writer = support::http::Conn::open(addr);
        writer.send(format!(
            "PUT {target} HTTP/1.1\r\n{HOST}Expect: 100-continue\r\nContent-Length: 3\r\n\r\n"
        ));
        // Admitted, the lock rule judged: told to send the body.
        assert_eq!(writer.reply().status, 100);
        let (answer, token) = lock(addr, locked, "exclusive", depth);
        assert!(matches!(answer.status, 200 | 201), "{}", answer.head);
        writer.send("new");
        let refused = writer.reply();
        assert_eq!(refused.status, 423, "PUT {target} under a lock on {locked}");
        assert_eq!(std::fs::read(server.path("d/f")).unwrap(), b"old");
        let unlock = format!("Lock-Token: <{token}>\r\n");
        assert_eq!(send(addr, "UNLOCK", locked, &unlock, "").status, 204);
    }
    assert!(!server.path("d/new").exists());
    // With the token submitted, the same PUT commits.
    let (_, token) = lock(addr, "/d/f", "exclusive", "");
    let with = format!("If: (<{token}>)\r\n");
    assert_eq!(put(addr, "/d/f", &with, "new"), 204);
    assert_eq!(std::fs::read(server.path("d/f")).unwrap(), b"new");
}

/// One holder cannot hoard locks: at most `MAX_LOCKS_PER_HOLDER` at once
/// (503 past it, as for any cap), while another token still locks; an
/// owner with an undefined entity or nested beyond the limit is refused,
/// so no lock can make a PROPFIND of its folder ill-formed.
#[test]
fn one_holder_cannot_hoard_locks_or_break_anothers_propfind() {
    use ferry::serve::locks::MAX_LOCKS_PER_HOLDER;
    let holders: &[(&str, &[&str])] = &[
        ("flood", &["write:/", "read:/"]),
        ("other", &["write:/", "read:/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    let addr = server.http.unwrap();
    let (flood, other) = (bearer(&tokens[0]), bearer(&tokens[1]));
    std::fs::create_dir(server.path("d")).unwrap();
    let mut conn = support::http::Conn::open(addr);
    let body = lockinfo("shared");
    // Each request in one write: a head and a body in two would wait
    // for the delayed ACK each time (40 ms).
    let mut ask = |target: &str| {
        let head = format!(
            "LOCK {target} HTTP/1.1\r\n{HOST}{flood}Content-Length: {}\r\n\r\n",
            body.len()
        );
        conn.send(format!("{head}{body}"));
        conn.reply()
    };
    for n in 0..MAX_LOCKS_PER_HOLDER {
        let answer = ask(&format!("/d/f{n}"));
        assert_eq!(answer.status, 201, "lock {n}: {}", answer.head);
    }
    let over = ask("/d/one-more");
    assert_eq!(over.status, 503, "{}", over.head);
    let (theirs, _) = lock(addr, "/d/mine", "exclusive", &other);
    assert_eq!(theirs.status, 201, "{}", theirs.head);
    // Owners that would break every answer that gives them back.
    for owner in ["&undefined;", &"<a>".repeat(9000)] {
        let body = format!(
            "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>{owner}</D:owner></D:lockinfo>"
        );
        let refused = send(addr, "LOCK", "/d/x", &other, &body);
        assert_eq!(refused.status, 400, "{}", refused.head);
    }
    let found = send(addr, "PROPFIND", "/d/", &format!("Depth: 0\r\n{other}"), "");
    assert_eq!(found.status, 207);
    texts(&found.body);
}

#[test]
fn locks_need_the_write_grant_and_a_writable_server() {
    let (server, tokens, _dir) = guarded(&[("reader", &["read:/"]), ("writer", &["write:/"])], &[]);
    let addr = server.http.unwrap();
    let reader = bearer(&tokens[0]);
    let writer = bearer(&tokens[1]);
    let (denied, _) = lock(addr, "/g", "exclusive", &reader);
    assert_eq!(denied.status, 403, "{}", denied.head);
    let (granted, token) = lock(addr, "/g", "exclusive", &writer);
    assert_eq!(granted.status, 201, "{}", granted.head);
    let unlock = format!("Lock-Token: <{token}>\r\n{reader}");
    assert_eq!(send(addr, "UNLOCK", "/g", &unlock, "").status, 403);

    let read_only = TestServer::start_with(|c| {
        c.read_only = true;
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    let addr = read_only.http.unwrap();
    assert_eq!(lock(addr, "/g", "exclusive", "").0.status, 403);
    let unlock = "Lock-Token: <opaquelocktoken:x>\r\n";
    assert_eq!(send(addr, "UNLOCK", "/g", unlock, "").status, 403);
}

/// The LOCK body davfs2 1.6.1 (neon 0.32) sends, byte for byte.
const DAVFS2_LOCKINFO: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<lockinfo xmlns='DAV:'>\n <lockscope><exclusive/></lockscope>\n<locktype><write/></locktype><owner>me</owner>\n</lockinfo>\n";

/// What a reader sees of `name` that nobody has written: nothing, by
/// every way of looking (no 0-byte file, no listing entry).
fn unseen(server: &TestServer, name: &str) {
    let addr = server.http.unwrap();
    let target = format!("/{name}");
    assert_eq!(send(addr, "GET", &target, "", "").status, 404, "{name}");
    assert_eq!(send(addr, "HEAD", &target, "", "").status, 404, "{name}");
    let listed = send(addr, "PROPFIND", "/", "Depth: 1\r\n", "");
    assert_eq!(listed.status, 207);
    let href = format!(">{target}<");
    assert!(!listed.text().contains(&href), "{}", listed.text());
    let listing = send(addr, "GET", "/?format=json", "", "");
    assert_eq!(listing.status, 200);
    let quoted = format!("\"{name}\"");
    assert!(!listing.text().contains(&quoted), "{}", listing.text());
    assert!(!server.path(name).exists(), "{name} is on disk");
}

/// `cp f mnt/a; mv mnt/a mnt/b` on a davfs2 mount (its default
/// `delay_upload 10`), as it went over the wire: LOCK of the new name,
/// the MOVE before any PUT, then (davfs2 forgets a lock a MOVE took
/// along, RFC 4918 7.5) a LOCK of the destination afresh, and at the
/// upload HEAD, UNLOCK, PUT. The reservation moves with its lock: the
/// MOVE is 201, others' writes to `b` are refused meanwhile, readers see
/// neither name until the PUT, and `b` ends with the bytes, `a` gone.
#[test]
fn davfs2_moves_a_file_it_has_not_sent_yet() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    let davfs2 = "Depth: 0\r\nTimeout: Second-1800\r\nContent-Type: application/xml\r\n";
    let locked = send(addr, "LOCK", "/a", davfs2, DAVFS2_LOCKINFO);
    assert_eq!(locked.status, 201, "{}", locked.head);
    let first = locked
        .header("Lock-Token")
        .unwrap()
        .trim_matches(['<', '>']);
    assert_eq!(send(addr, "HEAD", "/a", "", "").status, 404);
    let moving = format!(
        "Destination: http://localhost/b\r\nOverwrite: T\r\nIf: <http://localhost/a> (<{first}>)\r\n"
    );
    let moved = send(addr, "MOVE", "/a", &moving, "");
    assert_eq!(moved.status, 201, "{}", moved.head);
    // Nobody but the holder writes b; nobody sees a 0-byte a or b.
    assert_eq!(put(addr, "/b", "", "not theirs"), 423);
    for name in ["a", "b"] {
        unseen(&server, name);
    }
    let mut raw = server.raw();
    raw.send("LIST\n");
    assert_eq!(raw.line(), "OK 0");
    // a is free again: its lock went with the reservation.
    assert_eq!(put(addr, "/a", "", "theirs"), 201);
    assert_eq!(send(addr, "DELETE", "/a", "", "").status, 204);

    // davfs2 LOCKs b anew, without the token it dropped: its own
    // reservation is taken over (201), under a new token.
    let relocked = send(addr, "LOCK", "/b", davfs2, DAVFS2_LOCKINFO);
    assert_eq!(relocked.status, 201, "{}", relocked.head);
    let second = relocked
        .header("Lock-Token")
        .unwrap()
        .trim_matches(['<', '>']);
    assert_ne!(first, second);
    assert_eq!(put(addr, "/b", &format!("If: (<{first}>)\r\n"), "x"), 412);
    assert_eq!(put(addr, "/b", "", "not theirs"), 423);
    unseen(&server, "b");
    // The upload (on umount): HEAD, UNLOCK, PUT.
    assert_eq!(send(addr, "HEAD", "/b", "", "").status, 404);
    let unlock = format!("Lock-Token: <{second}>\r\n");
    assert_eq!(send(addr, "UNLOCK", "/b", &unlock, "").status, 204);
    assert_eq!(put(addr, "/b", "", "the bytes"), 201);
    assert_eq!(std::fs::read(server.path("b")).unwrap(), b"the bytes");
    assert!(!server.path("a").exists());
    let lock_dir = server.path(".ferry-dav/locks");
    // The table's own lock file (`.lock`) is no record.
    let records = std::fs::read_dir(lock_dir).unwrap();
    let records = records.filter(|entry| entry.as_ref().unwrap().file_name() != ".lock");
    assert_eq!(records.count(), 0, "a lock record stayed");
}

/// A client that keeps its token PUTs the moved name with it. Onto a
/// file (`Overwrite: T`) the reservation replaces nothing yet: readers
/// read the old bytes until the PUT (204 then), nobody else writes it,
/// and a LOCK there finds the lock (davfs2 then refreshes it by its
/// `lockdiscovery`, as it does); `Overwrite: F`, a folder, or no parent
/// folder there are refused, the reservation kept.
#[test]
fn a_moved_reservation_keeps_its_token_and_replaces_a_file_only_once_written() {
    let (server, _) = server();
    let addr = server.http.unwrap();
    assert_eq!(put(addr, "/old", "", "old bytes"), 201);
    assert_eq!(send(addr, "MKCOL", "/dir/", "", "").status, 201);
    let (locked, token) = lock(addr, "/new", "exclusive", "");
    assert_eq!(locked.status, 201);
    let submit = format!("If: (<{token}>)\r\n");
    let onto = |to: &str, overwrite: &str| {
        let fields = format!("Destination: {to}\r\nOverwrite: {overwrite}\r\n{submit}");
        send(addr, "MOVE", "/new", &fields, "").status
    };
    assert_eq!(onto("/old", "F"), 412);
    assert_eq!(onto("/dir", "T"), 409);
    assert!(server.path("dir").is_dir());
    assert_eq!(onto("/nowhere/x", "T"), 409);
    // Still reserved where it was.
    assert_eq!(put(addr, "/new", "", "x"), 423);

    assert_eq!(onto("/old", "T"), 204);
    assert_eq!(send(addr, "GET", "/old", "", "").body, b"old bytes");
    unseen(&server, "new");
    assert_eq!(put(addr, "/old", "", "theirs"), 423);
    let (again, _) = lock(addr, "/old", "exclusive", "");
    assert_eq!(again.status, 423, "{}", again.head);
    let locks = discovered(addr, "/old");
    assert_eq!(locks.len(), 1);
    assert_eq!(text(&locks[0], "locktoken/href"), Some(token.as_str()));
    assert_eq!(text(&locks[0], "lockroot/href"), Some("/old"));
    assert_eq!(put(addr, "/old", &submit, "new bytes"), 204);
    assert_eq!(std::fs::read(server.path("old")).unwrap(), b"new bytes");

    // Moved whole or not at all: onto itself nothing moves (204, as a
    // file's), and the lock stays where it is.
    let (_, token) = lock(addr, "/self", "exclusive", "");
    let fields = format!("Destination: /self\r\nIf: (<{token}>)\r\n");
    assert_eq!(send(addr, "MOVE", "/self", &fields, "").status, 204);
    let fields = format!("Destination: /self/inside\r\nIf: (<{token}>)\r\n");
    assert_eq!(send(addr, "MOVE", "/self", &fields, "").status, 409);
    assert_eq!(put(addr, "/self", "", "x"), 423);
    assert_eq!(
        put(addr, "/self", &format!("If: (<{token}>)\r\n"), "x"),
        201
    );
}

/// A reservation's MOVE is any MOVE to the rules: without its token
/// `423`, with a token not live `412`, without the `delete` grant at the
/// source or `write` at the destination `403`, its lock run out `404`.
/// Each refusal leaves it reserved where it was. Its COPY is `404`, as
/// every read of it: a copy of nothing would be a 0-byte file.
#[test]
fn a_reservations_move_needs_its_token_and_both_grants() {
    let holders: &[(&str, &[&str])] = &[
        ("all", &["read:/", "write:/", "delete:/"]),
        ("keeps", &["read:/", "write:/"]),
        ("inside", &["read:/", "write:in/", "delete:/"]),
    ];
    let clock = Arc::new(AtomicI64::new(0));
    let (server, tokens, _dir) = support::tokens::guarded_with(holders, &[], {
        let clock = Arc::clone(&clock);
        move |c| c.lock_clock = Some(clock)
    });
    let addr = server.http.unwrap();
    let [all, keeps, inside] = [0, 1, 2].map(|n| bearer(&tokens[n]));
    std::fs::create_dir(server.path("in")).unwrap();
    let reserve = |name: &str, who: &str| {
        let (answer, token) = lock(addr, name, "exclusive", who);
        assert_eq!(answer.status, 201, "{name}: {}", answer.head);
        token
    };
    let moving = |from: &str, to: &str, who: &str, token: Option<&str>| {
        let submit = token.map_or(String::new(), |t| format!("If: (<{t}>)\r\n"));
        let fields = format!("Destination: {to}\r\n{who}{submit}");
        send(addr, "MOVE", from, &fields, "").status
    };

    let token = reserve("/r", &all);
    assert_eq!(moving("/r", "/s", &all, None), 423);
    assert_eq!(moving("/r", "/s", &all, Some("opaquelocktoken:nope")), 412);
    let token_keeps = reserve("/k", &keeps);
    assert_eq!(moving("/k", "/s", &keeps, Some(&token_keeps)), 403);
    let token_inside = reserve("/in/r", &inside);
    assert_eq!(moving("/in/r", "/s", &inside, Some(&token_inside)), 403);
    for (name, who, token, to) in [
        ("/r", &all, &token, "/c"),
        ("/k", &keeps, &token_keeps, "/c"),
        ("/in/r", &inside, &token_inside, "/in/c"),
    ] {
        assert_eq!(put(addr, name, &all, "x"), 423, "{name}");
        let submit = format!("{who}If: (<{token}>)\r\n");
        let copy = send(
            addr,
            "COPY",
            name,
            &format!("Destination: {to}\r\n{submit}"),
            "",
        );
        assert_eq!(copy.status, 404, "{name}: {}", copy.head);
    }
    for left in ["s", "c", "in/c"] {
        assert!(!server.path(left).exists(), "{left}");
    }
    // Once its lock has run out, nothing is there to move.
    let timeout = i64::try_from(ferry::serve::locks::MAX_TIMEOUT).unwrap();
    clock.fetch_add(timeout + 1, Ordering::Relaxed);
    assert_eq!(moving("/r", "/s", &all, None), 404);
    assert_eq!(moving("/in/r", "/in/s", &inside, None), 404);
}

/// A new LOCK of a reservation takes it over only for the holder whose
/// lock makes it, and only while nothing has the name: another token's
/// LOCK is refused (423), as is the holder's own once the name was
/// written.
#[test]
fn only_its_holder_takes_a_reservation_over() {
    let holders: &[(&str, &[&str])] = &[
        ("one", &["read:/", "write:/", "delete:/"]),
        ("two", &["read:/", "write:/", "delete:/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    let addr = server.http.unwrap();
    let [one, two] = [0, 1].map(|n| bearer(&tokens[n]));
    let (first, token) = lock(addr, "/n", "exclusive", &one);
    assert_eq!(first.status, 201);
    assert_eq!(lock(addr, "/n", "exclusive", &two).0.status, 423);
    assert_eq!(lock(addr, "/n", "shared", &two).0.status, 423);
    let (again, token2) = lock(addr, "/n", "exclusive", &one);
    assert_eq!(again.status, 201, "{}", again.head);
    let stale = format!("{one}If: (<{token}>)\r\n");
    assert_eq!(put(addr, "/n", &stale, "x"), 412);
    let fresh = format!("{one}If: (<{token2}>)\r\n");
    assert_eq!(put(addr, "/n", &fresh, "x"), 201);
    // Written: a lock like any other, its holder's second LOCK refused.
    assert_eq!(lock(addr, "/n", "exclusive", &one).0.status, 423);
}

/// The clients without a token (`--anonymous write:anon/`) count together
/// as one holder (docs/security.md): two addresses share one holder's
/// `MAX_LOCKS_PER_HOLDER`, and a token's holder still locks. Before, each
/// address had its own: ten strangers filled the root's 10,000 and every
/// token holder's LOCK was refused for an hour.
#[test]
fn clients_without_a_token_share_one_holders_lock_caps() {
    use ferry::serve::locks::MAX_LOCKS_PER_HOLDER;
    let holders: &[(&str, &[&str])] = &[("owner", &["write:/", "read:/"])];
    let (server, tokens, _dir) = guarded(holders, &["write:anon/", "read:anon/"]);
    let addr = server.http.unwrap();
    std::fs::create_dir(server.path("anon")).unwrap();
    let body = lockinfo("shared");
    let from = |source: [u8; 4]| {
        support::http::Conn::on(support::Raw::connect_from(addr, source.into()).stream)
    };
    // Each request in one write (see the test above).
    let ask = |conn: &mut support::http::Conn, target: &str| {
        let head = format!(
            "LOCK {target} HTTP/1.1\r\n{HOST}Content-Length: {}\r\n\r\n",
            body.len()
        );
        conn.send(format!("{head}{body}"));
        conn.reply()
    };
    let (mut one, mut two) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let half = MAX_LOCKS_PER_HOLDER / 2;
    for n in 0..MAX_LOCKS_PER_HOLDER {
        let stream = if n < half { &mut one } else { &mut two };
        let answer = ask(stream, &format!("/anon/f{n}"));
        assert_eq!(answer.status, 201, "lock {n}: {}", answer.head);
    }
    for stream in [&mut one, &mut two, &mut from([127, 0, 0, 3])] {
        let over = ask(stream, "/anon/one-more");
        assert_eq!(over.status, 503, "{}", over.head);
        assert!(
            over.text()
                .contains("the clients without a token hold 1000 locks"),
            "{}",
            over.text()
        );
    }
    let (theirs, _) = lock(addr, "/mine", "exclusive", &bearer(&tokens[0]));
    assert_eq!(theirs.status, 201, "{}", theirs.head);
}

/// A folder's DELETE that leaves what its client may not delete takes
/// the locks of what it removed with it, as a whole DELETE does: the
/// names are free for anyone after; the lock on what stayed stays.
#[test]
fn a_partial_delete_releases_the_locks_of_what_it_removed() {
    let holders: &[(&str, &[&str])] = &[
        ("some", &["read:/", "write:/", "delete:d/open/"]),
        ("other", &["read:/", "write:/"]),
    ];
    let (server, tokens, _dir) = guarded(holders, &[]);
    let addr = server.http.unwrap();
    let (some, other) = (bearer(&tokens[0]), bearer(&tokens[1]));
    std::fs::create_dir_all(server.path("d/open/sub")).unwrap();
    let names = ["/d/open/gone", "/d/open/sub/deep", "/d/kept"];
    let mut submitted = String::from("If:");
    for name in names {
        assert_eq!(put(addr, name, &some, "x"), 201, "{name}");
        let (locked, token) = lock(addr, name, "exclusive", &some);
        assert_eq!(locked.status, 200, "{name}: {}", locked.head);
        submitted.push_str(&format!(" <{name}> (<{token}>)"));
    }
    let deleted = send(addr, "DELETE", "/d/", &format!("{submitted}\r\n{some}"), "");
    assert_eq!(deleted.status, 207, "{}", deleted.head);
    assert!(!server.path("d/open/gone").exists());
    assert!(!server.path("d/open/sub").exists());
    assert!(server.path("d/kept").exists());
    // The names removed are free for another client, a file's in a
    // folder removed too; what stayed is not.
    assert_eq!(put(addr, "/d/open/gone", &other, "y"), 201);
    assert_eq!(send(addr, "MKCOL", "/d/open/sub/", &other, "").status, 201);
    assert_eq!(put(addr, "/d/open/sub/deep", &other, "y"), 201);
    assert_eq!(put(addr, "/d/kept", &other, "y"), 423);
}

/// A LOCK asked while a write without its token is between its lock rule
/// and its rename waits for the rename: the commit holds the lock table
/// still (its file's lock is held, so no node can change it), and the
/// LOCK is granted on the file the write made (`200`; a name nothing had
/// would be reserved, `201`). Before, the LOCK reserved the name, and
/// the write then landed on it without the token. Durable or not.
#[test]
fn a_lock_asked_while_an_upload_renames_waits_for_the_rename() {
    use ferry::access::quota::FolderQuota;
    use ferry::storage::gate::{Gate, Point};
    use rustix::fs::FlockOperation;
    for durable in [false, true] {
        // Counted (a quota): the commit is held just before its rename.
        let gate = Arc::new(Gate::new(Point::Rename));
        let server = TestServer::start_with({
            let gate = Arc::clone(&gate);
            move |c| {
                c.fsync = durable;
                c.quotas = vec![FolderQuota::parse("box/=10M").unwrap()];
                c.gate = Some(gate);
                c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
            }
        });
        let addr = server.http.unwrap();
        std::fs::create_dir(server.path("box")).unwrap();
        // A lock elsewhere: the table's lock file is there either way.
        assert_eq!(lock(addr, "/elsewhere", "exclusive", "").0.status, 201);
        let writer = std::thread::spawn(move || put(addr, "/box/new", "", "made"));
        gate.wait_for_arrivals(1);
        let table = std::fs::File::open(server.path(".ferry-dav/locks/.lock")).unwrap();
        let taken = rustix::fs::flock(&table, FlockOperation::NonBlockingLockExclusive);
        assert_eq!(
            taken,
            Err(rustix::io::Errno::WOULDBLOCK),
            "durable {durable}"
        );
        let locker = std::thread::spawn(move || lock(addr, "/box/new", "exclusive", "").0);
        gate.open();
        assert_eq!(writer.join().unwrap(), 201, "durable {durable}");
        let locked = locker.join().unwrap();
        assert_eq!(locked.status, 200, "durable {durable}: {}", locked.head);
        assert_eq!(std::fs::read(server.path("box/new")).unwrap(), b"made");
    }
}

/// The same for a DELETE and a MOVE, each held in its unlink or rename:
/// the lock table is held still from the lock rule, judged again there,
/// through the change, so the LOCK waits and then reserves the name the
/// file left (`201`). Before, the LOCK was granted on the file (`200`)
/// while the change went on without its token, and the DELETE or MOVE
/// then took the lock away with the file.
#[test]
fn a_lock_asked_while_a_delete_or_move_changes_the_name_waits_for_it() {
    use ferry::storage::gate::Point;
    use rustix::fs::FlockOperation;
    let moved = "Destination: /box/g\r\n";
    for (point, method, headers) in [
        (Point::Delete, "DELETE", ""),
        (Point::Commit, "MOVE", moved),
    ] {
        let (server, gate) = gated(point);
        let addr = server.http.unwrap();
        std::fs::create_dir(server.path("box")).unwrap();
        std::fs::write(server.path("box/f"), "kept").unwrap();
        let writer = std::thread::spawn(move || send(addr, method, "/box/f", headers, "").status);
        gate.wait_for_arrivals(1);
        let table = std::fs::File::open(server.path(".ferry-dav/locks/.lock")).unwrap();
        let taken = rustix::fs::flock(&table, FlockOperation::NonBlockingLockExclusive);
        assert_eq!(taken, Err(rustix::io::Errno::WOULDBLOCK), "{method}");
        let locker = std::thread::spawn(move || lock(addr, "/box/f", "exclusive", "").0);
        gate.open();
        let expected = if method == "DELETE" { 204 } else { 201 };
        assert_eq!(writer.join().unwrap(), expected, "{method}");
        let locked = locker.join().unwrap();
        assert_eq!(locked.status, 201, "{method}: {}", locked.head);
        assert!(!server.path("box/f").exists(), "{method}");
    }
}

/// A LOCK granted inside a folder while the folder's removal waits to
/// walk it (its DELETE, or the MOVE that replaces it) keeps what it
/// locks: each member is judged by the lock rule as the walk reaches it,
/// the lock table held still through its removal. The rest goes; the
/// answer names the locked file as locked (`207`, its `423`), and its
/// lock stands. Before, the walk judged by the admission's look alone:
/// the locked file went, and its lock with it.
#[test]
fn a_lock_granted_inside_a_folder_while_its_removal_walks_keeps_its_file() {
    use ferry::storage::gate::Point;
    let replaced = "Destination: /d\r\nOverwrite: T\r\n";
    for (method, target, headers) in [("DELETE", "/d/", ""), ("MOVE", "/src", replaced)] {
        let (server, gate) = gated(Point::Delete);
        let addr = server.http.unwrap();
        std::fs::create_dir(server.path("d")).unwrap();
        for name in ["d/locked", "d/free", "src"] {
            std::fs::write(server.path(name), name).unwrap();
        }
        let remover = std::thread::spawn(move || send(addr, method, target, headers, ""));
        gate.wait_for_arrivals(1);
        let (locked, token) = lock(addr, "/d/locked", "exclusive", "");
        assert_eq!(locked.status, 200, "{method}: {}", locked.head);
        gate.open();
        let removed = remover.join().unwrap();
        assert_eq!(removed.status, 207, "{method}: {}", removed.head);
        let multistatus = support::dav::parse(&removed);
        let statuses: Vec<_> = multistatus
            .responses
            .iter()
            .map(|r| (r.href.as_str(), r.props.keys().copied().collect::<Vec<_>>()))
            .collect();
        assert_eq!(statuses, [("/d/locked", vec![423])], "{method}");
        assert_eq!(std::fs::read(server.path("d/locked")).unwrap(), b"d/locked");
        assert!(!server.path("d/free").exists(), "{method}");
        // Its lock stands: a write without the token is refused, one with
        // it is served.
        assert_eq!(put(addr, "/d/locked", "", "other"), 423, "{method}");
        let with = format!("If: (<{token}>)\r\n");
        assert_eq!(put(addr, "/d/locked", &with, "mine"), 204, "{method}");
    }
}

/// An HTTP server whose storage calls wait at `point` until its gate
/// opens.
fn gated(point: ferry::storage::gate::Point) -> (TestServer, Arc<ferry::storage::gate::Gate>) {
    let gate = Arc::new(ferry::storage::gate::Gate::new(point));
    let server = TestServer::start_with(|c| {
        c.gate = Some(Arc::clone(&gate));
        support::listen_http(c);
    });
    (server, gate)
}
