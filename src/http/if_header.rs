//! WebDAV's `If:` field (RFC 4918 10.4), sans-IO: lists of conditions on
//! lock tokens and entity tags, untagged (about the request's target) or
//! tagged with the resource they are about. Parsed here into the serve
//! layer's [`Conditions`], which judges them (`serve/locks.rs`). Any
//! dialect whose requests a WebDAV client sends (files' `PUT`, `DELETE`,
//! `MOVE`; WebDAV's own) reads it with [`conditions`].
//!
//! ```text
//! If            = 1*No-tag-list / 1*Tagged-list
//! No-tag-list   = List
//! Tagged-list   = Resource-Tag 1*List
//! List          = "(" 1*Condition ")"
//! Condition     = ["Not"] (State-token / "[" entity-tag "]")
//! State-token   = "<" absolute-URI ">"          ; a lock token, or DAV:no-lock
//! Resource-Tag  = "<" Simple-ref ">"
//! ```

use super::fields::path_of;
use super::message::{Head, Refused};
use super::preconditions;
use crate::name;
use crate::serve::conditions::{Condition, Conditions, List, Test};

/// The most conditions one `If:` may hold (a head is at most 8 KiB anyway;
/// this bounds the work of judging them).
const MAX_CONDITIONS: usize = 64;

/// One list as written: its resource tag (a URL, or `None`: untagged) and
/// its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The resource tag, as sent.
    pub resource: Option<String>,
    /// The conditions.
    pub conditions: Vec<Condition>,
}

/// Parses an `If:` value.
///
/// # Errors
/// Why it is not one (400): an unknown token, a list without a
/// condition, an unclosed bracket, tagged and untagged lists mixed, too
/// many conditions.
pub fn parse(value: &str) -> Result<Vec<Parsed>, String> {
    let mut rest = value.trim_start();
    let mut lists = Vec::new();
    let mut tag: Option<String> = None;
    let mut tagged = None;
    let mut count = 0;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let (url, after) = until(after, '>')?;
            if tagged == Some(false) || tag.is_some() && lists_after_tag(&lists, &tag) == 0 {
                return Err(
                    "a resource tag must be followed by a list, and not mixed with untagged lists"
                        .into(),
                );
            }
            tag = Some(url.to_owned());
            tagged = Some(true);
            rest = after;
        } else if let Some(after) = rest.strip_prefix('(') {
            if tagged.is_none() {
                tagged = Some(false);
            }
            let (conditions, after) = list(after)?;
            count += conditions.len();
            if count > MAX_CONDITIONS {
                return Err(format!("at most {MAX_CONDITIONS} conditions"));
            }
            lists.push(Parsed {
                resource: tag.clone(),
                conditions,
            });
            rest = after;
        } else {
            return Err("an If list starts with ( or a resource tag with <".into());
        }
        rest = rest.trim_start();
    }
    if lists.is_empty() || lists_after_tag(&lists, &tag) == 0 {
        return Err("an If field holds at least one list, after each resource tag".into());
    }
    Ok(lists)
}

/// How many lists the last resource tag has.
fn lists_after_tag(lists: &[Parsed], tag: &Option<String>) -> usize {
    lists
        .iter()
        .rev()
        .take_while(|list| list.resource == *tag)
        .count()
}

/// The text up to `end` (not included) and what follows it.
fn until(text: &str, end: char) -> Result<(&str, &str), String> {
    text.split_once(end)
        .ok_or_else(|| format!("an If field misses a {end}"))
}

/// One list's conditions, after its `(`, and what follows its `)`.
fn list(mut rest: &str) -> Result<(Vec<Condition>, &str), String> {
    let mut conditions = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(')') {
            if conditions.is_empty() {
                return Err("an If list holds at least one condition".into());
            }
            return Ok((conditions, after));
        }
        let not = match rest.get(..3) {
            Some(word) if word.eq_ignore_ascii_case("not") => {
                rest = rest[3..].trim_start();
                true
            }
            _ => false,
        };
        let (test, after) = if let Some(after) = rest.strip_prefix('<') {
            let (token, after) = until(after, '>')?;
            (Test::Token(token.to_owned()), after)
        } else if let Some(after) = rest.strip_prefix('[') {
            let (tag, after) = entity_tag(after)?;
            (Test::Tag(tag.to_owned()), after)
        } else {
            return Err("an If condition is a <state token> or an [entity tag]".into());
        };
        conditions.push(Condition { not, test });
        rest = after;
    }
}

/// An entity tag (`[W/]"..."`, whose quotes may hold a `]`) after its
/// `[`, and what follows its `]`.
fn entity_tag(text: &str) -> Result<(&str, &str), String> {
    let bad = || "an If entity tag is [\"...\"] or [W/\"...\"]".to_owned();
    let opaque = text.strip_prefix("W/").unwrap_or(text);
    let inner = opaque.strip_prefix('"').ok_or_else(bad)?;
    let close = inner.find('"').ok_or_else(bad)?;
    let end = text.len() - inner.len() + close + 1;
    let after = text[end..].strip_prefix(']').ok_or_else(bad)?;
    Ok((&text[..end], after))
}

