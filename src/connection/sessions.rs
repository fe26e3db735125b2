//! Serving resumable uploads: UPLOAD, APPEND, COMMIT and ABORT (see
//! `storage/sessions.rs` for where the bytes are staged). An APPEND's body
//! streams like a PUT's, into the session instead of a temp file; a COMMIT
//! then goes through the same commit path as a PUT.

use std::time::Instant;

use log::info;

use super::requests::{Commit, Receive, Sink, refused_body};
use super::{Connection, Env, State};
use crate::name::Name;
use crate::protocol::Response;
use crate::storage::Appender;

impl Connection {
    pub(super) fn start_upload(
        &mut self,
        name: Name,
        size: u64,
        crc: u32,
        env: &mut Env<'_>,
    ) -> State {
        if env.config.read_only {
            self.queue_error(403, "server is read-only");
        } else if let Some(max) = env.config.max_file_size.filter(|&max| size > max) {
            self.queue_error(413, &format!("file larger than the {max}-byte limit"));
        } else {
            match env
                .storage
                .begin_session(&name, size, crc, env.config.upload_ttl)
            {
                Ok(session) => {
                    info!(
                        "#{} UPLOAD {name} session {} at {} of {size} bytes",
                        self.id, session.id, session.received
                    );
                    self.queue(Response::Session {
                        id: &session.id,
                        received: session.received,
                    });
                }
                Err(err) => self.refuse("UPLOAD", &name, &err),
            }
        }
        State::AwaitHeader
    }

    pub(super) fn start_append(
        &mut self,
        id: &str,
        offset: u64,
        len: u64,
        env: &mut Env<'_>,
    ) -> State {
        if env.config.read_only {
            self.queue_error(403, "server is read-only");
            return refused_body(len, env.config);
        }
        match env.storage.append(id, offset, len) {
            Ok((appender, session)) => {
                let receive = Receive {
                    sink: Sink::Session(appender),
                    name: session.name,
                    size: len,
                    left: len,
                    crc: 0,
                    expected_crc: None,
                    started: Instant::now(),
                    chunked: None,
                };
                if len == 0 {
                    self.finish_receive(receive, env.config)
                } else {
                    State::ReceivingBody(Box::new(receive))
                }
            }
            Err(err) => {
                info!("#{} APPEND {id}: ERR {} {err}", self.id, err.code());
                self.queue_error(err.code(), &err.to_string());
                refused_body(len, env.config)
            }
        }
    }

    /// An APPEND's body has arrived: say how far the session is.
    pub(super) fn finish_append(&mut self, name: &Name, len: u64, appender: &Appender) -> State {
        info!(
            "#{} APPEND {name} {len} bytes, now at {}",
            self.id,
            appender.received()
        );
        self.queue(Response::Length {
            len: appender.received(),
        });
        State::AwaitHeader
    }

    pub(super) fn start_commit(&mut self, id: &str, env: &mut Env<'_>) -> State {
        if env.config.read_only {
            self.queue_error(403, "server is read-only");
            return State::AwaitHeader;
        }
        match env.storage.finish_session(id) {
            Ok((upload, session)) => {
                let replaced = upload.replaces_existing();
                self.commit_upload(
                    Commit {
                        upload: Some(upload),
                        name: session.name,
                        size: session.size,
                        crc: session.crc,
                        started: Instant::now(),
                        replaced,
                    },
                    env.config,
                )
            }
            Err(err) => {
                info!("#{} COMMIT {id}: ERR {} {err}", self.id, err.code());
                self.queue_error(err.code(), &err.to_string());
                State::AwaitHeader
            }
        }
    }

    pub(super) fn start_abort(&mut self, id: &str, env: &mut Env<'_>) -> State {
        if env.config.read_only {
            self.queue_error(403, "server is read-only");
        } else {
            match env.storage.abort_session(id) {
                Ok(()) => {
                    info!("#{} ABORT {id}", self.id);
                    self.queue(Response::Ok);
                }
                Err(err) => self.queue_error(err.code(), &err.to_string()),
            }
        }
        State::AwaitHeader
    }
}
