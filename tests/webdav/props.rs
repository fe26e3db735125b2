//! WebDAV's `PROPPATCH` and dead properties over real sockets (issue 28):
//! set and remove in order, all or nothing, namespaces of every kind,
//! the properties across a restart and on a second node of the root,
//! following a file's and a folder's MOVE and COPY (WebDAV's and
//! FERRY/1's), gone with DELETE, the time set through `getlastmodified`
//! and Windows' `Win32LastModifiedTime` (the file's checksum records
//! kept across it), grants and `--read-only`, RFC
//! 4331's quota properties, and a body over the limit. Answers are parsed
//! with quick-xml, namespaces resolved, never matched as text.
#![cfg(feature = "webdav")] // built with what it tests (Cargo.toml [features])

use crate::support;

use std::net::SocketAddr;

use support::TestServer;
use support::dav::{Multistatus, Value, parse, propfind};
use support::http::{Answer, bearer, exchange};
use support::tokens::guarded;

const HOST: &str = "Host: localhost\r\n";
const Z: &str = "urn:ferry:test";

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), b"x").unwrap();
    }
}

fn proppatch(addr: SocketAddr, target: &str, fields: &str, body: &str) -> Answer {
    exchange(
        addr,
        "PROPPATCH",
        target,
        &format!("{HOST}{fields}"),
        body.as_bytes(),
    )
}

/// A `propertyupdate` that sets `set` (each an element, XML) and then
/// removes `remove` (each an empty element), with `Z` and `D` declared.
fn update(set: &[&str], remove: &[&str]) -> String {
    let mut body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="{Z}">"#
    );
    if !set.is_empty() {
        body.push_str(&format!("<D:set><D:prop>{}</D:prop></D:set>", set.concat()));
    }
    if !remove.is_empty() {
        body.push_str(&format!(
            "<D:remove><D:prop>{}</D:prop></D:remove>",
            remove.concat()
        ));
    }
    body.push_str("</D:propertyupdate>");
    body
}

/// A `PROPFIND` of `Z:` properties `locals` of `target`, depth 0.
fn find(addr: SocketAddr, target: &str, locals: &[&str]) -> Multistatus {
    let props: String = locals.iter().map(|l| format!("<Z:{l}/>")).collect();
    let body = format!(
        r#"<D:propfind xmlns:D="DAV:" xmlns:Z="{Z}"><D:prop>{props}</D:prop></D:propfind>"#
    );
    parse(&propfind(addr, target, Some("0"), "", &body))
}

/// Sets `Z:color` of `target` to `value`; all of it applied.
fn set_color(addr: SocketAddr, target: &str, value: &str) {
    let body = update(&[&format!("<Z:color>{value}</Z:color>")], &[]);
    let answer = parse(&proppatch(addr, target, "", &body));
    let href = answer.hrefs()[0].to_owned();
    assert_eq!(answer.status(&href, Z, "color"), Some(200), "{answer:?}");
}

/// The text of `Z:color` of `target`, if it has one.
fn color(addr: SocketAddr, target: &str) -> Option<String> {
    let answer = find(addr, target, &["color"]);
    let href = answer.hrefs()[0].to_owned();
    answer.get(&href, Z, "color").map(|v| v.text.clone())
}

#[test]
fn set_and_remove_apply_in_order_and_propfind_answers_them() {
    let server = TestServer::start_http();
    write_files(&server, &["d/f"]);
    let addr = server.http.unwrap();
    let body = update(
        &[
            "<Z:a>one</Z:a>",
            "<Z:b><Z:inner>two</Z:inner></Z:b>",
            "<Z:a>three</Z:a>",
            "<Z:gone>x</Z:gone>",
        ],
        &["<Z:gone/>", "<Z:never/>"],
    );
    let answer = parse(&proppatch(addr, "/d/f", "", &body));
    for local in ["a", "b", "gone", "never"] {
        assert_eq!(answer.status("/d/f", Z, local), Some(200), "{answer:?}");
    }
    let found = find(addr, "/d/f", &["a", "b", "gone"]);
    assert_eq!(found.get("/d/f", Z, "a").unwrap().text, "three");
    let b = found.get("/d/f", Z, "b").unwrap();
    assert_eq!(b.children, [format!("{{{Z}}}inner")]);
    assert_eq!(b.text, "two");
    assert_eq!(found.status("/d/f", Z, "gone"), Some(404));
    // allprop and propname of the folder's members name them too.
    let all = parse(&propfind(addr, "/d/", Some("1"), "", ""));
    assert_eq!(all.get("/d/f", Z, "a").unwrap().text, "three");
    assert!(all.get("/d/f", "DAV:", "getetag").is_some());
    let names = r#"<propfind xmlns="DAV:"><propname/></propfind>"#;
    let named = parse(&propfind(addr, "/d/", Some("1"), "", names));
    assert_eq!(named.get("/d/f", Z, "b"), Some(&Value::default()));
    // A folder has its own.
    set_color(addr, "/d/", "blue");
    assert_eq!(color(addr, "/d/").as_deref(), Some("blue"));
    assert_eq!(color(addr, "/d").as_deref(), Some("blue"));
    // Nothing of it shows to clients as a file.
    let listing = parse(&propfind(addr, "/", Some("1"), "", ""));
    assert!(listing.hrefs().iter().all(|href| !href.contains(".ferry")));
}

