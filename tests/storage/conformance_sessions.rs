//! One contract, two engines, for upload sessions: begun, found again,
//! streamed into, taken over, committed, aborted and expired through the
//! `SessionStore` trait alone (`Store::sessions`), on the POSIX root and
//! on the memory store, with the same answers.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ferry::access::quota::Quota;
use ferry::model::{
    Account, DEFERRED_SIZE, Folders, SessionCap, SessionInfo, SessionLimits, SessionTtl,
};
use ferry::storage::{Appender, Appending, Committing, Look, SessionStore, StorageError, Store};

use super::conformance::{engines, name_of};
use super::conformance_uploads::{counting, read};

/// A token's quota of 100 bytes, no cap on files.
pub(super) const HUNDRED_BYTES: Quota = Quota {
    bytes: Some(100),
    files: None,
};

/// An hour for a session with bytes, a minute for one without.
fn ttl() -> SessionTtl {
    SessionTtl::new(Duration::from_secs(3600), Duration::from_secs(60))
}

/// Room for 100 sessions, begun by `owner` from the loopback address.
pub(super) fn limits(owner: Option<&str>) -> SessionLimits {
    SessionLimits {
        ttl: ttl(),
        total: 100,
        per_client: 100,
        per_owner: 100,
        client: IpAddr::V4(Ipv4Addr::LOCALHOST),
        owner: owner.map(str::to_owned),
        link: None,
        durable: false,
    }
}

/// What an APPEND of `len` bytes at `offset` asks (unexpired, counted
/// ahead against `ahead` where given).
pub(super) fn asking(offset: u64, len: u64, ahead: Option<Quota>) -> Appending {
    Appending {
        offset,
        len,
        ttl: Some(ttl()),
        size: None,
        ahead,
        anywhere: false,
    }
}

/// Opens an APPEND of `asked` on session `id`, for any client.
pub(super) fn open(
    sessions: &dyn SessionStore,
    id: &str,
    asked: Appending,
) -> Result<(Appender, SessionInfo), StorageError> {
    sessions.append(id, asked, &mut |_| true)
}

/// Stages `bytes` at `offset` of session `id`; what it holds then.
fn append(sessions: &dyn SessionStore, id: &str, offset: u64, bytes: &[u8]) -> u64 {
    let (mut appender, _) = open(sessions, id, asking(offset, bytes.len() as u64, None)).unwrap();
    appender.write(bytes).unwrap();
    appender.finish(false).unwrap()
}

/// Commits complete session `id`: the file's bytes land at its name.
fn commit(store: &dyn Store, id: &str) -> Result<(), StorageError> {
    commit_as(store, id, None)
}

/// Commits complete session `id` as `owner`'s file (a token's name and
/// quota), as serve's commit sets it.
fn commit_as(
    store: &dyn Store,
    id: &str,
    owner: Option<(&str, Quota)>,
) -> Result<(), StorageError> {
    let (mut upload, _, crc) = store.sessions().finish_session(id, None)?;
    upload.set_owner(owner.map(|o| o.0), owner.map(|o| o.1));
    match store.commit(upload, crc, false, &mut |_| true)? {
        Committing::Done(_) => Ok(()),
        _ => panic!("{id}: a commit not asked to be durable took steps"),
    }
}

#[test]
fn a_session_is_found_again_by_what_it_uploads_and_lands_whole() {
    let body = b"hello session";
    let crc = crc32c::crc32c(body);
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("s/t/file");
        let size = body.len() as u64;
        // Only looked for, none is made.
        let none = sessions.find_session(&name, size, crc, &limits(None));
        assert!(matches!(none, Err(StorageError::NoSuchUpload)), "{kind}");
        let listed = sessions.list_sessions(ttl(), 10, &|_| true).unwrap();
        assert!(listed.is_empty(), "{kind}: {listed:?}");
        let begun = sessions.begin_session(&name, size, crc, &limits(None));
        let begun = begun.unwrap();
        assert_eq!((begun.received, begun.size), (0, size), "{kind}");
        assert!(begun.expires.is_some(), "{kind}");
        let other = sessions.begin_session(&name, size, crc ^ 1, &limits(None));
        assert_ne!(other.unwrap().id, begun.id, "{kind}: another upload");

        assert_eq!(append(sessions, &begun.id, 0, &body[..5]), 5, "{kind}");
        let again = sessions.begin_session(&name, size, crc, &limits(None));
        let again = again.unwrap();
        assert_eq!(
            (again.id.as_str(), again.received),
            (begun.id.as_str(), 5),
            "{kind}"
        );
        let found = sessions.find_session(&name, size, crc, &limits(None));
        let found = found.unwrap();
        assert_eq!((&found.id, found.received), (&begun.id, 5), "{kind}");
        let others = sessions.find_session(&name, size, crc, &limits(Some("other")));
        assert!(matches!(others, Err(StorageError::NoSuchUpload)), "{kind}");

        let wrong = open(sessions, &begun.id, asking(3, 2, None));
        assert!(matches!(wrong, Err(StorageError::WrongOffset(5))), "{kind}");
        let past = open(sessions, &begun.id, asking(5, size, None));
        assert!(
            matches!(past, Err(StorageError::PastEnd(s)) if s == size),
            "{kind}"
        );
        let early = sessions.finish_session(&begun.id, None);
        assert!(
            matches!(early, Err(StorageError::Incomplete(5, s)) if s == size),
            "{kind}"
        );

        append(sessions, &begun.id, 5, &body[5..]);
        commit(store, &begun.id).unwrap();
        assert_eq!(read(store, "s/t/file"), body, "{kind}");
        let version = store.look_up(&name).unwrap();
        assert_eq!(version.crc, Some(crc), "{kind}");
        let gone = sessions.session(&begun.id);
        assert!(matches!(gone, Err(StorageError::NoSuchUpload)), "{kind}");
    }
}

