//! PROPFIND's answer (RFC 4918 9.1): the multistatus of a folder and its
//! members, or of a file, written piece by piece as a listing format into
//! the spool on the I/O pool (docs/webdav.md (c)); each `<D:response>`
//! tells the live properties ferry keeps, RFC 4331's quota when named, and
//! the dead ones the walk read. The request's decoding is the dialect's
//! (mod.rs); it never touches the file system itself.

use std::sync::Arc;

use super::lock;
use crate::http::fields::push_url_path;
use crate::http::response::{self, MediaType};
use crate::http::xml::{self, DAV, MULTISTATUS, Property, Propfind};
use crate::model::{DavLock, FileInfo, Stamp};
use crate::serve::Piece;
use crate::serve::terms::{Details, Format, Wants};

/// The live properties ferry answers, in the order `allprop` lists them.
pub(super) const LIVE: [&str; 9] = [
    "resourcetype",
    "displayname",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "getlastmodified",
    "creationdate",
    "supportedlock",
    "lockdiscovery",
];

/// RFC 4331's live properties: answered when named, never in `allprop`.
pub(super) const QUOTA: [&str; 2] = ["quota-available-bytes", "quota-used-bytes"];

/// The last segment of a name or folder name (without its `/`).
fn leaf(name: &str) -> &str {
    let name = name.strip_suffix('/').unwrap_or(name);
    // A plain scan of the bytes: `rfind`'s searcher costs several times
    // that on a short name, and a listing asks it of every entry.
    match name.bytes().rposition(|b| b == b'/') {
        Some(at) => &name[at + 1..],
        None => name,
    }
}

/// What a response tells of one file or folder: what the walk gave, each
/// property written from it only when asked (a listing writes thousands:
/// nothing is formatted or allocated for one not asked).
struct Item<'a> {
    /// Its name from the root (a folder's ends in `/`; the root's is
    /// empty), which its `href` and `displayname` are written from.
    name: &'a str,
    /// A file's facts and version stamp (`None`: a folder).
    file: Option<(FileInfo, Stamp)>,
    mtime: Option<i64>,
    /// Its `lockdiscovery` (the live locks covering it), as XML.
    locks: String,
    /// What the walk read for it: dead properties, the space.
    details: Details,
}

