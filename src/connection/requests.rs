//! Serving requests: what each FERRY/1 verb does once its line is parsed,
//! and the states a request leads to. Part of the connection state machine
//! (see `mod.rs`); everything here runs inside [`Connection::drive`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use log::{debug, info, warn};

use super::{Connection, Env, Protocol, State};
use crate::config::Config;
use crate::http::ChunkDecoder;
use crate::name::Name;
use crate::protocol::{Request, Response};
use crate::storage::{Appender, OpenFile, StorageError, Upload};

/// GET bodies up to this size are sent from the output queue together with
/// the response head, not with `sendfile`.
pub(super) const INLINE_BODY: u64 = 16 * 1024;

/// Where a body that is arriving goes.
pub(super) enum Sink {
    /// A PUT's temp file.
    File(Upload),
    /// An upload session (APPEND).
    Session(Appender),
}

/// A PUT or APPEND whose body is arriving.
pub(super) struct Receive {
    pub(super) sink: Sink,
    pub(super) name: Name,
    pub(super) size: u64,
    pub(super) left: u64,
    pub(super) crc: u32,
    pub(super) expected_crc: Option<u32>,
    pub(super) started: Instant,
    /// For an HTTP chunked body: its decoder (`size` then counts up).
    pub(super) chunked: Option<Box<ChunkDecoder>>,
}

impl Receive {
    /// Passes body bytes to where they go.
    pub(super) fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let written = match &mut self.sink {
            Sink::File(upload) => upload.write(data),
            Sink::Session(appender) => appender.write(data),
        };
        self.crc = crc32c::crc32c_append(self.crc, data);
        written
    }
}

/// A verified upload waiting for the fsync thread (`--fsync`).
pub(super) struct Commit {
    /// Taken by the reactor, which hands it to the fsync thread.
    pub(super) upload: Option<Upload>,
    pub(super) name: Name,
    pub(super) size: u64,
    pub(super) crc: u32,
    pub(super) started: Instant,
    /// It replaces an existing file (HTTP answers 204 rather than 201).
    pub(super) replaced: bool,
}

/// A GET whose body is going out.
pub(super) struct Send {
    pub(super) file: File,
    pub(super) name: Name,
    pub(super) offset: u64,
    pub(super) left: u64,
    pub(super) len: u64,
    pub(super) started: Instant,
}

impl Connection {
    /// Acts on a parsed request: answers it at once or enters a body state.
    pub(super) fn start(&mut self, request: Request, env: &mut Env<'_>) -> State {
        debug!("#{} {:?}", self.id, request);
        match request {
            Request::Put { name, size, crc } => self.start_put(name, size, crc, env),
            Request::Get {
                name,
                offset,
                length,
            } => self.start_get(name, offset, length, env),
            Request::Stat { name } => {
                match env.storage.stat(&name) {
                    Ok((info, crc)) => {
                        info!("#{} STAT {name}", self.id);
                        self.queue(Response::Stat {
                            size: info.size,
                            mtime: info.mtime,
                            crc,
                        });
                    }
                    Err(err) => self.refuse("STAT", &name, &err),
                }
                State::AwaitHeader
            }
            Request::List { prefix } => {
                match env.storage.list(&prefix) {
                    Ok(entries) => {
                        let mut body = Vec::new();
                        for entry in &entries {
                            let line = format!(
                                "{} {} {}\n",
                                entry.info.size,
                                entry.info.mtime,
                                crate::name::encode(&entry.name)
                            );
                            body.extend_from_slice(line.as_bytes());
                        }
                        info!(
                            "#{} LIST {:?} {} files",
                            self.id,
                            prefix.as_str(),
                            entries.len()
                        );
                        self.queue(Response::Length {
                            len: body.len() as u64,
                        });
                        self.output.extend_from_slice(&body);
                    }
                    Err(err) => {
                        warn!("#{} LIST failed: {err}", self.id);
                        self.queue_error(err.code(), &err.to_string());
                    }
                }
                State::AwaitHeader
            }
            Request::Del { name } => {
                if env.config.read_only {
                    self.queue_error(403, "server is read-only");
                } else {
                    match env.storage.delete(&name) {
                        Ok(()) => {
                            info!("#{} DEL {name}", self.id);
                            self.queue(Response::Ok);
                        }
                        Err(err) => self.refuse("DEL", &name, &err),
                    }
                }
                State::AwaitHeader
            }
            Request::Echo { size } => {
                self.queue(Response::Length { len: size });
                discard_or(size, State::EchoingBody { left: size })
            }
            Request::Upload { name, size, crc } => self.start_upload(name, size, crc, env),
            Request::Append { id, offset, len } => self.start_append(&id, offset, len, env),
            Request::Commit { id } => self.start_commit(&id, env),
            Request::Abort { id } => self.start_abort(&id, env),
            Request::Quit => {
                self.queue(Response::Ok);
                State::Done
            }
        }
    }

    fn start_put(&mut self, name: Name, size: u64, crc: Option<u32>, env: &mut Env<'_>) -> State {
        if env.config.read_only {
            self.queue_error(403, "server is read-only");
            return refused_body(size, env.config);
        }
        if let Some(max) = env.config.max_file_size.filter(|&max| size > max) {
            // Reading a body we refuse could take forever: close instead.
            warn!(
                "#{} PUT {name}: {size} bytes is over the {max}-byte limit",
                self.id
            );
            self.queue_error(413, &format!("file larger than the {max}-byte limit"));
            return State::Done;
        }
        match env.storage.begin_upload(&name) {
            Ok(upload) => {
                let receive = Box::new(Receive {
                    sink: Sink::File(upload),
                    name,
                    size,
                    left: size,
                    crc: 0,
                    expected_crc: crc,
                    started: Instant::now(),
                    chunked: None,
                });
                if size == 0 {
                    self.finish_receive(*receive, env.config)
                } else {
                    State::ReceivingBody(receive)
                }
            }
            Err(err) => {
                self.refuse("PUT", &name, &err);
                refused_body(size, env.config)
            }
        }
    }

