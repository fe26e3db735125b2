//! One contract, two engines, for uploads: begun, written, committed or
//! dropped through the `Store` trait alone, on the POSIX root and on the
//! memory store (`conformance.rs` lays both out), with the same answers.

use std::sync::Arc;

use ferry::access::quota::{FolderQuota, Quota};
use ferry::model::{Account, DeadProperty, Folders, Holder, NewProps, Occupant, Usage};
use ferry::storage::memory::MemoryStore;
use ferry::storage::{
    Committed, Committing, CopyTree, Look, Member, Open, Storage, StorageError, Store, Upload,
};
use tempfile::TempDir;

use super::conformance::{TREE, engines, name_of, prefix_of};

/// Begins an upload of `bytes` to `name`, written in two pieces.
fn staged(store: &dyn Store, name: &str, folders: Folders, bytes: &[u8]) -> Upload {
    let mut upload = store
        .begin_upload(&name_of(name), folders, Look::AtBegin)
        .unwrap();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    upload.write(first).unwrap();
    upload.write(rest).unwrap();
    upload
}

/// Commits `upload`, not durably, whose bytes are `bytes`.
fn committed(store: &dyn Store, upload: Upload, bytes: &[u8]) -> Result<Committed, StorageError> {
    match store.commit(upload, crc32c::crc32c(bytes), false, &mut |_| true)? {
        Committing::Done(committed) => Ok(committed),
        _ => panic!("a commit not asked to be durable took steps"),
    }
}

/// The bytes of file `name`.
pub(super) fn read(store: &dyn Store, name: &str) -> Vec<u8> {
    let opened = store.open(&name_of(name), Open::Read).unwrap().unwrap();
    let mut bytes = vec![0; opened.version.info.size as usize];
    opened.body.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

#[test]
fn an_upload_lands_whole_at_its_commit_with_its_terms() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let mut upload = staged(store, "n/m/new", Folders::Implicit, b"hello world");
        upload.set_mtime(Some(1_000_000));
        assert!(!upload.replaces_existing(), "{kind}");
        let occupant = store.occupant(&name_of("n/m")).unwrap();
        assert_eq!(occupant, Occupant::Folder, "{kind}: made at the begin");
        let unseen = store.look_up(&name_of("n/m/new"));
        assert!(matches!(unseen, Err(StorageError::NotFound)), "{kind}");

        let landed = committed(store, upload, b"hello world").unwrap();
        assert!(!landed.replaced, "{kind}");
        let (info, _) = landed.landed.unwrap();
        assert_eq!((info.size, info.mtime), (11, 1_000_000), "{kind}");
        assert_eq!(read(store, "n/m/new"), b"hello world", "{kind}");
        let version = store.look_up(&name_of("n/m/new")).unwrap();
        assert_eq!(version.crc, Some(crc32c::crc32c(b"hello world")), "{kind}");

        let again = staged(store, "n/m/new", Folders::Implicit, b"two");
        assert!(again.replaces_existing(), "{kind}: looked at the begin");
        assert!(committed(store, again, b"two").unwrap().replaced, "{kind}");
        assert_eq!(read(store, "n/m/new"), b"two", "{kind}");
    }
}

#[test]
fn a_dropped_upload_leaves_nothing_nor_the_folders_it_made() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let upload = staged(store, "p/q/x", Folders::Implicit, b"cut short");
        drop(upload);
        let gone = store.occupant(&name_of("p"));
        assert_eq!(gone.unwrap(), Occupant::Nothing, "{kind}: p/ pruned");
        let beside = staged(store, "a/c/x", Folders::Implicit, b"cut short");
        beside.discard();
        let left = store.look_up(&name_of("a/c/x"));
        assert!(matches!(left, Err(StorageError::NotFound)), "{kind}");
        assert_eq!(read(store, "a/c/d"), b"333", "{kind}: its folder kept");
    }
}

#[test]
fn a_create_only_upload_never_replaces_a_file_made_meanwhile() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let mut upload = staged(store, "a/new", Folders::Made, b"mine");
        upload.create_only();
        (engine.put)("a/new", b"theirs");
        let refused = committed(store, upload, b"mine");
        assert!(matches!(refused, Err(StorageError::Exists)), "{kind}");
        assert_eq!(read(store, "a/new"), b"theirs", "{kind}");

        // A plain upload that left its look to the commit replaces it,
        // and says so.
        let mut late = store
            .begin_upload(&name_of("a/late"), Folders::Made, Look::AtCommit)
            .unwrap();
        late.write(b"second").unwrap();
        (engine.put)("a/late", b"first");
        let landed = committed(store, late, b"second").unwrap();
        assert!(landed.replaced, "{kind}");
        assert_eq!(read(store, "a/late"), b"second", "{kind}");
    }
}

