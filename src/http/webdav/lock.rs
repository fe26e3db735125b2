//! WebDAV's `LOCK` and `UNLOCK` (RFC 4918 9.10, 9.11) on the wire, sans-IO:
//! the `lockinfo` body (read with quick-xml, no DTD), `Depth`, `Timeout`
//! and `Lock-Token` read into `Operation::Lock`/`Unlock`; the answer's
//! `lockdiscovery`, and the `supportedlock` and `lockdiscovery`
//! properties. What a lock means is the serve layer's (`serve/ops/locks.rs`).
//!
//! ```text
//! LOCK /<name>[/]  [Depth: 0|infinity]  [Timeout: Second-N|Infinite, ...]
//!   <D:lockinfo><D:lockscope><D:exclusive/>|<D:shared/></D:lockscope>
//!               <D:locktype><D:write/></D:locktype>[<D:owner>...</D:owner>]</D:lockinfo>
//!                                    -> 200 (201: the name was unmapped, now an empty file)
//!                                       Lock-Token: <opaquelocktoken:...>, <D:prop><D:lockdiscovery>
//!                                       423 <D:no-conflicting-lock/>, 409 no parent folder
//! LOCK /<name>  If: (<token>), no body -> 200 the lock refreshed; 412 if none is submitted
//! UNLOCK /<name>  Lock-Token: <token> -> 204; 409 <D:lock-token-matches-request-uri/>
//! ```

use crate::serve::ops;
use quick_xml::events::Event;
use quick_xml::reader::NsReader;

use super::super::dialect::Message;
use super::super::fields::{bad_name, url_path};
use super::super::message::{Head, Refused};
use super::super::response::Head as ResponseHead;
use super::super::xml::{self, DAV, Property};
use crate::model::DavLock;
use crate::name::Name;
use crate::serve::locks::{Granted, LockAsk};
use crate::serve::{BodyLength, Operation};

/// `supportedlock`'s value: exclusive and shared write locks.
pub const SUPPORTED: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

/// The name a LOCK or UNLOCK is about (a folder's without its `/`).
///
/// # Errors
/// 403 for the root (never locked), 400 or 403 for a bad name.
fn target(path: &str) -> Result<Name, Refused> {
    let inner = path.trim_start_matches('/').trim_end_matches('/');
    if inner.is_empty() {
        return Err((403, "the root is not locked".into()));
    }
    Name::decode(inner.as_bytes()).map_err(bad_name)
}

/// `LOCK` of `path` at `depth` (`None`: infinity) with `body`: a new lock,
/// or a refresh without a body.
///
/// # Errors
/// 400: a body that is not a `lockinfo` for a write lock, `Depth: 1`.
pub fn lock(head: &Head<'_>, path: &str, depth: Option<u8>) -> Result<Operation, Refused> {
    let name = target(path)?;
    let timeout = timeout(head);
    let ask = if head.body.trim_ascii().is_empty() {
        LockAsk::Refresh { timeout }
    } else {
        let deep = match depth {
            None => true,
            Some(0) => false,
            Some(_) => return Err((400, "a LOCK's Depth is 0 or infinity".into())),
        };
        let (shared, owner) = lockinfo(head.body).map_err(|message| (400, message))?;
        LockAsk::New {
            shared,
            deep,
            owner,
            timeout,
        }
    };
    Ok(Operation::Lock(ops::Lock {
        name,
        ask: Box::new(ask),
        submitted: Vec::new(),
    }))
}

/// `UNLOCK` of `path` with its `Lock-Token`.
///
/// # Errors
/// 400 without a `Lock-Token` (or with a body: 415).
pub fn unlock(head: &Head<'_>, path: &str, body: BodyLength) -> Result<Operation, Refused> {
    if body != BodyLength::Fixed(0) {
        return Err((415, "UNLOCK takes no body".into()));
    }
    let name = target(path)?;
    let token = head
        .fields()
        .find(|(field, _)| field.eq_ignore_ascii_case("lock-token"))
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
        .map(|value| value.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|token| !token.is_empty())
        .ok_or_else(|| (400, "UNLOCK needs a Lock-Token".to_owned()))?;
    Ok(Operation::Unlock(ops::Unlock {
        name,
        token: token.to_owned(),
    }))
}

/// The first timeout of `Timeout:` that ferry reads (`Second-N`), or
/// `None` (`Infinite`, or none said): the serve layer caps it.
fn timeout(head: &Head<'_>) -> Option<u64> {
    let (_, value) = head
        .fields()
        .find(|(field, _)| field.eq_ignore_ascii_case("timeout"))?;
    let value = std::str::from_utf8(value).ok()?;
    value.split(',').find_map(|one| {
        let one = one.trim();
        let seconds = one.get(..7).filter(|s| s.eq_ignore_ascii_case("second-"))?;
        one[seconds.len()..].parse().ok()
    })
}

