//! WebDAV's `PROPPATCH` (RFC 4918 9.2): its body read into the changes
//! the serve layer applies (`serve/ops/props.rs`: all or none), and its
//! `207` written back. Sans-IO.
//!
//! A dead property's value is kept as the element itself, XML, made to
//! stand alone: its own namespace under a prefix of ours that clashes
//! with none in scope, and every namespace the request had in scope
//! declared on it, so the value's own elements (`<Z:b>` with `Z` declared
//! on `propertyupdate`) mean in a multistatus what they meant in the
//! request. Its content is kept byte for byte as sent (text escaped as
//! sent, comments, high Unicode).
//!
//! ```text
//! <D:propertyupdate xmlns:D="DAV:">
//!   <D:set><D:prop><Z:a xmlns:Z="urn:z">value, or XML</Z:a></D:prop></D:set>
//!   <D:remove><D:prop><Z:b xmlns:Z="urn:z"/></D:prop></D:remove>
//! </D:propertyupdate>
//! ```

use crate::serve::ops;
use quick_xml::events::Event;
use quick_xml::name::PrefixDeclaration;
use quick_xml::reader::NsReader;

use super::super::fields::bad_name;
use super::super::message::Refused;
use super::super::response::{self, parse_http_date};
use super::super::xml::{self, DAV, MULTISTATUS, Property, namespace};
use crate::name::Name;
use crate::serve::{Change, ErrorKind, Operation, PatchStatus, Patched, PropTarget, PropUpdate};

/// Windows' own namespace (Explorer's `Win32*` properties).
pub const MICROSOFT: &str = "urn:schemas-microsoft-com:";
/// The most properties one `PROPPATCH` may change.
const MAX_UPDATES: usize = 256;
/// The entities XML itself defines: no other may appear (no DTD declares
/// one), or the value would not be well-formed where it is written back.
const PREDEFINED: [&[u8]; 5] = [b"lt", b"gt", b"amp", b"apos", b"quot"];

/// A namespace in scope: its prefix (`None`: the default) and URI.
type Binding = (Option<String>, String);

/// Where the reader is in a `propertyupdate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// In `set` (`true`) or `remove` (`false`).
    Instruction(bool),
    /// In its `prop`.
    Prop(bool),
    /// In a property: what it was opened with.
    Property(bool, usize),
    /// Somewhere ferry does not read.
    Elsewhere,
}

/// Reads a `PROPPATCH` body into its changes, in document order.
/// `live` says what a property of `DAV:` is (`None`: not one ferry
/// answers, so it is dead like any other).
///
/// # Errors
/// Why it is refused (400): not well-formed, a DTD or an undeclared
/// entity, an unknown prefix, no `DAV:propertyupdate` at its root,
/// nothing to change, too many changes.
pub fn read(body: &[u8], live: impl Fn(&str) -> bool) -> Result<Vec<PropUpdate>, String> {
    let mut reader = NsReader::from_reader(body);
    // `--` in a comment would be kept in a value, as the rest of it.
    reader.config_mut().check_comments = true;
    let (mut stack, mut updates) = (Vec::<At>::new(), Vec::new());
    let mut property: Option<(Property, Vec<Binding>)> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|err| format!("malformed XML: {err}"))?;
        well_formed(&event)?;
        let (start, empty) = match &event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                if let Some(At::Property(set, from)) = stack.pop()
                    && let Some((name, decls)) = property.take()
                {
                    let inner = std::str::from_utf8(&body[from..before])
                        .map_err(|_| "a value is not UTF-8".to_owned())?;
                    updates.push(update(name, set, Some((&decls, inner)), &live));
                }
                continue;
            }
            Event::GeneralRef(name) if name.is_char_ref() => match name.resolve_char_ref() {
                Ok(Some(c)) if is_xml_char(c) => continue,
                _ => return Err("a character reference XML does not allow".into()),
            },
            Event::GeneralRef(name) if PREDEFINED.contains(&&name[..]) => continue,
            Event::GeneralRef(_) => return Err("an entity no DTD declares".into()),
            Event::DocType(_) => return Err("a DTD is not accepted".into()),
            Event::Decl(_) if !stack.is_empty() => {
                return Err("malformed XML: a declaration inside an element".into());
            }
            Event::Eof if !stack.is_empty() => return Err("the body ends inside an element".into()),
            Event::Eof => break,
            _ => continue,
        };
        let name = Property {
            ns: namespace(ns)?,
            local: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        };
        let at = match (stack.last(), stack.is_empty()) {
            (_, true) if !name.is_dav("propertyupdate") => {
                return Err("the body is not a DAV:propertyupdate".into());
            }
            (_, true) => At::Elsewhere,
            (Some(At::Elsewhere), _) if stack.len() == 1 && name.is_dav("set") => {
                At::Instruction(true)
            }
            (Some(At::Elsewhere), _) if stack.len() == 1 && name.is_dav("remove") => {
                At::Instruction(false)
            }
            (Some(At::Instruction(set)), _) if name.is_dav("prop") => At::Prop(*set),
            (Some(At::Prop(set)), _) => {
                if updates.len() == MAX_UPDATES {
                    return Err(format!("at most {MAX_UPDATES} properties"));
                }
                if empty {
                    updates.push(update(name, *set, None, &live));
                    continue;
                }
                property = Some((name, declarations(&reader)));
                At::Property(*set, reader.buffer_position() as usize)
            }
            (Some(At::Property(..)), _) => At::Elsewhere,
            _ => At::Elsewhere,
        };
        if !empty {
            stack.push(at);
        }
    }
    match updates.is_empty() {
        true => Err("a propertyupdate sets or removes some property".into()),
        false => Ok(updates),
    }
}

