//! WebDAV's `PROPPATCH` and dead properties over real sockets (issue 28):
//! set and remove in order, all or nothing, namespaces of every kind,
//! the properties across a restart and on a second node of the root,
//! following a file's and a folder's MOVE and COPY (WebDAV's and
//! FERRY/1's), gone with DELETE, the time set through `getlastmodified`
//! and Windows' `Win32LastModifiedTime`, grants and `--read-only`, RFC
//! 4331's quota properties, and a body over the limit. Answers are parsed
//! with quick-xml, namespaces resolved, never matched as text.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;
use support::TestServer;
use support::http::{Answer, bearer, exchange};
use support::tokens::guarded;

const HOST: &str = "Host: localhost\r\n";
const Z: &str = "urn:ferry:test";

fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.listen(ferry::wire::Protocol::Http, "127.0.0.1:0".parse().unwrap());
    })
}

fn write_files(server: &TestServer, names: &[&str]) {
    for name in names {
        std::fs::create_dir_all(server.path(name).parent().unwrap()).unwrap();
        std::fs::write(server.path(name), b"x").unwrap();
    }
}

/// One property as a multistatus tells it: its text (all of it, nested
/// elements' too) and the names of the elements in its value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Value {
    text: String,
    children: Vec<String>,
}

/// A multistatus: per href, per status code, each property by
/// `{namespace}local`; and the error conditions named in propstats.
#[derive(Debug, Default)]
struct Multistatus {
    props: BTreeMap<String, BTreeMap<u16, BTreeMap<String, Value>>>,
    errors: Vec<String>,
}

impl Multistatus {
    /// The property `local` of namespace `ns` of `href`, if it is in its
    /// `200` propstat.
    fn get(&self, href: &str, ns: &str, local: &str) -> Option<&Value> {
        self.props
            .get(href)?
            .get(&200)?
            .get(&format!("{{{ns}}}{local}"))
    }

    /// The status of property `{ns}local` of `href`.
    fn status(&self, href: &str, ns: &str, local: &str) -> Option<u16> {
        let key = format!("{{{ns}}}{local}");
        let statuses = self.props.get(href)?;
        statuses
            .iter()
            .find_map(|(code, props)| props.contains_key(&key).then_some(*code))
    }
}

