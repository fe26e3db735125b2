//! What an S3 request's target names (`/<bucket>/<key>?query`, or the
//! bucket from `Host` in virtual-host style), and how a bucket, a key or
//! a query parameter is read from it, with the S3 codes of those that
//! cannot be ferry names: what every S3 operation's file reads alike,
//! below the dispatch to them (`request.rs`).

use super::super::message::Head;
use super::super::origin::{Site, host_name};
use super::error::Code;
use super::{Refusal, refusal};
use crate::name::{Name, NameError, percent_decode};

/// A request the S3 listener does not serve (501 `NotImplemented`).
pub(super) fn unserved(method: &str) -> Refusal {
    refusal(Code::NotImplemented, format!("{method} here is not served"))
}

/// What a request's target names.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// `/`, and the query.
    Root(Vec<(String, String)>),
    /// `/<bucket>`, and the query.
    Bucket(String, Vec<(String, String)>),
    /// `/<bucket>/<key>`, and the query.
    Object(String, String, Vec<(String, String)>),
}

impl Target {
    /// What a request is on: the one place its bucket is decided. Path
    /// style (`/<bucket>/<key>`), unless the server has an S3 domain
    /// (`--s3-domain`) and `Host` is `<bucket>.<domain>[:port]`: then
    /// virtual-host style, the bucket from `Host` and the path the key
    /// (`/` the bucket itself). `Host` the domain alone (or anything
    /// else) is path style, so ListBuckets is `GET /` on the domain.
    pub(super) fn read(head: &Head<'_>, site: Site<'_>) -> Result<Target, Refusal> {
        let bucket = site.web.s3_domain.as_deref().and_then(|domain| {
            let (_, host) = head
                .fields()
                .find(|(n, _)| n.eq_ignore_ascii_case("host"))?;
            host_bucket(std::str::from_utf8(host).ok()?.trim(), domain)
        });
        let Some(bucket) = bucket else {
            return Target::of(head.target);
        };
        let (key, pairs) = Target::parts(head.target)?;
        Ok(match key.is_empty() {
            true => Target::Bucket(bucket, pairs),
            false => Target::Object(bucket, key, pairs),
        })
    }

    /// Reads a path-style target (a request's, or `x-amz-copy-source`):
    /// `/<bucket>[/<key>]`, the path decoded once, the query's pairs.
    pub(super) fn of(target: &str) -> Result<Target, Refusal> {
        let (path, pairs) = Target::parts(target)?;
        Ok(match path.split_once('/') {
            None if path.is_empty() => Target::Root(pairs),
            None => Target::Bucket(path, pairs),
            Some((bucket, "")) => Target::Bucket(bucket.to_owned(), pairs),
            Some((bucket, key)) => Target::Object(bucket.to_owned(), key.to_owned(), pairs),
        })
    }

    /// A target's path, decoded once and without its leading `/`, and
    /// its query's decoded pairs.
    fn parts(target: &str) -> Result<(String, Vec<(String, String)>), Refusal> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let decoded = |text: &str| {
            percent_decode(text.as_bytes())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| refusal(Code::InvalidArgument, "a target that is not UTF-8"))
        };
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((decoded(name)?, decoded(&value.replace('+', " "))?));
        }
        let path = decoded(path)?;
        let path = match path.strip_prefix('/') {
            Some(rest) => rest.to_owned(),
            None => path,
        };
        Ok((path, pairs))
    }
}

/// The bucket a `Host` value names under `domain`: `<bucket>.<domain>`,
/// any port, any case (a bucket's name is lower-case; the folder too).
fn host_bucket(host: &str, domain: &str) -> Option<String> {
    let name = host_name(host).to_ascii_lowercase();
    let bucket = name.strip_suffix(domain)?.strip_suffix('.')?;
    (!bucket.is_empty()).then(|| bucket.to_owned())
}

/// A bucket as a folder's name: one segment.
pub(super) fn bucket_name(bucket: &str) -> Result<Name, Refusal> {
    let name = Name::new(bucket.to_owned()).map_err(|err| key_refusal(err, bucket))?;
    match bucket.contains('/') {
        true => Err(refusal(Code::InvalidBucketName, "a bucket is one name")),
        false => Ok(name),
    }
}

/// The S3 error for a key (or bucket) that cannot be a ferry name.
pub(super) fn key_refusal(err: NameError, key: &str) -> Refusal {
    match err {
        NameError::TooLong => refusal(Code::KeyTooLongError, "a key is at most 1024 bytes"),
        NameError::Reserved => refusal(
            Code::AccessDenied,
            "keys with a segment starting with .ferry- are the server's own",
        ),
        // No client means these: S3's own answer and words.
        NameError::NotUtf8 | NameError::ControlCharacter => {
            refusal(Code::InvalidURI, "Couldn't parse the specified URI.")
        }
        err => refusal(
            Code::XFerryInvalidKey,
            format!("{key:?} cannot be a file name: {err}"),
        ),
    }
}

/// The value of query parameter `name`.
pub(super) fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_buckets_and_keys_decoded_once() {
        assert_eq!(Target::of("/"), Ok(Target::Root(vec![])));
        assert_eq!(Target::of("/b"), Ok(Target::Bucket("b".into(), vec![])));
        assert_eq!(
            Target::of("/b/?list-type=2&prefix=a%2Fb"),
            Ok(Target::Bucket(
                "b".into(),
                vec![
                    ("list-type".into(), "2".into()),
                    ("prefix".into(), "a/b".into())
                ]
            ))
        );
        assert_eq!(
            Target::of("/b/dir/%25%20x"),
            Ok(Target::Object("b".into(), "dir/% x".into(), vec![]))
        );
    }

    #[test]
    fn a_host_names_a_bucket_only_under_the_domain() {
        let domain = "s3.example";
        let bucket = |host| host_bucket(host, domain);
        assert_eq!(bucket("b.s3.example"), Some("b".into()));
        assert_eq!(bucket("B.S3.Example:9000"), Some("b".into()));
        assert_eq!(bucket("my.b.s3.example."), Some("my.b".into()));
        for other in [
            "s3.example",
            ".s3.example",
            "b.s3.example.org",
            "bs3.example",
            "[::1]:9000",
        ] {
            assert_eq!(bucket(other), None, "{other}");
        }
    }

    #[test]
    fn keys_that_cannot_be_names_get_their_codes() {
        let code = |key: &str| Name::new(format!("b/{key}")).map_err(|e| key_refusal(e, key).0);
        assert_eq!(code("a//b"), Err(Code::XFerryInvalidKey));
        assert_eq!(code("a/../b"), Err(Code::XFerryInvalidKey));
        assert_eq!(code("dir/"), Err(Code::XFerryInvalidKey));
        assert_eq!(code(".ferry-tmp"), Err(Code::AccessDenied));
        assert_eq!(code(&"k".repeat(1100)), Err(Code::KeyTooLongError));
        assert!(code("a/b.txt").is_ok());
    }
}