impl<'a> Item<'a> {
    fn folder(name: &'a str, mtime: Option<i64>, details: Details) -> Item<'a> {
        Item {
            name,
            file: None,
            mtime: mtime.or(details.mtime),
            locks: String::new(),
            details,
        }
    }

    fn file(name: &'a str, info: FileInfo, stamp: Stamp, details: Details) -> Item<'a> {
        Item {
            name,
            file: Some((info, stamp)),
            mtime: Some(info.mtime),
            locks: String::new(),
            details,
        }
    }

    /// Appends its `href` (`/` and its name, percent-encoded: nothing in it
    /// is XML's to escape).
    fn write_href(&self, out: &mut String) {
        out.push('/');
        push_url_path(self.name, out);
    }

    /// Appends the value of live property `local` (XML) to `out`, if it
    /// has one here (`false` if not): written in place, as a listing
    /// writes several per entry.
    fn write_live(&self, local: &str, out: &mut String) -> bool {
        use std::fmt::Write;
        let space = self.details.space;
        match (local, &self.file) {
            ("resourcetype", None) => out.push_str("<D:collection/>"),
            ("resourcetype", Some(_)) => {}
            ("displayname", _) if !self.name.is_empty() => {
                out.push_str(&xml::escape(leaf(self.name)));
            }
            ("getcontentlength", Some((info, _))) => {
                let _ = write!(out, "{}", info.size);
            }
            ("getcontenttype", Some(_)) => out.push_str(MediaType::of(self.name).as_str()),
            // Quotes, hex digits, `-` and `.`: nothing XML escapes in text.
            ("getetag", Some((info, stamp))) => response::write_etag(info, stamp, out),
            ("getlastmodified", _) if let Some(mtime) = self.mtime => {
                response::write_http_date(mtime, out);
            }
            ("creationdate", _) => {
                return self
                    .mtime
                    .is_some_and(|mtime| response::write_rfc3339(mtime, out));
            }
            ("supportedlock", _) => out.push_str(lock::SUPPORTED),
            ("lockdiscovery", _) => out.push_str(&self.locks),
            ("quota-available-bytes", _) if let Some(space) = space => {
                let _ = write!(out, "{}", space.available);
            }
            ("quota-used-bytes", _) if let Some(space) = space => {
                let _ = write!(out, "{}", space.used);
            }
            _ => return false,
        }
        true
    }

    /// Its dead property `property`, as kept (the element itself).
    fn dead(&self, property: &Property) -> Option<&str> {
        let props = self.details.props.iter();
        props
            .filter(|p| p.ns == property.ns && p.local == property.local)
            .map(|p| p.value.as_str())
            .next()
    }
}

/// The live properties as `allprop` and `propname` name them.
static LIVE_PROPERTIES: std::sync::LazyLock<Vec<Property>> = std::sync::LazyLock::new(|| {
    LIVE.iter()
        .map(|local| Property {
            ns: DAV.to_owned(),
            local: (*local).to_owned(),
        })
        .collect()
});

/// The `404` propstat of a response, as it is written (kept between
/// responses: a listing writes one per entry).
#[derive(Debug, Default)]
struct Propstats {
    /// What it lacks of what was asked (what it has is written in place).
    missing: String,
}

/// Appends one `<D:response>` for `item`: what it has of what was asked in
/// a `200` propstat, what it lacks in a `404` one. `allprop` and
/// `propname` give the live properties (not the quota: RFC 4331 3) and
/// the dead ones.
fn response_of(asked: &Propfind, item: &Item, out: &mut String, stats: &mut Propstats) {
    out.push_str("<D:response><D:href>");
    item.write_href(out);
    out.push_str("</D:href>");
    let Propstats { missing } = stats;
    missing.clear();
    // What it has goes straight into the answer, in a propstat taken
    // back if it stays empty; what it lacks is gathered for the next.
    let propstat = out.len();
    out.push_str("<D:propstat><D:prop>");
    let props = out.len();
    let found = &mut *out;
    match asked {
        Propfind::AllProp | Propfind::PropName => {
            let values = matches!(asked, Propfind::AllProp);
            for property in LIVE_PROPERTIES.iter() {
                xml::element_with(property, found, |out| {
                    let start = out.len();
                    let has = item.write_live(&property.local, out);
                    if !values {
                        out.truncate(start);
                    }
                    has
                });
            }
            for dead in &item.details.props {
                match values {
                    true => found.push_str(&dead.value),
                    false => {
                        let name = Property {
                            ns: dead.ns.clone(),
                            local: dead.local.clone(),
                        };
                        xml::element(&name, None, found);
                    }
                }
            }
        }
        Propfind::Prop(list) => {
            for property in list {
                let live = property.ns == DAV
                    && xml::element_with(property, found, |out| {
                        item.write_live(&property.local, out)
                    });
                if live {
                    continue;
                }
                match item.dead(property) {
                    Some(dead) => found.push_str(dead),
                    None => xml::element(property, None, missing),
                }
            }
        }
    }
    match out.len() == props {
        true => out.truncate(propstat),
        false => out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"),
    }
    if !missing.is_empty() {
        out.push_str("<D:propstat><D:prop>");
        out.push_str(missing);
        out.push_str("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>");
    }
    out.push_str("</D:response>\n");
}

/// A folder's PROPFIND as a listing format: the multistatus written piece
/// by piece into the spool on the pool (docs/webdav.md (c)). Depth 0
/// writes the folder alone.
#[derive(Debug)]
pub(super) struct Multistatus {
    asked: Propfind,
    depth: u8,
    /// The live locks and the time, when `lockdiscovery` is asked for.
    locks: Option<(Arc<[DavLock]>, i64)>,
    /// What the walk read for the next piece.
    next: Details,
    /// The propstats being written, kept between entries.
    stats: Propstats,
    /// The piece being written, kept between entries.
    text: String,
}

impl Multistatus {
    /// The format of a PROPFIND that asked `asked` at `depth` (0 or 1).
    pub(super) fn new(asked: Propfind, depth: u8) -> Multistatus {
        Multistatus {
            asked,
            depth,
            locks: None,
            next: Details::default(),
            stats: Propstats::default(),
            text: String::new(),
        }
    }

    /// Appends `item`'s response, with the locks covering `name`.
    fn respond(&mut self, mut item: Item, name: &str, text: &mut String) {
        if let Some((locks, now)) = &self.locks {
            item.locks = lock::discovery(locks, *now, name.trim_end_matches('/'));
        }
        response_of(&self.asked, &item, text, &mut self.stats);
    }
}

impl Format for Multistatus {
    fn wants_locks(&self) -> bool {
        match &self.asked {
            Propfind::AllProp => true,
            Propfind::PropName => false,
            Propfind::Prop(list) => list.iter().any(|p| p.is_dav("lockdiscovery")),
        }
    }

    fn locks(&mut self, locks: Arc<[DavLock]>, now: i64) {
        self.locks = Some((locks, now));
    }

    /// Dead properties where some may be asked for (not for a `prop` of
    /// live ones alone), members' only at depth 1; the space for a quota
    /// property named; at depth 0, a folder alone.
    fn wants(&self) -> Wants {
        let (dead, space) = match &self.asked {
            Propfind::Prop(list) => (
                list.iter()
                    .any(|p| p.ns != DAV || !(LIVE.contains(&p.local.as_str()))),
                list.iter()
                    .any(|p| p.ns == DAV && QUOTA.contains(&p.local.as_str())),
            ),
            Propfind::AllProp | Propfind::PropName => (true, false),
        };
        Wants {
            own: true,
            members: dead && self.depth > 0,
            space,
            // At depth 0 a folder is answered alone: its members unread.
            itself: self.depth == 0,
            ..Wants::default()
        }
    }

    fn details(&mut self, details: Details) {
        self.next = details;
    }

    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let details = std::mem::take(&mut self.next);
        match piece {
            Piece::Start => {
                text.push_str(MULTISTATUS);
                let item = Item::folder(prefix, None, details);
                self.respond(item, prefix, &mut text);
            }
            Piece::Directory { name, mtime, .. } if self.depth > 0 => {
                let item = Item::folder(name, Some(mtime), details);
                self.respond(item, name, &mut text);
            }
            Piece::File { entry, .. } if self.depth > 0 => {
                let item = Item::file(&entry.name, entry.info, entry.stamp, details);
                self.respond(item, &entry.name, &mut text);
            }
            Piece::End => text.push_str("</D:multistatus>\n"),
            Piece::Only(entry) => {
                text.push_str(MULTISTATUS);
                let item = Item::file(&entry.name, entry.info, entry.stamp, details);
                self.respond(item, &entry.name, &mut text);
                text.push_str("</D:multistatus>\n");
            }
            Piece::Directory { .. } | Piece::File { .. } | Piece::Files => {}
        }
        out.extend_from_slice(text.as_bytes());
        self.text = text;
    }
}
