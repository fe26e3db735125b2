//! Serving files: PUT, GET, STAT, LIST, DELETE and ECHO, and what happens
//! when a body has arrived (verify, commit, answer) or a file has gone out.

use std::time::Instant;

use log::{info, warn};

use super::{Body, BodyLength, Commit, Receive, Send, Sink};
use super::{
    Ctx, ErrorKind, Failure, Next, Outcome, Reply, Selection, Version, Want, check_size,
    check_writable, refuse, skip_body, storage_refusal,
};
use crate::config::Config;
use crate::name::{Name, Prefix};
use crate::storage::{OpenFile, StorageError};

/// PUT: refuse (skipping the body where we can) or start receiving it.
pub(super) fn put(ctx: &mut Ctx<'_>, name: Name, body: Body, crc: Option<u32>) -> Outcome {
    if let Err(failure) = check_writable(ctx.config) {
        return refuse(
            ctx,
            "PUT",
            name.as_str(),
            failure,
            skip_body(body, ctx.config),
        );
    }
    let size = match body.length {
        BodyLength::Fixed(size) => Some(size),
        BodyLength::Chunked => None,
    };
    if let Some(Err(failure)) = size.map(|size| check_size(ctx.config, size)) {
        // Reading a body we refuse could take forever: close instead.
        return refuse(ctx, "PUT", name.as_str(), failure, Next::Close);
    }
    match ctx.storage.begin_upload(&name) {
        Ok(upload) => {
            let receive = Receive::new(Sink::File(upload), name, size, crc);
            Outcome::new(Reply::GoAhead, Next::Receive(receive))
        }
        Err(err) => refuse(
            ctx,
            "PUT",
            name.as_str(),
            err.into(),
            skip_body(body, ctx.config),
        ),
    }
}

/// GET: open the file and send what `want` selects of it.
pub(super) fn get(ctx: &mut Ctx<'_>, name: Name, want: &Want) -> Outcome {
    let OpenFile { file, info, crc } = match ctx.storage.open_read(&name) {
        Ok(found) => found,
        Err(StorageError::IsDirectory) => {
            info!("#{} GET {name}: is a directory", ctx.client);
            return Outcome::answer(Reply::Directory { name });
        }
        Err(err) => return storage_refusal(ctx, "GET", name.as_str(), err),
    };
    let version = Version { info, crc };
    let (start, len, part, body) = match want.select(&version) {
        Selection::NotModified => return Outcome::answer(Reply::NotModified { version }),
        Selection::Unsatisfiable => {
            return Outcome::answer(Reply::Unsatisfiable { size: info.size });
        }
        Selection::Bytes {
            start,
            len,
            part,
            body,
        } => (start, len, part, body),
    };
    let reply = Reply::File {
        version,
        start,
        len,
        part,
    };
    if !body || len == 0 {
        info!("#{} GET {name} headers only", ctx.client);
        return Outcome::answer(reply);
    }
    let send = Send {
        file,
        name,
        offset: start,
        left: len,
        len,
        started: Instant::now(),
    };
    Outcome::new(reply, Next::Send(send))
}

/// A GET body has gone out.
pub fn sent(client: u64, send: &Send) {
    info!(
        "#{client} GET {} {} bytes {:.3}s",
        send.name,
        send.len,
        send.started.elapsed().as_secs_f64()
    );
}

pub(super) fn stat(ctx: &mut Ctx<'_>, name: &Name) -> Outcome {
    match ctx.storage.stat(name) {
        Ok((info, crc)) => {
            info!("#{} STAT {name}", ctx.client);
            Outcome::answer(Reply::Stat {
                version: Version { info, crc },
            })
        }
        Err(err) => storage_refusal(ctx, "STAT", name.as_str(), err),
    }
}

pub(super) fn list(ctx: &mut Ctx<'_>, prefix: Prefix, directory: bool) -> Outcome {
    let entries = match ctx.storage.list(&prefix) {
        Ok(entries) => entries,
        Err(err) => return storage_refusal(ctx, "LIST", prefix.as_str(), err),
    };
    // Directories exist only through the files in them.
    if directory && entries.is_empty() && !prefix.as_str().is_empty() {
        let failure = Failure::new(ErrorKind::NotFound, "no such directory");
        return refuse(ctx, "LIST", prefix.as_str(), failure, Next::Request);
    }
    info!(
        "#{} LIST {:?} {} files",
        ctx.client,
        prefix.as_str(),
        entries.len()
    );
    Outcome::answer(Reply::Listing { prefix, entries })
}

pub(super) fn delete(ctx: &mut Ctx<'_>, name: &Name) -> Outcome {
    if let Err(failure) = check_writable(ctx.config) {
        return refuse(ctx, "DELETE", name.as_str(), failure, Next::Request);
    }
    match ctx.storage.delete(name) {
        Ok(()) => {
            info!("#{} DELETE {name}", ctx.client);
            Outcome::answer(Reply::Done)
        }
        Err(err) => storage_refusal(ctx, "DELETE", name.as_str(), err),
    }
}

pub(super) fn echo(size: u64) -> Outcome {
    let next = match size {
        0 => Next::Request,
        left => Next::Echo { left },
    };
    Outcome::new(Reply::Echo { size }, next)
}

/// A whole body has arrived: commit the PUT, or report the APPEND.
pub fn finish_receive(receive: Receive, config: &Config, client: u64) -> Outcome {
    let Receive {
        sink,
        name,
        size,
        crc,
        expected_crc,
        started,
        ..
    } = receive;
    let upload = match sink {
        Sink::File(upload) => upload,
        Sink::Session(appender) => {
            let received = appender.received();
            info!("#{client} APPEND {name} {size} bytes, now at {received}");
            return Outcome::answer(Reply::Appended { received });
        }
    };
    if let Some(expected) = expected_crc.filter(|&e| e != crc) {
        warn!("#{client} PUT {name}: checksum {crc:08x}, client said {expected:08x}");
        let failure = Failure::new(
            ErrorKind::ChecksumMismatch,
            format!("checksum mismatch: received {crc:08x}, expected {expected:08x}"),
        );
        return Outcome::failed(failure, Next::Request); // dropping `upload` removes the temp file
    }
    let replaced = upload.replaces_existing();
    let commit = Commit {
        upload: Some(upload),
        name,
        size,
        crc,
        started,
        replaced,
    };
    commit_upload(commit, config, client)
}

/// Commits a verified upload: on the fsync thread with `--fsync` (the
/// connection waits in `Committing`), else at once.
pub(super) fn commit_upload(mut commit: Commit, config: &Config, client: u64) -> Outcome {
    if config.fsync {
        return Outcome::new(Reply::Nothing, Next::Commit(Box::new(commit)));
    }
    let result = match commit.upload.take() {
        Some(upload) => upload.commit(commit.crc),
        None => unreachable!("the upload was just put there"),
    };
    report_commit(&commit, result, client)
}

/// Answers a PUT or COMMIT once its commit is done (or failed).
pub fn report_commit(commit: &Commit, result: Result<(), StorageError>, client: u64) -> Outcome {
    let name = &commit.name;
    match result {
        Ok(()) => {
            info!(
                "#{client} PUT {name} {} bytes {:.3}s",
                commit.size,
                commit.started.elapsed().as_secs_f64()
            );
            Outcome::answer(Reply::Stored {
                size: commit.size,
                crc: commit.crc,
                replaced: commit.replaced,
            })
        }
        Err(err) => {
            let failure = Failure::from(err);
            info!("#{client} PUT {name}: {failure}");
            Outcome::failed(failure, Next::Request)
        }
    }
}