#[test]
fn a_newer_append_takes_the_session_and_the_older_is_cut_off() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let begun =
            sessions.begin_session(&name_of("f"), 6, crc32c::crc32c(b"abcdef"), &limits(None));
        let id = begun.unwrap().id;
        let (mut older, _) = open(sessions, &id, asking(0, 6, None)).unwrap();
        older.write(b"ab").unwrap();
        let busy = sessions.finish_session(&id, None);
        assert!(matches!(busy, Err(StorageError::SessionBusy)), "{kind}");
        drop(older);

        let (mut older, _) = open(sessions, &id, asking(2, 4, None)).unwrap();
        let (mut newer, info) = open(sessions, &id, asking(2, 4, None)).unwrap();
        assert_eq!(info.received, 2, "{kind}");
        let cut = older.write(b"xx");
        assert!(matches!(cut, Err(StorageError::Superseded)), "{kind}");
        newer.write(b"cdef").unwrap();
        assert_eq!(newer.finish(false).unwrap(), 6, "{kind}");
        drop(older);
        commit(store, &id).unwrap();
        assert_eq!(read(store, "f"), b"abcdef", "{kind}");
    }
}

#[test]
fn bytes_taken_back_leave_the_session_where_the_append_began() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let begun =
            sessions.begin_session(&name_of("g"), 4, crc32c::crc32c(b"wxyz"), &limits(None));
        let id = begun.unwrap().id;
        append(sessions, &id, 0, b"wx");
        let (mut appender, _) = open(sessions, &id, asking(2, 2, None)).unwrap();
        appender.write(b"??").unwrap();
        appender.discard().unwrap();
        assert_eq!(sessions.session(&id).unwrap().received, 2, "{kind}");
        append(sessions, &id, 2, b"yz");
        commit(store, &id).unwrap();
        assert_eq!(read(store, "g"), b"wxyz", "{kind}");
    }
}

#[test]
fn bytes_that_do_not_match_the_crc_end_the_session() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let begun = sessions.begin_session(&name_of("h"), 3, 7, &limits(None));
        let id = begun.unwrap().id;
        append(sessions, &id, 0, b"abc");
        let refused = sessions.finish_session(&id, None);
        let staged = crc32c::crc32c(b"abc");
        assert!(
            matches!(refused, Err(StorageError::ChecksumMismatch(s, 7)) if s == staged),
            "{kind}"
        );
        let gone = sessions.session(&id);
        assert!(matches!(gone, Err(StorageError::NoSuchUpload)), "{kind}");
        let nothing = store.look_up(&name_of("h"));
        assert!(matches!(nothing, Err(StorageError::NotFound)), "{kind}");
    }
}

