//! CopyObject (`PUT /<bucket>/<key>` with `x-amz-copy-source`) as one of
//! ferry's operations, and its answer. A copy to another name is ferry's
//! `Copy` (WebDAV COPY's, `serve/ops/file_copy.rs`: `read` on the source, `write`
//! on the copy, WebDAV locks, `--max-file-size`, all checked there),
//! with S3's keys (prefix folders made, a file replaced, a folder never);
//! the copy keeps the source's recorded MD5 as its ETag, and with `COPY`
//! the source's metadata (`meta.rs`) and time, with `REPLACE` the
//! request's. A copy onto itself with `x-amz-metadata-directive: REPLACE`
//! changes the metadata alone (rclone sets a modification time so):
//! ferry's `PropPatch` of the file's time and properties, which keeps its
//! records (the ETag stays the MD5).
//!
//! ```text
//! x-amz-copy-source: [/]<bucket>/<key>[?versionId=null]   (URL-encoded)
//! x-amz-metadata-directive: COPY | REPLACE
//! x-amz-copy-source-if-match / -none-match / -modified-since / -unmodified-since
//! x-amz-copy-source-range: bytes=first-last             (UploadPartCopy only)
//! 200 <CopyObjectResult><LastModified>..</LastModified><ETag>..</ETag></CopyObjectResult>
//! ```

use super::conditions::{Conditions, Verdict};
use super::error::Code;
use super::target::{Target, bucket_name, key_refusal};
use super::{Fields, Refusal, refusal, xml};
use crate::model::NewProps;
use crate::name::Name;
use crate::serve::ops;
use crate::serve::terms::Choose;
use crate::serve::{
    Change, CopyTime, Folders, Operation, PropTarget, PropUpdate, Selection, Version,
};

/// The field naming the source.
pub const SOURCE: &str = "x-amz-copy-source";
/// What the source's conditions' fields start with, before `If-...`.
pub const CONDITION_PREFIX: &str = "x-amz-copy-source-";
/// What the source's conditions' fields start with.
pub const IF_PREFIX: &str = "x-amz-copy-source-if-";
/// UploadPartCopy's range of the source.
pub const RANGE: &str = "x-amz-copy-source-range";

/// CopyObject of the source `fields` name to `to`.
pub(super) fn copy_object(
    to: Name,
    fields: &Fields,
    (mtime, props): super::meta::Given,
) -> Result<Operation, Refusal> {
    // CopyObject copies the whole source: a range is UploadPartCopy's.
    let (from, source) = source(fields, false)?;
    let replace = match fields.metadata_directive.as_deref() {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => {
            return Err(refusal(
                Code::InvalidArgument,
                "x-amz-metadata-directive is COPY or REPLACE",
            ));
        }
    };
    if from == to {
        if !replace {
            return Err(refusal(
                Code::InvalidRequest,
                "a copy onto itself must change something: x-amz-metadata-directive: REPLACE",
            ));
        }
        return Ok(onto_itself(to, mtime, props));
    }
    // COPY carries the source's metadata: its record (the storage's copy
    // takes it along) and its time; REPLACE gives the request's, and the
    // time it sets or the copy's own.
    let (mtime, props) = match replace {
        false => (CopyTime::Source, None),
        true => (
            mtime.map_or(CopyTime::Now, CopyTime::Set),
            Some(props.unwrap_or_else(|| Box::new(NewProps::of(xml::NS)))),
        ),
    };
    Ok(Operation::CopyFile(ops::CopyFile {
        from,
        to,
        overwrite: true,
        folders: Folders::Keys,
        mtime,
        props,
        source: Some(source),
        kept: None,
        deep: Some(true),
    }))
}

/// CopyObject onto itself with `REPLACE`: a `PropPatch` that replaces
/// the metadata kept (S3's namespace cleared, the request's set) and sets
/// the time `x-amz-meta-mtime` gives, all or nothing; the bytes and their
/// records (the ETag) stay.
fn onto_itself(to: Name, mtime: Option<i64>, props: Option<Box<NewProps>>) -> Operation {
    let update = |local: &str, change| PropUpdate {
        ns: xml::NS.to_owned(),
        local: local.to_owned(),
        change,
    };
    let mut updates = vec![update("", Change::Clear)];
    for prop in props.map(|new| new.props).unwrap_or_default() {
        updates.push(update(&prop.local, Change::Set(prop.value)));
    }
    if let Some(time) = mtime {
        updates.push(update("mtime", Change::Mtime(time)));
    }
    let target = PropTarget {
        name: Some(to),
        folder: false,
    };
    Operation::PropPatch(ops::PropPatch {
        target,
        updates,
        preconditions: None,
    })
}

/// The source `fields` name, and what of it a copy takes: the version
/// its conditions allow (`conditions.rs`: S3's precedence, a "not
/// modified" a 412 as well) and, where `ranged` (UploadPartCopy), the
/// bytes `x-amz-copy-source-range` names. One home for CopyObject's and
/// UploadPartCopy's source; judged in the serve layer on the version
/// opened, the one copied.
///
/// # Errors
/// `InvalidArgument` for a source that is not `/<bucket>/<key>` or a
/// range that is not `bytes=first-last`; the key's refusals.
pub(super) fn source(fields: &Fields, ranged: bool) -> Result<(Name, Box<dyn Choose>), Refusal> {
    let from = source_name(fields.copy_source.as_deref().unwrap_or_default())?;
    let range = match fields.copy_range.as_deref().filter(|_| ranged) {
        None => None,
        Some(text) => Some(range(text)?),
    };
    let terms = SourceTerms {
        conditions: fields.copy_conditions.clone(),
        range,
    };
    Ok((from, Box::new(terms)))
}

