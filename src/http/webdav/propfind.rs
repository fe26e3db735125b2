//! PROPFIND's answer (RFC 4918 9.1): the multistatus of a folder and its
//! members, or of a file, written piece by piece as a listing format into
//! the spool on the I/O pool (docs/webdav.md (c)); each `<D:response>`
//! tells the live properties ferry keeps, RFC 4331's quota when named, and
//! the dead ones the walk read. The request's decoding is the dialect's
//! (mod.rs); it never touches the file system itself.

use std::sync::Arc;

use super::lock;
use crate::http::fields::url_path;
use crate::http::response::{self, MediaType};
use crate::http::xml::{self, DAV, MULTISTATUS, Property, Propfind};
use crate::serve::Piece;
use crate::serve::Version;
use crate::serve::terms::{Details, Format, Wants};
use crate::storage::{DavLock, FileInfo, Stamp};

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
    name.rsplit('/').next().unwrap_or(name)
}

/// What a response tells of one file or folder.
struct Item {
    /// Its URL path, percent-encoded (a folder's ends in `/`).
    href: String,
    display: String,
    /// A file's size and type, and its version's tag.
    file: Option<(u64, &'static str, String)>,
    mtime: Option<i64>,
    /// Its `lockdiscovery` (the live locks covering it), as XML.
    locks: String,
    /// What the walk read for it: dead properties, the space.
    details: Details,
}

impl Item {
    fn folder(href: String, display: &str, mtime: Option<i64>, details: Details) -> Item {
        Item {
            href,
            display: display.to_owned(),
            file: None,
            mtime: mtime.or(details.mtime),
            locks: String::new(),
            details,
        }
    }

    fn file(name: &str, info: FileInfo, stamp: Stamp, details: Details) -> Item {
        let version = Version {
            info,
            stamp,
            crc: None,
            md5: None,
        };
        Item {
            href: format!("/{}", url_path(name)),
            display: leaf(name).to_owned(),
            file: Some((
                info.size,
                MediaType::of(name).as_str(),
                response::etag(&version),
            )),
            mtime: Some(info.mtime),
            locks: String::new(),
            details,
        }
    }

    /// The value of live property `local` (XML), if it has one here.
    fn live(&self, local: &str) -> Option<String> {
        let rfc3339 = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .ok()?
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        };
        let space = self.details.space;
        Some(match (local, &self.file) {
            ("resourcetype", None) => "<D:collection/>".to_owned(),
            ("resourcetype", Some(_)) => String::new(),
            ("displayname", _) if !self.display.is_empty() => xml::escape(&self.display).into(),
            ("getcontentlength", Some((size, ..))) => size.to_string(),
            ("getcontenttype", Some((_, media, _))) => (*media).to_owned(),
            ("getetag", Some((.., etag))) => xml::escape(etag).into(),
            ("getlastmodified", _) => response::http_date(self.mtime?),
            ("creationdate", _) => rfc3339(self.mtime?)?,
            ("supportedlock", _) => lock::SUPPORTED.to_owned(),
            ("lockdiscovery", _) => self.locks.clone(),
            ("quota-available-bytes", _) => space?.available.to_string(),
            ("quota-used-bytes", _) => space?.used.to_string(),
            _ => return None,
        })
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

/// Appends one `<D:response>` for `item`: what it has of what was asked in
/// a `200` propstat, what it lacks in a `404` one. `allprop` and
/// `propname` give the live properties (not the quota: RFC 4331 3) and
/// the dead ones.
fn response_of(asked: &Propfind, item: &Item, out: &mut String) {
    out.push_str("<D:response><D:href>");
    out.push_str(&xml::escape(&item.href));
    out.push_str("</D:href>");
    let dav = |local: &str| Property {
        ns: DAV.to_owned(),
        local: local.to_owned(),
    };
    let (mut found, mut missing) = (String::new(), String::new());
    match asked {
        Propfind::AllProp | Propfind::PropName => {
            let values = matches!(asked, Propfind::AllProp);
            for local in LIVE {
                if let Some(value) = item.live(local) {
                    let value = values.then_some(value.as_str());
                    xml::element(&dav(local), value.filter(|v| !v.is_empty()), &mut found);
                }
            }
            for dead in &item.details.props {
                match values {
                    true => found.push_str(&dead.value),
                    false => {
                        let name = Property {
                            ns: dead.ns.clone(),
                            local: dead.local.clone(),
                        };
                        xml::element(&name, None, &mut found);
                    }
                }
            }
        }
        Propfind::Prop(list) => {
            for property in list {
                let live = (property.ns == DAV)
                    .then(|| item.live(&property.local))
                    .flatten();
                match (live, item.dead(property)) {
                    (Some(value), _) => xml::element(
                        property,
                        Some(&value).filter(|v| !v.is_empty()).map(|v| v.as_str()),
                        &mut found,
                    ),
                    (None, Some(dead)) => found.push_str(dead),
                    (None, None) => xml::element(property, None, &mut missing),
                }
            }
        }
    }
    for (props, status) in [(found, "200 OK"), (missing, "404 Not Found")] {
        if !props.is_empty() {
            out.push_str(&format!(
                "<D:propstat><D:prop>{props}</D:prop><D:status>HTTP/1.1 {status}</D:status></D:propstat>"
            ));
        }
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
}

impl Multistatus {
    /// The format of a PROPFIND that asked `asked` at `depth` (0 or 1).
    pub(super) fn new(asked: Propfind, depth: u8) -> Multistatus {
        Multistatus {
            asked,
            depth,
            locks: None,
            next: Details::default(),
        }
    }

    /// Appends `item`'s response, with the locks covering `name`.
    fn respond(&self, mut item: Item, name: &str, text: &mut String) {
        if let Some((locks, now)) = &self.locks {
            item.locks = lock::discovery(locks, *now, name.trim_end_matches('/'));
        }
        response_of(&self.asked, &item, text);
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
    /// property named.
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
            ..Wants::default()
        }
    }

    fn details(&mut self, details: Details) {
        self.next = details;
    }

    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let mut text = String::new();
        let details = std::mem::take(&mut self.next);
        match piece {
            Piece::Start => {
                text.push_str(MULTISTATUS);
                let href = format!("/{}", url_path(prefix));
                let item = Item::folder(href, leaf(prefix), None, details);
                self.respond(item, prefix, &mut text);
            }
            Piece::Directory { name, mtime, .. } if self.depth > 0 => {
                let href = format!("/{}", url_path(name));
                let item = Item::folder(href, leaf(name), Some(mtime), details);
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
    }
}
