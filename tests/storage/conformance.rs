//! One contract, two engines: every check here runs against the POSIX
//! root (`Storage` on a temporary folder) and the memory store
//! (`MemoryStore`) through the `Store` trait alone, laid out with the same
//! files, and expects the same answers. A verb that comes behind the seam
//! (docs/store-plan.md) brings its checks here, so that an engine that
//! serves the simulation test answers as the one that serves users.
//! Uploads have theirs in `conformance_uploads.rs`.

use std::io::Write;
use std::sync::Arc;

use ferry::model::{DavLock, DeadProperty, Folders, Found, Holder, Occupant};
use ferry::name::{Name, Prefix};
use ferry::storage::Engine as ServerEngine;
use ferry::storage::memory::MemoryStore;
use ferry::storage::{
    Committing, CopyTree, Edit, LockTable, Look, Member, Open, Parents, Storage, StorageError,
    Store,
};
use tempfile::TempDir;

/// How a test lays out an engine's files: a file put in place, its
/// folders made.
pub(super) type Put = Box<dyn Fn(&str, &[u8])>;

/// One engine under test, and how its files are laid out.
pub(super) struct Engine {
    pub(super) kind: &'static str,
    pub(super) store: Arc<dyn Store>,
    /// The same engine as the server's upkeep sees it.
    pub(super) upkeep: Arc<dyn ServerEngine>,
    pub(super) put: Put,
    _root: Option<TempDir>,
}

/// The two engines, each holding `files` (name, bytes) and `folders`.
pub(super) fn engines(files: &[(&str, &[u8])], folders: &[&str]) -> Vec<Engine> {
    let root = TempDir::new().unwrap();
    let path = root.path().to_owned();
    let storage = Arc::new(Storage::open(&path, "conformance", false).unwrap());
    let posix = Engine {
        kind: "posix",
        store: Arc::clone(&storage) as Arc<dyn Store>,
        upkeep: storage,
        put: Box::new(move |name, bytes| {
            let file = path.join(name);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, bytes).unwrap();
        }),
        _root: Some(root),
    };
    let memory = Arc::new(MemoryStore::new());
    let kept = Arc::clone(&memory);
    let memory = Engine {
        kind: "memory",
        store: Arc::clone(&memory) as Arc<dyn Store>,
        upkeep: memory,
        put: Box::new(move |name, bytes| kept.put_file(&name_of(name), bytes, None).unwrap()),
        _root: None,
    };
    let engines = vec![posix, memory];
    for engine in &engines {
        for (name, bytes) in files {
            (engine.put)(name, bytes);
        }
        for folder in folders {
            let made = engine
                .store
                .make_folder(&name_of(folder), Parents::Made { kept: 0 });
            made.unwrap();
        }
    }
    engines
}

pub(super) fn name_of(name: &str) -> Name {
    Name::new(name.to_owned()).unwrap()
}

pub(super) fn prefix_of(prefix: &str) -> Prefix {
    Prefix::new(prefix.to_owned()).unwrap()
}

/// Every file below `prefix`, as `list` gives them, with the folders it
/// was asked to enter (ending in `/`; the one it starts in is not), in
/// the order it went.
fn listed(store: &dyn Store, prefix: &str, skip: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let seen_cell = std::cell::RefCell::new(&mut seen);
    store
        .list(
            &prefix_of(prefix),
            &mut |_| true,
            &mut |dir, _| {
                seen_cell.borrow_mut().push(dir.to_owned());
                Ok(dir != skip)
            },
            &mut |entry| {
                seen_cell.borrow_mut().push(entry.name.clone());
                Ok(())
            },
        )
        .unwrap();
    seen
}

/// Everything a cursor walk below `prefix` finds, sorted (its order is
/// the engine's own), not entering `skip`.
fn walked(store: &dyn Store, prefix: &str, skip: &str) -> Result<Vec<String>, StorageError> {
    let mut cursor = store.cursor(&prefix_of(prefix));
    let mut found = Vec::new();
    while let Some(step) = store.walk_on(&mut cursor, &mut |dir| dir != skip)? {
        found.push(match step {
            Found::Folder { name, .. } | Found::File { name, .. } => name,
        });
    }
    found.sort();
    Ok(found)
}

pub(super) const TREE: &[(&str, &[u8])] = &[
    ("a.txt", b"1"),
    ("a/b", b"22"),
    ("a/c/d", b"333"),
    ("a/c/e", b"4444"),
    ("ab", b"55555"),
];