/// What the reader lets through but XML does not allow, refused: a value
/// is kept as sent and written back into every multistatus that tells
/// it, where it would make the whole answer ill-formed for every client
/// reading the folder (a repeated attribute, `<` in an attribute's value,
/// `]]>` in text, a character XML has no place for).
///
/// # Errors
/// What is wrong, for the 400.
fn well_formed(event: &Event<'_>) -> Result<(), String> {
    let text = match event {
        Event::Start(start) | Event::Empty(start) => {
            for attribute in start.attributes() {
                let attribute = attribute.map_err(|err| format!("malformed XML: {err}"))?;
                if attribute.value.contains(&b'<') {
                    return Err("malformed XML: `<` in an attribute's value".into());
                }
                // An entity no DTD declares, or a character reference
                // XML has no place for, as in text.
                let value = attribute
                    .unescape_value()
                    .map_err(|err| format!("malformed XML: {err}"))?;
                if !value.chars().all(is_xml_char) {
                    return Err("a character XML does not allow".into());
                }
            }
            &start[..]
        }
        // A processing instruction needs a target, and not `xml` (the
        // declaration, which only begins a document).
        Event::PI(pi) if pi.target().is_empty() || pi.target().eq_ignore_ascii_case(b"xml") => {
            return Err("malformed XML: a processing instruction without a target".into());
        }
        Event::PI(pi) => &pi[..],
        Event::Text(text) if text.windows(3).any(|w| w == b"]]>") => {
            return Err("malformed XML: `]]>` in text".into());
        }
        Event::Text(text) => &text[..],
        Event::CData(data) => &data[..],
        Event::Comment(comment) => &comment[..],
        _ => return Ok(()),
    };
    match String::from_utf8_lossy(text).chars().all(is_xml_char) {
        true => Ok(()),
        false => Err("a character XML does not allow".into()),
    }
}

/// Whether XML 1.0 allows `c` in a document (its `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `PROPPATCH` of `path`: a folder if it ends in `/`, else whatever has
/// the name (the pool finds out).
pub(super) fn operation(path: &str, body: &[u8]) -> Result<Operation, Refused> {
    let is_live = |local: &str| {
        super::propfind::LIVE.contains(&local) || super::propfind::QUOTA.contains(&local)
    };
    let updates = read(body, is_live).map_err(|message| (400, message))?;
    let inner = path.strip_prefix('/').unwrap_or(path);
    let (inner, folder) = match inner.strip_suffix('/') {
        Some(inner) => (inner, true),
        None => (inner, inner.is_empty()),
    };
    let name = match inner {
        "" => None,
        inner => Some(Name::decode(inner.as_bytes()).map_err(bad_name)?),
    };
    let target = PropTarget { name, folder };
    Ok(Operation::PropPatch(ops::PropPatch {
        target,
        updates,
        preconditions: None,
    }))
}