#[test]
fn one_protected_property_changes_nothing() {
    let server = TestServer::start_http();
    write_files(&server, &["f"]);
    let addr = server.http.unwrap();
    set_color(addr, "/f", "red");
    let body = update(
        &["<Z:color>green</Z:color>", r#"<D:getetag>"x"</D:getetag>"#],
        &["<Z:other/>"],
    );
    let answer = parse(&proppatch(addr, "/f", "", &body));
    assert_eq!(answer.status("/f", Z, "color"), Some(424), "{answer:?}");
    assert_eq!(answer.status("/f", Z, "other"), Some(424));
    assert_eq!(answer.status("/f", "DAV:", "getetag"), Some(403));
    assert_eq!(answer.errors, ["{DAV:}cannot-modify-protected-property"]);
    assert_eq!(color(addr, "/f").as_deref(), Some("red"));
    // A missing name is 404, a body that is not a propertyupdate 400.
    assert_eq!(proppatch(addr, "/nothing", "", &body).status, 404);
    assert_eq!(proppatch(addr, "/f", "", "<x/>").status, 400);
}

#[test]
fn namespaces_of_every_kind_keep_their_meaning() {
    let server = TestServer::start_http();
    write_files(&server, &["f"]);
    let addr = server.http.unwrap();
    // A default namespace, a property in none, a prefix that is ours
    // elsewhere (ns0), a value with namespaces of its own, high Unicode.
    let body = format!(
        r#"<propertyupdate xmlns="DAV:"><set><prop>
            <ns0:a xmlns:ns0="{Z}"><ns0:x/><y xmlns="urn:y">𐀀 &lt;&amp;</y></ns0:a>
            <plain xmlns="">bare</plain>
            <b xmlns="{Z}"><c/></b>
        </prop></set></propertyupdate>"#
    );
    let answer = parse(&proppatch(addr, "/f", "", &body));
    assert_eq!(answer.status("/f", Z, "a"), Some(200), "{answer:?}");
    assert_eq!(answer.status("/f", "", "plain"), Some(200));
    let ask = format!(
        r#"<D:propfind xmlns:D="DAV:"><D:prop><q:a xmlns:q="{Z}"/><plain xmlns=""/><b xmlns="{Z}"/></D:prop></D:propfind>"#
    );
    let found = parse(&propfind(addr, "/f", Some("0"), "", &ask));
    let a = found.get("/f", Z, "a").unwrap();
    assert_eq!(a.children, [format!("{{{Z}}}x"), "{urn:y}y".to_owned()]);
    assert_eq!(a.text, "𐀀 <&");
    assert_eq!(found.get("/f", "", "plain").unwrap().text, "bare");
    assert_eq!(
        found.get("/f", Z, "b").unwrap().children,
        [format!("{{{Z}}}c")]
    );
}

#[test]
fn dead_properties_survive_a_restart_and_show_on_another_node() {
    let mut server = TestServer::start_http();
    write_files(&server, &["f"]);
    set_color(server.http.unwrap(), "/f", "amber");
    // Another node on the same root sees it at once.
    let root = server.root.path().to_path_buf();
    let other = TestServer::start_with(|c| {
        c.root = root.clone();
        c.node_id = "other-node".into();
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    assert_eq!(color(other.http.unwrap(), "/f").as_deref(), Some("amber"));
    drop(other);
    server.handle().shutdown();
    server.wait_for_exit().unwrap();
    let root = std::mem::replace(&mut server.root, tempfile::tempdir().unwrap());
    let again = TestServer::start_in(root, |c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    assert_eq!(color(again.http.unwrap(), "/f").as_deref(), Some("amber"));
}

#[test]
fn they_follow_a_files_move_and_copy() {
    let server = TestServer::start_http();
    write_files(&server, &["a", "sub/keep"]);
    let addr = server.http.unwrap();
    set_color(addr, "/a", "teal");
    let to = |dest: &str| format!("Destination: http://localhost{dest}\r\n");
    let copy = exchange(addr, "COPY", "/a", &format!("{HOST}{}", to("/b")), b"");
    assert_eq!(copy.status, 201, "{}", copy.head);
    let moved = exchange(addr, "MOVE", "/a", &format!("{HOST}{}", to("/sub/c")), b"");
    assert_eq!(moved.status, 201, "{}", moved.head);
    assert_eq!(color(addr, "/b").as_deref(), Some("teal"));
    assert_eq!(color(addr, "/sub/c").as_deref(), Some("teal"));
    // A new file of the old name starts without them.
    let put = exchange(addr, "PUT", "/a", HOST, b"new");
    assert_eq!(put.status, 201, "{}", put.head);
    assert_eq!(color(addr, "/a"), None);
    // A PUT over a file is a new version: it starts afresh (docs/webdav.md (d)).
    let put = exchange(addr, "PUT", "/b", HOST, b"newer");
    assert_eq!(put.status, 204, "{}", put.head);
    assert_eq!(color(addr, "/b"), None);
}

#[test]
fn they_follow_a_folders_move_and_copy() {
    let server = TestServer::start_http();
    write_files(&server, &["d/f", "d/deep/g"]);
    let addr = server.http.unwrap();
    set_color(addr, "/d/", "own");
    set_color(addr, "/d/f", "f");
    set_color(addr, "/d/deep/g", "g");
    let to = |dest: &str| format!("{HOST}Destination: http://localhost{dest}\r\n");
    assert_eq!(exchange(addr, "MOVE", "/d/", &to("/e/"), b"").status, 201);
    assert_eq!(exchange(addr, "COPY", "/e/", &to("/k/"), b"").status, 201);
    for folder in ["/e/", "/k/"] {
        assert_eq!(color(addr, folder).as_deref(), Some("own"), "{folder}");
        let listing = parse(&propfind(addr, folder, Some("1"), "", ""));
        assert_eq!(
            listing.get(&format!("{folder}f"), Z, "color").unwrap().text,
            "f"
        );
        let g = format!("{folder}deep/g");
        assert_eq!(color(addr, &g).as_deref(), Some("g"), "{g}");
    }
    // A new folder of the old name has none.
    assert_eq!(exchange(addr, "MKCOL", "/d/", HOST, b"").status, 201);
    write_files(&server, &["d/f"]);
    assert_eq!(color(addr, "/d/"), None);
    assert_eq!(color(addr, "/d/f"), None);
}

#[test]
fn they_go_with_delete_whatever_protocol_deletes() {
    let server = TestServer::start_http();
    write_files(&server, &["f", "d/g", "d/h", "ferry/one", "ferry/two"]);
    let addr = server.http.unwrap();
    for target in ["/f", "/d/", "/d/g", "/ferry/one", "/ferry/two"] {
        set_color(addr, target, "x");
    }
    assert_eq!(exchange(addr, "DELETE", "/f", HOST, b"").status, 204);
    assert_eq!(exchange(addr, "DELETE", "/d/", HOST, b"").status, 204);
    let mut client = server.client();
    client.delete("ferry/one").unwrap();
    client.rename("ferry/two", "ferry/three").unwrap();
    assert_eq!(color(addr, "/ferry/three").as_deref(), Some("x"));
    // Nothing is left of the records of what went.
    let props = server.path(".ferry-dav/props");
    let mut left = Vec::new();
    for entry in walkdir(&props) {
        left.push(entry.strip_prefix(&props).unwrap().display().to_string());
    }
    assert_eq!(left, ["ferry/.ferry-files/three"], "{left:?}");
    write_files(&server, &["f", "d/g"]);
    assert_eq!(color(addr, "/f"), None);
    assert_eq!(color(addr, "/d/g"), None);
}

/// The files below `dir`, depth first.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => files.extend(walkdir(&path)),
            false => files.push(path),
        }
    }
    files.sort();
    files
}

#[test]
fn the_time_is_set_through_getlastmodified_and_win32_times() {
    let server = TestServer::start_http();
    write_files(&server, &["f", "d/g"]);
    let addr = server.http.unwrap();
    let body = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>Sat, 01 Jan 2000 00:00:00 GMT</D:getlastmodified></D:prop></D:set></D:propertyupdate>"#;
    let answer = parse(&proppatch(addr, "/f", "", body));
    assert_eq!(answer.status("/f", "DAV:", "getlastmodified"), Some(200));
    assert_eq!(support::mtime_secs(&server.path("f")), 946_684_800);
    // The time alone takes no look at the records, nor their lock (as
    // FTP's MFMT and SFTP's SETSTAT after every upload).
    assert!(!server.path(".ferry-dav/props.lock").exists());
    // Explorer's, as it sends them after an upload.
    let ms = "urn:schemas-microsoft-com:";
    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="{ms}"><D:set><D:prop><Z:Win32CreationTime>Fri, 31 Dec 1999 00:00:00 GMT</Z:Win32CreationTime><Z:Win32LastAccessTime>Sat, 01 Jan 2000 00:00:00 GMT</Z:Win32LastAccessTime><Z:Win32LastModifiedTime>Sun, 02 Jan 2000 00:00:00 GMT</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>"#
    );
    for target in ["/d/g", "/d/"] {
        let answer = parse(&proppatch(addr, target, "", &body));
        for local in [
            "Win32CreationTime",
            "Win32LastAccessTime",
            "Win32LastModifiedTime",
            "Win32FileAttributes",
        ] {
            assert_eq!(answer.status(target, ms, local), Some(200), "{answer:?}");
        }
    }
    assert_eq!(support::mtime_secs(&server.path("d/g")), 946_771_200);
    assert_eq!(support::mtime_secs(&server.path("d")), 946_771_200);
    let ask = format!(
        r#"<D:propfind xmlns:D="DAV:"><D:prop><Z:Win32FileAttributes xmlns:Z="{ms}"/><D:getlastmodified/></D:prop></D:propfind>"#
    );
    let found = parse(&propfind(addr, "/d/", Some("1"), "", &ask));
    assert_eq!(
        found.get("/d/g", ms, "Win32FileAttributes").unwrap().text,
        "00000020"
    );
    for href in ["/d/", "/d/g"] {
        let time = &found.get(href, "DAV:", "getlastmodified").unwrap().text;
        assert_eq!(time, "Sun, 02 Jan 2000 00:00:00 GMT", "{href}");
    }
}