#[test]
fn an_upload_is_refused_where_its_folder_went_or_a_folder_has_its_name() {
    for engine in engines(TREE, &["empty"]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let upload = staged(store, "f/g/x", Folders::Made, b"moved");
        store
            .rename_folder(&prefix_of("f/g/"), &name_of("h"))
            .unwrap();
        let refused = committed(store, upload, b"moved");
        assert!(
            matches!(refused, Err(StorageError::FolderMoved)),
            "{kind}: {refused:?}"
        );
        for name in ["h/x", "f/g/x"] {
            let nowhere = store.look_up(&name_of(name));
            assert!(matches!(nowhere, Err(StorageError::NotFound)), "{kind}");
        }

        let onto_folder = store.begin_upload(&name_of("a/c"), Folders::Made, Look::AtBegin);
        assert!(
            matches!(onto_folder, Err(StorageError::IsDirectory)),
            "{kind}"
        );
        let no_parent = store.begin_upload(&name_of("zz/x"), Folders::Explicit, Look::AtBegin);
        assert!(matches!(no_parent, Err(StorageError::NotFound)), "{kind}");
        let in_empty = staged(store, "empty/x", Folders::Explicit, b"ok");
        assert!(committed(store, in_empty, b"ok").is_ok(), "{kind}");
    }
}

#[test]
fn a_copy_is_staged_from_the_version_opened_with_its_properties() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let found = store.resource("a/c/e", false).unwrap();
        let colour = |value: &str| DeadProperty {
            ns: "urn:x".to_owned(),
            local: "colour".to_owned(),
            value: value.to_owned(),
        };
        let holder = Holder::File("a/c/e");
        let mine = [colour("blue")];
        store
            .patch_props(holder, &found, None, Some(&mut |now| *now = mine.to_vec()))
            .unwrap();
        let source = store.open(&name_of("a/c/e"), Open::Read).unwrap().unwrap();
        let (upload, size, crc) = store
            .stage_copy(
                &name_of("a/c/e"),
                &source,
                &name_of("k/copy"),
                Folders::Made,
            )
            .unwrap();
        assert_eq!((size, crc), (4, crc32c::crc32c(b"4444")), "{kind}");
        // Replaced after it was opened: the copy is of the version opened.
        (engine.put)("a/c/e", b"changed");
        committed(store, upload, b"4444").unwrap();
        assert_eq!(read(store, "k/copy"), b"4444", "{kind}");
        let copy = store.resource("k/copy", false).unwrap();
        let props = store.props(Holder::File("k/copy"), copy.stamp.inode);
        assert_eq!(props.unwrap(), mine, "{kind}: the properties follow");

        // Given a namespace of its own, the copy's replaces the source's.
        let source = store.open(&name_of("k/copy"), Open::Read).unwrap().unwrap();
        let (mut again, _, crc) = store
            .stage_copy(
                &name_of("k/copy"),
                &source,
                &name_of("k/two"),
                Folders::Made,
            )
            .unwrap();
        let red = NewProps {
            ns: "urn:x".to_owned(),
            props: vec![colour("red")],
        };
        again.set_props(Some(Box::new(red)));
        assert!(
            store.commit(again, crc, false, &mut |_| true).is_ok(),
            "{kind}"
        );
        let two = store.resource("k/two", false).unwrap();
        let props = store.props(Holder::File("k/two"), two.stamp.inode);
        assert_eq!(props.unwrap(), [colour("red")], "{kind}");
    }
}

/// The two engines, empty, counting usage for each token and for the
/// folders of `quotas` (every change then made through the trait).
pub(super) fn counting(quotas: &[&str]) -> Vec<(&'static str, Arc<dyn Store>, Option<TempDir>)> {
    let quotas: Vec<_> = quotas
        .iter()
        .map(|quota| FolderQuota::parse(quota).unwrap())
        .collect();
    let root = TempDir::new().unwrap();
    let mut posix = Storage::open(root.path(), "counting", false).unwrap();
    posix.count_usage(&quotas, true).unwrap();
    let memory = MemoryStore::new();
    memory.count_usage(&quotas, true);
    vec![
        ("posix", Arc::new(posix), Some(root)),
        ("memory", Arc::new(memory), None),
    ]
}

