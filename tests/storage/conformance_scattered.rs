//! One contract, two engines, for bytes staged anywhere in a session
//! (SFTP's `WRITE` at an offset: `Appending::anywhere`): holes read as
//! zeros, the session holds up to the highest end written, only growth
//! counts against a quota, and the CRC-32C recorded at the commit is the
//! bytes' own, on the POSIX root and on the memory store alike.

use ferry::access::quota::Quota;
use ferry::model::Account;
use ferry::storage::{Appending, Committing, SessionStore, StorageError};

use super::conformance::{engines, name_of};
use super::conformance_sessions::{HUNDRED_BYTES, limits};
use super::conformance_uploads::{counting, read};

/// What an APPEND of `len` bytes anywhere, at `offset`, asks.
fn anywhere(offset: u64, len: u64, ahead: Option<Quota>) -> Appending {
    Appending {
        offset,
        len,
        ttl: None,
        size: None,
        ahead,
        anywhere: true,
    }
}

/// Stages `bytes` at `offset` of session `id`, anywhere; what it holds.
fn place(sessions: &dyn SessionStore, id: &str, offset: u64, bytes: &[u8]) -> u64 {
    let asked = anywhere(offset, bytes.len() as u64, None);
    let (mut appender, _) = sessions.append(id, asked, &mut |_| true).unwrap();
    appender.write(bytes).unwrap();
    appender.finish(false).unwrap()
}

#[test]
fn bytes_written_anywhere_land_where_asked_and_holes_read_as_zeros() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("s/f");
        let id = sessions.begin_new_session(&name, None, None, &limits(None));
        let id = id.unwrap().id;
        assert_eq!(place(sessions, &id, 6, b"world"), 11, "{kind}: its end");
        assert_eq!(place(sessions, &id, 0, b"hellO"), 11, "{kind}: no growth");
        assert_eq!(place(sessions, &id, 4, b"o"), 11, "{kind}: overwritten");
        let mut back = [9u8; 8];
        assert_eq!(
            sessions.read_staged(&id, None, 4, &mut back).unwrap(),
            7,
            "{kind}"
        );
        assert_eq!(&back[..7], b"o\0world", "{kind}: read back, the hole too");
        let past = sessions.read_staged(&id, None, 11, &mut back);
        assert_eq!(past.unwrap(), 0, "{kind}: nothing past its end");
        // An APPEND at the end after them: its CRC is not the running one.
        let at_end = Appending {
            anywhere: false,
            ..anywhere(11, 1, None)
        };
        let (mut appender, _) = sessions.append(&id, at_end, &mut |_| true).unwrap();
        appender.write(b"!").unwrap();
        assert_eq!(appender.finish(false).unwrap(), 12, "{kind}");
        sessions.declare_session_size(&id, 12, None).unwrap();
        let (upload, _, crc) = sessions.finish_session(&id, None).unwrap();
        let expected = b"hello\0world!";
        assert_eq!(crc, crc32c::crc32c(expected), "{kind}: the bytes' own");
        match store.commit(upload, crc, false, &mut |_| true).unwrap() {
            Committing::Done(_) => {}
            _ => panic!("{kind}: a commit not asked to be durable took steps"),
        }
        assert_eq!(read(store, "s/f"), expected, "{kind}");
        let version = store.look_up(&name).unwrap();
        assert_eq!(version.crc, Some(crc32c::crc32c(expected)), "{kind}");
    }
}

#[test]
fn only_the_growth_of_bytes_written_anywhere_counts_against_a_quota() {
    let quota = HUNDRED_BYTES;
    for (kind, store, _root) in counting(&[]) {
        let store = &*store;
        let sessions = store.sessions();
        let used = || store.usage(Account::Token("t")).unwrap().bytes;
        let begun = sessions.begin_new_session(&name_of("q"), None, None, &limits(Some("t")));
        let id = begun.unwrap().id;
        let write = |offset: u64, len: usize| {
            let asked = anywhere(offset, len as u64, Some(quota));
            let (mut appender, _) = sessions.append(&id, asked, &mut |_| true)?;
            appender.write(&vec![b'x'; len])?;
            appender.finish(false)
        };
        assert_eq!(write(0, 60).unwrap(), 60, "{kind}");
        assert_eq!(write(0, 60).unwrap(), 60, "{kind}: written over, no growth");
        assert_eq!(write(30, 60).unwrap(), 90, "{kind}: 30 more");
        assert_eq!(used(), 90, "{kind}");
        let past = write(95, 10);
        assert!(
            matches!(past, Err(StorageError::OverQuota(_))),
            "{kind}: {past:?}"
        );
        assert_eq!(used(), 90, "{kind}: nothing counted for the refused");
        assert_eq!(sessions.session(&id).unwrap().received, 90, "{kind}");
        sessions.abort_session(&id, None).unwrap();
        assert_eq!(used(), 0, "{kind}: all given back");
    }
}