#[test]
fn a_tus_upload_declares_its_size_and_leaves_a_mark_once_stored() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("t/u");
        let own = sessions.begin_new_session(&name, None, Some("filename dQ=="), &limits(None));
        let own = own.unwrap();
        let twin = sessions.begin_new_session(&name, None, None, &limits(None));
        assert_ne!(twin.unwrap().id, own.id, "{kind}: each its own");
        assert_eq!(own.meta.as_deref(), Some("filename dQ=="), "{kind}");
        let two_lines = sessions.begin_new_session(&name, None, Some("a\nb"), &limits(None));
        assert!(two_lines.is_err(), "{kind}");

        let declaring = Appending {
            size: Some(4),
            ..asking(0, 2, None)
        };
        let (mut appender, info) = open(sessions, &own.id, declaring).unwrap();
        assert_eq!(info.size, 4, "{kind}");
        appender.write(b"tu").unwrap();
        appender.finish(false).unwrap();
        let other = sessions.declare_session_size(&own.id, 5, None);
        assert!(
            matches!(other, Err(StorageError::SizeDeclared(4))),
            "{kind}"
        );
        sessions.declare_session_size(&own.id, 4, None).unwrap();
        append(sessions, &own.id, 2, b"sy");
        commit(store, &own.id).unwrap();
        assert_eq!(read(store, "t/u"), b"tusy", "{kind}");

        let mark = sessions.live_session(&own.id, ttl()).unwrap();
        assert!(mark.stored, "{kind}");
        assert_eq!((mark.received, mark.size), (4, 4), "{kind}");
        let more = open(sessions, &own.id, asking(4, 0, None));
        assert!(matches!(more, Err(StorageError::Stored(4))), "{kind}");
        let mut listed = Vec::new();
        let everything = &|_: &ferry::name::Name| true;
        sessions
            .visit_sessions(ttl(), everything, &mut |s| {
                listed.push(s.info.id);
                true
            })
            .unwrap();
        assert!(!listed.contains(&own.id), "{kind}: a mark is no session");
        sessions.abort_session(&own.id, None).unwrap();
        let gone = sessions.session(&own.id);
        assert!(matches!(gone, Err(StorageError::NoSuchUpload)), "{kind}");
        assert_eq!(read(store, "t/u"), b"tusy", "{kind}: the file stays");
    }
}

#[test]
fn the_caps_refuse_a_session_past_them() {
    for engine in engines(&[("file", b"x")], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let capped = SessionLimits {
            total: 3,
            per_owner: 2,
            ..limits(Some("t"))
        };
        for n in 0..2 {
            let name = name_of(&format!("c{n}"));
            sessions
                .begin_new_session(&name, Some(1), None, &capped)
                .unwrap();
        }
        let third = sessions.begin_new_session(&name_of("c2"), Some(1), None, &capped);
        assert!(
            matches!(
                third,
                Err(StorageError::TooManySessions(SessionCap::Token(2)))
            ),
            "{kind}: {third:?}"
        );
        let other = SessionLimits {
            owner: Some("u".to_owned()),
            ..capped.clone()
        };
        sessions
            .begin_new_session(&name_of("c3"), Some(1), None, &other)
            .unwrap();
        let fourth = sessions.begin_new_session(&name_of("c4"), Some(1), None, &other);
        assert!(
            matches!(
                fourth,
                Err(StorageError::TooManySessions(SessionCap::Server))
            ),
            "{kind}: {fourth:?}"
        );
        let folder = sessions.begin_new_session(&name_of("file/x"), Some(1), None, &limits(None));
        assert!(
            matches!(folder, Err(StorageError::ParentNotDirectory)),
            "{kind}: {folder:?}"
        );
    }
}

#[test]
fn an_append_the_judge_refuses_or_an_abort_cuts_off_changes_nothing() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let begun = sessions.begin_new_session(&name_of("j"), Some(3), None, &limits(None));
        let id = begun.unwrap().id;
        let mut judged = None;
        let refused = sessions.append(&id, asking(0, 3, None), &mut |session| {
            judged = Some(session.name.as_str().to_owned());
            false
        });
        assert!(matches!(refused, Err(StorageError::NotAdmitted)), "{kind}");
        assert_eq!(judged.as_deref(), Some("j"), "{kind}: judged by its name");

        let (mut appender, _) = open(sessions, &id, asking(0, 3, None)).unwrap();
        appender.write(b"a").unwrap();
        sessions.abort_session(&id, None).unwrap();
        let cut = appender.write(b"b");
        assert!(matches!(cut, Err(StorageError::Superseded)), "{kind}");
        drop(appender);
        let gone = sessions.session(&id);
        assert!(matches!(gone, Err(StorageError::NoSuchUpload)), "{kind}");
        let again = sessions.abort_session(&id, None);
        assert!(matches!(again, Err(StorageError::NoSuchUpload)), "{kind}");
    }
}

