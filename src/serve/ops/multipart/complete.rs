//! A multipart upload's completion (S3's CompleteMultipartUpload): the
//! parts listed checked against those staged, assembled on the pool and
//! committed as every upload is, with the checksum its parts make; a
//! completion sent again answered as the first was.

use std::time::Instant;

use log::debug;

use super::{INVALID_PART, ListedPart, MIN_PART_SIZE, PART_ORDER, PART_TOO_SMALL, began_by};
use crate::access::{Owner, Who};
use crate::config::Config;
use crate::formats::md5::Md5;
use crate::formats::upload_metadata;
use crate::model::{DeadProperty, Md5Tag, NewProps};
use crate::name::Name;
use crate::serve::commit::{Commit, commit_now};
use crate::serve::conditions::{Conditions, create_only_if_required};
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::upload_checksum::{self, Stated, UploadChecksum};
use crate::serve::{
    Ctx, ErrorKind, Failure, Job, Next, Outcome, Reply, SessionStep, check_room, check_size, refuse,
};
use crate::storage::{Part, StorageError};

/// Complete multipart upload `id` of `name` from `parts` (number and
/// ETag, as the client listed them): the object is committed.
#[derive(Debug)]
pub struct CompleteParts {
    /// The object.
    pub name: Name,
    /// The upload.
    pub id: String,
    /// The parts that make it, in order.
    pub parts: Vec<ListedPart>,
    /// The checksums it states of them and of the object, if any.
    pub stated: Option<Box<Stated>>,
    /// Preconditions on the object (`If-Match`, `If-None-Match`), judged
    /// again at the commit: kept from the request's conditions
    /// ([`Operate::keep`]), not set by a codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for CompleteParts {
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        let completing = Completing {
            op: self,
            user: crate::serve::user_of(ctx, &who),
            who,
            started: Instant::now(),
        };
        Outcome::pending(Job::session(SessionStep::CompleteParts(Box::new(
            completing,
        ))))
    }
}

/// A completion on its way to the pool ([`SessionStep::CompleteParts`]).
pub struct Completing {
    /// The completion.
    pub(in crate::serve) op: CompleteParts,
    /// Whose upload it is, for the hooks and the usage ledger.
    user: Option<Owner>,
    /// Who asks it: the token that began the upload ([`began_by`]).
    who: Who,
    /// When it was asked (the commit's log line tells how long it took).
    started: Instant,
}