#[test]
fn a_session_committed_create_only_never_replaces_a_file() {
    for engine in engines(&[("there", b"old")], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let id = sessions.begin_new_session(&name_of("there"), None, None, &limits(None));
        let id = id.unwrap().id;
        place(sessions, &id, 0, b"new");
        sessions.declare_session_size(&id, 3, None).unwrap();
        let (mut upload, _, crc) = sessions.finish_session(&id, None).unwrap();
        upload.create_only();
        let refused = store.commit(upload, crc, false, &mut |_| true);
        assert!(
            matches!(refused, Err(StorageError::Exists)),
            "{kind}: {:?}",
            refused.err()
        );
        assert_eq!(read(store, "there"), b"old", "{kind}");
    }
}

/// Whether a handle that opened the kept upload as `opener` may append.
fn admits(sessions: &dyn SessionStore, id: &str, opener: u64) -> bool {
    let asked = anywhere(0, 1, None);
    let judged = sessions.append(id, asked, &mut |info| info.opened_by(Some(opener)).is_ok());
    matches!(judged, Err(StorageError::NotAdmitted))
        .then_some(false)
        .unwrap_or(true)
}

#[test]
fn a_newer_open_of_a_kept_upload_supersedes_the_older_handle() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("status.json");
        let open = |at| {
            sessions.resume_upload(
                &name,
                (at, true, None, Quota::default()),
                &limits(Some("t")),
            )
        };
        let older = open(Some(0)).unwrap();
        assert_eq!(place(sessions, &older.id, 0, b"older bytes"), 11, "{kind}");
        let newer = open(Some(0)).unwrap();
        assert_eq!(
            (newer.id.as_str(), newer.received),
            (older.id.as_str(), 0),
            "{kind}"
        );
        assert_ne!(newer.opener, older.opener, "{kind}");
        // The older handle: its APPEND, size, read, cut, commit and
        // abort refused, changing nothing.
        assert!(!admits(sessions, &older.id, older.opener), "{kind}");
        let (id, was) = (older.id.as_str(), Some(older.opener));
        let superseded = |result: Result<(), StorageError>| {
            assert!(
                matches!(result, Err(StorageError::Superseded)),
                "{kind}: {result:?}"
            );
        };
        superseded(sessions.declare_session_size(id, 11, was));
        superseded(sessions.read_staged(id, was, 0, &mut [0; 4]).map(|_| ()));
        superseded(
            sessions
                .resume_upload(
                    &name,
                    (Some(0), true, was, Quota::default()),
                    &limits(Some("t")),
                )
                .map(|_| ()),
        );
        superseded(sessions.finish_session(id, was).map(|_| ()));
        superseded(sessions.abort_session(id, was));
        // The newer one's bytes land whole.
        assert!(admits(sessions, &newer.id, newer.opener), "{kind}");
        let now = Some(newer.opener);
        assert_eq!(place(sessions, id, 0, b"newer"), 5, "{kind}");
        sessions.declare_session_size(id, 5, now).unwrap();
        let (upload, _, crc) = sessions.finish_session(id, now).unwrap();
        store.commit(upload, crc, false, &mut |_| true).unwrap();
        assert_eq!(read(store, "status.json"), b"newer", "{kind}");
        // Kept anew (under the same id on POSIX: its token's and
        // name's), it does not count from the old handles' numbers.
        let again = open(Some(0)).unwrap();
        assert!(
            ![older.opener, newer.opener].contains(&again.opener),
            "{kind}"
        );
    }
}

#[test]
fn an_open_never_takes_over_an_upload_with_a_write_under_way() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("busy.bin");
        let open = |at| {
            sessions.resume_upload(
                &name,
                (at, true, None, Quota::default()),
                &limits(Some("t")),
            )
        };
        let older = open(Some(0)).unwrap();
        assert_eq!(place(sessions, &older.id, 0, b"first"), 5, "{kind}");
        // A write half-landed: its APPEND is open, some bytes staged.
        let asked = anywhere(5, 6, None);
        let (mut appender, _) = sessions.append(&older.id, asked, &mut |_| true).unwrap();
        appender.write(b"sec").unwrap();
        for at in [Some(0), None] {
            let refused = open(at).map(|_| ());
            assert!(
                matches!(refused, Err(StorageError::SessionBusy)),
                "{kind}: {at:?}: {refused:?}"
            );
        }
        appender.write(b"ond").unwrap();
        assert_eq!(appender.finish(false).unwrap(), 11, "{kind}");
        // Quiet again: the next open takes it over.
        assert_eq!(open(None).unwrap().received, 11, "{kind}");
    }
}