/// The name a URL or absolute path names (percent-decoded, without its
/// leading and trailing `/`; `""`: the root).
fn resource_name(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => url,
    };
    let path = path_of(path).strip_prefix('/')?;
    let decoded = name::percent_decode(path.as_bytes()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.trim_end_matches('/').to_owned())
}

/// The conditions of the `If:` fields of `head` (whose target is their
/// untagged lists' resource) and, unless it is a `GET` or `HEAD`, of its
/// `If-Match` and `If-None-Match` (`preconditions.rs`), or `None`
/// without any.
///
/// # Errors
/// 400: a malformed `If:`, `If-Match` or `If-None-Match`, or a resource
/// tag (or a target) that names no path.
pub fn conditions(head: &Head<'_>) -> Result<Option<Box<Conditions>>, Refused> {
    let required = match head.method {
        "GET" | "HEAD" => None,
        _ => match preconditions::of_head(head)? {
            (None, None) => None,
            (if_match, if_none_match) => {
                let resource = resource_name(head.target)
                    .ok_or_else(|| (400, format!("{:?} names no path here", head.target)))?;
                preconditions::required(resource, if_match, if_none_match)
            }
        },
    };
    let lists = lists(head)?;
    if lists.is_empty() && required.is_none() {
        return Ok(None);
    }
    Ok(Some(Box::new(Conditions {
        lists,
        required,
        etag: super::response::etag,
    })))
}

/// The lists of the `If:` fields of `head`, each with its resource.
fn lists(head: &Head<'_>) -> Result<Vec<List>, Refused> {
    let mut lists = Vec::new();
    for (field, value) in head.fields() {
        if !field.eq_ignore_ascii_case("if") {
            continue;
        }
        let text = std::str::from_utf8(value).map_err(|_| (400, "If is not text".to_owned()))?;
        lists.extend(parse(text).map_err(|message| (400, message))?);
    }
    let target = head.target;
    lists
        .into_iter()
        .map(|parsed| {
            let url = parsed.resource.as_deref().unwrap_or(target);
            let resource = resource_name(url)
                .ok_or_else(|| (400, format!("If names {url:?}, which is no path here")))?;
            Ok(List {
                resource,
                conditions: parsed.conditions,
            })
        })
        .collect::<Result<Vec<_>, Refused>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(not: bool, text: &str) -> Condition {
        Condition {
            not,
            test: Test::Token(text.into()),
        }
    }

    fn tag(text: &str) -> Condition {
        Condition {
            not: false,
            test: Test::Tag(text.into()),
        }
    }

    #[test]
    fn untagged_and_tagged_lists() {
        let lists = parse("(<opaquelocktoken:a> [\"e]1\"]) (Not <DAV:no-lock>)").unwrap();
        assert_eq!(
            lists,
            vec![
                Parsed {
                    resource: None,
                    conditions: vec![token(false, "opaquelocktoken:a"), tag("\"e]1\"")],
                },
                Parsed {
                    resource: None,
                    conditions: vec![token(true, "DAV:no-lock")],
                },
            ]
        );
        let lists = parse("<http://h/a%20b> ([W/\"x\"]) (<t>)  </c/> (not <u>)").unwrap();
        assert_eq!(lists.len(), 3);
        assert_eq!(lists[0].resource.as_deref(), Some("http://h/a%20b"));
        assert_eq!(lists[0].conditions, vec![tag("W/\"x\"")]);
        assert_eq!(lists[1].resource.as_deref(), Some("http://h/a%20b"));
        assert_eq!(lists[2].conditions, vec![token(true, "u")]);
        assert_eq!(resource_name("http://h/a%20b/").as_deref(), Some("a b"));
        assert_eq!(resource_name("/").as_deref(), Some(""));
    }

    #[test]
    fn every_split_of_a_valid_field_is_refused_or_shorter() {
        let full = "<http://h/x> (<opaquelocktoken:a> [\"t\"]) (Not <DAV:no-lock>)";
        let whole = parse(full).unwrap();
        for at in 0..full.len() {
            // A prefix is never read as more than the whole field.
            if let Ok(lists) = parse(&full[..at]) {
                assert!(lists.len() < whole.len() || at == full.len(), "{at}");
            }
        }
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "   ",
            "()",
            "(<a>",
            "(<a",
            "([\"a\")",
            "([a])",
            "(x)",
            "<http://h/>",
            "(<a>) <http://h/> (<b>)",
            "<http://h/> (<a>) <http://h/b>",
            "(Not)",
            "garbage",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let many = "(<a>)".repeat(MAX_CONDITIONS + 1);
        assert!(parse(&many).is_err());
    }
}