#[test]
fn a_time_set_keeps_the_files_checksum_records() {
    let server = TestServer::start_http();
    write_files(&server, &["f"]);
    let path = server.path("f");
    let stat = rustix::fs::stat(&path).unwrap();
    let version = format!("1 {}.{}", stat.st_mtime, stat.st_mtime_nsec);
    // The records a download (the CRC-32C) and a zip (the CRC-32) leave.
    let records = [
        ("user.ferry.crc32c", "aaaa0001"),
        ("user.ferry.crc32", "bbbb0002"),
    ];
    for (name, crc) in records {
        let text = format!("{version} {crc}");
        let set = rustix::fs::setxattr(
            &path,
            name,
            text.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        );
        if set.is_err() {
            eprintln!("skipped: the temporary root takes no user extended attributes");
            return;
        }
    }
    let body = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>Sat, 01 Jan 2000 00:00:00 GMT</D:getlastmodified></D:prop></D:set></D:propertyupdate>"#;
    let answer = parse(&proppatch(server.http.unwrap(), "/f", "", body));
    assert_eq!(answer.status("/f", "DAV:", "getlastmodified"), Some(200));
    // Same bytes, a new time: each record names the new version.
    for (name, crc) in records {
        let mut buf = [0u8; 96];
        let len = rustix::fs::getxattr(&path, name, &mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..len]).unwrap();
        assert!(text.starts_with("1 946684800."), "{name}: {text}");
        assert!(text.ends_with(crc), "{name}: {text}");
    }
}