#[test]
fn the_sweep_removes_sessions_past_their_ttl_and_counts_what_it_removed() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let begun = |name: &str| {
            let begun = sessions.begin_new_session(&name_of(name), Some(3), None, &limits(None));
            begun.unwrap().id
        };
        let (old, kept) = (begun("old"), begun("kept"));
        append(sessions, &kept, 0, b"ab");
        assert_eq!(engine.upkeep.counters().sessions, 2, "{kind}");

        // Sessions without bytes go after the short TTL, those with bytes
        // after the long one: none here, an hour there.
        let short = SessionTtl::new(Duration::from_secs(3600), Duration::ZERO);
        assert_eq!(engine.upkeep.expire_upload_sessions(short), 1, "{kind}");
        let gone = sessions.session(&old);
        assert!(matches!(gone, Err(StorageError::NoSuchUpload)), "{kind}");
        assert_eq!(sessions.session(&kept).unwrap().received, 2, "{kind}");
        assert_eq!(engine.upkeep.counters().sessions, 1, "{kind}");
        assert_eq!(engine.upkeep.expire_upload_sessions(ttl()), 0, "{kind}");
    }
}

#[test]
fn a_session_past_its_ttl_is_removed_when_looked_at() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let begun = sessions.begin_new_session(&name_of("e"), Some(3), None, &limits(None));
        let id = begun.unwrap().id;
        let none = SessionTtl::new(Duration::ZERO, Duration::ZERO);
        let expired = sessions.live_session(&id, none);
        assert!(matches!(expired, Err(StorageError::Expired)), "{kind}");
        let gone = sessions.session(&id);
        assert!(matches!(gone, Err(StorageError::NoSuchUpload)), "{kind}");

        let begun = sessions.begin_new_session(&name_of("e"), Some(3), None, &limits(None));
        let id = begun.unwrap().id;
        let late = Appending {
            ttl: Some(none),
            ..asking(0, 3, None)
        };
        let expired = open(sessions, &id, late);
        assert!(matches!(expired, Err(StorageError::Expired)), "{kind}");
        assert!(sessions.session(&id).is_err(), "{kind}");
    }
}

#[test]
fn staged_bytes_count_for_the_owner_and_appends_side_by_side_stop_at_the_quota() {
    let quota = HUNDRED_BYTES;
    for (kind, store, _root) in counting(&[]) {
        let store = &*store;
        let sessions = store.sessions();
        let used = || store.usage(Account::Token("t")).unwrap().bytes;
        let mut ids = Vec::new();
        for n in 0..2 {
            let name = name_of(&format!("q{n}"));
            let begun = sessions.begin_new_session(&name, Some(60), None, &limits(Some("t")));
            ids.push(begun.unwrap().id);
        }
        // Two APPENDs side by side: the first's 60 bytes are counted
        // before they arrive, so the second's do not fit.
        let (mut first, _) = open(sessions, &ids[0], asking(0, 60, Some(quota))).unwrap();
        let second = open(sessions, &ids[1], asking(0, 60, Some(quota)));
        assert!(
            matches!(second, Err(StorageError::OverQuota(_))),
            "{kind}: {second:?}"
        );
        first.write(&[b'x'; 40]).unwrap();
        drop(first);
        assert_eq!(used(), 40, "{kind}: what was staged, the rest given back");
        let rest = open(sessions, &ids[1], asking(0, 60, Some(quota)));
        assert!(rest.is_ok(), "{kind}: {rest:?}");
        drop(rest);
        assert_eq!(used(), 40, "{kind}");

        append(sessions, &ids[0], 40, &[b'x'; 20]);
        commit_as(store, &ids[0], Some(("t", quota))).unwrap();
        let usage = store.usage(Account::Token("t")).unwrap();
        assert_eq!(
            (usage.bytes, usage.files),
            (60, 1),
            "{kind}: the file's now"
        );
        sessions.abort_session(&ids[1], None).unwrap();
        assert_eq!(used(), 60, "{kind}");
    }
}