/// The longest `<owner>` kept, in bytes as re-written: the owner is
/// given back in every `lockdiscovery` of what the lock covers, so it is
/// bounded like any answer's part (clients send a user name or a URL:
/// `<D:href>mailto:me</D:href>`, Finder's a product URL).
pub const MAX_OWNER: usize = 1024;
/// The deepest element nesting kept inside an `<owner>`.
pub const MAX_OWNER_DEPTH: usize = 16;

/// Whether `name` (of a reference `&name;`) is one XML defines without a
/// DTD: the five predefined entities or a character reference to a
/// character XML allows. Any other would make every answer that gives the
/// owner back not well-formed.
fn is_own_reference(name: &[u8]) -> bool {
    let number = match name {
        b"lt" | b"gt" | b"amp" | b"quot" | b"apos" => return true,
        [b'#', b'x' | b'X', hex @ ..] => std::str::from_utf8(hex)
            .ok()
            .and_then(|hex| u32::from_str_radix(hex, 16).ok()),
        [b'#', decimal @ ..] => std::str::from_utf8(decimal)
            .ok()
            .and_then(|decimal| decimal.parse().ok()),
        _ => None,
    };
    number.and_then(char::from_u32).is_some_and(|c| {
        matches!(c, '\t' | '\n' | '\r') || (!c.is_control() && c != '\u{FFFE}' && c != '\u{FFFF}')
    })
}

/// Reads a `lockinfo` body: whether the lock is shared, and its owner's
/// XML (re-written with its namespaces declared, so it reads the same
/// inside any answer).
///
/// # Errors
/// Why it is refused (400): not well-formed, a DTD, not a `DAV:lockinfo`,
/// no scope, a type other than `write`; an owner over [`MAX_OWNER`]
/// bytes or [`MAX_OWNER_DEPTH`] levels, or with a reference to an entity
/// no DTD defines.
pub fn lockinfo(body: &[u8]) -> Result<(bool, String), String> {
    // Text as given: only the owner's is kept, whitespace and all.
    let mut reader = NsReader::from_reader(body);
    let (mut path, mut owner) = (Vec::<Property>::new(), String::new());
    let (mut shared, mut write) = (None, false);
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|err| format!("malformed XML: {err}"))?;
        let in_owner = path.len() >= 2 && path[1].is_dav("owner");
        let (start, empty) = match &event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                if let Some(closed) = path.pop()
                    && path.len() >= 2
                    && path[1].is_dav("owner")
                {
                    owner.push_str(&format!("</{}>", qualified(&closed)));
                }
                continue;
            }
            Event::Text(text) if in_owner => {
                owner.push_str(&String::from_utf8_lossy(text));
                continue;
            }
            // A reference stays one (`&amp;`): nothing is expanded.
            Event::GeneralRef(name) if in_owner => {
                if !is_own_reference(name) {
                    return Err("an owner refers to an entity no DTD here defines".into());
                }
                owner.push_str(&format!("&{};", String::from_utf8_lossy(name)));
                continue;
            }
            Event::DocType(_) => return Err("a DTD is not accepted".into()),
            Event::Eof if !path.is_empty() => return Err("the body ends inside an element".into()),
            Event::Eof => break,
            _ => continue,
        };
        let property = Property {
            ns: xml::namespace(ns)?,
            local: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        };
        match path.len() {
            0 if !property.is_dav("lockinfo") => {
                return Err("the body is not a DAV:lockinfo".into());
            }
            2 if path[1].is_dav("lockscope") => {
                shared = shared.or(match property.local.as_str() {
                    "shared" if property.ns == DAV => Some(true),
                    "exclusive" if property.ns == DAV => Some(false),
                    _ => None,
                });
            }
            2 if path[1].is_dav("locktype") => write |= property.is_dav("write"),
            _ if in_owner => owner.push_str(&open_tag(&property, empty)),
            _ => {}
        }
        if !empty {
            path.push(property);
        }
        if in_owner && path.len() > MAX_OWNER_DEPTH + 2 {
            return Err(format!(
                "an owner nests more than {MAX_OWNER_DEPTH} elements"
            ));
        }
        if owner.len() > MAX_OWNER {
            break;
        }
    }
    if owner.len() > MAX_OWNER {
        return Err(format!("an owner is kept to {MAX_OWNER} bytes"));
    }
    let shared = shared.ok_or("a lockinfo names an exclusive or shared lockscope")?;
    if !write {
        return Err("only write locks are served".into());
    }
    Ok((shared, owner))
}

/// An element's name as written: `D:` for WebDAV's, `x:` for another
/// namespace's (declared where it opens), bare for none.
fn qualified(property: &Property) -> String {
    let local = quick_xml::escape::escape(&property.local);
    match property.ns.as_str() {
        DAV => format!("D:{local}"),
        "" => local.into_owned(),
        _ => format!("x:{local}"),
    }
}

