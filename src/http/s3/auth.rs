//! The credential an S3 request presents, and which signature carries
//! it: none (anonymous), SigV4 in `Authorization` (`sigv4.rs`) or in the
//! query (`presign.rs`), SigV2 in `Authorization` or in the query
//! (`sigv2.rs`). Each is checked here as far as the head alone allows
//! (its form, its time, every `x-amz-*` field signed); the signature
//! itself by access control, with the key's secret, where failures are
//! counted per address whatever the version.
//!
//! ```text
//! ?X-Amz-Signature=...            SigV4, presigned
//! ?AWSAccessKeyId=...&Signature=  SigV2, presigned
//! Authorization: AWS4-HMAC-SHA256 SigV4
//! Authorization: AWS <id>:<sig>   SigV2
//! ```

use super::super::message::Head;
use super::error::Code;
use super::fields::Fields;
use super::target::Target;
use super::{Refusal, has_param, presign, refusal, sigv2, sigv4};
use crate::access::Secret;
use crate::access::sigv4::{Chain, SeedKey};

/// The credential a request presents, for access control to check. A
/// body whose chunks are signed gets the chain they continue (in
/// `fields`).
pub(super) fn credential(
    head: &Head<'_>,
    mut target: Option<&mut Target>,
    fields: &mut Fields,
) -> Result<Option<Secret>, Refusal> {
    let now = time::OffsetDateTime::now_utc();
    let in_query = |name| target.as_deref().is_some_and(|t| has_param(t, name));
    let (v4_query, v2_query) = (
        in_query("X-Amz-Signature"),
        in_query("AWSAccessKeyId") || in_query("Signature"),
    );
    if (v4_query || v2_query) && fields.authorization.is_some() {
        let both = "a request is signed in Authorization or in its query, not both";
        return Err(refusal(Code::InvalidArgument, both));
    }
    if v4_query {
        return presign::presigned(head, now).map(|signed| Some(Secret::signed(signed)));
    }
    if v2_query {
        let bucket = host_bucket(head, target.as_deref());
        let signed = sigv2::presigned(head, bucket.as_deref(), now)?;
        if let Some(target) = target.as_deref_mut() {
            without_v2_params(target);
        }
        return Ok(Some(Secret::signed_v2(signed)));
    }
    match &fields.authorization {
        None => Ok(None),
        Some(value) if value.starts_with(sigv2::SCHEME) => {
            let bucket = host_bucket(head, target.as_deref());
            let signed = sigv2::header(head, value, bucket.as_deref(), now)?;
            Ok(Some(Secret::signed_v2(signed)))
        }
        Some(_) => sigv4_header(head, fields, now).map(Some),
    }
}

/// The credential of a request signed with SigV4 in `Authorization`.
fn sigv4_header(
    head: &Head<'_>,
    fields: &mut Fields,
    now: time::OffsetDateTime,
) -> Result<Secret, Refusal> {
    let value = fields.authorization.as_deref().unwrap_or_default();
    let auth = sigv4::authorization(value).map_err(|(code, m)| refusal(code, m))?;
    // Its time: `x-amz-date`, else `Date` (which SigV4 allows).
    let from_date = match &fields.amz_date {
        Some(_) => None,
        None => head
            .fields()
            .find(|(name, _)| name.eq_ignore_ascii_case("date"))
            .and_then(|(_, value)| sigv4::amz_date_of_http_date(&String::from_utf8_lossy(value))),
    };
    let amz_date = fields
        .amz_date
        .as_deref()
        .or(from_date.as_deref())
        .ok_or_else(|| {
            refusal(
                Code::AccessDenied,
                "a signed request needs X-Amz-Date or Date",
            )
        })?;
    let payload = sigv4::payload_hash(fields.content_sha256.as_deref())?;
    // What a body's chunk signatures chain from, kept only for such a body.
    let chained = payload
        .starts_with(sigv4::SIGNED_CHUNKS)
        .then(|| (auth.scope.clone(), auth.signature));
    let mut signed = sigv4::signed(head, auth, amz_date, payload, now)?;
    if let Some((scope, seed)) = chained {
        let key = SeedKey::default();
        fields.chain = Some(Chain::new(key.clone(), amz_date, &scope, seed));
        signed.seed = Some(key);
    }
    Ok(Secret::signed(signed))
}

/// The bucket `Host` named (virtual-host style), which SigV2's resource
/// begins with; none in path style, whose path names it already. The
/// target read as path style is another exactly when `Host` named the
/// bucket: a virtual host's path is all key.
fn host_bucket(head: &Head<'_>, target: Option<&Target>) -> Option<String> {
    let target = target?;
    match (target, Target::of(head.target)) {
        (_, Ok(path_style)) if path_style == *target => None,
        (Target::Bucket(bucket, _) | Target::Object(bucket, _, _), _) => Some(bucket.clone()),
        (Target::Root(_), _) => None,
    }
}

/// A SigV2 presigned target without its signature's parameters, and
/// without the fields botocore copies into such a query (`content-type`,
/// `content-md5`, `x-amz-*`: S3 reads those from the head, where the
/// signature covers them), so that the operation is read from the rest.
fn without_v2_params(target: &mut Target) {
    let (Target::Bucket(_, query) | Target::Object(_, _, query)) = target else {
        return;
    };
    query.retain(|(name, _)| {
        !matches!(
            name.as_str(),
            "AWSAccessKeyId" | "Signature" | "Expires" | "content-type" | "content-md5"
        ) && !name.starts_with("x-amz-")
    });
}