/// Commits `len` bytes to `name` as token `owner`'s, under `quota`.
fn owned(
    store: &dyn Store,
    name: &str,
    len: usize,
    (owner, quota): (&str, Quota),
) -> Result<Committed, StorageError> {
    let bytes = vec![b'x'; len];
    let mut upload = staged(store, name, Folders::Made, &bytes);
    upload.set_owner(Some(owner), Some(quota));
    committed(store, upload, &bytes)
}

#[test]
fn usage_is_counted_as_uploads_land_and_a_quota_refuses_the_commit_past_it() {
    let token = Quota {
        bytes: Some(1000),
        files: None,
    };
    for (kind, store, _root) in counting(&["q/=100,files=3"]) {
        let store = &*store;
        let used = |account| {
            let usage = store.usage(account).unwrap();
            (usage.bytes, usage.files)
        };
        owned(store, "q/a", 40, ("t", token)).unwrap();
        assert_eq!(used(Account::Folder("q/")), (40, 1), "{kind}");
        assert_eq!(used(Account::Token("t")), (40, 1), "{kind}");
        // A replaced file leaves the count as the new one enters it.
        let replaced = owned(store, "q/a", 50, ("t", token));
        assert!(replaced.is_ok(), "{kind}: {replaced:?}");
        assert_eq!(used(Account::Folder("q/")), (50, 1), "{kind}");
        assert_eq!(used(Account::Token("t")), (50, 1), "{kind}");
        // Judged by what it adds before what it replaces goes: at the
        // edge a replacement needs room for both (docs/quotas.md).
        let both = owned(store, "q/a", 60, ("t", token));
        assert!(matches!(both, Err(StorageError::OverQuota(_))), "{kind}");

        let past = owned(store, "q/b", 60, ("t", token));
        assert!(
            matches!(past, Err(StorageError::OverQuota(_))),
            "{kind}: {past:?}"
        );
        let nothing = store.look_up(&name_of("q/b"));
        assert!(matches!(nothing, Err(StorageError::NotFound)), "{kind}");
        assert_eq!(used(Account::Folder("q/")), (50, 1), "{kind}");
        assert_eq!(read(store, "q/a").len(), 50, "{kind}");

        let more = |bytes| Usage { bytes, files: 1 };
        let judged = |bytes| store.quota_refuses((Some("t"), Some(token)), "q/c", more(bytes));
        assert!(judged(50).unwrap().is_none(), "{kind}: 100 bytes fit");
        assert!(judged(51).unwrap().is_some(), "{kind}: 101 do not");
        // Another token's room is its own; the folder's is shared.
        assert!(
            owned(store, "elsewhere", 500, ("u", token)).is_ok(),
            "{kind}"
        );
        assert_eq!(used(Account::Token("u")), (500, 1), "{kind}");

        store.remove(&name_of("q/a"), Folders::Made).unwrap();
        assert_eq!(used(Account::Folder("q/")), (0, 0), "{kind}");
        assert_eq!(used(Account::Token("t")), (0, 0), "{kind}");
    }
}

#[test]
fn an_upload_noted_as_replacing_says_so_whatever_its_commit_finds() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        // What a COPY onto a folder it removed first does.
        let mut upload = staged(store, "a/fresh", Folders::Made, b"new");
        upload.note_replacing();
        assert!(committed(store, upload, b"new").unwrap().replaced, "{kind}");
    }
}

#[test]
fn a_copy_over_a_file_keeps_the_sources_properties_not_the_replaced_files() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let colour = |value: &str| DeadProperty {
            ns: "urn:x".to_owned(),
            local: "colour".to_owned(),
            value: value.to_owned(),
        };
        for (name, value) in [("a/c/e", "blue"), ("a/b", "red")] {
            let found = store.resource(name, false).unwrap();
            let props = [colour(value)];
            let holder = Holder::File(name);
            store
                .patch_props(holder, &found, None, Some(&mut |now| *now = props.to_vec()))
                .unwrap();
        }
        let source = store.open(&name_of("a/c/e"), Open::Read).unwrap().unwrap();
        let (upload, _, crc) = store
            .stage_copy(&name_of("a/c/e"), &source, &name_of("a/b"), Folders::Made)
            .unwrap();
        assert!(upload.replaces_existing(), "{kind}");
        assert!(
            store.commit(upload, crc, false, &mut |_| true).is_ok(),
            "{kind}"
        );
        let copy = store.resource("a/b", false).unwrap();
        let props = store.props(Holder::File("a/b"), copy.stamp.inode);
        assert_eq!(props.unwrap(), [colour("blue")], "{kind}");
    }
}

