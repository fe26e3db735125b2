//! WebDAV's XML, both ways, sans-IO: request bodies read with quick-xml's
//! namespace-aware reader, and the pieces of a `207 Multistatus` written
//! with their text escaped.
//!
//! No DTD is ever read: a body with a `<!DOCTYPE` (where every entity,
//! internal or external, would be declared) is refused at that event,
//! before anything it declares could be used, so an XXE or a billion
//! laughs costs one event. quick-xml expands no entity on its own; a
//! reference to one (`&x;`) is left unexpanded in text ferry never reads.
//!
//! ```text
//! <D:propfind xmlns:D="DAV:">  <D:allprop/> | <D:propname/> | <D:prop><x:a xmlns:x="urn:x"/>...</D:prop>
//! ```

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

/// WebDAV's namespace.
pub const DAV: &str = "DAV:";
/// The media type of a multistatus.
pub const MEDIA_TYPE: &str = "application/xml; charset=utf-8";
/// What every multistatus starts with.
pub const MULTISTATUS: &str =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">\n";
/// The most properties one `<prop>` may name: a body is at most 64 KiB
/// anyway; this keeps what a request holds while its listing is written
/// small.
const MAX_PROPERTIES: usize = 256;

/// A property's name: its namespace (empty for none) and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The namespace URI.
    pub ns: String,
    /// The local name.
    pub local: String,
}

impl Property {
    /// Whether it is WebDAV's property `local`.
    pub fn is_dav(&self, local: &str) -> bool {
        self.ns == DAV && self.local == local
    }
}

/// What a `PROPFIND` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Propfind {
    /// Every property with its value (also an empty body).
    AllProp,
    /// Every property's name, without values.
    PropName,
    /// These properties.
    Prop(Vec<Property>),
}

/// Reads a `PROPFIND` body; an empty one asks for every property.
///
/// # Errors
/// Why it is refused (400): not well-formed, a DTD, an unknown prefix, no
/// `DAV:propfind` at its root, nothing asked, too many properties.
pub fn propfind(body: &[u8]) -> Result<Propfind, String> {
    if body.trim_ascii().is_empty() {
        return Ok(Propfind::AllProp);
    }
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut depth = 0usize;
    let mut asked = None;
    let mut in_prop = false;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|err| format!("malformed XML: {err}"))?;
        let (start, empty) = match &event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                in_prop &= depth >= 2;
                continue;
            }
            Event::DocType(_) => return Err("a DTD is not accepted".into()),
            Event::Eof if depth > 0 => return Err("the body ends inside an element".into()),
            Event::Eof => break,
            _ => continue,
        };
        let ns = namespace(ns)?;
        let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let property = Property { ns, local };
        match depth {
            0 if !property.is_dav("propfind") => {
                return Err("the body is not a DAV:propfind".into());
            }
            1 if property.is_dav("allprop") => asked = asked.or(Some(Propfind::AllProp)),
            1 if property.is_dav("propname") => asked = asked.or(Some(Propfind::PropName)),
            1 if property.is_dav("prop") => {
                in_prop = !empty;
                if !matches!(asked, Some(Propfind::Prop(_))) {
                    asked = Some(Propfind::Prop(Vec::new()));
                }
            }
            2 if in_prop => {
                if let Some(Propfind::Prop(list)) = &mut asked {
                    if list.len() == MAX_PROPERTIES {
                        return Err(format!("at most {MAX_PROPERTIES} properties"));
                    }
                    list.push(property);
                }
            }
            _ => {}
        }
        if !empty {
            depth += 1;
        }
    }
    asked.ok_or_else(|| "a propfind asks for allprop, propname or prop".into())
}

/// A resolved namespace as text.
///
/// # Errors
/// An undeclared prefix (400).
pub fn namespace(ns: ResolveResult<'_>) -> Result<String, String> {
    match ns {
        ResolveResult::Bound(Namespace(uri)) => Ok(String::from_utf8_lossy(uri).into_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(format!(
            "undeclared namespace prefix {:?}",
            String::from_utf8_lossy(&prefix)
        )),
    }
}

/// `text` with `<`, `>` and `&` escaped, for element content (quotes stay
/// as they are: an ETag reads as its field does).
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    // Most text has nothing to escape: one pass over its bytes says so
    // (a listing asks it of every entry's name).
    if !text.bytes().any(|b| matches!(b, b'<' | b'>' | b'&')) {
        return std::borrow::Cow::Borrowed(text);
    }
    quick_xml::escape::partial_escape(text)
}

/// `text` with quotes escaped too, for attributes and names; borrowed
/// where nothing needs it, as [`escape`].
fn escape_all(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .bytes()
        .any(|b| matches!(b, b'<' | b'>' | b'&' | b'"' | b'\''))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    quick_xml::escape::escape(text)
}