#[test]
fn looking_up_answers_what_has_the_name() {
    for engine in engines(TREE, &["empty"]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let version = store.look_up(&name_of("a/c/d")).unwrap();
        assert_eq!(version.info.size, 3, "{kind}");
        let folder = store.look_up(&name_of("a/c"));
        assert!(
            matches!(folder, Err(StorageError::IsDirectory)),
            "{kind}: {folder:?}"
        );
        let absent = store.look_up(&name_of("a/x"));
        assert!(
            matches!(absent, Err(StorageError::NotFound)),
            "{kind}: {absent:?}"
        );
        let under_a_file = store.look_up(&name_of("a.txt/x"));
        assert!(
            matches!(under_a_file, Err(StorageError::NotFound)),
            "{kind}"
        );

        let occupants = ["a/b", "a/c", "a/x"].map(|n| store.occupant(&name_of(n)).unwrap());
        assert_eq!(
            occupants,
            [Occupant::File, Occupant::Folder, Occupant::Nothing],
            "{kind}"
        );
        let no_parent = store.occupant(&name_of("x/y"));
        assert!(matches!(no_parent, Err(StorageError::NotFound)), "{kind}");

        assert!(!store.resource("a/b", false).unwrap().folder, "{kind}");
        assert!(store.resource("a/c", true).unwrap().folder, "{kind}");
        assert!(store.resource("", true).unwrap().folder, "{kind}: the root");
        let file_as_folder = store.resource("a/b", true);
        assert!(
            matches!(file_as_folder, Err(StorageError::NotFound)),
            "{kind}"
        );

        assert!(store.find_folder(&name_of("a/c")).is_ok(), "{kind}");
        assert!(store.find_folder(&name_of("a/b")).is_err(), "{kind}");
        assert!(store.check_bucket(&name_of("a/zz")).is_ok(), "{kind}");
        let bucket = store.check_bucket(&name_of("nothing/zz"));
        assert!(matches!(bucket, Err(StorageError::NoBucket)), "{kind}");
        assert!(store.is_empty_folder("empty/").unwrap(), "{kind}");
        assert!(!store.is_empty_folder("a/").unwrap(), "{kind}");
    }
}

#[test]
fn a_file_opened_gives_its_bytes_and_its_checksum() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        for how in [Open::Describe, Open::Read, Open::Unchecked] {
            let opened = store.open(&name_of("a/c/e"), how).unwrap().unwrap();
            assert_eq!(opened.version.info.size, 4, "{kind}");
            let mut bytes = [0; 4];
            opened.body.read_exact_at(&mut bytes, 0).unwrap();
            assert_eq!(&bytes, b"4444", "{kind}");
            let crc = store.checksum(&opened).unwrap();
            assert_eq!(crc, crc32c::crc32c(b"4444"), "{kind}");
        }
        let described = store
            .open(&name_of("a/c/e"), Open::Describe)
            .unwrap()
            .unwrap();
        assert_eq!(
            described.version.crc,
            Some(crc32c::crc32c(b"4444")),
            "{kind}"
        );
        let folder = store.open(&name_of("a/c"), Open::Read);
        assert!(matches!(folder, Err(StorageError::IsDirectory)), "{kind}");
        let absent = store.open(&name_of("a/x"), Open::Read);
        assert!(matches!(absent, Err(StorageError::NotFound)), "{kind}");
    }
}

#[test]
fn a_spilled_listing_is_sent_as_written() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let mut spill = store.spill().unwrap();
        spill.write_all(b"one listing, ").unwrap();
        spill.write_all(b"spilled").unwrap();
        let content = spill.into_content();
        let mut back = [0; 20];
        content.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(&back, b"one listing, spilled", "{kind}");
        assert!(store.spool_room().share() > 0, "{kind}");
    }
}