/// The namespaces in scope, as attributes to declare them with.
fn declarations<R>(reader: &NsReader<R>) -> Vec<Binding> {
    reader
        .prefixes()
        .map(|(prefix, ns)| {
            let prefix = match prefix {
                PrefixDeclaration::Default => None,
                PrefixDeclaration::Named(prefix) => Some(String::from_utf8_lossy(prefix).into()),
            };
            (prefix, String::from_utf8_lossy(ns.0).into_owned())
        })
        .collect()
}

/// The change asked of property `name`: set (with the namespaces in
/// scope and its content) or removed.
fn update(
    name: Property,
    set: bool,
    value: Option<(&[Binding], &str)>,
    live: impl Fn(&str) -> bool,
) -> PropUpdate {
    let (decls, inner) = value.unwrap_or((&[], ""));
    let change = match (name.ns.as_str(), name.local.as_str()) {
        // The time is the one live property a client may set (Explorer,
        // `touch` through davfs2): it is the file's, not a record's.
        (DAV, "getlastmodified") | (MICROSOFT, "Win32LastModifiedTime") if set => {
            match parse_http_date(inner.trim()) {
                Some(time) => Change::Mtime(time),
                None => Change::Protected,
            }
        }
        (DAV, "getlastmodified") => Change::Protected,
        (DAV, local) if live(local) => Change::Protected,
        _ if !set => Change::Remove,
        _ => Change::Set(standalone(&name, decls, inner)),
    };
    PropUpdate {
        ns: name.ns,
        local: name.local,
        change,
    }
}

/// Property `name` with content `inner` as an element that means the same
/// wherever it is written: see the module's header.
fn standalone(name: &Property, decls: &[Binding], inner: &str) -> String {
    let attr = |value: &str| value.replace('"', "&quot;");
    let mut ours = String::from("ns0");
    for n in 1.. {
        if !decls
            .iter()
            .any(|(p, _)| p.as_deref() == Some(ours.as_str()))
        {
            break;
        }
        ours = format!("ns{n}");
    }
    let local = quick_xml::escape::escape(&name.local);
    let (tag, own) = match name.ns.as_str() {
        "" => (local.to_string(), " xmlns=\"\"".to_owned()),
        ns => (
            format!("{ours}:{local}"),
            format!(" xmlns:{ours}=\"{}\"", attr(ns)),
        ),
    };
    let mut open = format!("<{tag}{own}");
    for (prefix, ns) in decls {
        match prefix {
            Some(prefix) => open.push_str(&format!(" xmlns:{prefix}=\"{}\"", attr(ns))),
            // A property of no namespace keeps the empty default its
            // unprefixed content had.
            None if name.ns.is_empty() => {}
            None => open.push_str(&format!(" xmlns=\"{}\"", attr(ns))),
        }
    }
    match inner.is_empty() {
        true => format!("{open}/>"),
        false => format!("{open}>{inner}</{tag}>"),
    }
}