/// APPENDs that take a session over one after another, near a quota's
/// edge: each takes on what the one before counted ahead and will never
/// write, so the session's bytes count once all along, and each gives
/// back only what was still its own, whichever ends first.
#[test]
fn a_newer_append_takes_on_what_the_older_counted_and_never_wrote() {
    let quota = HUNDRED_BYTES;
    for (kind, store, _root) in counting(&[]) {
        let store = &*store;
        let sessions = store.sessions();
        let used = || store.usage(Account::Token("t")).unwrap().bytes;
        let name = name_of("edge");
        let begun = sessions.begin_new_session(&name, Some(100), None, &limits(Some("t")));
        let id = begun.unwrap().id;
        let (mut first, _) = open(sessions, &id, asking(0, 100, Some(quota))).unwrap();
        first.write(&[b'a'; 40]).unwrap();
        // Its client went on elsewhere: the quota is full of its count.
        let second = open(sessions, &id, asking(40, 60, Some(quota)));
        let (mut second, info) = second.unwrap_or_else(|err| panic!("{kind}: {err:?}"));
        assert_eq!((info.received, used()), (40, 100), "{kind}");
        second.write(&[b'b'; 20]).unwrap();
        let third = open(sessions, &id, asking(60, 40, Some(quota)));
        let (mut third, _) = third.unwrap_or_else(|err| panic!("{kind}: {err:?}"));
        drop(first);
        assert_eq!(used(), 100, "{kind}: the first's bytes, and the rest");
        let more = open(sessions, &id, asking(60, 41, Some(quota)));
        assert!(matches!(more, Err(StorageError::PastEnd(100))), "{kind}");
        third.write(&[b'c'; 40]).unwrap();
        assert_eq!(third.finish(false).unwrap(), 100, "{kind}");
        drop(second);
        assert_eq!(used(), 100, "{kind}");
        commit_as(store, &id, Some(("t", quota))).unwrap();
        let usage = store.usage(Account::Token("t")).unwrap();
        assert_eq!((usage.bytes, usage.files), (100, 1), "{kind}");
    }
}

/// A newer APPEND the quota refuses takes nothing on: the older one's
/// count stays its own, given back as it ends.
#[test]
fn a_newer_append_the_quota_refuses_takes_nothing_on() {
    let quota = HUNDRED_BYTES;
    for (kind, store, _root) in counting(&[]) {
        let store = &*store;
        let sessions = store.sessions();
        let used = || store.usage(Account::Token("t")).unwrap().bytes;
        let begun = |name: &str, size| {
            let limits = limits(Some("t"));
            let begun = sessions.begin_new_session(&name_of(name), Some(size), None, &limits);
            begun.unwrap().id
        };
        let (id, other) = (begun("edge", 100), begun("other", 50));
        append(sessions, &other, 0, &[b'o'; 50]);
        let (mut older, _) = open(sessions, &id, asking(0, 40, Some(quota))).unwrap();
        older.write(&[b'a'; 10]).unwrap();
        // 30 of its 90 taken on from the older, 60 more: 150 in all.
        let newer = open(sessions, &id, asking(10, 90, Some(quota)));
        assert!(
            matches!(newer, Err(StorageError::OverQuota(_))),
            "{kind}: {newer:?}"
        );
        assert_eq!(used(), 90, "{kind}");
        drop(older);
        assert_eq!(used(), 60, "{kind}: what each staged, the rest given back");
    }
}

#[test]
fn a_listing_goes_newest_first_and_stops_where_told() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        for name in ["l/a", "l/b", "m/c"] {
            let name = name_of(name);
            sessions
                .begin_new_session(&name, Some(1), None, &limits(None))
                .unwrap();
        }
        let under_l = &|name: &ferry::name::Name| name.as_str().starts_with("l/");
        let listed = sessions.list_sessions(ttl(), 10, under_l).unwrap();
        let mut names: Vec<_> = listed.iter().map(|s| s.info.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["l/a", "l/b"], "{kind}");
        assert!(
            listed.iter().all(|s| s.expires_in <= 60),
            "{kind}: empty ones"
        );
        let one = sessions.list_sessions(ttl(), 1, &|_| true).unwrap();
        assert_eq!(one.len(), 1, "{kind}");
        assert!(!sessions.is_multipart(&one[0].info.id), "{kind}");
    }
}

#[test]
fn committing_a_session_into_a_quota_counts_its_bytes_once() {
    let quota = HUNDRED_BYTES;
    for (kind, store, _root) in counting(&["k/=100"]) {
        let store = &*store;
        let sessions = store.sessions();
        let begun =
            sessions.begin_new_session(&name_of("k/big"), Some(80), None, &limits(Some("t")));
        let id = begun.unwrap().id;
        let (mut appender, _) = open(sessions, &id, asking(0, 80, Some(quota))).unwrap();
        appender.write(&[b'y'; 80]).unwrap();
        appender.finish(false).unwrap();
        let folder = store.usage(Account::Folder("k/")).unwrap();
        assert_eq!(folder.bytes, 80, "{kind}: staged");
        commit_as(store, &id, Some(("t", quota))).unwrap();
        let folder = store.usage(Account::Folder("k/")).unwrap();
        assert_eq!((folder.bytes, folder.files), (80, 1), "{kind}: not 160");
    }
}