#[test]
fn listings_go_in_the_order_of_full_names_and_prune_as_told() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let all = ["a.txt", "a/", "a/b", "a/c/", "a/c/d", "a/c/e", "ab"];
        assert_eq!(listed(store, "", ""), all, "{kind}");
        let pruned = ["a.txt", "a/", "a/b", "a/c/", "ab"];
        assert_eq!(listed(store, "", "a/c/"), pruned, "{kind}");
        assert_eq!(
            listed(store, "a/c", ""),
            ["a/c/", "a/c/d", "a/c/e"],
            "{kind}"
        );
        assert!(listed(store, "zz/", "").is_empty(), "{kind}");

        let level = store.list_directory(&prefix_of("a/"), true).unwrap();
        let dirs: Vec<&str> = level.dirs.iter().map(|(n, ..)| n.as_str()).collect();
        let files: Vec<&str> = level.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!((dirs, files), (vec!["a/c/"], vec!["a/b"]), "{kind}");
        let gone = store.list_directory(&prefix_of("zz/"), true);
        assert!(matches!(gone, Err(StorageError::NotFound)), "{kind}");
    }
}

#[test]
fn a_cursor_walks_the_tree_and_enters_only_what_it_is_let() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let all = ["a/b", "a/c/", "a/c/d", "a/c/e"];
        assert_eq!(walked(store, "a/", "").unwrap(), all, "{kind}");
        assert_eq!(walked(store, "a/", "a/c/").unwrap(), ["a/b"], "{kind}");
        let missing = walked(store, "zz/", "");
        assert!(matches!(missing, Err(StorageError::NotFound)), "{kind}");
    }
}

#[test]
fn removing_prunes_the_folders_it_empties_only_where_they_are_implicit() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        store.remove(&name_of("a/c/d"), Folders::Explicit).unwrap();
        assert!(store.find_folder(&name_of("a/c")).is_ok(), "{kind}");
        store.remove(&name_of("a/c/e"), Folders::Implicit).unwrap();
        assert!(
            store.find_folder(&name_of("a/c")).is_err(),
            "{kind}: pruned"
        );
        assert!(
            store.find_folder(&name_of("a")).is_ok(),
            "{kind}: a/b holds it"
        );
        let folder = store.remove(&name_of("a"), Folders::Explicit);
        assert!(matches!(folder, Err(StorageError::IsDirectory)), "{kind}");
        let again = store.remove(&name_of("a/c/e"), Folders::Explicit);
        assert!(matches!(again, Err(StorageError::NotFound)), "{kind}");

        store.make_folder(&name_of("a/f"), Parents::No).unwrap();
        let full = store.remove_folder(&name_of("a"));
        assert!(matches!(full, Err(StorageError::NotEmpty)), "{kind}");
        store.remove_folder(&name_of("a/f")).unwrap();
    }
}

/// The judge is asked with the lock table as it stands (held still
/// through each member's removal: `Store::remove_tree`): here, it keeps
/// what a lock is rooted on.
#[test]
fn a_folders_removal_keeps_what_the_judge_keeps_with_the_folders_above_it() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let locks = store.locks();
        let edit = Edit {
            write: vec![lock_on(locks, "t1", "a/c/d")],
            remove: Vec::new(),
        };
        locks
            .change(|_, _| Ok::<_, StorageError>(((), edit)))
            .unwrap();
        let mut unlocked = |name: &str, table: Result<&[DavLock], StorageError>| {
            !table.unwrap().iter().any(|lock| lock.root == name)
        };
        let left = store
            .remove_tree(&prefix_of("a/"), &mut unlocked, &mut || true)
            .unwrap();
        assert_eq!(left.kept, ["a/c/d"], "{kind}");
        assert!(left.failed.is_empty(), "{kind}");
        assert!(store.look_up(&name_of("a/c/d")).is_ok(), "{kind}");
        assert!(store.look_up(&name_of("a/b")).is_err(), "{kind}");
        assert_eq!(listed(store, "a/", ""), ["a/c/", "a/c/d"], "{kind}");

        let whole = store.remove_tree(&prefix_of("a/"), &mut |_, _| true, &mut || true);
        assert!(whole.unwrap().is_complete(), "{kind}");
        assert!(store.find_folder(&name_of("a")).is_err(), "{kind}");
    }
}

