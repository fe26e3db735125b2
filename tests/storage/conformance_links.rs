//! Share links' table on both engines (`storage/link_table.rs`): every
//! field of a link comes back as written, a refused change writes
//! nothing, a download counted is seen by the next change, a removal
//! holds, racers for a link's last downloads get exactly its limit, and
//! a name that is not a link's id is neither read nor written.
#![cfg(feature = "shares")]

use std::sync::Arc;

use ferry::model::{LinkMode, ShareLink};
use ferry::storage::{LinkEdit, StorageError, Store};

use super::conformance::engines;

/// A link of 22 base64url characters ending in `last`.
fn link(last: char, path: &str, mode: LinkMode, now: i64) -> ShareLink {
    ShareLink {
        id: format!("AbCdEfGhIjKlMnOpQrSt-{last}"),
        creator: "alice".to_owned(),
        creator_key: "0123456789abcdef".to_owned(),
        path: path.to_owned(),
        mode,
        created: now,
        expires: now + 3600,
        password: Some("00ff:".to_owned() + &"ab".repeat(32)),
        max_downloads: Some(4),
        downloads: 0,
    }
}

fn write(links: Vec<ShareLink>) -> LinkEdit {
    LinkEdit {
        write: links,
        remove: Vec::new(),
    }
}

#[test]
fn links_come_back_whole_and_a_refused_change_writes_nothing() {
    for engine in engines(&[], &[]) {
        let (table, kind) = (engine.store.links(), engine.kind);
        let now = table.now();
        let file = link('a', "photos/été 2026.jpg", LinkMode::Read, now);
        let mut folder = link('b', "drop box/", LinkMode::Upload, now);
        (folder.password, folder.max_downloads) = (None, None);
        let (a, b) = (file.clone(), folder.clone());
        table
            .change(move |_, _| Ok::<_, StorageError>(((), write(vec![a, b]))))
            .unwrap();
        assert_eq!(
            table.link(&file.id).unwrap().as_ref(),
            Some(&file),
            "{kind}"
        );
        assert_eq!(
            table.link(&folder.id).unwrap(),
            Some(folder.clone()),
            "{kind}"
        );
        let mut all = table.all().unwrap();
        all.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(all, [file.clone(), folder.clone()], "{kind}");
        // A decision that refuses changes nothing, whatever it would have
        // written.
        let c = link('c', "c.txt", LinkMode::Read, now);
        let refused = table.change(move |links, _| match links.len() {
            2 => Err(StorageError::Exists),
            _ => Ok(((), write(vec![c]))),
        });
        assert!(matches!(refused, Err(StorageError::Exists)), "{kind}");
        assert_eq!(table.all().unwrap().len(), 2, "{kind}");
        assert_eq!(
            table.link("AbCdEfGhIjKlMnOpQrSt-c").unwrap(),
            None,
            "{kind}"
        );
        // Removed: gone for reads and for the next change.
        let id = file.id.clone();
        table
            .change(move |_, _| {
                let edit = LinkEdit {
                    write: Vec::new(),
                    remove: vec![id],
                };
                Ok::<_, StorageError>(((), edit))
            })
            .unwrap();
        assert_eq!(table.link(&file.id).unwrap(), None, "{kind}");
        assert_eq!(table.all().unwrap(), [folder], "{kind}");
    }
}

#[test]
fn names_that_are_not_link_ids_are_neither_read_nor_written() {
    for engine in engines(&[], &[]) {
        let (table, kind) = (engine.store.links(), engine.kind);
        let now = table.now();
        for bad in [
            "../escaped",
            ".lock",
            ".tmp-x",
            "",
            "AbCdEfGhIjKlMnOpQrSt/a",
        ] {
            let mut odd = link('a', "a.txt", LinkMode::Read, now);
            odd.id = bad.to_owned();
            let written = table.change(move |_, _| Ok::<_, StorageError>(((), write(vec![odd]))));
            assert!(written.is_err(), "{kind}: {bad:?} written");
            assert_eq!(table.link(bad).unwrap(), None, "{kind}: {bad:?}");
        }
        assert!(table.all().unwrap().is_empty(), "{kind}");
    }
}

#[test]
fn racers_for_a_links_last_downloads_get_exactly_its_limit() {
    for engine in engines(&[], &[]) {
        let (store, kind) = (Arc::clone(&engine.store), engine.kind);
        let made = link('a', "a.txt", LinkMode::Read, store.links().now());
        let id = made.id.clone();
        store
            .links()
            .change(move |_, _| Ok::<_, StorageError>(((), write(vec![made]))))
            .unwrap();
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let (store, id) = (Arc::clone(&store), id.clone());
                std::thread::spawn(move || count_one(&*store, &id))
            })
            .collect();
        let given = racers
            .into_iter()
            .map(|racer| racer.join().unwrap())
            .filter(|&given| given)
            .count();
        assert_eq!(given, 4, "{kind}");
        let counted = store.links().link(&id).unwrap().unwrap();
        assert_eq!(counted.downloads, 4, "{kind}");
    }
}

/// Counts one download of link `id` if it has one left: whether it did.
fn count_one(store: &dyn Store, id: &str) -> bool {
    let counted = store.links().change(|links, _| {
        let mut link = links
            .iter()
            .find(|l| l.id == id)
            .cloned()
            .ok_or(StorageError::NotFound)?;
        if link.is_used_up() {
            return Err(StorageError::Exists);
        }
        link.downloads += 1;
        Ok(((), write(vec![link])))
    });
    counted.is_ok()
}