/// A move is judged by what lands in each quota'd folder it enters, one
/// above its target or one below it (a folder whose path the moved tree
/// fills), net of a file it replaces, and counted in those it leaves.
#[test]
fn a_move_is_judged_in_every_quotad_folder_it_fills_and_counted_in_those_it_leaves() {
    let token = Quota {
        bytes: None,
        files: None,
    };
    for (kind, store, _root) in counting(&["drop/in/=100", "box/=100"]) {
        let store = &*store;
        let used = |folder| {
            let usage = store.usage(Account::Folder(folder)).unwrap();
            (usage.bytes, usage.files)
        };
        for (name, len) in [("big/a", 60), ("big/in/b", 150), ("small/in/c", 30)] {
            owned(store, name, len, ("t", token)).unwrap();
        }
        // `drop/in/` is not there yet: `big/in/` would fill it with 150.
        // The first look (before a target is cleared) says as much,
        // counting nothing.
        let judged = store.judge_folder_move(&prefix_of("big/"), &name_of("drop"));
        assert!(
            matches!(judged, Err(StorageError::OverQuota(_))),
            "{kind}: {judged:?}"
        );
        let fits = store.judge_folder_move(&prefix_of("small/"), &name_of("drop"));
        assert!(fits.is_ok(), "{kind}: {fits:?}");
        assert_eq!(used("drop/in/"), (0, 0), "{kind}");
        let over = store.rename_folder(&prefix_of("big/"), &name_of("drop"));
        assert!(
            matches!(over, Err(StorageError::OverQuota(_))),
            "{kind}: {over:?}"
        );
        assert_eq!(read(store, "big/in/b").len(), 150, "{kind}: nothing moved");
        assert_eq!(used("drop/in/"), (0, 0), "{kind}");
        store
            .rename_folder(&prefix_of("small/"), &name_of("drop"))
            .unwrap();
        assert_eq!(used("drop/in/"), (30, 1), "{kind}");
        // Moved away, the folder below it leaves the quota'd one empty.
        store
            .rename_folder(&prefix_of("drop/"), &name_of("gone"))
            .unwrap();
        assert_eq!(used("drop/in/"), (0, 0), "{kind}");

        // A file moved onto one of its size adds nothing.
        owned(store, "box/f", 80, ("t", token)).unwrap();
        owned(store, "out/f", 80, ("t", token)).unwrap();
        let replaced = store.rename(&name_of("out/f"), &name_of("box/f"), true, Folders::Made);
        assert!(replaced.is_ok(), "{kind}: {replaced:?}");
        assert_eq!(used("box/"), (80, 1), "{kind}");
        let over = store.rename(&name_of("big/a"), &name_of("box/g"), true, Folders::Made);
        assert!(
            matches!(over, Err(StorageError::OverQuota(_))),
            "{kind}: {over:?}"
        );
        assert_eq!(read(store, "big/a").len(), 60, "{kind}");
        assert_eq!(used("box/"), (80, 1), "{kind}");

        // A folder's copy into it: each file judged as its commit, the
        // one past the quota told among the failures.
        let how = CopyTree {
            deep: true,
            durable: false,
            owner: Some("t"),
            quota: Some(token),
        };
        let mut copied = |_: &str, _: &str| Member::Copy;
        let left = store
            .copy_tree(
                &prefix_of("gone/"),
                &name_of("box/c"),
                how,
                &mut copied,
                &mut || true,
            )
            .unwrap();
        assert_eq!(used("box/"), (80, 1), "{kind}: 30 more would pass 100");
        let failed: Vec<_> = left.failed.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(failed, ["gone/in/c"], "{kind}");
        assert!(
            matches!(left.failed[0].1, StorageError::OverQuota(_)),
            "{kind}"
        );
    }
}
