//! Share links (docs/shares.md) over real sockets: made, listed and
//! revoked by a token at `/.ferry-shares`, used without one at `/s/<id>`;
//! what a link never gives (more than its creator may, anything outside
//! what it shares, anything after it stops), passwords and their
//! throttle, download limits under concurrency, a restart. A removed
//! creator (SIGHUP) is `tests/access/process.rs`'s.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::PATIENCE;
use crate::support::TestServer;
use crate::support::http::{Answer, bearer, exchange};
use crate::support::tokens::guarded;

const HOST: &str = "Host: 127.0.0.1\r\n";

/// Makes a link of `json` as the holder of `token`.
fn make(http: SocketAddr, token: &str, json: &str) -> Answer {
    let headers = format!("{HOST}{}Content-Type: application/json\r\n", bearer(token));
    exchange(http, "POST", "/.ferry-shares", &headers, json.as_bytes())
}

/// The value of `key` in a link's JSON (a string's, unquoted).
fn field(json: &str, key: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    match &value[key] {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The made link's path part of its URL.
fn url_path(answer: &Answer) -> String {
    assert_eq!(answer.status, 201, "{}", answer.text());
    let url = field(&answer.text(), "url");
    let at = url.find("/s/").unwrap();
    url[at..].to_owned()
}

fn get(http: SocketAddr, target: &str, headers: &str) -> Answer {
    exchange(http, "GET", target, &format!("{HOST}{headers}"), b"")
}

#[test]
fn a_file_link_downloads_without_a_token_whole_or_in_part() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/", "write:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&["docs/report.pdf"]);
    let bytes = std::fs::read(server.path("docs/report.pdf")).unwrap();
    let made = make(
        http,
        &tokens[0],
        r#"{"path":"docs/report.pdf","expires":"1d"}"#,
    );
    let path = url_path(&made);
    assert!(path.ends_with("/report.pdf"), "{path}");
    assert!(field(&made.text(), "url").starts_with("http://127.0.0.1/s/"));
    assert_eq!(field(&made.text(), "id").len(), 22);

    let whole = get(http, &path, "");
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, bytes);
    assert!(
        whole
            .header("Content-Disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let part = get(http, &path, "Range: bytes=1-2\r\n");
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &bytes[1..3]);
    let head = exchange(http, "HEAD", &path, HOST, b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    // The id alone goes to the address with the file's name.
    let id = field(&made.text(), "id");
    let bare = get(http, &format!("/s/{id}"), "");
    assert_eq!(bare.status, 302);
    assert_eq!(bare.header("Location"), Some(path.as_str()));
    // Nothing else is under a file link, and the file is not writable.
    assert_eq!(get(http, &format!("/s/{id}/other.pdf"), "").status, 404);
    let put = exchange(http, "PUT", &path, HOST, b"x");
    assert_eq!(put.status, 403);
    assert_eq!(
        std::fs::read(server.path("docs/report.pdf")).unwrap(),
        bytes
    );
}

#[test]
fn a_folder_link_reads_its_files_lists_them_and_zips_nothing_else() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&[
        "team/photos/a.jpg",
        "team/photos/trip/b.jpg",
        "team/secret.txt",
    ]);
    let path = url_path(&make(http, &tokens[0], r#"{"path":"team/photos/"}"#));

    let listing = get(http, &path.clone(), "");
    assert_eq!(listing.status, 200, "{}", listing.text());
    let text = listing.text();
    assert!(
        text.contains("\"a.jpg\"") && text.contains("\"trip/\""),
        "{text}"
    );
    assert!(
        !text.contains("team"),
        "the shared folder's own path is never named: {text}"
    );
    assert!(!text.contains("space"), "{text}");
    assert_eq!(get(http, &format!("{path}trip/b.jpg"), "").status, 200);
    let bare = get(http, path.trim_end_matches('/'), "");
    assert_eq!(
        (bare.status, bare.header("Location")),
        (302, Some(path.as_str()))
    );
    let sub = get(http, &format!("{path}trip"), "");
    assert_eq!((sub.status, sub.header("Location")), (301, Some("trip/")));
    // A browser gets a page: relative addresses, the zip, no script.
    let page = get(http, &path.clone(), "Accept: text/html\r\n");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("href=\"a.jpg\" download>a.jpg<") && html.contains("href=\"trip/\""),
        "{html}"
    );
    assert!(html.contains("href=\"?zip\"") && !html.contains("team") && !html.contains("<script"));
    assert!(page.header("Content-Security-Policy").is_some());
    let zip = get(http, &format!("{path}?zip"), "");
    assert_eq!(zip.status, 200);
    assert!(zip.body.starts_with(b"PK"));

    // Nothing outside the folder, however it is spelt.
    for outside in [
        format!("{path}../secret.txt"),
        format!("{path}%2e%2e/secret.txt"),
        format!("{path}..%2fsecret.txt"),
        format!("{path}%2e%2e%2fsecret.txt"),
        format!("{path}.ferry-shares/x"),
    ] {
        let answer = get(http, &outside, "");
        assert!(answer.status >= 400, "{outside}: {}", answer.status);
        assert!(!answer.text().contains("secret"), "{outside}");
    }
}