/// Completes upload `id` of `name` from the `listed` parts (number and
/// ETag, in the client's order): checked against those staged, then
/// assembled (on the pool, among the long jobs: it copies the object)
/// and committed as `user`'s, with the checksum its parts make where the
/// upload has one (checked against those the completion `stated`). A
/// completion sent again after the first
/// succeeded (a client retrying after a lost answer) is answered as the
/// first was, while the upload's mark is kept ([`repeated`]).
/// [`SessionStep::CompleteParts`].
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(in crate::serve) fn complete(ctx: &Ctx<'_>, completing: Completing) -> Outcome {
    let Completing {
        op,
        user,
        who,
        started,
    } = completing;
    let CompleteParts {
        name,
        id,
        parts: listed,
        stated,
        preconditions,
    } = op;
    if let Err(failure) = began_by(ctx, &who, (&id, &name)) {
        return refuse(ctx, "COMMIT", name.as_str(), failure, Next::Request);
    }
    let (tag, digest) = completion(&listed);
    let stated = stated.unwrap_or_default();
    let (mut checksum, mut part_checksums) = (None, None);
    // The engine asks which parts make the object; why none do is
    // kept here, for the answer.
    let mut refusal = None;
    let mut judge = |staged, meta: Option<&str>| {
        let judged = choose(ctx.config, &listed, staged).and_then(|chosen| {
            // The parts are copied into the object: room for all of it
            // (refused, the upload stays, to complete once room is made).
            check_room(ctx, chosen.iter().map(|part| part.size).sum())?;
            let upload = UploadChecksum::of_meta(meta);
            checksum = upload_checksum::of_completion(upload, &chosen, &stated)?;
            if checksum.is_some() {
                part_checksums = chosen.iter().map(|part| part.checksum.clone()).collect();
            }
            Ok(chosen)
        });
        judged.map_err(|failure| refusal = Some(failure)).ok()
    };
    let sessions = ctx.store.sessions();
    let chosen = sessions.finish_multipart((&id, &name, &digest), &mut judge);
    let chosen = chosen.map_err(|err| match (err, refusal.take()) {
        (StorageError::NotAdmitted, Some(refused)) => refused,
        (err, _) => Failure::from(err),
    });
    match chosen {
        Ok((mut upload, size, crc, meta)) => {
            upload.set_multipart_md5(tag.md5, tag.parts.unwrap_or(u32::MAX));
            if let Some(checksums) = part_checksums {
                upload.set_part_checksums(checksums);
            }
            debug!("#{} multipart upload {id} of {name} complete", ctx.client);
            upload.set_mtime(meta.as_deref().and_then(upload_metadata::mtime));
            upload.set_props(meta.as_deref().and_then(kept_props));
            create_only_if_required(&mut upload, preconditions.as_deref());
            let mut commit = Commit::whole(upload, (name, size, crc), started, user);
            commit.meta = meta;
            commit.checksum = checksum.map(Box::new);
            commit.preconditions = preconditions;
            commit_now(ctx, commit)
        }
        Err(failure)
            if failure.kind == ErrorKind::NotFound
                && let Some(checksum) = repeated(ctx, (&id, &name), (&tag, &digest)) =>
        {
            debug!(
                "#{} multipart upload {id} of {name}: complete already",
                ctx.client
            );
            Outcome::answer(Reply::Stored {
                size: 0,
                crc: 0,
                replaced: false,
                session: None,
                md5: Some(tag),
                checksum: checksum.map(Box::new),
                version: None,
            })
        }
        Err(failure) => refuse(ctx, "COMMIT", name.as_str(), failure, Next::Request),
    }
}

/// What a completion's list makes: the object's ETag (the MD5 of the
/// parts' MD5s, and their number: S3's) and a digest of the list itself
/// (numbers and MD5s, which the ETag does not bind), kept in the
/// upload's mark once it is complete.
fn completion(listed: &[ListedPart]) -> (Md5Tag, String) {
    let (mut md5s, mut list) = (Md5::new(), Md5::new());
    for (number, md5) in listed {
        // One that names no MD5 never completes (`choose`): any bytes do.
        let md5 = md5.unwrap_or_default();
        md5s.update(&md5);
        list.update(&number.to_be_bytes());
        list.update(&md5);
    }
    let parts = u32::try_from(listed.len()).unwrap_or(u32::MAX);
    let tag = Md5Tag {
        md5: md5s.finalize(),
        parts: Some(parts),
    };
    let digest = Md5Tag {
        md5: list.finalize(),
        parts: None,
    };
    (tag, digest.text())
}

/// Whether upload `id` of `name`, not there, was completed from the same
/// list (`digest`) and its object is still the one it made (`Some`, with
/// the checksum recorded with it): S3 answers a
/// completion sent again with the first one's `200`, ETag and checksum, so a client
/// whose answer was lost does not report an upload that succeeded as
/// failed. The mark is kept as long as a session holding nothing lives
/// (15 minutes), then swept with expired sessions; another list, or the key since
/// replaced by an object of another ETag, is `NoSuchUpload` as before:
/// the object there is not what this completion made.
fn repeated(
    ctx: &Ctx<'_>,
    (id, name): (&str, &Name),
    (tag, digest): (&Md5Tag, &str),
) -> Option<Option<crate::serve::digest::Checksum>> {
    if !ctx.store.sessions().completed_multipart(id, name, digest) {
        return None;
    }
    let (recorded, checksum) = ctx.store.recorded_tags(name.as_str())?;
    let checksum = checksum
        .as_deref()
        .and_then(crate::serve::digest::Checksum::of_record);
    (recorded == *tag).then_some(checksum)
}