    fn start_get(
        &mut self,
        name: Name,
        offset: u64,
        length: Option<u64>,
        env: &mut Env<'_>,
    ) -> State {
        let OpenFile { file, info, crc } = match env.storage.open_read(&name) {
            Ok(found) => found,
            Err(err) => {
                self.refuse("GET", &name, &err);
                return State::AwaitHeader;
            }
        };
        if offset > info.size {
            self.queue_error(416, &format!("offset past the end ({} bytes)", info.size));
            return State::AwaitHeader;
        }
        let len = (info.size - offset).min(length.unwrap_or(u64::MAX));
        // One allocation for the response line and a body sent inline.
        self.output.reserve(64 + len.min(INLINE_BODY) as usize);
        self.queue(Response::Body {
            len,
            total: info.size,
            crc,
        });
        self.send_body_of(file, name, offset, len)
    }

    /// The body of a GET: small ones are read straight behind the response
    /// head so both leave in one write (cheaper than a second system call
    /// for `sendfile`); larger ones go out with `sendfile` from
    /// `SendingBody`.
    pub(super) fn send_body_of(&mut self, file: File, name: Name, offset: u64, len: u64) -> State {
        if len <= INLINE_BODY {
            let start = self.output.len();
            self.output.resize(start + len as usize, 0);
            match file.read_exact_at(&mut self.output[start..], offset) {
                Ok(()) => {
                    info!("#{} GET {name} {len} bytes", self.id);
                    return State::AwaitHeader;
                }
                Err(err) => {
                    // The head is queued: the only honest answer left is
                    // to stop sending, as when sendfile fails.
                    warn!("#{} GET {name}: {err}", self.id);
                    self.output.truncate(start);
                    return State::Done;
                }
            }
        }
        State::SendingBody(Box::new(Send {
            file,
            name,
            offset,
            left: len,
            len,
            started: Instant::now(),
        }))
    }

    /// Verifies and commits a fully received upload.
    /// A whole body has arrived: commit the PUT, or report the APPEND.
    pub(super) fn finish_receive(&mut self, receive: Receive, config: &Config) -> State {
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
            Sink::Session(appender) => return self.finish_append(&name, size, &appender),
        };
        if let Some(expected) = expected_crc.filter(|&e| e != crc) {
            warn!(
                "#{} PUT {name}: checksum {crc:08x}, client said {expected:08x}",
                self.id
            );
            self.queue_error(
                422,
                &format!("checksum mismatch: received {crc:08x}, expected {expected:08x}"),
            );
            return State::AwaitHeader; // dropping `upload` removes the temp file
        }
        let replaced = upload.replaces_existing();
        self.commit_upload(
            Commit {
                upload: Some(upload),
                name,
                size,
                crc,
                started,
                replaced,
            },
            config,
        )
    }

    /// Commits a verified upload: on the fsync thread with `--fsync` (the
    /// connection waits in `Committing`), else at once.
    pub(super) fn commit_upload(&mut self, mut commit: Commit, config: &Config) -> State {
        if config.fsync {
            return State::Committing(Box::new(commit));
        }
        let result = match commit.upload.take() {
            Some(upload) => upload.commit(commit.crc),
            None => unreachable!("the upload was just put there"),
        };
        self.report_commit(commit, result)
    }

    /// Answers a PUT once its commit is done (or failed).
    pub(super) fn report_commit(
        &mut self,
        commit: Commit,
        result: Result<(), StorageError>,
    ) -> State {
        let Commit {
            name,
            size,
            crc,
            started,
            replaced,
            ..
        } = commit;
        match result {
            Ok(()) => {
                info!(
                    "#{} PUT {name} {size} bytes {:.3}s",
                    self.id,
                    started.elapsed().as_secs_f64()
                );
                match self.protocol {
                    Protocol::Ferry => self.queue(Response::Stored { size, crc }),
                    Protocol::Http => self.http_stored(replaced, crc),
                }
            }
            Err(err) => self.refuse("PUT", &name, &err),
        }
        State::AwaitHeader
    }
    pub(super) fn refuse(&mut self, verb: &str, name: &Name, err: &StorageError) {
        info!("#{} {verb} {name}: ERR {} {err}", self.id, err.code());
        self.queue_error(err.code(), &err.to_string());
    }
}

/// The state after a PUT refused before its body: skip the body, unless it
/// is over `--max-file-size`, which we would not read for a stored file
/// either (then answer and close, as for a 413).
pub(super) fn refused_body(size: u64, config: &Config) -> State {
    match config.max_file_size {
        Some(max) if size > max => State::Done,
        _ => discard(size),
    }
}

/// The state after a failed PUT: skip its remaining body.
pub(super) fn discard(left: u64) -> State {
    discard_or(left, State::DrainingBody { left })
}

/// `AwaitHeader` when there is no body left, else `state`.
fn discard_or(left: u64, state: State) -> State {
    if left == 0 { State::AwaitHeader } else { state }
}