/// `bytes=first-last` (both given, zero-based, inclusive, in order): the
/// first and last byte.
fn range(text: &str) -> Result<(u64, u64), Refusal> {
    let bad = || {
        refusal(
            Code::InvalidArgument,
            "x-amz-copy-source-range is bytes=first-last",
        )
    };
    let (first, last) = text
        .strip_prefix("bytes=")
        .and_then(|spec| spec.split_once('-'))
        .ok_or_else(bad)?;
    let number = |s: &str| match s.bytes().all(|b| b.is_ascii_digit()) {
        true => s.parse::<u64>().map_err(|_| bad()),
        false => Err(bad()),
    };
    let (first, last) = (number(first)?, number(last)?);
    match first <= last {
        true => Ok((first, last)),
        false => Err(bad()),
    }
}

/// What a copy takes of its source (see [`source`]).
#[derive(Debug)]
struct SourceTerms {
    conditions: Conditions,
    /// The first and last byte, if not the whole.
    range: Option<(u64, u64)>,
}

impl Choose for SourceTerms {
    fn choose(&self, version: &Version) -> Selection {
        let size = version.info.size;
        match (self.conditions.judge(version), self.range) {
            (Verdict::Failed | Verdict::NotModified, _) => Selection::PreconditionFailed,
            (Verdict::Holds, None) => Selection::Bytes {
                start: 0,
                len: size,
                part: false,
                body: true,
            },
            (Verdict::Holds, Some((first, last))) if last < size => Selection::Bytes {
                start: first,
                len: last - first + 1,
                part: true,
                body: true,
            },
            (Verdict::Holds, Some(_)) => Selection::Unsatisfiable,
        }
    }
}

/// The source's name: `[/]<bucket>/<key>`, URL-encoded, with at most
/// `versionId=null` after it.
fn source_name(source: &str) -> Result<Name, Refusal> {
    let bad = || {
        refusal(
            Code::InvalidArgument,
            "x-amz-copy-source is /<bucket>/<key>",
        )
    };
    let path = match source.starts_with('/') {
        true => source.to_owned(),
        false => format!("/{source}"),
    };
    match Target::of(&path)? {
        Target::Object(bucket, key, query) => {
            let other_version = query
                .iter()
                .any(|(name, value)| name != "versionId" || value != "null");
            if other_version {
                return Err(refusal(
                    Code::NotImplemented,
                    "a copy source names the one version there is (versionId=null) or none",
                ));
            }
            bucket_name(&bucket)?;
            Name::new(format!("{bucket}/{key}")).map_err(|err| key_refusal(err, &key))
        }
        _ => Err(bad()),
    }
}

/// CopyObject's answer body: the copy's time and, where known, its ETag.
pub(super) fn result(mtime: i64, etag: Option<String>) -> String {
    let etag = etag
        .map(|etag| format!("<ETag>{}</ETag>", quick_xml::escape::escape(&etag)))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"{}\"><LastModified>{}</LastModified>{etag}</CopyObjectResult>\n",
        xml::NS,
        xml::iso(mtime)
    )
}

/// CopyObject onto itself: the time was set (200), or the change failed
/// (its code; a `PropPatch` of one change fails whole).
pub(super) fn copied_onto_itself(
    patched: &crate::serve::Patched,
    message: crate::http::dialect::Message,
    out: &mut Vec<u8>,
) {
    match patched.not_made() {
        None => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            super::xml_answer(200, &result(now, None), message, out);
        }
        Some(kind) => {
            let failure = crate::serve::Failure::new(kind, "the object's time could not be set");
            let code = super::error::code_of(super::Asked::CopyObject, &failure);
            super::error::write(out, (code.status(), code), &failure.message, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ranges_are_first_and_last_in_order() {
        assert_eq!(range("bytes=0-0").map_err(|e| e.0), Ok((0, 0)));
        assert_eq!(range("bytes=5-9").map_err(|e| e.0), Ok((5, 9)));
        for bad in [
            "bytes=9-5",
            "bytes=-5",
            "bytes=5-",
            "5-9",
            "bytes=a-b",
            "bytes=+1-2",
        ] {
            assert_eq!(
                range(bad).map_err(|e| e.0),
                Err(Code::InvalidArgument),
                "{bad}"
            );
        }
    }

    #[test]
    fn sources_are_bucket_and_key_decoded_once() {
        let name = |s: &str| source_name(s).map(|n| n.as_str().to_owned());
        assert_eq!(name("/bkt/a%20b/c").as_deref(), Ok("bkt/a b/c"));
        assert_eq!(name("bkt/k?versionId=null").as_deref(), Ok("bkt/k"));
        assert_eq!(
            name("/bkt/k?versionId=abc").map_err(|e| e.0),
            Err(Code::NotImplemented)
        );
        assert_eq!(name("/bkt").map_err(|e| e.0), Err(Code::InvalidArgument));
        assert_eq!(
            name("/bkt/a//b").map_err(|e| e.0),
            Err(Code::XFerryInvalidKey)
        );
    }
}