/// An element's start tag (`empty`: the whole empty element), its
/// namespace declared.
fn open_tag(property: &Property, empty: bool) -> String {
    let declare = match property.ns.as_str() {
        DAV => String::new(),
        "" => " xmlns=\"\"".to_owned(),
        ns => format!(" xmlns:x=\"{}\"", quick_xml::escape::escape(ns)),
    };
    let end = if empty { "/>" } else { ">" };
    format!("<{}{declare}{end}", qualified(property))
}

/// One `<D:activelock>` of `lock` at `now`.
pub fn active(lock: &DavLock, now: i64) -> String {
    let scope = if lock.shared { "shared" } else { "exclusive" };
    let depth = if lock.deep { "infinity" } else { "0" };
    let owner = match lock.owner.is_empty() {
        true => String::new(),
        false => format!("<D:owner>{}</D:owner>", lock.owner),
    };
    let folder = if lock.deep { "/" } else { "" };
    format!(
        "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:{scope}/></D:lockscope><D:depth>{depth}</D:depth>{owner}<D:timeout>Second-{}</D:timeout><D:locktoken><D:href>{}</D:href></D:locktoken><D:lockroot><D:href>/{}{folder}</D:href></D:lockroot></D:activelock>",
        lock.left(now),
        xml::escape(&lock.token),
        xml::escape(&url_path(&lock.root)),
    )
}

/// `lockdiscovery`'s value for `name`: the live locks covering it.
pub fn discovery(locks: &[DavLock], now: i64, name: &str) -> String {
    locks
        .iter()
        .filter(|lock| lock.expires > now && lock.covers(name))
        .map(|lock| active(lock, now))
        .collect()
}

/// Appends a LOCK's answer: `201` where it made the file, else `200`; a
/// new lock's token in `Lock-Token`; the lock in a `lockdiscovery`.
pub fn answer(granted: &Granted, message: Message, out: &mut Vec<u8>) {
    let now = granted.lock.expires - i64::try_from(granted.left).unwrap_or(0);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>{}</D:lockdiscovery></D:prop>\n",
        active(&granted.lock, now)
    );
    let status = if granted.created { 201 } else { 200 };
    let mut head = ResponseHead::new(out, status).header("Content-Type", xml::MEDIA_TYPE);
    if granted.new {
        head = head.header("Lock-Token", format!("<{}>", granted.lock.token));
    }
    head.finish(body.len() as u64, message.persistence);
    if !message.head {
        out.extend_from_slice(body.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockinfo_keeps_the_owner_with_its_namespaces() {
        let body = br#"<?xml version="1.0"?><A:lockinfo xmlns:A="DAV:"><A:lockscope><A:shared/></A:lockscope><A:locktype><A:write/></A:locktype><A:owner><A:href>me &amp; you</A:href><z:n xmlns:z="urn:z"/></A:owner></A:lockinfo>"#;
        let (shared, owner) = lockinfo(body).unwrap();
        assert!(shared);
        assert_eq!(
            owner,
            "<D:href>me &amp; you</D:href><x:n xmlns:x=\"urn:z\"/>"
        );
        let plain = br#"<lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><write/></locktype><owner>litmus</owner></lockinfo>"#;
        assert_eq!(lockinfo(plain).unwrap(), (false, "litmus".to_owned()));
    }

    #[test]
    fn lockinfo_refuses_what_is_no_write_lock() {
        let read = br#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>"#;
        assert!(lockinfo(read).is_err());
        let unscoped =
            br#"<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
        assert!(lockinfo(unscoped).is_err());
        let xxe = br#"<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><D:lockinfo xmlns:D="DAV:"/>"#;
        assert!(lockinfo(xxe).is_err());
        assert!(lockinfo(b"<D:propfind xmlns:D=\"DAV:\"/>").is_err());
        assert!(lockinfo(b"<D:lockinfo xmlns:D=\"DAV:\">").is_err());
    }

    fn with_owner(owner: &str) -> Vec<u8> {
        format!("<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>{owner}</D:owner></D:lockinfo>").into_bytes()
    }

    #[test]
    fn an_owner_is_bounded_and_has_no_undefined_entity() {
        let ok = "<D:href>me &amp; &#x263A; &#65;</D:href>";
        assert_eq!(lockinfo(&with_owner(ok)).unwrap().1, ok);
        assert!(lockinfo(&with_owner("&undefined;")).is_err());
        assert!(lockinfo(&with_owner("&#0;")).is_err());
        assert!(lockinfo(&with_owner("&#xZZ;")).is_err());
        let deep = |n: usize| "<a>".repeat(n) + &"</a>".repeat(n);
        assert!(lockinfo(&with_owner(&deep(MAX_OWNER_DEPTH))).is_ok());
        assert!(lockinfo(&with_owner(&deep(MAX_OWNER_DEPTH + 1))).is_err());
        assert!(lockinfo(&with_owner(&deep(9000))).is_err());
        assert!(lockinfo(&with_owner(&"x".repeat(MAX_OWNER))).is_ok());
        assert!(lockinfo(&with_owner(&"x".repeat(MAX_OWNER + 1))).is_err());
    }
}
