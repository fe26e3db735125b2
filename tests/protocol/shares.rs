//! `SHARE`, `SHARES`, `UNSHARE` (PROTOCOL.md §6.12) byte for byte over
//! real sockets: the answers' exact shape, the refusals and how the
//! connection goes on after each, the grants judged as over HTTP (the
//! same serve operations), a server without HTTP, and a build without
//! share links.

use crate::support::TestServer;
#[cfg(feature = "shares")]
use crate::support::tokens::guarded;

/// `SHARES` over `raw`: its lines.
#[cfg(feature = "shares")]
fn shares(raw: &mut crate::support::Raw) -> Vec<String> {
    raw.send("SHARES\n");
    let head = raw.line();
    let len: usize = head
        .strip_prefix("OK ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("SHARES answered {head:?}"));
    let body = String::from_utf8(raw.bytes(len)).unwrap();
    body.lines().map(str::to_owned).collect()
}

#[cfg(feature = "shares")]
#[test]
fn share_answers_the_id_the_expiry_and_the_address_and_shares_lists_it() {
    let server = TestServer::start_http();
    let http = server.http.unwrap();
    server.write_files(&["docs/my report.pdf", "inbox/x"]);
    let mut raw = server.raw();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    raw.send("SHARE docs/my%20report.pdf read expires=60 max=2 password=pw\n");
    let line = raw.line();
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 4, "{line:?}");
    assert_eq!(fields[0], "OK");
    let id = fields[1];
    assert_eq!(id.len(), 22, "{line:?}");
    let expires: i64 = fields[2].parse().unwrap();
    assert!((before + 60..=before + 62).contains(&expires), "{line:?}");
    assert_eq!(fields[3], format!("http://{http}/s/{id}/my%20report.pdf"));

    raw.send("SHARE inbox/ upload\n");
    let upload = raw.line();
    let upload_id = upload.split(' ').nth(1).unwrap().to_owned();
    assert!(
        upload.ends_with(&format!(" http://{http}/s/{upload_id}/")),
        "{upload:?}"
    );

    let mut listed = shares(&mut raw);
    listed.sort();
    let mut want = vec![
        format!(
            "{id} read {expires} 0 2 yes http://{http}/s/{id}/my%20report.pdf docs/my%20report.pdf"
        ),
        format!(
            "{upload_id} upload {} 0 - no http://{http}/s/{upload_id}/ inbox/",
            upload.split(' ').nth(2).unwrap()
        ),
    ];
    want.sort();
    assert_eq!(listed, want);

    raw.send(format!("UNSHARE {id}\nUNSHARE {id}\nUNSHARE not-an-id\n"));
    assert_eq!(raw.line(), "OK");
    assert_eq!(raw.line(), "ERR 404 no such link");
    assert_eq!(raw.line(), "ERR 400 bad link id");
    let left = shares(&mut raw);
    assert_eq!(left.len(), 1);
    assert!(left[0].starts_with(&upload_id), "{left:?}");
}

#[cfg(feature = "shares")]
#[test]
fn share_refusals_say_why_and_the_connection_goes_on() {
    let holders: &[(&str, &[&str])] = &[("alice", &["read:/", "write:/"]), ("bob", &["write:/"])];
    let (server, tokens, _dir) = guarded(holders, &["read:/"]);
    server.write_files(&["a.txt"]);
    let mut raw = server.raw();
    // No token: a link is made by one, so that someone can revoke it.
    raw.send("SHARE a.txt read\nSHARES\n");
    assert_eq!(raw.line(), "ERR 401 share links are made with a token");
    assert_eq!(raw.line(), "ERR 401 SHARES needs a token");
    raw.send(format!("AUTH {}\n", tokens[1]));
    assert_eq!(raw.line(), "OK bob");
    raw.send("SHARE a.txt read\nSHARE / upload\n");
    assert_eq!(raw.line(), "ERR 403 token bob may not read \"a.txt\"");
    assert!(
        raw.line().starts_with("OK "),
        "bob may write: an upload link"
    );
    raw.send(format!("AUTH {}\n", tokens[0]));
    assert_eq!(raw.line(), "OK alice");
    raw.send(
        "SHARE a.txt upload\nSHARE a.txt read expires=0\nSHARE a.txt read max=0\n\
         SHARE nothing read\nSHARE .ferry-shares/ read\nSHARE a.txt read password=\n\
         SHARE a.txt read expires=99999999\n",
    );
    assert_eq!(raw.line(), "ERR 400 an upload link shares a folder");
    let most = "a link lasts 1 to 2592000 seconds on this server (--share-max-expiry)";
    assert_eq!(raw.line(), format!("ERR 400 {most}"));
    assert_eq!(
        raw.line(),
        "ERR 400 a download limit is 1 or more: leave it out for a link without one"
    );
    assert!(raw.line().starts_with("ERR 404 "));
    assert_eq!(
        raw.line(),
        "ERR 403 names starting with .ferry- are reserved"
    );
    assert_eq!(
        raw.line(),
        "ERR 400 bad password: percent-encoded UTF-8, not empty"
    );
    assert_eq!(raw.line(), format!("ERR 400 {most}"));
    // A line out of the grammar closes, as any.
    raw.send("SHARE a.txt write\n");
    assert_eq!(raw.line(), "ERR 400 a link's mode is read or upload");
    raw.expect_closed();
}

#[cfg(feature = "shares")]
#[test]
fn a_server_without_http_makes_no_link_but_lists_and_revokes() {
    let server = TestServer::start();
    server.write_files(&["a.txt"]);
    let mut raw = server.raw();
    raw.send("SHARE a.txt read\nSHARES\nUNSHARE AAAAAAAAAAAAAAAAAAAA-_\n");
    assert_eq!(
        raw.line(),
        "ERR 403 share links are served over HTTP, and this server has no HTTP listener (ferry serve --http ADDR)"
    );
    assert_eq!(raw.line(), "OK 0");
    assert_eq!(raw.line(), "ERR 404 no such link");
}

#[cfg(not(feature = "shares"))]
#[test]
fn a_build_without_links_refuses_their_verbs_and_goes_on() {
    let server = TestServer::start_http();
    let mut raw = server.raw();
    raw.send("SHARE a.txt read\nSHARES\nUNSHARE AAAAAAAAAAAAAAAAAAAA-_\nQUIT\n");
    for _ in 0..3 {
        assert_eq!(
            raw.line(),
            "ERR 501 built without share links: rebuild with --features shares"
        );
    }
    assert_eq!(raw.line(), "OK");
}