#[test]
fn proppatch_needs_write_and_a_writable_server() {
    let (server, tokens, _dir) = guarded(&[("r", &["read:/"]), ("w", &["write:/"])], &[]);
    write_files(&server, &["f"]);
    let addr = server.http.unwrap();
    let body = update(&["<Z:color>x</Z:color>"], &[]);
    assert_eq!(
        proppatch(addr, "/f", &bearer(&tokens[0]), &body).status,
        403
    );
    assert_eq!(proppatch(addr, "/f", "", &body).status, 401);
    let answer = parse(&proppatch(addr, "/f", &bearer(&tokens[1]), &body));
    assert_eq!(answer.status("/f", Z, "color"), Some(200));
    let read_only = TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
        c.read_only = true;
    });
    write_files(&read_only, &["f"]);
    assert_eq!(
        proppatch(read_only.http.unwrap(), "/f", "", &body).status,
        403
    );
}

#[test]
fn quota_properties_are_answered_when_named() {
    let server = TestServer::start_http();
    write_files(&server, &["f"]);
    let addr = server.http.unwrap();
    let ask = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"#;
    for target in ["/", "/f"] {
        let found = parse(&propfind(addr, target, Some("0"), "", ask));
        for local in ["quota-available-bytes", "quota-used-bytes"] {
            let value = &found.get(target, "DAV:", local).unwrap().text;
            assert!(
                value.parse::<u64>().unwrap() > 0,
                "{target} {local} {value}"
            );
        }
    }
    // Not in allprop (RFC 4331 3); the folder's own time is.
    let all = parse(&propfind(addr, "/", Some("0"), "", ""));
    assert_eq!(all.get("/", "DAV:", "quota-used-bytes"), None);
    assert!(all.get("/", "DAV:", "getlastmodified").is_some());
    assert!(all.get("/", "DAV:", "creationdate").is_some());
}