/// Appends `<name/>` (or `<name>value</name>`, `value` being XML already)
/// for `property`: WebDAV's with the `D:` prefix the multistatus declares,
/// another namespace's declared on the element itself.
pub fn element(property: &Property, value: Option<&str>, out: &mut String) {
    element_with(property, out, |out| {
        out.push_str(value.unwrap_or_default());
        true
    });
}

/// As [`element`], its value written by `value` straight into `out` (no
/// string of its own: a listing writes several per entry); `<name/>`
/// where it writes nothing. If `value` says there is none (`false`),
/// nothing is appended and `false` returned.
pub fn element_with(
    property: &Property,
    out: &mut String,
    value: impl FnOnce(&mut String) -> bool,
) -> bool {
    let start = out.len();
    let local = escape_all(&property.local);
    let prefix = match property.ns.as_str() {
        DAV => "D:",
        "" => "",
        _ => "x:",
    };
    out.push('<');
    out.push_str(prefix);
    out.push_str(&local);
    match property.ns.as_str() {
        DAV => {}
        "" => out.push_str(" xmlns=\"\""),
        ns => {
            out.push_str(" xmlns:x=\"");
            out.push_str(&escape_all(ns));
            out.push('"');
        }
    }
    out.push('>');
    let content = out.len();
    if !value(out) {
        out.truncate(start);
        return false;
    }
    if out.len() == content {
        out.truncate(content - 1);
        out.push_str("/>");
    } else {
        out.push_str("</");
        out.push_str(prefix);
        out.push_str(&local);
        out.push('>');
    }
    true
}

/// A multistatus of members that a request left as they were (a
/// folder's `DELETE`, RFC 4918 9.6.1): each by its href (percent-encoded
/// already), with its status and why; then, if `more` were left than
/// named (the list is capped), the multistatus's own description says how
/// many.
pub fn remains<'a>(members: impl Iterator<Item = (String, u16, &'a str)>, more: u64) -> String {
    let mut out = MULTISTATUS.to_owned();
    for (href, status, why) in members {
        out.push_str(&format!(
            "<D:response><D:href>{}</D:href><D:status>HTTP/1.1 {status} {}</D:status><D:responsedescription>{}</D:responsedescription></D:response>\n",
            escape(&href),
            super::response::reason(status),
            escape(why),
        ));
    }
    if more > 0 {
        out.push_str(&format!(
            "<D:responsedescription>{more} more members were left as they were, not named here</D:responsedescription>\n"
        ));
    }
    out.push_str("</D:multistatus>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dav(local: &str) -> Property {
        Property {
            ns: DAV.into(),
            local: local.into(),
        }
    }

    #[test]
    fn any_prefix_and_default_namespaces() {
        let body = br#"<?xml version="1.0"?>
            <propfind xmlns="DAV:"><prop><getetag/><z:color xmlns:z="urn:z"/><bare xmlns=""/></prop></propfind>"#;
        let color = Property {
            ns: "urn:z".into(),
            local: "color".into(),
        };
        let bare = Property {
            ns: String::new(),
            local: "bare".into(),
        };
        assert_eq!(
            propfind(body),
            Ok(Propfind::Prop(vec![dav("getetag"), color, bare]))
        );
        let body = br#"<A:propfind xmlns:A="DAV:"><A:propname/></A:propfind>"#;
        assert_eq!(propfind(body), Ok(Propfind::PropName));
        assert_eq!(propfind(b"  "), Ok(Propfind::AllProp));
    }

    #[test]
    fn dtds_and_strangers_are_refused() {
        let xxe = br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop>&x;</D:prop></D:propfind>"#;
        assert!(propfind(xxe).is_err());
        assert!(propfind(b"<propfind><allprop/></propfind>").is_err());
        assert!(propfind(br#"<D:propfind xmlns:D="DAV:"><D:allprop>"#).is_err());
        assert!(propfind(br#"<D:propfind xmlns:D="DAV:"/>"#).is_err());
        assert!(propfind(br#"<Q:propfind xmlns:D="DAV:"><Q:allprop/></Q:propfind>"#).is_err());
    }

    #[test]
    fn elements_declare_their_namespace() {
        let mut out = String::new();
        element(&dav("getetag"), Some("\"1\""), &mut out);
        let color = Property {
            ns: "urn:a&b".into(),
            local: "color".into(),
        };
        element(&color, None, &mut out);
        assert_eq!(
            out,
            "<D:getetag>\"1\"</D:getetag><x:color xmlns:x=\"urn:a&amp;b\"/>"
        );
    }
}
