//! A write's preconditions on its own target, sans-IO: `If-Match` and
//! `If-None-Match` on a `PUT`, `DELETE`, `MOVE`... (RFC 9110 13.1.1-2),
//! and S3's conditional writes, which are the same fields on PutObject.
//! Parsed here into the serve layer's [`List`] of conditions, judged with
//! the `If:` lists before the request is served (`serve/ops/locks.rs`: `412`
//! when one does not hold). On `GET` and `HEAD` the same fields choose
//! between a `200` and a `304` instead: the dialects' own business.
//!
//! ```text
//! If-Match      = "*" / 1#entity-tag      ; the target exists / has one of these tags
//! If-None-Match = "*" / 1#entity-tag      ; the target does not exist / has none of them
//! entity-tag    = [ "W/" ] DQUOTE *etagc DQUOTE
//! ```
//!
//! `If-Match` compares strongly: a weak tag never matches (RFC 9110
//! 13.1.1), so it is dropped. `If-None-Match` compares weakly. ferry's
//! own tags are all strong.
//!
//! Why it matters: a client that writes with `If-Match` (optimistic
//! concurrency) or `If-None-Match: *` (create, never replace: Terraform's
//! S3 state lock, `aws s3api put-object --if-none-match '*'`) counts on a
//! `412` instead of a silent overwrite of somebody else's version.

use super::message::{Head, Refused};
use crate::serve::conditions::{Condition, List, Test};

/// The most tags one field may list (a head is at most 8 KiB anyway; this
/// bounds the work of judging them).
const MAX_TAGS: usize = 64;

/// What one of the fields says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tags {
    /// `*`: any version.
    Any,
    /// These entity tags, quotes and weakness marks as sent.
    These(Vec<String>),
}

/// The write's `If-Match` and `If-None-Match`, each `None` where absent
/// (several lines of one field are one list).
///
/// # Errors
/// 400: a value that is not `*` nor a list of entity tags.
pub fn of_head(head: &Head<'_>) -> Result<(Option<Tags>, Option<Tags>), Refused> {
    let (mut if_match, mut if_none_match) = (None, None);
    for (field, value) in head.fields() {
        let slot = if field.eq_ignore_ascii_case("if-match") {
            &mut if_match
        } else if field.eq_ignore_ascii_case("if-none-match") {
            &mut if_none_match
        } else {
            continue;
        };
        let text = std::str::from_utf8(value).map_err(|_| (400, format!("{field} is not text")))?;
        let tags = parse(text).map_err(|why| (400, format!("{field}: {why}")))?;
        *slot = Some(match (slot.take(), tags) {
            (None, tags) => tags,
            (Some(Tags::These(mut before)), Tags::These(more)) => {
                before.extend(more);
                Tags::These(before)
            }
            // `*` with anything else says `*`.
            _ => Tags::Any,
        });
    }
    Ok((if_match, if_none_match))
}

/// Parses one field's value.
///
/// # Errors
/// Why it is not `*` nor a list of entity tags.
pub fn parse(value: &str) -> Result<Tags, String> {
    let value = value.trim();
    if value == "*" {
        return Ok(Tags::Any);
    }
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let inner = quoted
            .strip_prefix('"')
            .ok_or("an entity tag is quoted, or the value is *")?;
        let end = inner
            .find('"')
            .ok_or("an entity tag misses its closing quote")?;
        let len = usize::from(weak) * 2 + 1 + end + 1;
        tags.push(rest[..len].to_owned());
        if tags.len() > MAX_TAGS {
            return Err(format!("at most {MAX_TAGS} entity tags"));
        }
        rest = &rest[len..];
        if !rest.is_empty() && !rest.starts_with([' ', '\t', ',']) {
            return Err("entity tags are separated by commas".into());
        }
    }
    match tags.is_empty() {
        true => Err("no entity tag".into()),
        false => Ok(Tags::These(tags)),
    }
}

/// The conditions on `resource` (the target's name, as `If:` lists name
/// theirs) that the two fields make, `None` without either.
pub fn required(
    resource: String,
    if_match: Option<Tags>,
    if_none_match: Option<Tags>,
) -> Option<List> {
    let mut conditions = Vec::new();
    if let Some(tags) = if_match {
        let test = match tags {
            Tags::Any => Test::Exists,
            // Compared strongly: a weak tag matches nothing.
            Tags::These(tags) => {
                Test::TagIn(tags.into_iter().filter(|t| !t.starts_with("W/")).collect())
            }
        };
        conditions.push(Condition { not: false, test });
    }
    if let Some(tags) = if_none_match {
        let test = match tags {
            Tags::Any => Test::Exists,
            Tags::These(tags) => Test::TagIn(tags),
        };
        conditions.push(Condition { not: true, test });
    }
    (!conditions.is_empty()).then_some(List {
        resource,
        conditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn these(tags: &[&str]) -> Tags {
        Tags::These(tags.iter().map(|t| (*t).to_owned()).collect())
    }

    #[test]
    fn values_parse_as_rfc_9110_writes_them() {
        assert_eq!(parse("*"), Ok(Tags::Any));
        assert_eq!(parse(" * "), Ok(Tags::Any));
        assert_eq!(parse("\"a\""), Ok(these(&["\"a\""])));
        assert_eq!(
            parse("\"a\", W/\"b\",\"c,d\""),
            Ok(these(&["\"a\"", "W/\"b\"", "\"c,d\""]))
        );
        assert_eq!(parse("\"\""), Ok(these(&["\"\""])));
    }

    #[test]
    fn what_is_no_list_of_tags_is_refused() {
        for bad in ["", "a", "\"a", "W/a", "\"a\"\"b\"", ",", "*, \"a\""] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let many = vec!["\"x\""; MAX_TAGS + 1].join(",");
        assert!(parse(&many).is_err());
    }

    #[test]
    fn the_fields_become_conditions_on_the_target() {
        assert_eq!(required("f".into(), None, None), None);
        let create = required("f".into(), None, Some(Tags::Any)).unwrap();
        assert_eq!(create.resource, "f");
        assert_eq!(
            create.conditions,
            [Condition {
                not: true,
                test: Test::Exists
            }]
        );
        let both = required(
            "f".into(),
            Some(these(&["\"a\"", "W/\"b\""])),
            Some(these(&["\"c\""])),
        );
        assert_eq!(
            both.unwrap().conditions,
            [
                Condition {
                    not: false,
                    test: Test::TagIn(vec!["\"a\"".into()])
                },
                Condition {
                    not: true,
                    test: Test::TagIn(vec!["\"c\"".into()])
                }
            ]
        );
    }
}
