//! What an upload link's holder may take of its creator, over real
//! sockets (docs/shares.md, "Limits"): no more open uploads than the
//! link's cap (`--share-max-uploads`), so a stranger who opens uploads and
//! sends nothing never locks the creator out of their own; and a refusal
//! for want of room (`507`) that names nothing of the creator's token or
//! folders; and a name another writer takes at the very rename of a
//! link's upload, which the upload goes with. The rest of upload links:
//! `shares.rs`.

use std::net::SocketAddr;

#[cfg(feature = "tus")]
use base64::Engine;

use crate::support::http::{Answer, bearer, exchange};
use crate::support::tokens::{guarded_with, set_quota};

const HOST: &str = "Host: 127.0.0.1\r\n";
#[cfg(feature = "tus")]
const TUS: &str = "Tus-Resumable: 1.0.0\r\n";

/// The path of a new upload link to `folder`, made by `token`'s holder.
fn upload_link(http: SocketAddr, token: &str, folder: &str) -> String {
    let headers = format!("{HOST}{}Content-Type: application/json\r\n", bearer(token));
    let json = format!(r#"{{"path":"{folder}","mode":"upload"}}"#);
    let made = exchange(http, "POST", "/.ferry-shares", &headers, json.as_bytes());
    assert_eq!(made.status, 201, "{}", made.text());
    let value: serde_json::Value = serde_json::from_str(&made.text()).unwrap();
    let url = value["url"].as_str().unwrap().to_owned();
    url[url.find("/s/").unwrap()..].to_owned()
}

/// A tus creation at `at` of `name`, `len` bytes, with no byte sent.
#[cfg(feature = "tus")]
fn create(http: SocketAddr, at: &str, name: &str, len: usize, auth: &str) -> Answer {
    let name = base64::engine::general_purpose::STANDARD.encode(name);
    let headers =
        format!("{HOST}{TUS}{auth}Upload-Length: {len}\r\nUpload-Metadata: filename {name}\r\n");
    exchange(http, "POST", at, &headers, b"")
}

/// Where `made` (a creation at link path `link`) put its upload.
#[cfg(feature = "tus")]
fn upload_at(link: &str, made: &Answer) -> String {
    assert_eq!(made.status, 201, "{}", made.text());
    format!("{link}{}", made.header("Location").unwrap())
}

/// A PATCH of `bytes` at the start of `upload`.
#[cfg(feature = "tus")]
fn patch(http: SocketAddr, upload: &str, bytes: &[u8]) -> Answer {
    let headers =
        format!("{HOST}{TUS}Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n");
    exchange(http, "PATCH", upload, &headers, bytes)
}

/// Opened with nothing sent, a link's uploads stop at its cap, with a
/// `429` that names that cap and nothing of the creator's; the creator's
/// own uploads go on; a cancelled or finished one gives its place back;
/// another link to the same folder has a cap of its own and reaches none
/// of this link's uploads. Without the cap, the fourth creation is
/// `201` (the creator's 1,024 are far off).
#[cfg(feature = "tus")]
#[test]
fn a_links_open_uploads_stop_at_its_cap_and_the_creator_goes_on() {
    let holders: &[(&str, &[&str])] = &[("alice", &["read:/", "write:/"])];
    let (server, tokens, _dir) = guarded_with(holders, &[], |c| c.shares.max_uploads = 3);
    let http = server.http.unwrap();
    std::fs::create_dir(server.path("inbox")).unwrap();
    let link = upload_link(http, &tokens[0], "inbox/");
    let open: Vec<String> = (0..3)
        .map(|n| upload_at(&link, &create(http, &link, &format!("f{n}"), 5, "")))
        .collect();
    let fourth = create(http, &link, "f3", 5, "");
    assert_eq!(fourth.status, 429, "{}", fourth.text());
    assert_eq!(fourth.header("Tus-Resumable"), Some("1.0.0"));
    let words = fourth.text();
    assert!(
        words.contains("this link has 3 uploads open already; finish or cancel one"),
        "{words}"
    );
    assert!(
        !words.contains("alice") && !words.contains("token"),
        "{words}"
    );

    // The creator, with their token, is not held by the link's cap.
    let own = create(http, "/inbox/", "own.bin", 4, &bearer(&tokens[0]));
    assert_eq!(own.status, 201, "{}", own.text());
    let put = exchange(
        http,
        "PUT",
        "/inbox/put.txt",
        &format!("{HOST}{}", bearer(&tokens[0])),
        b"mine",
    );
    assert_eq!(put.status, 201, "{}", put.text());

    // Another link to the same folder: a cap of its own, and none of
    // the first link's uploads (nor the creator's) through it.
    let other = upload_link(http, &tokens[0], "inbox/");
    let theirs = upload_at(&other, &create(http, &other, "o.bin", 5, ""));
    let id = open[0].rsplit('/').next().unwrap();
    let across = format!("{other}.ferry-uploads/{id}");
    let head = exchange(http, "HEAD", &across, &format!("{HOST}{TUS}"), b"");
    assert_eq!(head.status, 404);
    assert_eq!(
        exchange(http, "DELETE", &across, &format!("{HOST}{TUS}"), b"").status,
        404
    );
    let theirs_id = theirs.rsplit('/').next().unwrap();
    let back = format!("{link}.ferry-uploads/{theirs_id}");
    assert_eq!(patch(http, &back, b"evil!").status, 404);

    // Cancelled through the link: its place is free, and only it.
    let cancel = exchange(http, "DELETE", &open[0], &format!("{HOST}{TUS}"), b"");
    assert_eq!(cancel.status, 204, "{}", cancel.text());
    upload_at(&link, &create(http, &link, "f4", 5, ""));
    assert_eq!(create(http, &link, "f5", 5, "").status, 429);

    // Finished: stored, and its place is free.
    assert_eq!(patch(http, &open[1], b"12345").status, 204);
    assert_eq!(std::fs::read(server.path("inbox/f1")).unwrap(), b"12345");
    upload_at(&link, &create(http, &link, "f6", 5, ""));
    assert_eq!(create(http, &link, "f7", 5, "").status, 429);
}

/// A `507` through a link says there is no room, not whose: never the
/// creator's token, its quota, nor the path of the folder whose quota it
/// passed; a PUT's and a tus upload's alike, its status kept.
#[test]
fn no_room_through_a_link_names_neither_the_creator_nor_the_folder() {
    let holders: &[(&str, &[&str])] = &[
        ("creator-alice", &["read:/", "write:/"]),
        ("creator-bob", &["read:/", "write:/"]),
    ];
    let (server, tokens, _dir) = guarded_with(holders, &[], |c| {
        set_quota(c, 0, "1000");
        let quota = ferry::access::quota::FolderQuota::parse("deep/box/=5000").unwrap();
        c.quotas = vec![quota];
    });
    let http = server.http.unwrap();
    std::fs::create_dir_all(server.path("deep/box/in")).unwrap();
    std::fs::create_dir(server.path("top")).unwrap();
    let silent = |answer: &Answer| {
        assert_eq!(answer.status, 507, "{}", answer.text());
        let words = answer.text();
        assert!(
            words.contains("there is no room for this upload here"),
            "{words}"
        );
        for secret in ["creator-", "token", "deep/", "box/", "1000", "5000"] {
            assert!(!words.contains(secret), "{secret} in {words}");
        }
    };
    // The token's quota.
    let link = upload_link(http, &tokens[0], "top/");
    silent(&exchange(
        http,
        "PUT",
        &format!("{link}big.bin"),
        HOST,
        &[7u8; 2000],
    ));
    // The folder's, made by a token without a quota of its own.
    let link = upload_link(http, &tokens[1], "deep/box/in/");
    silent(&exchange(
        http,
        "PUT",
        &format!("{link}big.bin"),
        HOST,
        &[7u8; 6000],
    ));
    #[cfg(feature = "tus")]
    {
        let made = create(http, &link, "big.tus", 6000, "");
        match made.status {
            201 => silent(&patch(http, &upload_at(&link, &made), &[7u8; 6000])),
            _ => silent(&made),
        }
    }
    assert!(!server.path("top/big.bin").exists());
    assert!(!server.path("deep/box/in/big.bin").exists());
}

/// A link's tus upload whose name another writer stores between its last
/// PATCH's look and its rename (held at the rename by the test's gate):
/// refused as a name taken before it (`409`), the other file kept, and
/// the upload gone with its staged bytes, so that a client asking how far
/// it got (tus-js-client's `HEAD` after an error) never finds it whole
/// and takes it for stored. With durable acknowledgements too (a lone
/// durable commit's rename, after its flush).
#[cfg(feature = "tus")]
#[test]
fn a_links_upload_whose_name_is_taken_at_its_rename_goes_with_it() {
    use ferry::storage::gate::{Gate, Point};
    use std::sync::Arc;
    for durable in [false, true] {
        let gate = Arc::new(Gate::new(Point::Commit));
        let holders: &[(&str, &[&str])] = &[("alice", &["read:/", "write:/"])];
        let (server, tokens, _dir) = guarded_with(holders, &[], |c| {
            c.gate = Some(Arc::clone(&gate));
            c.fsync = durable;
        });
        let http = server.http.unwrap();
        std::fs::create_dir(server.path("inbox")).unwrap();
        let link = upload_link(http, &tokens[0], "inbox/");
        let upload = upload_at(&link, &create(http, &link, "late.bin", 5, ""));
        let last = std::thread::spawn({
            let upload = upload.clone();
            move || patch(http, &upload, b"12345")
        });
        // Looked at (no file), then held at its rename.
        gate.wait_for_arrivals(1);
        std::fs::write(server.path("inbox/late.bin"), b"first").unwrap();
        gate.open();
        let refused = last.join().unwrap();
        assert_eq!(refused.status, 409, "durable {durable}: {}", refused.text());
        let kept = std::fs::read(server.path("inbox/late.bin")).unwrap();
        assert_eq!(kept, b"first", "durable {durable}");
        let asked = exchange(http, "HEAD", &upload, &format!("{HOST}{TUS}"), b"");
        assert_eq!(
            asked.status,
            404,
            "durable {durable}: {:?}",
            asked.header("Upload-Offset")
        );
    }
}