/// The `207` of a `PROPPATCH`: one response, its properties grouped by
/// status (a protected one with `DAV:cannot-modify-protected-property`).
pub fn multistatus(patched: &Patched) -> String {
    let href = match (patched.path.as_str(), patched.folder) {
        ("", _) => "/".to_owned(),
        (path, true) => format!("/{}/", super::super::fields::url_path(path)),
        (path, false) => format!("/{}", super::super::fields::url_path(path)),
    };
    let mut out = MULTISTATUS.to_owned();
    out.push_str(&format!(
        "<D:response><D:href>{}</D:href>",
        xml::escape(&href)
    ));
    for wanted in [200, 403, 424, 0] {
        let mut props = String::new();
        let mut code = wanted;
        for (ns, local, status) in &patched.changes {
            let status = match status {
                PatchStatus::Done => 200,
                PatchStatus::Dependency => 424,
                PatchStatus::Failed(ErrorKind::Forbidden) => 403,
                PatchStatus::Failed(kind) if wanted == 0 => {
                    code = kind.code();
                    0
                }
                PatchStatus::Failed(_) => 0,
            };
            if status == wanted {
                let name = Property {
                    ns: ns.clone(),
                    local: local.clone(),
                };
                xml::element(&name, None, &mut props);
            }
        }
        if props.is_empty() {
            continue;
        }
        let error = match code {
            403 => "<D:error><D:cannot-modify-protected-property/></D:error>",
            _ => "",
        };
        out.push_str(&format!(
            "<D:propstat><D:prop>{props}</D:prop><D:status>HTTP/1.1 {code} {}</D:status>{error}</D:propstat>",
            response::reason(code)
        ));
    }
    out.push_str("</D:response>\n</D:multistatus>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(body: &str) -> Vec<(String, String, Change)> {
        read(body.as_bytes(), |local| local == "getetag")
            .unwrap()
            .into_iter()
            .map(|u| (u.ns, u.local, u.change))
            .collect()
    }

    #[test]
    fn values_stand_alone_with_the_namespaces_in_scope() {
        let body = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:a>x &amp; <Z:b>é</Z:b></Z:a><bare xmlns="">1</bare></D:prop></D:set><D:remove><D:prop><Z:c/></D:prop></D:remove></D:propertyupdate>"#;
        let got = changes(body);
        assert_eq!(
            got[0],
            (
                "urn:z".into(),
                "a".into(),
                Change::Set(
                    r#"<ns0:a xmlns:ns0="urn:z" xmlns:D="DAV:" xmlns:Z="urn:z">x &amp; <Z:b>é</Z:b></ns0:a>"#
                        .into()
                )
            )
        );
        assert_eq!(
            got[1].2,
            Change::Set(r#"<bare xmlns="" xmlns:D="DAV:" xmlns:Z="urn:z">1</bare>"#.into())
        );
        assert_eq!(got[2], ("urn:z".into(), "c".into(), Change::Remove));
    }

    #[test]
    fn live_properties_are_protected_but_the_time() {
        let body = r#"<propertyupdate xmlns="DAV:"><set><prop><getetag>"1"</getetag><getlastmodified>Tue, 01 Jan 2030 00:00:00 GMT</getlastmodified><Win32LastModifiedTime xmlns="urn:schemas-microsoft-com:">Wed, 02 Jan 2030 00:00:00 GMT</Win32LastModifiedTime></prop></set></propertyupdate>"#;
        let got = changes(body);
        assert_eq!(got[0].2, Change::Protected);
        assert_eq!(got[1].2, Change::Mtime(1_893_456_000));
        assert_eq!(got[2].2, Change::Mtime(1_893_542_400));
    }

    #[test]
    fn strangers_and_entities_are_refused() {
        let live = |_: &str| false;
        for body in [
            "<x/>",
            r#"<D:propertyupdate xmlns:D="DAV:"/>"#,
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Q:a/></D:prop></D:set></D:propertyupdate>"#,
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:a>&x;</D:a></D:prop></D:set></D:propertyupdate>"#,
            r#"<!DOCTYPE d [<!ENTITY x "y">]><D:propertyupdate xmlns:D="DAV:"/>"#,
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:a>"#,
        ] {
            assert!(read(body.as_bytes(), live).is_err(), "{body}");
        }
    }

    /// What would make a multistatus that writes the value back
    /// ill-formed is refused, though the reader lets it through.
    #[test]
    fn values_that_would_break_a_multistatus_are_refused() {
        let live = |_: &str| false;
        let opened = "\u{FEFF}<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><D:a>1</D:a></D:prop></D:set></D:propertyupdate>";
        assert!(
            read(opened.as_bytes(), live).is_ok(),
            "a BOM and a declaration"
        );
        let set = |value: &str| {
            format!(
                r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:a>{value}</Z:a></D:prop></D:set></D:propertyupdate>"#
            )
        };
        for value in [
            r#"<Z:b c="1" c="2"/>"#,
            r#"<Z:b c="<"/>"#,
            "<!-- a -- b -->",
            "a ]]> b",
            "a \u{1} b",
            "&#1;",
            "<![CDATA[\u{1}]]>",
            r#"<Z:b c="a & b"/>"#,
            r#"<Z:b c="&bogus;"/>"#,
            r#"<Z:b c="&#1;"/>"#,
            r#"<?xml version="1.0"?>"#,
            "<??>",
            "<?xml-stylesheet \u{1}?>",
        ] {
            let body = set(value);
            assert!(read(body.as_bytes(), live).is_err(), "{value}");
        }
        for value in [
            "<!-- a - b -->",
            "a ] ]> b",
            "&#9;&#x10000;",
            "<![CDATA[<x>]]>",
            r#"<Z:b c="a &lt; b &amp; &#x10FFFF;"/>"#,
            "<?xml-stylesheet href=\"a\"?>",
        ] {
            let body = set(value);
            assert!(read(body.as_bytes(), live).is_ok(), "{value}");
        }
    }
}