#[test]
fn a_link_never_gives_more_than_its_creator_may() {
    let (server, tokens, _dir) = guarded(
        &[("reader", &["read:pub/"]), ("writer", &["write:inbox/"])],
        &[],
    );
    let http = server.http.unwrap();
    server.write_files(&["pub/a", "private/b"]);
    for (token, json) in [
        (&tokens[0], r#"{"path":"private/b"}"#),
        (&tokens[0], r#"{"path":"private/"}"#),
        (&tokens[0], r#"{"path":"/"}"#),
        (&tokens[0], r#"{"path":"pub/","mode":"upload"}"#),
        (&tokens[1], r#"{"path":"inbox/"}"#),
    ] {
        assert_eq!(make(http, token, json).status, 403, "{json}");
    }
    assert_eq!(
        make(http, &tokens[0], r#"{"path":"pub/nothing"}"#).status,
        404
    );
    assert_eq!(
        make(http, &tokens[0], r#"{"path":"pub/a","mode":"upload"}"#).status,
        400
    );
    assert_eq!(
        make(http, &tokens[0], r#"{"path":"pub/a","expires":"31d"}"#).status,
        400
    );
    let anonymous = exchange(http, "POST", "/.ferry-shares", HOST, br#"{"path":"pub/a"}"#);
    assert_eq!(anonymous.status, 401);
    assert_eq!(get(http, "/s/AAAAAAAAAAAAAAAAAAAAAA", "").status, 404);
}

#[test]
fn links_are_listed_and_revoked_by_their_creator_only() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"]), ("bob", &["read:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&["f"]);
    let made = make(
        http,
        &tokens[0],
        r#"{"path":"f","max_downloads":2,"password":"pw"}"#,
    );
    let id = field(&made.text(), "id");
    assert_eq!(field(&made.text(), "password"), "true");
    assert!(
        !made.text().contains("pw\""),
        "the password is never told back"
    );

    let listed = get(http, "/.ferry-shares", &bearer(&tokens[0]));
    assert_eq!(listed.status, 200);
    assert!(listed.text().contains(&id));
    let bobs = get(http, "/.ferry-shares", &bearer(&tokens[1]));
    assert_eq!(bobs.text().trim(), "[]");

    let revoke = |token: &str| {
        let headers = format!("{HOST}{}", bearer(token));
        exchange(
            http,
            "DELETE",
            &format!("/.ferry-shares/{id}"),
            &headers,
            b"",
        )
        .status
    };
    assert_eq!(revoke(&tokens[1]), 404, "another token's link is not there");
    // Ids not of a link's shape are not there either, for anyone.
    for forged in ["short", "%E2%80%A8AAAAAAAAAAAAAAAAAAA", &format!("{id}x")] {
        let target = format!("/.ferry-shares/{forged}");
        for credentials in [bearer(&tokens[0]), String::new()] {
            let headers = format!("{HOST}{credentials}");
            let answer = exchange(http, "DELETE", &target, &headers, b"");
            assert_eq!(answer.status, 404, "{forged} {credentials}");
        }
    }
    assert_eq!(revoke(&tokens[0]), 204);
    assert_eq!(revoke(&tokens[0]), 404);
    assert_eq!(
        get(
            http,
            &format!("/s/{id}/f"),
            "Authorization: Basic eDpwdw==\r\n"
        )
        .status,
        404
    );
}

#[test]
fn a_password_is_asked_for_and_wrong_ones_are_throttled() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&["f"]);
    let path = url_path(&make(http, &tokens[0], r#"{"path":"f","password":"pw"}"#));
    let asked = get(http, &path, "");
    assert_eq!(asked.status, 401);
    assert!(
        asked
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    // Basic with any user: "x:pw".
    assert_eq!(
        get(http, &path, "Authorization: Basic eDpwdw==\r\n").status,
        200
    );
    // Wrong ones ("x:no") until the address must wait.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(get(http, &path, "Authorization: Basic eDpubw==\r\n").status);
    }
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(
        get(http, &path, "Authorization: Basic eDpwdw==\r\n").status,
        429
    );
    let challenge = get(http, &path, "")
        .header("WWW-Authenticate")
        .map(str::to_owned);
    assert!(
        challenge.unwrap().contains("ferry link"),
        "a realm of its own"
    );
}

#[test]
fn wrong_passwords_at_once_are_each_counted_before_the_next_is_judged() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&["f"]);
    let path = url_path(&make(http, &tokens[0], r#"{"path":"f","password":"pw"}"#));
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || get(http, &path, "Authorization: Basic eDpubw==\r\n").status)
        })
        .collect();
    let statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[test]
fn a_link_to_the_whole_root_shares_it_all_and_is_not_searched() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&["top.txt", "d/inner.txt"]);
    let path = url_path(&make(http, &tokens[0], r#"{"path":"/"}"#));
    assert!(path.ends_with('/'), "{path}");
    let listing = get(http, &path, "").text();
    assert!(
        listing.contains("\"top.txt\"") && listing.contains("\"d/\""),
        "{listing}"
    );
    assert_eq!(get(http, &format!("{path}d/inner.txt"), "").status, 200);
    assert_eq!(get(http, &format!("{path}?q=inner"), "").status, 400);
}

#[test]
fn downloads_stop_at_the_limit_even_when_raced() {
    let (server, tokens, _dir) = guarded(&[("alice", &["read:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&["f"]);
    server.write_files(&["d/g"]);
    let path = url_path(&make(http, &tokens[0], r#"{"path":"f","max_downloads":4}"#));
    // A HEAD, or a name not there, is no download; a range or a
    // conditional GET is (each could carry the whole file).
    assert_eq!(exchange(http, "HEAD", &path, HOST, b"").status, 200);
    assert_eq!(get(http, &path, "Range: bytes=0-\r\n").status, 206);
    let folder = url_path(&make(
        http,
        &tokens[0],
        r#"{"path":"d/","max_downloads":1}"#,
    ));
    assert_eq!(get(http, &format!("{folder}nothing"), "").status, 404);
    assert_eq!(
        get(http, &format!("{folder}g"), "If-None-Match: \"x\"\r\n").status,
        200
    );
    assert_eq!(get(http, &format!("{folder}g"), "").status, 410);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || get(http, &path, "").status)
        })
        .collect();
    let mut statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 410, 410, 410, 410, 410]);
    let listed = get(http, "/.ferry-shares", &bearer(&tokens[0]));
    assert!(
        listed.text().contains("\"downloads\":4"),
        "{}",
        listed.text()
    );
}

#[test]
fn a_link_expires_and_survives_a_restart_until_then() {
    let (server, tokens, dir) = guarded(&[("alice", &["read:/"])], &[]);
    let http = server.http.unwrap();
    server.write_files(&["f", "g"]);
    let lasting = url_path(&make(http, &tokens[0], r#"{"path":"g","expires":"1h"}"#));
    let brief = url_path(&make(http, &tokens[0], r#"{"path":"f","expires":1}"#));
    let deadline = Instant::now() + PATIENCE;
    // The link's second passes: waited for by its answer, not a sleep.
    while get(http, &brief, "").status == 200 {
        assert!(Instant::now() < deadline, "the link never expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(http, &brief, "").status, 410);

    let restarted = restart(server, &dir);
    let http = restarted.http.unwrap();
    assert_eq!(get(http, &lasting, "").status, 200);
    assert_eq!(get(http, &brief, "").status, 410);
    let headers = format!("{}Accept: application/json\r\n", bearer(&tokens[0]));
    let listing = get(http, "/", &headers);
    assert!(
        !listing.text().contains("ferry-shares"),
        "never listed: {}",
        listing.text()
    );
    // A used-up link stays its creator's to see until it expires.
    let once = url_path(&make(http, &tokens[0], r#"{"path":"g","max_downloads":1}"#));
    assert_eq!(get(http, &once, "").status, 200);
    make(http, &tokens[0], r#"{"path":"g"}"#);
    assert_eq!(get(http, &once, "").status, 410);
    let listed = get(http, "/.ferry-shares", &bearer(&tokens[0])).text();
    assert!(listed.contains("\"downloads\":1"), "{listed}");
}

/// The server stopped and started again on its root, with the tokens
/// file in `dir`.
fn restart(mut server: TestServer, dir: &tempfile::TempDir) -> TestServer {
    server.handle().shutdown();
    server.wait_for_exit().unwrap();
    let root = std::mem::replace(&mut server.root, tempfile::tempdir().unwrap());
    drop(server);
    let tokens = dir.path().join("tokens");
    TestServer::start_in(root, |c| {
        crate::support::listen_http(c);
        c.access.tokens = Some(tokens);
    })
}

#[test]
fn an_upload_link_takes_new_files_and_shows_nothing() {
    let (server, tokens, _dir) =
        crate::support::tokens::guarded_with(&[("alice", &["read:/", "write:inbox/"])], &[], |c| {
            crate::support::tokens::set_quota(c, 0, "1000")
        });
    let http = server.http.unwrap();
    server.write_files(&["inbox/old.txt"]);
    let kept = std::fs::read(server.path("inbox/old.txt")).unwrap();
    let made = make(http, &tokens[0], r#"{"path":"inbox/","mode":"upload"}"#);
    let path = url_path(&made);
    assert_eq!(field(&made.text(), "mode"), "upload");

    let put = |name: &str, body: &[u8]| exchange(http, "PUT", &format!("{path}{name}"), HOST, body);
    assert_eq!(put("invoice.pdf", b"new bytes").status, 201);
    assert_eq!(
        std::fs::read(server.path("inbox/invoice.pdf")).unwrap(),
        b"new bytes"
    );
    assert_eq!(put("sub/scan.jpg", b"scan").status, 201);
    // Never a name already there, nor a read or a listing.
    let taken = put("old.txt", b"overwritten?");
    assert_eq!(taken.status, 409, "{}", taken.text());
    assert_eq!(std::fs::read(server.path("inbox/old.txt")).unwrap(), kept);
    assert_eq!(put("invoice.pdf", b"again").status, 409);
    assert_eq!(get(http, &format!("{path}invoice.pdf"), "").status, 403);
    assert_eq!(get(http, &format!("{path}sub/"), "").status, 403);
    // Its own address tells what its page needs, nothing of the folder.
    let own = get(http, &path.clone(), "");
    assert_eq!(own.status, 200);
    assert_eq!(field(&own.text(), "mode"), "upload");
    let page = get(http, &path.clone(), "Accept: text/html\r\n");
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("Send files to inbox"),
        "{}",
        page.text()
    );
    assert!(!page.text().contains("old.txt") && !page.text().contains("invoice"));
    let policy = page.header("Content-Security-Policy").unwrap();
    assert!(
        policy.starts_with("default-src 'none'; script-src 'sha256-"),
        "{policy}"
    );
    assert_eq!(put("../escape", b"x").status / 100, 4);
    assert!(!server.path("escape").exists());
    // Its bytes are the creator's: past the quota, nothing is stored.
    assert_eq!(put("big.bin", &[7u8; 2000]).status, 507);
    assert!(!server.path("inbox/big.bin").exists());

    // A download link takes nothing.
    let download = url_path(&make(http, &tokens[0], r#"{"path":"inbox/"}"#));
    let refused = exchange(http, "PUT", &format!("{download}x"), HOST, b"x");
    assert_eq!(refused.status, 403);
    assert!(!server.path("inbox/x").exists());
}

/// tus through an upload link (a drop zone's big file, cut and resumed):
/// created at the link's own address as a new file of its folder, its
/// upload's address below the link's (relative, as tus allows), its
/// progress asked and its bytes sent in pieces; never a name there now,
/// nor one taken while it was sent (its commit refuses); nothing but an
/// upload of the link's own folder reachable through it; a download
/// link takes none.
#[cfg(feature = "tus")]
#[test]
fn an_upload_link_takes_tus_uploads_that_never_replace_a_file() {
    use base64::Engine;
    let holders: &[(&str, &[&str])] = &[("alice", &["read:/", "write:/"])];
    let (server, tokens, _dir) = crate::support::tokens::guarded_with(holders, &[], |c| {
        crate::support::tokens::set_quota(c, 0, "1000")
    });
    let http = server.http.unwrap();
    server.write_files(&["inbox/old.txt"]);
    let path = url_path(&make(
        http,
        &tokens[0],
        r#"{"path":"inbox/","mode":"upload"}"#,
    ));
    let tus = "Tus-Resumable: 1.0.0\r\n";
    let create = |at: &str, name: &str, len: usize, auth: &str| {
        let name = base64::engine::general_purpose::STANDARD.encode(name);
        let headers = format!(
            "{HOST}{tus}{auth}Upload-Length: {len}\r\nUpload-Metadata: filename {name}\r\n"
        );
        exchange(http, "POST", at, &headers, b"")
    };
    let patch = |upload: &str, at: usize, bytes: &[u8]| {
        let headers = format!(
            "{HOST}{tus}Upload-Offset: {at}\r\nContent-Type: application/offset+octet-stream\r\n"
        );
        exchange(http, "PATCH", upload, &headers, bytes)
    };
    let upload_at = |made: &Answer| {
        assert_eq!(made.status, 201, "{}", made.text());
        let location = made.header("Location").unwrap().to_owned();
        assert!(location.starts_with(".ferry-uploads/"), "{location}");
        format!("{path}{location}")
    };

    let upload = upload_at(&create(&path, "video.mp4", 10, ""));
    assert_eq!(patch(&upload, 0, b"01234").status, 204);
    let progress = exchange(http, "HEAD", &upload, &format!("{HOST}{tus}"), b"");
    assert_eq!(progress.status, 200);
    assert_eq!(progress.header("Upload-Offset"), Some("5"));
    assert!(!server.path("inbox/video.mp4").exists());
    assert_eq!(patch(&upload, 5, b"56789").status, 204);
    let stored = std::fs::read(server.path("inbox/video.mp4")).unwrap();
    assert_eq!(stored, b"0123456789");

    // A name there now; a name taken while the upload was sent.
    assert_eq!(create(&path, "old.txt", 3, "").status, 409);
    let racing = upload_at(&create(&path, "race.txt", 4, ""));
    let put = exchange(http, "PUT", &format!("{path}race.txt"), HOST, b"mine");
    assert_eq!(put.status, 201);
    let late = patch(&racing, 0, b"tus!");
    assert_eq!(late.status, 409, "{}", late.text());
    assert_eq!(
        std::fs::read(server.path("inbox/race.txt")).unwrap(),
        b"mine"
    );
    // The upload is gone: a client asking how far it got (tus-js-client
    // does after a 409) never finds it whole and takes it for stored.
    let after = exchange(http, "HEAD", &racing, &format!("{HOST}{tus}"), b"");
    assert_eq!(after.status, 404);
    // A folder's name is taken too.
    std::fs::create_dir(server.path("inbox/photos")).unwrap();
    assert_eq!(create(&path, "photos", 3, "").status, 409);

    // The creator's own upload elsewhere is no upload of the link's.
    let bearer = crate::support::http::bearer(&tokens[0]);
    let own = create("/other/", "own.bin", 4, &bearer);
    assert_eq!(own.status, 201, "{}", own.text());
    let id = own.header("Location").unwrap().rsplit('/').next().unwrap();
    let through = format!("{path}.ferry-uploads/{id}");
    let head = exchange(http, "HEAD", &through, &format!("{HOST}{tus}"), b"");
    assert_eq!(head.status, 404);
    assert_eq!(patch(&through, 0, b"evil").status, 404);
    assert!(!server.path("other/own.bin").exists());

    // Past the creator's quota: refused, nothing stored.
    let big = create(&path, "big.bin", 2000, "");
    let refused = match big.status {
        201 => patch(&upload_at(&big), 0, &[7u8; 2000]).status,
        status => status,
    };
    assert_eq!(refused, 507);
    assert!(!server.path("inbox/big.bin").exists());

    // A download link takes no tus upload either.
    let download = url_path(&make(http, &tokens[0], r#"{"path":"inbox/"}"#));
    assert_eq!(create(&download, "x.txt", 1, "").status, 403);
}