/// Reads a `207` (or fails the test), namespaces resolved.
fn parse(answer: &Answer) -> Multistatus {
    assert_eq!(answer.status, 207, "{}", answer.head);
    let mut reader = NsReader::from_reader(&answer.body[..]);
    let mut out = Multistatus::default();
    let (mut path, mut href, mut text) = (Vec::<String>::new(), String::new(), String::new());
    let mut pending: Vec<(String, Value)> = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().unwrap();
        let qname = |local: &[u8]| {
            let ns = match ns {
                ResolveResult::Bound(Namespace(uri)) => String::from_utf8_lossy(uri).into_owned(),
                _ => String::new(),
            };
            format!("{{{ns}}}{}", String::from_utf8_lossy(local))
        };
        let empty = matches!(&event, Event::Empty(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = qname(e.local_name().as_ref());
                match path.last().map(String::as_str) {
                    Some("{DAV:}prop") if path.len() == 4 => {
                        pending.push((name.clone(), Value::default()));
                    }
                    Some("{DAV:}error") => out.errors.push(name.clone()),
                    _ if path.len() >= 5 => {
                        pending.last_mut().unwrap().1.children.push(name.clone())
                    }
                    _ => {}
                }
                if !empty {
                    path.push(name);
                    text.clear();
                }
            }
            Event::Text(t) => {
                let t = t.decode().unwrap();
                text.push_str(&t);
                if path.len() >= 5 {
                    pending.last_mut().unwrap().1.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let c = r.resolve_char_ref().unwrap().map(String::from);
                let t = c.unwrap_or_else(|| match &*r {
                    b"amp" => "&".into(),
                    b"lt" => "<".into(),
                    b"gt" => ">".into(),
                    b"quot" => "\"".into(),
                    _ => "'".into(),
                });
                if path.len() >= 5 {
                    pending.last_mut().unwrap().1.text.push_str(&t);
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap();
                match name.as_str() {
                    "{DAV:}href" => href = std::mem::take(&mut text),
                    "{DAV:}status" => {
                        let code = text.split(' ').nth(1).unwrap().parse().unwrap();
                        let props = out.props.entry(href.clone()).or_default();
                        props.entry(code).or_default().extend(pending.drain(..));
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
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

fn propfind(addr: SocketAddr, target: &str, depth: &str, body: &str) -> Multistatus {
    let fields = format!("{HOST}Depth: {depth}\r\n");
    parse(&exchange(
        addr,
        "PROPFIND",
        target,
        &fields,
        body.as_bytes(),
    ))
}

/// A `PROPFIND` of `Z:` properties `locals` of `target`, depth 0.
fn find(addr: SocketAddr, target: &str, locals: &[&str]) -> Multistatus {
    let props: String = locals.iter().map(|l| format!("<Z:{l}/>")).collect();
    let body = format!(
        r#"<D:propfind xmlns:D="DAV:" xmlns:Z="{Z}"><D:prop>{props}</D:prop></D:propfind>"#
    );
    propfind(addr, target, "0", &body)
}

/// Sets `Z:color` of `target` to `value`; all of it applied.
fn set_color(addr: SocketAddr, target: &str, value: &str) {
    let body = update(&[&format!("<Z:color>{value}</Z:color>")], &[]);
    let answer = parse(&proppatch(addr, target, "", &body));
    let href = answer.props.keys().next().unwrap().clone();
    assert_eq!(answer.status(&href, Z, "color"), Some(200), "{answer:?}");
}

/// The text of `Z:color` of `target`, if it has one.
fn color(addr: SocketAddr, target: &str) -> Option<String> {
    let answer = find(addr, target, &["color"]);
    let href = answer.props.keys().next().unwrap().clone();
    answer.get(&href, Z, "color").map(|v| v.text.clone())
}

#[test]
fn set_and_remove_apply_in_order_and_propfind_answers_them() {
    let server = server();
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
    let all = propfind(addr, "/d/", "1", "");
    assert_eq!(all.get("/d/f", Z, "a").unwrap().text, "three");
    assert!(all.get("/d/f", "DAV:", "getetag").is_some());
    let names = r#"<propfind xmlns="DAV:"><propname/></propfind>"#;
    let named = propfind(addr, "/d/", "1", names);
    assert_eq!(named.get("/d/f", Z, "b"), Some(&Value::default()));
    // A folder has its own.
    set_color(addr, "/d/", "blue");
    assert_eq!(color(addr, "/d/").as_deref(), Some("blue"));
    assert_eq!(color(addr, "/d").as_deref(), Some("blue"));
    // Nothing of it shows to clients as a file.
    let listing = propfind(addr, "/", "1", "");
    assert!(listing.props.keys().all(|href| !href.contains(".ferry")));
}

#[test]
fn one_protected_property_changes_nothing() {
    let server = server();
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
    let server = server();
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
    let found = propfind(addr, "/f", "0", &ask);
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
    let mut server = server();
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
    let server = server();
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
    let server = server();
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
        let listing = propfind(addr, folder, "1", "");
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
    let server = server();
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
    let server = server();
    write_files(&server, &["f", "d/g"]);
    let addr = server.http.unwrap();
    let body = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getlastmodified>Sat, 01 Jan 2000 00:00:00 GMT</D:getlastmodified></D:prop></D:set></D:propertyupdate>"#;
    let answer = parse(&proppatch(addr, "/f", "", body));
    assert_eq!(answer.status("/f", "DAV:", "getlastmodified"), Some(200));
    assert_eq!(support::mtime_secs(&server.path("f")), 946_684_800);
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
    let found = propfind(addr, "/d/", "1", &ask);
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
    let server = server();
    write_files(&server, &["f"]);
    let addr = server.http.unwrap();
    let ask = r#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"#;
    for target in ["/", "/f"] {
        let found = propfind(addr, target, "0", ask);
        for local in ["quota-available-bytes", "quota-used-bytes"] {
            let value = &found.get(target, "DAV:", local).unwrap().text;
            assert!(
                value.parse::<u64>().unwrap() > 0,
                "{target} {local} {value}"
            );
        }
    }
    // Not in allprop (RFC 4331 3); the folder's own time is.
    let all = propfind(addr, "/", "0", "");
    assert_eq!(all.get("/", "DAV:", "quota-used-bytes"), None);
    assert!(all.get("/", "DAV:", "getlastmodified").is_some());
    assert!(all.get("/", "DAV:", "creationdate").is_some());
}

#[test]
fn a_body_over_the_limit_is_refused() {
    let server = server();
    write_files(&server, &["f"]);
    let big = "x".repeat(65 * 1024);
    let body = update(&[&format!("<Z:big>{big}</Z:big>")], &[]);
    assert_eq!(proppatch(server.http.unwrap(), "/f", "", &body).status, 413);
}
