//! One contract, two engines, for S3's multipart uploads: begun, parts
//! staged, replaced, copied and counted, completed from the parts chosen
//! and answered again from the mark, through `SessionStore` alone, on the
//! POSIX root and on the memory store.

use ferry::access::quota::Quota;
use ferry::model::{Account, SessionLimits};
use ferry::storage::{Committing, Open, Part, SessionStore, StorageError, Store};

use super::conformance::{engines, name_of};
use super::conformance_sessions::{HUNDRED_BYTES, limits};
use super::conformance_uploads::{counting, read};

/// Stages part `number` of upload `id` of `name` as `bytes`.
fn stage(sessions: &dyn SessionStore, (id, name): (&str, &str), number: u32, bytes: &[u8]) {
    let asked = (number, Some(bytes.len() as u64), Quota::default());
    let mut part = sessions.begin_part(id, &name_of(name), asked).unwrap();
    part.write(bytes).unwrap();
    let digests = (md5_of(bytes), crc32c::crc32c(bytes), None);
    part.commit(digests, false).unwrap();
}

/// A stand-in for a part's MD5: its length and first byte (the engines
/// keep what they are given).
fn md5_of(bytes: &[u8]) -> [u8; 16] {
    let mut md5 = [0; 16];
    md5[0] = bytes.len() as u8;
    md5[1] = bytes.first().copied().unwrap_or(0);
    md5
}

/// Completes upload `id` of `name` from every part staged, and commits it.
fn complete(
    store: &dyn Store,
    (id, name): (&str, &str),
    listed: &str,
) -> Result<u64, StorageError> {
    let mut all = |staged: Vec<Part>, _: Option<&str>| Some(staged);
    let finished = store
        .sessions()
        .finish_multipart((id, &name_of(name), listed), &mut all);
    let (upload, size, crc, _) = finished?;
    match store.commit(upload, crc, false, &mut |_| true)? {
        Committing::Done(_) => Ok(size),
        _ => panic!("a commit not asked to be durable took steps"),
    }
}

#[test]
fn parts_are_staged_apart_replaced_by_number_and_completed_as_chosen() {
    for engine in engines(&[], &["b"]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("b/obj");
        let begun = sessions.begin_multipart(&name, Some("kept"), &limits(None));
        let id = begun.unwrap().id;
        assert!(sessions.is_multipart(&id), "{kind}");
        let other = sessions.multipart(&id, &name_of("b/other"));
        assert!(matches!(other, Err(StorageError::NoSuchUpload)), "{kind}");
        let bucketless = sessions.begin_multipart(&name_of("nb/obj"), None, &limits(None));
        assert!(matches!(bucketless, Err(StorageError::NoBucket)), "{kind}");
        let as_session = sessions.append(
            &id,
            ferry::storage::Appending {
                offset: 0,
                len: 1,
                ttl: None,
                size: None,
                ahead: None,
                anywhere: false,
            },
            &mut |_| true,
        );
        assert!(
            matches!(as_session, Err(StorageError::NoSuchUpload)),
            "{kind}"
        );
        let committed = sessions.finish_session(&id, None);
        assert!(
            matches!(committed, Err(StorageError::NoSuchUpload)),
            "{kind}"
        );

        stage(sessions, (&id, "b/obj"), 1, b"aaa");
        stage(sessions, (&id, "b/obj"), 2, b"bb");
        stage(sessions, (&id, "b/obj"), 2, b"BB");
        let mut cut = sessions
            .begin_part(&id, &name, (3, Some(4), Quota::default()))
            .unwrap();
        assert_eq!(cut.upload_meta(), Some("kept"), "{kind}");
        cut.write(b"cc").unwrap();
        drop(cut);
        let parts = sessions.parts(&id, &name).unwrap();
        let seen: Vec<_> = parts.iter().map(|p| (p.number, p.size, p.md5[1])).collect();
        assert_eq!(seen, [(1, 3, b'a'), (2, 2, b'B')], "{kind}");
        assert_eq!(parts[0].crc, crc32c::crc32c(b"aaa"), "{kind}");

        let mut none = |_: Vec<Part>, _: Option<&str>| None;
        let refused = sessions.finish_multipart((&id, &name, "list"), &mut none);
        assert!(matches!(refused, Err(StorageError::NotAdmitted)), "{kind}");
        assert!(sessions.multipart(&id, &name).is_ok(), "{kind}: it stays");

        let mut meta = None;
        let mut last = |staged: Vec<Part>, said: Option<&str>| {
            meta = said.map(str::to_owned);
            Some(staged.into_iter().filter(|p| p.number == 2).collect())
        };
        let (upload, size, crc, kept) = sessions
            .finish_multipart((&id, &name, "list"), &mut last)
            .unwrap();
        assert_eq!(meta.as_deref(), Some("kept"), "{kind}");
        assert_eq!(
            (size, crc, kept.as_deref()),
            (2, crc32c::crc32c(b"BB"), Some("kept")),
            "{kind}"
        );
        match store.commit(upload, crc, false, &mut |_| true).unwrap() {
            Committing::Done(_) => {}
            _ => panic!("{kind}: steps"),
        }
        assert_eq!(read(store, "b/obj"), b"BB", "{kind}");
        let gone = sessions.multipart(&id, &name);
        assert!(matches!(gone, Err(StorageError::NoSuchUpload)), "{kind}");
        assert!(sessions.completed_multipart(&id, &name, "list"), "{kind}");
        assert!(
            !sessions.completed_multipart(&id, &name, "other list"),
            "{kind}"
        );
    }
}