/// A commit asks its judge once, with the lock table as it stands (held
/// still through the rename: `Store::commit`); refused, nothing lands
/// and the file it would have replaced stays.
#[test]
fn a_commit_lands_only_where_its_judge_lets_it() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let locks = store.locks();
        let edit = Edit {
            write: vec![lock_on(locks, "t1", "a/b")],
            remove: Vec::new(),
        };
        locks
            .change(|_, _| Ok::<_, StorageError>(((), edit)))
            .unwrap();
        let mut asked = 0;
        for (name, landed) in [("a/b", false), ("a/new", true)] {
            let mut unlocked = |table: &[DavLock]| {
                asked += 1;
                !table.iter().any(|lock| lock.root == name)
            };
            let name = name_of(name);
            let mut upload = store
                .begin_upload(&name, Folders::Explicit, Look::AtBegin)
                .unwrap();
            upload.write(b"fresh").unwrap();
            let crc = crc32c::crc32c(b"fresh");
            let committed = store.commit(upload, crc, false, &mut unlocked);
            match landed {
                true => assert!(
                    matches!(committed, Ok(Committing::Done(_))),
                    "{kind}: {:?}",
                    committed.err()
                ),
                false => assert!(
                    matches!(committed, Err(StorageError::NotAdmitted)),
                    "{kind}"
                ),
            }
        }
        assert_eq!(asked, 2, "{kind}");
        assert_eq!(
            store.look_up(&name_of("a/b")).unwrap().info.size,
            2,
            "{kind}"
        );
        assert_eq!(
            store.look_up(&name_of("a/new")).unwrap().info.size,
            5,
            "{kind}"
        );
    }
}

#[test]
fn renames_replace_only_when_asked_and_never_into_themselves() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let (from, to) = (name_of("a/b"), name_of("ab"));
        let kept = store.rename(&from, &to, false, Folders::Explicit);
        assert!(matches!(kept, Err(StorageError::Exists)), "{kind}");
        assert!(
            store.rename(&from, &to, true, Folders::Explicit).unwrap(),
            "{kind}"
        );
        assert_eq!(store.look_up(&to).unwrap().info.size, 2, "{kind}");
        assert!(
            store.rename(&to, &to, false, Folders::Explicit).unwrap(),
            "{kind}"
        );
        let no_parent = store.rename(&to, &name_of("n/m"), false, Folders::Explicit);
        assert!(matches!(no_parent, Err(StorageError::NotFound)), "{kind}");
        assert!(
            !store
                .rename(&to, &name_of("n/m"), false, Folders::Made)
                .unwrap(),
            "{kind}"
        );

        let into_itself = store.rename_folder(&prefix_of("a/"), &name_of("a/c/a"));
        assert!(into_itself.is_err(), "{kind}");
        let onto = store.rename_folder(&prefix_of("a/"), &name_of("n"));
        assert!(matches!(onto, Err(StorageError::Exists)), "{kind}");
        store
            .rename_folder(&prefix_of("a/"), &name_of("z"))
            .unwrap();
        assert_eq!(
            listed(store, "z/", ""),
            ["z/c/", "z/c/d", "z/c/e"],
            "{kind}"
        );
    }
}

#[test]
fn a_folders_copy_tells_what_the_judge_left_out() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let how = CopyTree {
            deep: true,
            durable: false,
            owner: None,
            quota: None,
        };
        let mut judge = |source: &str, _: &str| match source {
            "a/c/e" => Member::Tell,
            _ => Member::Copy,
        };
        let left = store
            .copy_tree(
                &prefix_of("a/"),
                &name_of("k"),
                how,
                &mut judge,
                &mut || true,
            )
            .unwrap();
        assert_eq!(left.kept, ["a/c/e"], "{kind}");
        assert_eq!(listed(store, "k/", ""), ["k/b", "k/c/", "k/c/d"], "{kind}");
        assert_eq!(
            store.look_up(&name_of("k/c/d")).unwrap().info.size,
            3,
            "{kind}"
        );
        let taken = store.copy_tree(
            &prefix_of("a/"),
            &name_of("k"),
            how,
            &mut judge,
            &mut || true,
        );
        assert!(matches!(taken, Err(StorageError::Exists)), "{kind}");
        let usage = store.tree_usage(&prefix_of("k/")).unwrap();
        assert_eq!((usage.bytes, usage.files), (5, 2), "{kind}");
    }
}