/// The dead properties a session's metadata keeps for its object
/// ([`begin`]).
fn kept_props(meta: &str) -> Option<Box<NewProps>> {
    let (ns, props) = upload_metadata::props(meta)?;
    let props = props
        .into_iter()
        .map(|(local, value)| DeadProperty {
            ns: ns.clone(),
            local,
            value,
        })
        .collect();
    Some(Box::new(NewProps { ns, props }))
}

/// The staged parts that make the object: those `listed`, which must be
/// in ascending order, staged with the ETags given, each but the last at
/// least [`MIN_PART_SIZE`], and all within the size limit.
fn choose(config: &Config, listed: &[ListedPart], staged: Vec<Part>) -> Result<Vec<Part>, Failure> {
    let bad = |message| Failure::new(ErrorKind::BadRequest, message);
    if listed.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(bad(PART_ORDER));
    }
    let mut chosen = Vec::with_capacity(listed.len());
    for (number, md5) in listed {
        match staged.binary_search_by_key(number, |part| part.number) {
            Ok(at) if Some(staged[at].md5) == *md5 => chosen.push(staged[at].clone()),
            _ => return Err(bad(INVALID_PART)),
        }
    }
    let (last, rest) = chosen.split_last().ok_or_else(|| bad(INVALID_PART))?;
    if rest.iter().any(|part| part.size < MIN_PART_SIZE) {
        return Err(bad(PART_TOO_SMALL));
    }
    let size = rest.iter().map(|part| part.size).sum::<u64>() + last.size;
    check_size(config, size)?;
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32, size: u64) -> Part {
        Part {
            number,
            size,
            md5: [number as u8; 16],
            crc: 0,
            modified: 0,
            at: None,
            checksum: None,
        }
    }

    #[test]
    fn parts_must_be_ascending_staged_and_large_enough() {
        let config = Config::default();
        let staged = || vec![part(1, MIN_PART_SIZE), part(2, 1), part(3, 7)];
        let named = |listed: &[(u32, [u8; 16])]| -> Vec<ListedPart> {
            listed.iter().map(|(n, md5)| (*n, Some(*md5))).collect()
        };
        let failed = |listed: &[(u32, [u8; 16])]| {
            choose(&config, &named(listed), staged())
                .map(|_| ())
                .unwrap_err()
                .message
        };
        assert_eq!(failed(&[(2, [2; 16]), (1, [1; 16])]), PART_ORDER);
        assert_eq!(failed(&[(1, [1; 16]), (1, [1; 16])]), PART_ORDER);
        assert_eq!(failed(&[(1, [9; 16])]), INVALID_PART);
        assert_eq!(failed(&[(4, [4; 16])]), INVALID_PART);
        assert_eq!(failed(&[]), INVALID_PART);
        assert_eq!(failed(&[(2, [2; 16]), (3, [3; 16])]), PART_TOO_SMALL);
        let chosen = choose(&config, &named(&[(1, [1; 16]), (3, [3; 16])]), staged());
        let unnamed = choose(&config, &[(1, None)], staged());
        assert_eq!(unnamed.map(|_| ()).unwrap_err().message, INVALID_PART);
        assert_eq!(chosen.map(|parts| parts.len()), Ok(2));
        let small = Config {
            max_file_size: Some(MIN_PART_SIZE),
            ..Config::default()
        };
        let over = choose(&small, &named(&[(1, [1; 16]), (3, [3; 16])]), staged());
        assert_eq!(over.map(|_| ()).unwrap_err().kind, ErrorKind::TooLarge);
    }
}
