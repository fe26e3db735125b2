//! What a simulated client learns from an answer (`simulation.rs`): the
//! model of the files changes as a success says ([`Asked::apply_to`]),
//! a resumable upload's progress is kept as far as it was acknowledged
//! ([`Resumable`]), and what the client asks next follows: a session's
//! APPENDs and COMMIT after its UPLOAD, a tus upload's PATCHes after its
//! creation, or after the HEAD a client asks once the server restarted.
//! A refusal drops the plan (aborting a session staged into).
//!
//! A server error passes only where the memory store fired an injected
//! failure during the request. After a crash (`sim_crash.rs`) an upload
//! acknowledged must be found again where it was acknowledged or beyond,
//! and a COMMIT is never refused for a checksum: the clients send exactly
//! their bytes, so a mismatch is bytes staged that were never sent.
#![cfg(all(feature = "webdav", feature = "tus"))] // the simulation's (simulation.rs)

use ferry::storage::memory::MemoryStore;

use super::sim_asks::{Asked, header, session_plan, tus_plan};
use super::sim_conn::files_of;
use super::simulation::{Resumable, Sim};

impl Sim<'_> {
    /// Client `at`'s `asked` was answered (its first `line`, the whole
    /// `answer`).
    pub(super) fn answered(
        &mut self,
        at: usize,
        asked: Asked,
        (line, answer): (&str, &str),
        step: u64,
    ) {
        let ok = line.starts_with("OK") || line.starts_with("HTTP/1.1 2");
        if !ok {
            self.refused(at, &asked, line, step);
            return;
        }
        *self.successes.entry(asked.kind_name()).or_default() += 1;
        match &asked {
            Asked::Upload(name, bytes) => self.session_begun(at, line, (name, bytes), step),
            Asked::Append(..) => {
                let received = line.split(' ').nth(1).and_then(|w| w.parse().ok());
                if let (Some(session), Some(received)) = (&mut self.clients[at].session, received) {
                    session.acked = received;
                }
            }
            Asked::Commit(..) => self.clients[at].session = None,
            Asked::Abort(_) => {
                let client = &mut self.clients[at];
                (client.session, client.resuming) = (None, None);
            }
            Asked::TusCreate(name, bytes) => match header(answer, "Location") {
                Some(location) => self.tus_goes_on(at, (location, 0), (name, bytes)),
                None => self.fail(step, &format!("a creation without its Location: {line}")),
            },
            Asked::TusPatch(_, _, bytes, _, to) => {
                let session = &mut self.clients[at].session;
                match *to == bytes.len() {
                    true => *session = None,
                    false => session.iter_mut().for_each(|s| s.acked = *to),
                }
            }
            Asked::TusHead(url, name, bytes) => {
                let offset = header(answer, "Upload-Offset").and_then(|o| o.parse().ok());
                let Some(offset) = offset else {
                    self.fail(step, &format!("a HEAD without its Upload-Offset: {line}"));
                };
                self.check_resumed(at, offset, step);
                self.tus_goes_on(at, (url, offset), (name, bytes));
            }
            // The destination could not be cleared whole (RFC 4918's
            // 207, the members left named): nothing moved, and what is
            // left of the destination is some of what it held.
            Asked::DavMove(_, to, _) if line.starts_with("HTTP/1.1 207") => {
                let to = format!("{to}/");
                let stored = files_of(self.server.store());
                let kept = |name: &String, bytes: &Vec<u8>| stored.get(name) == Some(bytes);
                self.model
                    .retain(|name, bytes| !name.starts_with(&to) || kept(name, bytes));
                return;
            }
            _ => {}
        }
        asked.apply_to(&mut self.model);
    }

    /// Client `at`'s UPLOAD of `name` was answered `line` (`OK <id>
    /// <received>`): its APPENDs and COMMIT follow, from where it stands,
    /// which must be where it was acknowledged or beyond if it resumes an
    /// upload after a crash.
    fn session_begun(&mut self, at: usize, line: &str, (name, bytes): (&str, &[u8]), step: u64) {
        let mut words = line.split(' ').skip(1);
        let id = words.next().unwrap_or("").to_owned();
        let received = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
        let client = &mut self.clients[at];
        if let Some(was) = client.session.take()
            && client.resuming.is_some()
            && was.id != id
        {
            let lost = format!("session {} was acknowledged, and resumed as {id}", was.id);
            self.fail(step, &lost);
        }
        self.check_resumed(at, received, step);
        let plan = session_plan(&mut self.rng, line, name.to_owned(), bytes.to_vec());
        let client = &mut self.clients[at];
        client.then.extend(plan);
        client.session = Some(Resumable {
            id,
            name: name.to_owned(),
            bytes: bytes.to_vec(),
            acked: received,
        });
    }

    /// Client `at`'s tus upload `url` of `name` stands at `from`: its
    /// PATCHes follow.
    fn tus_goes_on(&mut self, at: usize, (url, from): (&str, usize), (name, bytes): (&str, &[u8])) {
        let plan = tus_plan(&mut self.rng, (url, from), name.to_owned(), bytes.to_vec());
        let client = &mut self.clients[at];
        client.then.extend(plan);
        client.session = Some(Resumable {
            id: url.to_owned(),
            name: name.to_owned(),
            bytes: bytes.to_vec(),
            acked: from,
        });
    }

    /// Client `at`'s upload, resumed after a crash, stands at `offset`:
    /// at least where it was acknowledged.
    fn check_resumed(&mut self, at: usize, offset: usize, step: u64) {
        if let Some(acked) = self.clients[at].resuming.take()
            && offset < acked
        {
            let lost = format!("an upload acknowledged at {acked} was resumed at {offset}");
            self.fail(step, &lost);
        }
    }

    /// Client `at`'s `asked` was refused with `line`: what it planned
    /// after goes, and a session it staged into is aborted (its bytes
    /// would count against the quotas until it expired). Only an injected
    /// failure during the request may make it a server error.
    fn refused(&mut self, at: usize, asked: &Asked, line: &str, step: u64) {
        let server_error = line.starts_with("ERR 5") || line.starts_with("HTTP/1.1 5");
        // 507: a quota or the disk's room, a refusal like any other.
        let fired = self.faults.map(MemoryStore::faults_fired);
        let injected = fired > Some(self.clients[at].fired);
        if server_error && !line.contains(" 507") && !injected {
            self.fail(step, &format!("a server error: {line}"));
        }
        if matches!(asked, Asked::Commit(..)) && line.starts_with("ERR 422") {
            self.fail(step, &format!("staged bytes that were never sent: {line}"));
        }
        let client = &mut self.clients[at];
        if client.resuming.is_some() {
            // No room left for the rest (the quotas are judged as it
            // begins again): the session is aborted, so it must still be
            // there, but where it holds nothing (a refused UPLOAD takes
            // back such a session: `serve/ops/sessions.rs`, `with_room`).
            if let (Asked::Upload(..), Some(session)) = (asked, &client.session)
                && line.starts_with("ERR 507")
            {
                client.then.push_back(Asked::Abort(session.id.clone()));
                if session.acked == 0 {
                    client.resuming = None;
                }
                return;
            }
            let what = asked.describe();
            self.fail(
                step,
                &format!("an acknowledged upload not resumed ({what}): {line}"),
            );
        }
        match asked {
            Asked::Append(_, id, ..) | Asked::Commit(id, ..) => {
                client.then.clear();
                client.then.push_back(Asked::Abort(id.clone()));
                client.session = None;
            }
            Asked::TusPatch(..) => {
                client.then.clear();
                client.session = None;
            }
            Asked::Abort(_) => client.session = None,
            _ => {}
        }
    }
}