#[test]
fn folders_are_made_alone_or_with_their_parents_but_never_a_bucket() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let alone = store.make_folder(&name_of("x/y"), Parents::No);
        assert!(matches!(alone, Err(StorageError::NotFound)), "{kind}");
        let taken = store.make_folder(&name_of("a/c"), Parents::No);
        assert!(matches!(taken, Err(StorageError::Exists)), "{kind}");
        store
            .make_folder(&name_of("a/c"), Parents::Made { kept: 0 })
            .unwrap();
        let bucket = store.make_folder(&name_of("x/y"), Parents::Made { kept: 1 });
        assert!(matches!(bucket, Err(StorageError::NoBucket)), "{kind}");
        store
            .make_folder(&name_of("x/y/z"), Parents::Made { kept: 0 })
            .unwrap();
        let file = store.make_folder(&name_of("a/b"), Parents::Made { kept: 0 });
        assert!(matches!(file, Err(StorageError::Exists)), "{kind}");
    }
}

/// A dead property `urn:x` `colour` of `value`.
fn colour(value: &str) -> DeadProperty {
    DeadProperty {
        ns: "urn:x".to_owned(),
        local: "colour".to_owned(),
        value: value.to_owned(),
    }
}

#[test]
fn dead_properties_are_patched_whole_and_found_by_their_folder() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let found = store.resource("a/b", false).unwrap();
        let holder = Holder::File("a/b");
        let prop = colour("blue");
        let props = [prop];
        store
            .patch_props(
                holder,
                &found,
                Some(1_000_000),
                Some(&mut |now| *now = props.to_vec()),
            )
            .unwrap();
        assert_eq!(
            store.props(holder, found.stamp.inode).unwrap(),
            props,
            "{kind}"
        );
        assert_eq!(
            store.resource("a/b", false).unwrap().info.mtime,
            1_000_000,
            "{kind}"
        );
        let members = store.props_members("a").unwrap();
        assert!(members.files.contains("b"), "{kind}: {members:?}");
        assert!(!store.surely_no_props("a/b"), "{kind}");
        store
            .patch_props(holder, &found, None, Some(&mut Vec::clear))
            .unwrap();
        assert!(
            store.props(holder, found.stamp.inode).unwrap().is_empty(),
            "{kind}"
        );
    }
}

/// A patch of a file replaced since it was looked at is the new
/// version's: its record is written for the inode at the name, never over
/// it for the old one (which took the new version's properties away).
#[test]
fn a_patch_of_a_file_replaced_meanwhile_is_its_new_versions() {
    for engine in engines(&[("a/b", b"old"), ("a/new", b"new")], &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let stale = store.resource("a/b", false).unwrap();
        let (from, to) = (name_of("a/new"), name_of("a/b"));
        store.rename(&from, &to, true, Folders::Explicit).unwrap();
        let now = store.resource("a/b", false).unwrap();
        assert_ne!(now.stamp.inode, stale.stamp.inode, "{kind}");
        let holder = Holder::File("a/b");
        let prop = colour("green");
        let set = [prop];
        store
            .patch_props(holder, &stale, None, Some(&mut |p| *p = set.to_vec()))
            .unwrap();
        assert_eq!(store.props(holder, now.stamp.inode).unwrap(), set, "{kind}");
    }
}

#[test]
fn the_lock_table_changes_as_one_check_and_change() {
    for engine in engines(TREE, &[]) {
        let (store, kind) = (&*engine.store, engine.kind);
        let locks = store.locks();
        let lock = |token: &str| lock_on(locks, token, "a/b");
        let exclusive = |table: &[DavLock], _| match table.iter().any(|l| l.root == "a/b") {
            true => Err(StorageError::Exists),
            false => Ok((
                (),
                Edit {
                    write: vec![lock("t1")],
                    remove: Vec::new(),
                },
            )),
        };
        locks.change(exclusive).unwrap();
        let second = locks.change(exclusive);
        assert!(matches!(second, Err(StorageError::Exists)), "{kind}");
        let table = locks.current().unwrap();
        assert_eq!(table.len(), 1, "{kind}");
        let unlock = |_: &[DavLock], _| {
            let edit = Edit {
                write: Vec::new(),
                remove: vec!["t1".to_owned()],
            };
            Ok::<_, StorageError>(((), edit))
        };
        locks.change(unlock).unwrap();
        assert!(locks.current().unwrap().is_empty(), "{kind}");
    }
}

/// An exclusive lock of `root` for a minute, by the token `token`.
fn lock_on(locks: &dyn LockTable, token: &str, root: &str) -> DavLock {
    DavLock {
        token: token.to_owned(),
        root: root.to_owned(),
        deep: false,
        shared: false,
        owner: Arc::from(""),
        timeout: 60,
        expires: locks.now() + 60,
        holder: "test".to_owned(),
    }
}