#[test]
fn a_cut_upload_is_kept_for_its_token_and_goes_on_from_where_asked() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("k/f");
        let mut cut = store
            .begin_upload(&name, Folders::Implicit, Look::AtBegin)
            .unwrap();
        cut.write(b"abcdef").unwrap();
        let staged = (6, crc32c::crc32c(b"abcdef"));
        let id = sessions.keep_upload(cut, &name, staged, &limits(Some("t")));
        let id = id.unwrap();
        let kept = sessions.kept_upload(Some("t"), &name).unwrap().unwrap();
        assert_eq!(
            (kept.id.as_str(), kept.received),
            (id.as_str(), 6),
            "{kind}"
        );
        assert!(
            sessions.kept_upload(Some("u"), &name).unwrap().is_none(),
            "{kind}"
        );
        let nothing = store.look_up(&name);
        assert!(matches!(nothing, Err(StorageError::NotFound)), "{kind}");

        let past = sessions.resume_upload(
            &name,
            (Some(9), true, None, Quota::default()),
            &limits(Some("t")),
        );
        assert!(matches!(past, Err(StorageError::PastEnd(6))), "{kind}");
        let back = sessions.resume_upload(
            &name,
            (Some(4), true, None, Quota::default()),
            &limits(Some("t")),
        );
        let back = back.unwrap();
        assert_eq!(
            (back.id.as_str(), back.received),
            (id.as_str(), 4),
            "{kind}"
        );
        let to_come = Appending {
            ttl: None,
            ..asking(4, DEFERRED_SIZE - 4, None)
        };
        let (mut appender, _) = open(sessions, &id, to_come).unwrap();
        let busy = sessions.drop_kept_upload(Some("t"), &name);
        assert!(matches!(busy, Err(StorageError::SessionBusy)), "{kind}");
        appender.write(b"EF").unwrap();
        assert_eq!(appender.finish(false).unwrap(), 6, "{kind}");
        sessions.declare_session_size(&id, 6, None).unwrap();
        commit(store, &id).unwrap();
        assert_eq!(read(store, "k/f"), b"abcdEF", "{kind}");
        assert!(
            sessions.kept_upload(Some("t"), &name).unwrap().is_none(),
            "{kind}"
        );
    }
}

#[test]
fn an_upload_gone_on_with_from_a_file_begins_with_its_bytes_and_hides_them() {
    for engine in engines(&[("base", b"0123456789")], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("base");
        let from_end = sessions.resume_upload(
            &name,
            (None, true, None, Quota::default()),
            &limits(Some("t")),
        );
        let from_end = from_end.unwrap();
        assert_eq!(from_end.received, 10, "{kind}");
        assert!(!from_end.holds_unread_bytes(), "{kind}");
        assert!(
            sessions.drop_kept_upload(Some("t"), &name).unwrap(),
            "{kind}"
        );
        assert!(
            !sessions.drop_kept_upload(Some("t"), &name).unwrap(),
            "{kind}"
        );

        // A token that may write the file but not read it goes on from
        // its end only, and is never told how far that is.
        let offset = sessions.resume_upload(
            &name,
            (Some(3), false, None, Quota::default()),
            &limits(Some("w")),
        );
        assert!(matches!(offset, Err(StorageError::PastEnd(0))), "{kind}");
        let onto = sessions.resume_upload(
            &name,
            (None, false, None, Quota::default()),
            &limits(Some("w")),
        );
        let onto = onto.unwrap();
        assert_eq!(onto.received, 10, "{kind}");
        assert!(onto.holds_unread_bytes(), "{kind}");
        let again = sessions.resume_upload(
            &name,
            (Some(2), false, None, Quota::default()),
            &limits(Some("w")),
        );
        assert!(matches!(again, Err(StorageError::PastEnd(0))), "{kind}");
        let short = sessions.resume_upload(
            &name,
            (Some(4), true, None, Quota::default()),
            &limits(Some("r")),
        );
        let short = short.unwrap();
        assert_eq!(short.received, 4, "{kind}: the file's first bytes");
        let to_come = Appending {
            ttl: None,
            ..asking(4, DEFERRED_SIZE - 4, None)
        };
        let (mut appender, _) = open(sessions, &short.id, to_come).unwrap();
        appender.write(b"!").unwrap();
        appender.finish(false).unwrap();
        sessions.declare_session_size(&short.id, 5, None).unwrap();
        commit(store, &short.id).unwrap();
        assert_eq!(read(store, "base"), b"0123!", "{kind}");
        let past = sessions.resume_upload(
            &name_of("none"),
            (Some(1), true, None, Quota::default()),
            &limits(None),
        );
        assert!(matches!(past, Err(StorageError::PastEnd(0))), "{kind}");
    }
}

