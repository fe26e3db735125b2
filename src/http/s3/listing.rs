//! ListObjects (V1 and V2) and ListObjectVersions: a request's
//! parameters (prefix, delimiter, page size, where the page starts) as
//! one page of the bucket's keys (`Scope::Keys`), and the answer's format
//! (`xml.rs`).

use super::error::Code;
use super::target::{bucket_name, key_refusal, param};
use super::xml::{self, Listing};
use super::{Refusal, refusal};
use crate::name::Prefix;
use crate::serve::ops;
use crate::serve::{Operation, Page, Scope};

/// Most keys on a page of a listing.
const MAX_KEYS: usize = 1000;

/// ListObjects (V1, or V2 with `list-type=2`), or ListObjectVersions
/// (each key its one version, `null`): one page of the bucket's keys
/// after the marker, start-after, continuation token or key marker,
/// grouped by any delimiter.
pub(super) fn list_objects(
    bucket: &str,
    query: &[(String, String)],
    listing: Listing,
) -> Result<Operation, Refusal> {
    let key_prefix = param(query, "prefix").unwrap_or_default();
    let delimiter = param(query, "delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let max = match param(query, "max-keys") {
        None => MAX_KEYS,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| refusal(Code::InvalidArgument, "max-keys must be a number"))?
            .min(MAX_KEYS),
    };
    let mut echo = Vec::new();
    let mut after = None;
    let starts = match listing {
        Listing::V2 => ["start-after", "continuation-token"],
        Listing::V1 => ["marker", ""],
        Listing::Versions => ["key-marker", ""],
    };
    for name in starts.into_iter().filter(|n| !n.is_empty()) {
        let Some(value) = param(query, name) else {
            continue;
        };
        let key = match name {
            "continuation-token" => xml::after_token(value).ok_or_else(|| {
                refusal(
                    Code::InvalidArgument,
                    "a continuation token of another server",
                )
            })?,
            _ => value.to_owned(),
        };
        echo.push((element_of(name), value.to_owned()));
        after = after.max(Some(key));
    }
    // V1 answers always state their marker, empty where none was given;
    // ListObjectVersions its key and version markers.
    match listing {
        Listing::V1 if echo.is_empty() => echo.push(("Marker", String::new())),
        Listing::Versions => {
            if echo.is_empty() {
                echo.push(("KeyMarker", String::new()));
            }
            let version = param(query, "version-id-marker").unwrap_or_default();
            echo.push(("VersionIdMarker", version.to_owned()));
        }
        _ => {}
    }
    // A prefix no key can have (a control character, `a//`, `../`: keys
    // that cannot be names are refused) matches nothing: an empty page of
    // the bucket, as S3 answers, not a refusal.
    let (prefix, nothing) = match Prefix::new(format!("{bucket}/{key_prefix}")) {
        Ok(prefix) => (prefix, false),
        Err(_) => (
            Prefix::new(format!("{bucket}/")).map_err(|err| key_refusal(err, bucket))?,
            true,
        ),
    };
    let format = xml::Objects {
        bucket: bucket.to_owned(),
        prefix: key_prefix.to_owned(),
        listing,
        delimiter: delimiter.clone(),
        max,
        nothing,
        url: param(query, "encoding-type") == Some("url"),
        echo,
        written: 0,
        last: None,
        truncated: false,
        prefixes: Vec::new(),
        md5: None,
        // Filled with the lister's name (`Format::lister`).
        owner: (listing != Listing::V2 || param(query, "fetch-owner") == Some("true"))
            .then(String::new),
    };
    let page = Page {
        delimiter,
        after: after.map(|key| format!("{bucket}/{key}")),
        // Where nothing can match, the walk stops at the bucket's first
        // entry: it only finds whether the bucket is there.
        max: if nothing { 0 } else { max },
        within: Some(bucket_name(bucket)?),
    };
    Ok(Operation::List(ops::List {
        prefix,
        scope: Scope::Keys(Box::new(page)),
        format: Box::new(format),
        body: true,
    }))
}

/// The XML element a listing parameter is echoed in.
fn element_of(param: &str) -> &'static str {
    match param {
        "marker" => "Marker",
        "start-after" => "StartAfter",
        "key-marker" => "KeyMarker",
        _ => "ContinuationToken",
    }
}
