//! The one PROPFIND helper of the tests and the one reader of a `207
//! Multistatus`: answers are parsed with quick-xml, namespaces resolved,
//! never matched as text, so a test holds the server to what a DAV client
//! reads and not to one way of writing it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

use super::http::{Answer, exchange};

/// `PROPFIND target` with `Depth: depth` (none when `None`), the header
/// lines `fields` (each ending in CRLF) and `body`.
pub fn propfind(
    addr: SocketAddr,
    target: &str,
    depth: Option<&str>,
    fields: &str,
    body: &str,
) -> Answer {
    let depth = depth.map_or(String::new(), |d| format!("Depth: {d}\r\n"));
    let fields = format!("Host: localhost\r\n{depth}{fields}");
    exchange(addr, "PROPFIND", target, &fields, body.as_bytes())
}

/// One property as a multistatus tells it: its text (all of it, nested
/// elements' too) and the names of the elements in its value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub children: Vec<String>,
}

/// One `<D:response>`: its href and, per status code, each property of that
/// propstat by `{namespace}local`. A response's own `<D:status>` (as a
/// folder's DELETE writes them) is a status with no properties.
#[derive(Debug, Default)]
pub struct Response {
    pub href: String,
    pub props: BTreeMap<u16, BTreeMap<String, Value>>,
}

impl Response {
    /// The text of property `{ns}local` in the propstat of `status`.
    pub fn text(&self, status: u16, name: &str) -> Option<&str> {
        Some(self.props.get(&status)?.get(name)?.text.as_str())
    }
}

/// A multistatus: its responses in order, the error conditions named in
/// propstats, and its own `<D:responsedescription>` (not a response's).
#[derive(Debug, Default)]
pub struct Multistatus {
    pub responses: Vec<Response>,
    pub errors: Vec<String>,
    pub description: String,
}

impl Multistatus {
    /// The property `local` of namespace `ns` of `href`, if it is in its
    /// `200` propstat.
    pub fn get(&self, href: &str, ns: &str, local: &str) -> Option<&Value> {
        self.response(href)?
            .props
            .get(&200)?
            .get(&format!("{{{ns}}}{local}"))
    }

    /// The status of property `{ns}local` of `href`.
    pub fn status(&self, href: &str, ns: &str, local: &str) -> Option<u16> {
        let key = format!("{{{ns}}}{local}");
        let statuses = &self.response(href)?.props;
        statuses
            .iter()
            .find_map(|(code, props)| props.contains_key(&key).then_some(*code))
    }

    /// The response for `href`.
    pub fn response(&self, href: &str) -> Option<&Response> {
        self.responses.iter().find(|r| r.href == href)
    }

    /// The hrefs, in the order the answer gives them.
    pub fn hrefs(&self) -> Vec<&str> {
        self.responses.iter().map(|r| r.href.as_str()).collect()
    }
}

/// Reads a `207` (or fails the test), namespaces resolved.
pub fn parse(answer: &Answer) -> Multistatus {
    assert_eq!(answer.status, 207, "{}", answer.head);
    let mut reader = NsReader::from_reader(&answer.body[..]);
    let mut out = Multistatus::default();
    let (mut path, mut text) = (Vec::<String>::new(), String::new());
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
                if name == "{DAV:}response" && path.len() == 1 {
                    out.responses.push(Response::default());
                }
                if !empty {
                    path.push(name);
                    text.clear();
                }
            }
            Event::Text(t) => add_text(&mut text, &mut pending, path.len(), &t.decode().unwrap()),
            Event::GeneralRef(r) => {
                let c = r.resolve_char_ref().unwrap().map(String::from);
                let t = c.unwrap_or_else(|| match &*r {
                    b"amp" => "&".into(),
                    b"lt" => "<".into(),
                    b"gt" => ">".into(),
                    b"quot" => "\"".into(),
                    _ => "'".into(),
                });
                add_text(&mut text, &mut pending, path.len(), &t);
            }
            Event::End(_) => {
                let name = path.pop().unwrap();
                let text = std::mem::take(&mut text);
                let response = out.responses.last_mut();
                match (name.as_str(), response) {
                    ("{DAV:}responsedescription", _) if path.len() == 1 => out.description = text,
                    ("{DAV:}href", Some(r)) if path.len() == 2 => r.href = text,
                    ("{DAV:}status", Some(r)) => {
                        let code = text.split(' ').nth(1).unwrap().parse().unwrap();
                        r.props.entry(code).or_default().extend(pending.drain(..));
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

/// Text inside an element: the element's own, and the value of the
/// property it is part of (below `<D:prop>`).
fn add_text(text: &mut String, pending: &mut [(String, Value)], depth: usize, t: &str) {
    text.push_str(t);
    if depth >= 5 {
        pending.last_mut().unwrap().1.text.push_str(t);
    }
}