#[test]
fn a_body_over_the_limit_is_refused() {
    let server = TestServer::start_http();
    write_files(&server, &["f"]);
    let big = "x".repeat(65 * 1024);
    let body = update(&[&format!("<Z:big>{big}</Z:big>")], &[]);
    assert_eq!(proppatch(server.http.unwrap(), "/f", "", &body).status, 413);
}

/// A value the XML reader lets through but XML does not allow (a
/// repeated attribute, `<` in an attribute, `--` in a comment, `]]>` in
/// text, a control character) is refused (400), and the folder's
/// allprop listing stays well-formed for every reader. Before, it was
/// stored and written back into every multistatus that told it.
#[test]
fn a_value_that_would_break_the_folders_listing_is_refused() {
    let server = TestServer::start_http();
    write_files(&server, &["d/f"]);
    let addr = server.http.unwrap();
    for value in [
        r#"<Z:b c="1" c="2"/>"#,
        r#"<Z:b c="<"/>"#,
        "<!-- a -- b -->",
        "a ]]> b",
        "a \u{1} b",
    ] {
        let body = update(&[&format!("<Z:bad>{value}</Z:bad>")], &[]);
        let answer = proppatch(addr, "/d/f", "", &body);
        assert_eq!(answer.status, 400, "{value}: {}", answer.head);
    }
    set_color(addr, "/d/f", "<Z:shade tone=\"a &lt; b\"/>");
    let all = parse(&propfind(addr, "/d/", Some("1"), "", ""));
    assert!(all.get("/d/f", Z, "color").is_some(), "{all:?}");
    assert!(all.get("/d/f", Z, "bad").is_none(), "{all:?}");
}

/// PROPPATCHes of one file side by side, through two nodes on one root,
/// each setting a property of its own: every one of them is kept. Each
/// changes the record as it stands under the records' lock. Before, each
/// read the record, changed its copy and wrote it back, and a patch
/// whose read came before another's write lost that one's property
/// (while both were answered 200).
#[test]
fn patches_side_by_side_through_two_nodes_keep_every_property() {
    const CLIENTS: usize = 16;
    let one = TestServer::start_http();
    write_files(&one, &["f"]);
    let root = one.root.path().to_path_buf();
    let two = TestServer::start_with(|c| {
        c.root = root.clone();
        c.node_id = "two".into();
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    });
    let nodes = [one.http.unwrap(), two.http.unwrap()];
    let start = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS));
    let patches: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (addr, start) = (nodes[n % 2], std::sync::Arc::clone(&start));
            std::thread::spawn(move || {
                let body = update(&[&format!("<Z:p{n}>{n}</Z:p{n}>")], &[]);
                start.wait();
                parse(&proppatch(addr, "/f", "", &body))
            })
        })
        .collect();
    for (n, patch) in patches.into_iter().enumerate() {
        let answer = patch.join().unwrap();
        let href = answer.hrefs()[0].to_owned();
        let local = format!("p{n}");
        assert_eq!(answer.status(&href, Z, &local), Some(200), "{answer:?}");
    }
    let locals: Vec<String> = (0..CLIENTS).map(|n| format!("p{n}")).collect();
    let locals: Vec<&str> = locals.iter().map(String::as_str).collect();
    let found = find(nodes[0], "/f", &locals);
    let href = found.hrefs()[0].to_owned();
    for (n, local) in locals.iter().enumerate() {
        let value = found.get(&href, Z, local).map(|v| v.text.clone());
        assert_eq!(value, Some(n.to_string()), "{local} was lost");
    }
}