#[test]
fn a_session_being_committed_is_left_alone_and_stays_if_the_commit_is_dropped() {
    let body = b"held";
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("held");
        let crc = crc32c::crc32c(body);
        let id = sessions
            .begin_session(&name, 4, crc, &limits(None))
            .unwrap()
            .id;
        append(sessions, &id, 0, body);
        let (upload, _, _) = sessions.finish_session(&id, None).unwrap();
        let appending = open(sessions, &id, asking(4, 0, None));
        assert!(matches!(appending, Err(StorageError::Committing)), "{kind}");
        let aborting = sessions.abort_session(&id, None);
        assert!(matches!(aborting, Err(StorageError::Committing)), "{kind}");
        let again = sessions.begin_session(&name, 4, crc, &limits(None));
        assert!(matches!(again, Err(StorageError::Committing)), "{kind}");
        let twice = sessions.finish_session(&id, None);
        assert!(matches!(twice, Err(StorageError::Committing)), "{kind}");
        drop(upload);
        assert_eq!(sessions.session(&id).unwrap().received, 4, "{kind}");
        commit(store, &id).unwrap();
        assert_eq!(read(store, "held"), body, "{kind}");
    }
}

#[test]
fn bytes_taken_back_after_an_abort_are_another_appends_no_more() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let begun = sessions.begin_new_session(&name_of("d"), Some(2), None, &limits(None));
        let id = begun.unwrap().id;
        let (mut appender, _) = open(sessions, &id, asking(0, 2, None)).unwrap();
        appender.write(b"d").unwrap();
        sessions.abort_session(&id, None).unwrap();
        let late = appender.discard();
        assert!(matches!(late, Err(StorageError::Superseded)), "{kind}");
    }
}

/// `limits(owner)` made through share link `link`, capped at `cap`.
#[cfg(feature = "shares")]
fn through(link: &str, cap: usize, owner: Option<&str>) -> SessionLimits {
    SessionLimits {
        link: Some((link.to_owned(), cap)),
        ..limits(owner)
    }
}