#[test]
fn a_part_copied_from_an_object_takes_the_range_asked() {
    for engine in engines(&[("b/src", b"0123456789")], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("b/copy");
        let id = sessions
            .begin_multipart(&name, None, &limits(None))
            .unwrap()
            .id;
        let source = store.open(&name_of("b/src"), Open::Read).unwrap().unwrap();
        let mut part = sessions
            .begin_part(&id, &name, (1, Some(5), Quota::default()))
            .unwrap();
        let mut seen = Vec::new();
        part.copy_from(&source.body, (2, 5), |bytes| seen.extend_from_slice(bytes))
            .unwrap();
        assert_eq!(seen, b"23456", "{kind}");
        part.commit(([0; 16], crc32c::crc32c(b"23456"), None), false)
            .unwrap();
        assert_eq!(complete(store, (&id, "b/copy"), "l").unwrap(), 5, "{kind}");
        assert_eq!(read(store, "b/copy"), b"23456", "{kind}");
        // A range past the object's end: cut while it was read.
        let id = sessions.begin_multipart(&name, None, &limits(None));
        let id = id.unwrap().id;
        let mut part = sessions
            .begin_part(&id, &name, (1, Some(5), Quota::default()))
            .unwrap();
        let cut = part.copy_from(&source.body, (8, 5), |_| {});
        assert!(matches!(cut, Err(StorageError::Io(_))), "{kind}: {cut:?}");
    }
}

#[test]
fn parts_side_by_side_are_counted_before_they_arrive_and_stop_at_the_quota() {
    let quota = HUNDRED_BYTES;
    for (kind, store, _root) in counting(&[]) {
        let store = &*store;
        let sessions = store.sessions();
        store
            .make_folder(&name_of("b"), ferry::storage::Parents::Made { kept: 0 })
            .unwrap();
        let name = name_of("b/big");
        let id = sessions
            .begin_multipart(&name, None, &limits(Some("t")))
            .unwrap()
            .id;
        let used = || store.usage(Account::Token("t")).unwrap().bytes;
        let first = sessions
            .begin_part(&id, &name, (1, Some(60), quota))
            .unwrap();
        let second = sessions.begin_part(&id, &name, (2, Some(60), quota));
        assert!(
            matches!(second, Err(StorageError::OverQuota(_))),
            "{kind}: {second:?}"
        );
        drop(first);
        assert_eq!(used(), 0, "{kind}: given back");
        let mut first = sessions
            .begin_part(&id, &name, (1, Some(60), quota))
            .unwrap();
        first.write(&[b'p'; 60]).unwrap();
        first.commit(([0; 16], 0, None), false).unwrap();
        assert_eq!(used(), 60, "{kind}: staged");
        sessions.abort_session(&id, None).unwrap();
        assert_eq!(used(), 0, "{kind}: aborted");
    }
}

#[test]
fn a_completion_waits_for_the_parts_on_their_way_and_a_refused_one_leaves_it_whole() {
    for engine in engines(&[], &["b"]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("b/w");
        let id = sessions
            .begin_multipart(&name, None, &limits(None))
            .unwrap()
            .id;
        stage(sessions, (&id, "b/w"), 1, b"one");
        let mut arriving = sessions
            .begin_part(&id, &name, (2, Some(3), Quota::default()))
            .unwrap();
        arriving.write(b"two").unwrap();
        let mut all = |staged: Vec<Part>, _: Option<&str>| Some(staged);
        let busy = sessions.finish_multipart((&id, &name, "l"), &mut all);
        assert!(
            matches!(busy, Err(StorageError::SessionBusy)),
            "{kind}: {busy:?}"
        );
        arriving
            .commit((md5_of(b"two"), crc32c::crc32c(b"two"), None), false)
            .unwrap();

        let mut none = |_: Vec<Part>, _: Option<&str>| None;
        let refused = sessions.finish_multipart((&id, &name, "l"), &mut none);
        assert!(matches!(refused, Err(StorageError::NotAdmitted)), "{kind}");
        // Not left committing: a part is still taken, the upload still
        // completes.
        stage(sessions, (&id, "b/w"), 3, b"three");
        let (upload, ..) = sessions
            .finish_multipart((&id, &name, "l"), &mut all)
            .unwrap();
        drop(upload);
        assert!(
            !sessions.completed_multipart(&id, &name, "l"),
            "{kind}: dropped"
        );
        assert_eq!(complete(store, (&id, "b/w"), "l").unwrap(), 11, "{kind}");
        assert_eq!(read(store, "b/w"), b"onetwothree", "{kind}");
    }
}

#[test]
fn a_cut_upload_that_cannot_be_kept_goes_with_the_folders_it_made() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("deep/er/f");
        let mut cut = store
            .begin_upload(
                &name,
                ferry::model::Folders::Implicit,
                ferry::storage::Look::AtBegin,
            )
            .unwrap();
        cut.write(b"abc").unwrap();
        let none = SessionLimits {
            total: 0,
            ..limits(Some("t"))
        };
        let refused = sessions.keep_upload(cut, &name, (3, crc32c::crc32c(b"abc")), &none);
        assert!(refused.is_err(), "{kind}");
        let gone = store.occupant(&name_of("deep"));
        assert_eq!(gone.unwrap(), ferry::model::Occupant::Nothing, "{kind}");
    }
}
