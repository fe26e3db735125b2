//! What happens when an upload's body has arrived (verify, commit or
//! stage, answer) and when its writes behind the connection come back,
//! fail or are left: every PUT's, APPEND's and S3 part's end.

use log::warn;

use super::coded::CodedEnd;
use super::commit::{Commit, commit_now};
use super::ops::sessions::AppendEnd;
use super::{Ctx, ErrorKind, Failure, Job, Next, Outcome, Receive, Sink, UploadStep, WriteBehind};
use crate::storage::StorageError;

/// A whole body has arrived: on the pool, write what is gathered, then
/// commit the PUT or report the APPEND ([`UploadStep::Finish`]).
pub fn finish_receive(receive: Box<Receive>, client: u64) -> Outcome {
    Outcome::pending(Job::upload(UploadStep::Finish { receive, client }))
}

/// [`UploadStep::Finish`]: what `receive` gathered written, its body
/// verified, then the PUT committed or the APPEND or part reported.
pub(super) fn finish(ctx: &Ctx<'_>, mut receive: Box<Receive>, client: u64) -> Outcome {
    let coded = match flush(&mut receive, client) {
        Ok(coded) => coded,
        Err(failure) => {
            drop(receive);
            return Outcome::failed(failure, Next::Request);
        }
    };
    let sink = receive.take_sink();
    let trailer = receive.take_trailer();
    let declare = receive.ends_at_eof();
    let Receive {
        name,
        mut size,
        crc,
        mut expected_crc,
        started,
        user,
        commit_at,
        commit_new_only,
        piece,
        digests,
        preconditions,
        ..
    } = *receive;
    if let Some((trailer, bytes)) = trailer {
        size -= trailer.len;
        expected_crc = (trailer.parse)(&bytes);
        if expected_crc.is_none() {
            warn!("#{client} PUT {name}: malformed checksum trailer");
            drop(sink);
            let failure = Failure::new(ErrorKind::BadRequest, "malformed checksum trailer");
            return Outcome::failed(failure, Next::Request);
        }
    }
    let upload = match sink {
        Some(Sink::File(upload)) => upload,
        None => unreachable!("flush succeeds only with the sink home"),
        Some(Sink::Session(appender)) => {
            let end = AppendEnd {
                name,
                size,
                commit_at,
                declare,
                user,
                piece,
                create_only: commit_new_only,
            };
            return super::ops::sessions::finish_append(ctx, client, appender, end);
        }
        Some(Sink::Part(part)) => {
            // An aws-chunked body's part is its payload.
            let (size, trailers) = coded.unwrap_or((size, Vec::new()));
            let part_of = (name, size, crc);
            let digested = (digests, trailers.as_slice());
            return super::ops::multipart::finish_part(ctx, client, part, part_of, digested);
        }
    };
    if let Some(expected) = expected_crc.filter(|&e| e != crc) {
        warn!("#{client} PUT {name}: checksum {crc:08x}, client said {expected:08x}");
        drop(upload);
        let failure = Failure::new(
            ErrorKind::ChecksumMismatch,
            format!("checksum mismatch: received {crc:08x}, expected {expected:08x}"),
        );
        return Outcome::failed(failure, Next::Request);
    }
    let mut upload = upload;
    // An aws-chunked body's file is its payload.
    let (size, trailers) = coded.unwrap_or((size, Vec::new()));
    let mut checksum = None;
    if let Some(digests) = digests {
        match digests.finish(crc, &trailers) {
            Ok(digested) => {
                upload.set_md5(digested.md5);
                checksum = digested.checksum.map(Box::new);
            }
            Err(failure) => {
                warn!("#{client} PUT {name}: {}", failure.message);
                drop(upload);
                return Outcome::failed(failure, Next::Request);
            }
        }
    }
    let mut commit = Commit::whole(upload, (name, size, crc), started, user);
    commit.checksum = checksum;
    commit.preconditions = preconditions;
    commit_now(ctx, commit)
}

/// Writes what `receive` has gathered and ends its transfer coding (an
/// aws-chunked body's payload size and trailers, if it has one). The
/// failure, logged, if either fails.
fn flush(receive: &mut Receive, client: u64) -> Result<Option<CodedEnd>, Failure> {
    if let Err(err) = receive.flush() {
        let name = &receive.name;
        log::log!(err.log_level(), "#{client} upload of {name} failed: {err}");
        return Err(receive.failure(err));
    }
    let coded = receive.coded.as_ref().map(|coded| coded.end()).transpose();
    coded.inspect_err(|failure| warn!("#{client} PUT {}: {}", receive.name, failure.message))
}

/// The write the I/O pool makes behind `receive` while its connection
/// reads on, if its bytes and sink are ready for one; the pool hands the
/// sink back as [`Next::Wrote`].
pub fn write_behind(receive: &mut Receive) -> Option<super::Job> {
    let write = receive.take_write()?;
    Some(Job::upload(UploadStep::Write(Box::new(write))))
}

/// Ends, on the pool, a write behind whose receive has gone.
pub fn dispose(write: Box<WriteBehind>) -> Job {
    Job::upload(UploadStep::Dispose(write))
}

/// For an outcome whose connection has gone: a job that releases what it
/// holds on the pool, where that is disk work (an upload's temp file, a
/// body's file on a network file system).
pub fn leftover(outcome: Outcome) -> Option<Job> {
    match outcome.next {
        // A body read in for a client that has gone: closed where it
        // closes (a network file system's on the pool).
        Next::Send(send) => super::send::closing_job(send),
        Next::Wrote(write) => Some(dispose(write)),
        Next::Receive(receive) => Some(discard(receive)),
        // A job never run (a before-commit hook's, whose upload is
        // dropped with it): released on the pool too.
        Next::Pool(job) => Some(Job::orphaned(job)),
        _ => None,
    }
}

/// A body write failed: the upload ends (on the pool) and its failure is
/// answered as a failed write always is: the rest of a fixed-length body is
/// skipped, a chunked one ends the connection.
pub fn write_failed(receive: Box<Receive>, err: StorageError, client: u64) -> Outcome {
    log::log!(
        err.log_level(),
        "#{client} upload of {} failed: {err}",
        receive.name
    );
    let rest = match (&receive.chunked, receive.left) {
        (Some(_), _) => Next::Close,
        (None, 0) => Next::Request,
        (None, left) => Next::Drain { left },
    };
    let failure = receive.failure(err);
    abandon(receive, failure, rest)
}

/// Ends a receive on the pool (an APPEND keeps what arrived; a PUT's temp
/// file goes: disk work either way), then answers `failure` and goes on to
/// `next`.
pub fn abandon(receive: Box<Receive>, failure: Failure, next: Next) -> Outcome {
    let step = UploadStep::Abandon {
        receive,
        failure,
        next,
    };
    Outcome::pending(Job::upload(step))
}

/// Ends a receive on the pool, for a connection that has gone: a `STOR`
/// cut off is kept to go on with ([`keep_cut`](super::ops::resume::keep_cut)).
pub fn discard(receive: Box<Receive>) -> Job {
    Job::upload(UploadStep::Discard(receive))
}