#[cfg(feature = "shares")]
#[test]
fn racers_through_a_link_get_exactly_its_cap_and_an_ending_frees_a_place() {
    const RACERS: usize = 12;
    const CAP: usize = 3;
    for engine in engines(&[], &["in"]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let capped = through("L1", CAP, Some("t"));
        // All at once: the count and the change are one step, so no two
        // racers both take the last place.
        let begun: Vec<_> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..RACERS)
                .map(|n| {
                    let capped = &capped;
                    scope.spawn(move || {
                        let name = name_of(&format!("in/r{n}"));
                        sessions.begin_new_session(&name, None, None, capped)
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let won: Vec<SessionInfo> = begun
            .iter()
            .filter_map(|b| b.as_ref().ok().cloned())
            .collect();
        assert_eq!(won.len(), CAP, "{kind}: {begun:?}");
        for refused in begun.iter().filter(|b| b.is_err()) {
            assert!(
                matches!(
                    refused,
                    Err(StorageError::TooManySessions(SessionCap::Link(CAP)))
                ),
                "{kind}: {refused:?}"
            );
        }
        assert!(
            won.iter().all(|s| s.link.as_deref() == Some("L1")),
            "{kind}: each says the link it was made through: {won:?}"
        );
        // The same owner without the link, and another link, are not held.
        let own = sessions.begin_new_session(&name_of("in/own"), None, None, &limits(Some("t")));
        assert_eq!(own.unwrap().link, None, "{kind}");
        let other =
            sessions.begin_new_session(&name_of("in/o"), None, None, &through("L2", 1, Some("t")));
        assert!(other.is_ok(), "{kind}: {other:?}");
        // An aborted one frees its place, and only one.
        sessions.abort_session(&won[0].id, None).unwrap();
        let again = sessions.begin_new_session(&name_of("in/a1"), None, None, &capped);
        assert!(again.is_ok(), "{kind}: {again:?}");
        let past = sessions.begin_new_session(&name_of("in/a2"), None, None, &capped);
        assert!(
            matches!(
                past,
                Err(StorageError::TooManySessions(SessionCap::Link(CAP)))
            ),
            "{kind}: {past:?}"
        );
        // A finished one frees its place too (a tus upload's mark, left
        // after its commit, counts in no cap).
        let id = &won[1].id;
        let declaring = Appending {
            size: Some(2),
            ..asking(0, 2, None)
        };
        let (mut appender, _) = open(sessions, id, declaring).unwrap();
        appender.write(b"ok").unwrap();
        appender.finish(false).unwrap();
        commit(store, id).unwrap();
        let mark = sessions.live_session(id, ttl()).unwrap();
        assert!(mark.stored, "{kind}");
        assert_eq!(
            mark.link.as_deref(),
            Some("L1"),
            "{kind}: the mark says it too"
        );
        let after = sessions.begin_new_session(&name_of("in/f1"), None, None, &capped);
        assert!(after.is_ok(), "{kind}: {after:?}");
    }
}

/// A node that shares the root counts the uploads other nodes began
/// through a link: the count is read back from the sessions' records.
#[cfg(feature = "shares")]
#[test]
fn another_node_counts_a_links_uploads_from_their_records() {
    let root = tempfile::TempDir::new().unwrap();
    let one = ferry::storage::Storage::open(root.path(), "one", false).unwrap();
    let two = ferry::storage::Storage::open(root.path(), "two", false).unwrap();
    let capped = through("L1", 2, Some("t"));
    for n in 0..2 {
        let name = name_of(&format!("r{n}"));
        one.begin_new_session(&name, None, None, &capped).unwrap();
    }
    let third = two.begin_new_session(&name_of("r2"), None, None, &capped);
    assert!(
        matches!(
            third,
            Err(StorageError::TooManySessions(SessionCap::Link(2)))
        ),
        "{third:?}"
    );
    let other = two.begin_new_session(&name_of("r3"), None, None, &through("L2", 2, Some("t")));
    assert!(other.is_ok(), "{other:?}");
}

#[test]
fn each_client_address_has_its_own_cap() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let capped = SessionLimits {
            per_client: 1,
            ..limits(None)
        };
        sessions
            .begin_new_session(&name_of("a1"), Some(1), None, &capped)
            .unwrap();
        let second = sessions.begin_new_session(&name_of("a2"), Some(1), None, &capped);
        assert!(
            matches!(
                second,
                Err(StorageError::TooManySessions(SessionCap::Client(1)))
            ),
            "{kind}: {second:?}"
        );
        let elsewhere = SessionLimits {
            client: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            ..capped
        };
        let other = sessions.begin_new_session(&name_of("a2"), Some(1), None, &elsewhere);
        assert!(other.is_ok(), "{kind}: {other:?}");
    }
}

#[test]
fn a_folders_walk_counts_its_files_not_the_sessions_staged_under_it() {
    for (kind, store, _root) in counting(&[]) {
        let store = &*store;
        let sessions = store.sessions();
        let begun = sessions.begin_new_session(&name_of("w/s"), Some(9), None, &limits(Some("t")));
        let id = begun.unwrap().id;
        append(sessions, &id, 0, b"staged");
        let walked = store.tree_usage(&ferry::name::Prefix::decode(b"w/").unwrap());
        assert_eq!(walked.unwrap().bytes, 0, "{kind}");
        let counted = store.usage(Account::Token("t")).unwrap();
        assert_eq!(counted.bytes, 6, "{kind}: the ledger's");
    }
}

/// A kept upload whose size a close declared, but whose commit did not
/// happen (refused, or its connection cut), is opened again for a new
/// upload: its size is the next close's to say, not the old one's (an
/// SFTP put after a failed one was refused "past the upload's N bytes",
/// found by the history test with SFTP puts).
#[test]
fn an_upload_opened_again_has_no_size_until_its_close_says_one() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let sessions = store.sessions();
        let name = name_of("k/g");
        let owner = limits(Some("t"));
        let first = sessions.resume_upload(&name, (Some(0), true, None, Quota::default()), &owner);
        let id = first.unwrap().id;
        let to_come = |at, len| Appending {
            ttl: None,
            ..asking(at, len, None)
        };
        let (mut appender, _) = open(sessions, &id, to_come(0, DEFERRED_SIZE)).unwrap();
        appender.write(b"abc").unwrap();
        appender.finish(false).unwrap();
        sessions.declare_session_size(&id, 3, None).unwrap();
        // Its commit does not happen; the next put opens it again, empty.
        let again = sessions.resume_upload(&name, (Some(0), true, None, Quota::default()), &owner);
        let again = again.unwrap();
        assert_eq!(
            (again.id.as_str(), again.received),
            (id.as_str(), 0),
            "{kind}"
        );
        assert_eq!(again.size, DEFERRED_SIZE, "{kind}");
        let (mut appender, _) = open(sessions, &id, to_come(0, DEFERRED_SIZE)).unwrap();
        appender.write(b"longer").unwrap();
        assert_eq!(appender.finish(false).unwrap(), 6, "{kind}");
        sessions
            .declare_session_size(&id, 6, Some(again.opener))
            .unwrap();
        commit(store, &id).unwrap();
        assert_eq!(read(store, "k/g"), b"longer", "{kind}");
    }
}
