//! The usage ledger's recount (`usage.rs`): a walk that counts what each
//! account holds afresh and sets the ledger to it, healing what the
//! counts of single writes missed (a crash between a rename and its
//! count, files changed behind ferry's back; upload sessions' staged
//! bytes are counted with them). Also the count of a whole
//! folder's move across a quota'd folder's edge, which a single rename
//! cannot tell file by file.
//!
//! A walk takes as long as the tree: for the sweep thread or the I/O
//! pool, never the reactor. Writes during a walk may leave the ledger off
//! by what they changed; the next recount heals that too.

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::OwnedFd;

use crate::model::Usage;

use super::usage::{Ledger, RUNS_DIR, Slot, owner_of};
use super::usage_counts::{staged_in, token_of};
use super::usage_record::Record;
use super::usage_record::run_tag;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{DIR, Storage, StorageError};
use crate::name::Prefix;

/// What a recount did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recount {
    /// Accounts set.
    pub accounts: usize,
    /// Accounts not set: a change landed in them during the walk, or a
    /// live run holds a reservation in them (reservations of dead runs
    /// stay counted there until a recount finds the account quiet).
    pub busy: usize,
    /// Bytes by which the ledger was off, summed over accounts (either
    /// way): what the counts of single writes had missed.
    pub drift: u64,
}

impl Storage {
    /// Counts every account afresh (see the module's header); nothing
    /// where usage is not counted.
    ///
    /// # Errors
    /// The root could not be walked or the ledger written.
    pub fn recount_usage(&self) -> Result<Recount, StorageError> {
        let Some(ledger) = &self.usage else {
            return Ok(Recount::default());
        };
        // What had landed in each account before the walk: one that
        // changes meanwhile is not set from it (the walk may have passed
        // the change's folder before it, or after).
        let folder_marks = (0..ledger.folders.len())
            .map(|place| ledger.landed_at(Slot::Folder(place)))
            .collect::<std::io::Result<Vec<u64>>>()?;
        let mut token_marks = HashMap::new();
        for name in ledger.token_accounts()? {
            let landed = ledger.landed_at(Slot::Token(&name))?;
            token_marks.insert(name, landed);
        }
        // A commit counts before its rename: one counted before the marks
        // may not have renamed yet. Its name's lock, held from its count
        // to its rename, tells when it has.
        ledger.names.barrier()?;
        let mut folders: HashMap<&str, Usage> = HashMap::new();
        let mut tokens: HashMap<String, Usage> = HashMap::new();
        self.walk_usage(ledger.tokens, &Prefix::root(), |name, size, owner| {
            for prefix in ledger
                .folders
                .iter()
                .filter(|p| name.starts_with(p.as_str()))
            {
                folders.entry(prefix).or_default().add_file(size);
            }
            if let Some(owner) = owner {
                tokens.entry(owner).or_default().add_file(size);
            }
        })?;
        // Sessions' staged bytes: in the same accounts, as bytes only.
        self.walk_staged(|name, bytes, owner| {
            let staged = |usage: &mut Usage| usage.bytes = usage.bytes.saturating_add(bytes);
            for prefix in ledger
                .folders
                .iter()
                .filter(|p| name.starts_with(p.as_str()))
            {
                staged(folders.entry(prefix).or_default());
            }
            if let Some(owner) = owner.filter(|_| ledger.tokens) {
                staged(tokens.entry(owner).or_default());
            }
        })?;
        for name in token_marks.keys() {
            tokens.entry(name.clone()).or_default();
        }
        let mut live = self.live_runs(ledger)?;
        let mut recount = Recount::default();
        let mut set = |slot: Slot<'_>, walked: Usage, mark: Option<u64>| {
            // An account made during the walk had changes land in it.
            let landed = mark.unwrap_or(u64::MAX);
            let reread = || self.live_runs(ledger);
            let done = ledger.recount_at(slot, (walked, landed), (&mut live, &reread))?;
            match done.quiet {
                true => recount.accounts += 1,
                false => recount.busy += 1,
            }
            recount.drift += done.was.bytes.abs_diff(done.now.bytes);
            Ok::<_, StorageError>(())
        };
        for (place, prefix) in ledger.folders.iter().enumerate() {
            let walked = folders.get(prefix.as_str()).copied().unwrap_or_default();
            set(Slot::Folder(place), walked, Some(folder_marks[place]))?;
        }
        for (name, usage) in &tokens {
            set(Slot::Token(name), *usage, token_marks.get(name).copied())?;
        }
        ledger
            .recounts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (ledger.drift).fetch_add(recount.drift, std::sync::atomic::Ordering::Relaxed);
        Ok(recount)
    }

    /// What folder `prefix` holds, walked: what its copy would add (a
    /// folder COPY is judged by it against the quotas before it begins).
    ///
    /// # Errors
    /// [`StorageError::NotFound`] if it is not there; a folder in it
    /// could not be read.
    pub(super) fn tree_usage(&self, prefix: &Prefix) -> Result<Usage, StorageError> {
        let mut usage = Usage::default();
        self.walk_usage(false, prefix, |_, size, _| usage.add_file(size))?;
        Ok(usage)
    }

    /// Calls `each` with the name, staged bytes and owning token of every
    /// upload session (not the marks of those stored).
    fn walk_staged(
        &self,
        mut each: impl FnMut(&str, u64, Option<String>),
    ) -> Result<(), StorageError> {
        let dir = self.sessions_dir()?;
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy();
            let Some(id) = file.strip_suffix(".meta") else {
                continue;
            };
            // Gone or half made meanwhile: not a session to count.
            if let Ok(session) = self.session_in(&dir, id)
                && !session.stored
            {
                let owner = token_of(session.owner.as_deref());
                each(session.name.as_str(), staged_in(&dir, id), owner);
            }
        }
        Ok(())
    }

    /// Calls `each` with the name, size and owner (where `owners` are
    /// asked for) of every file below `prefix` (ferry's own reserved files
    /// not among them).
    pub(super) fn walk_usage(
        &self,
        owners: bool,
        prefix: &Prefix,
        mut each: impl FnMut(&str, u64, Option<String>),
    ) -> Result<(), StorageError> {
        let start = prefix.as_str().trim_end_matches('/');
        let walked = self.walk_tree(
            start,
            |path, _| !super::tree::is_reserved(path),
            |visit| match visit.kind {
                FileType::Directory => Ok(true),
                FileType::RegularFile => {
                    if let Some((info, _)) = visit.stat()? {
                        let owner = owners.then(|| owner_of(&*self.root, &visit.path));
                        each(&visit.path, info.size, owner.flatten());
                    }
                    Ok(false)
                }
                _ => Ok(false),
            },
            // A folder gone meanwhile holds nothing; any other failure
            // ends the recount (the ledger is left as it was).
            |_, errno| match errno {
                Errno::NOENT | Errno::NOTDIR => Ok(()),
                errno => Err(errno),
            },
        );
        Ok(walked?)
    }
}

/// The ledger's side of a recount: marks before the walk, the setting
/// after it, the runs registered.
impl Ledger {
    /// The changes landed in the account at `slot` so far (see
    /// `usage_record.rs`): a recount's mark before its walk.
    pub(super) fn landed_at(&self, slot: Slot<'_>) -> io::Result<u64> {
        self.with_file(slot, |fd| Record::read(fd).map(|now| (now.landed, None)))
    }

    /// A recount's setting of the account at `slot`: to `walked`, its
    /// reservations gone (their runs died: `live` names none of them),
    /// where nothing moves in it. Left as it is where a change landed in
    /// it since `landed` (the walk may have passed the change's folder
    /// before it, or after), or a live run holds a reservation in it (an
    /// upload in flight: the walk saw part of its bytes, which the
    /// reservation counts too, and would count them twice).
    ///
    /// `live` was read before the walk: a run the record names that it
    /// does not know may have begun since (a node started meanwhile), and
    /// `live` is read again (`reread`) before the record is judged. A run
    /// registers before it reserves, so no live run is taken for dead.
    pub(super) fn recount_at(
        &self,
        slot: Slot<'_>,
        (walked, landed): (Usage, u64),
        (live, reread): (&mut HashSet<u64>, &dyn Fn() -> io::Result<HashSet<u64>>),
    ) -> io::Result<RecountSet> {
        self.with_file(slot, |fd| {
            let mut record = Record::read(fd)?;
            if !record.names_only(|tag| live.contains(&tag)) {
                *live = reread()?;
            }
            let live = |tag: u64| live.contains(&tag);
            let was = record.usage;
            let quiet = record.landed == landed && record.reserved_by(live) == 0;
            let set = RecountSet {
                was,
                now: if quiet { walked } else { was },
                quiet,
            };
            if !quiet {
                return Ok((set, None));
            }
            record.usage = walked;
            record.clear_runs();
            record.write(fd).map(|()| (set, Some(walked)))
        })
    }

    /// The ledger's folder of runs (`runs/`), opened.
    pub(super) fn runs_dir(&self) -> io::Result<OwnedFd> {
        let flags = DIR | OFlags::NOFOLLOW;
        Ok(rustix::fs::openat(
            &self.dir,
            RUNS_DIR,
            flags,
            Mode::empty(),
        )?)
    }
}

/// What a recount's setting of an account found.
#[derive(Debug, Clone, Copy)]
pub(super) struct RecountSet {
    /// What it held before, and holds now.
    pub(super) was: Usage,
    pub(super) now: Usage,
    /// No change landed in it during the walk: it was set.
    pub(super) quiet: bool,
}

/// The runs whose reservations a recount keeps (`usage_record.rs`).
impl Storage {
    /// This run, and each run registered in the ledger's `runs/` whose
    /// node lives (holds its lock) and is not this node (whose live run
    /// is this one), by tag; the others are removed from `runs/`.
    fn live_runs(&self, ledger: &Ledger) -> io::Result<HashSet<u64>> {
        let mut live = HashSet::from([run_tag(&ledger.run_name)]);
        let runs = ledger.runs_dir()?;
        for entry in rustix::fs::Dir::read_from(&runs)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy();
            // `.`, `..` and anything not a run's are no one's.
            let Some((node, _)) = name.split_once('.') else {
                continue;
            };
            if name == ledger.run_name || crate::node::parse_node_id(node).is_err() {
                continue;
            }
            let lives = node != self.node && self.node_lives(node);
            match lives {
                true => live.insert(run_tag(&name)),
                false => match rustix::fs::unlinkat(&runs, name.as_ref(), AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => false,
                    Err(errno) => return Err(errno.into()),
                },
            };
        }
        Ok(live)
    }

    /// Whether node `node` serves: its lock file is there and its lock
    /// held (taken at once here where it is not, and let go).
    fn node_lives(&self, node: &str) -> bool {
        let Some(nodes) = &self.nodes else {
            return true;
        };
        let lock = super::lock::lock_file(node);
        match rustix::fs::statat(nodes, lock.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => false,
            _ => super::lock::claim(nodes, &lock).is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::usage::Change;
    use super::*;
    use crate::access::quota::FolderQuota;

    #[test]
    fn a_recount_leaves_what_live_runs_reserved_and_drops_what_dead_ones_did() {
        let root = tempfile::tempdir().unwrap();
        let mut storage = Storage::open(root.path(), "n1", false).unwrap();
        let quotas = [FolderQuota::parse("q/=1M").unwrap()];
        storage.count_usage(&quotas, false).unwrap();
        let Some(ours) = storage.usage.clone() else {
            panic!("no ledger");
        };
        // Reservations of a run of a node that never served here, and of
        // this node's earlier run, beside this run's own.
        for (run, bytes) in [("gone.1", 5), ("n1.0", 7)] {
            let theirs = Ledger::open(&storage.root, &quotas, false, (false, run)).unwrap();
            theirs
                .change_at(Slot::Folder(0), Change::reserved(bytes, 1))
                .unwrap();
        }
        ours.change_at(Slot::Folder(0), Change::reserved(10, 1))
            .unwrap();
        assert_eq!(ours.read_at(Slot::Folder(0)).unwrap().bytes, 22);
        // An upload of this run in flight: the account is left as it is
        // (the walk cannot tell its bytes landed from those to come); the
        // dead runs are forgotten.
        let recount = storage.recount_usage().unwrap();
        assert_eq!((recount.accounts, recount.busy, recount.drift), (0, 1, 0));
        assert_eq!(ours.read_at(Slot::Folder(0)).unwrap().bytes, 22);
        let runs = std::fs::read_dir(root.path().join(".ferry-quota/runs")).unwrap();
        let runs: Vec<_> = runs.map(|entry| entry.unwrap().file_name()).collect();
        assert_eq!(runs, [ours.run_name.as_str()]);
        // Its upload ended: the dead runs' reservations go with the walk.
        ours.change_at(Slot::Folder(0), Change::reserved(10, -1))
            .unwrap();
        let recount = storage.recount_usage().unwrap();
        assert_eq!((recount.accounts, recount.busy, recount.drift), (1, 0, 12));
        assert_eq!(ours.read_at(Slot::Folder(0)).unwrap().bytes, 0);
    }

    /// A node started during a recount's walk registers its run after the
    /// recount read which runs live: its reservation is not taken for a
    /// dead run's and dropped (its release would then take the bytes off a
    /// second time, the account below its files).
    #[test]
    fn a_run_begun_during_a_recount_keeps_its_reservation() {
        let root = tempfile::tempdir().unwrap();
        let quotas = [FolderQuota::parse("q/=1M").unwrap()];
        let mut storage = Storage::open(root.path(), "n1", false).unwrap();
        storage.count_usage(&quotas, false).unwrap();
        let Some(ours) = storage.usage.clone() else {
            panic!("no ledger");
        };
        let mark = ours.landed_at(Slot::Folder(0)).unwrap();
        let mut live = storage.live_runs(&ours).unwrap();
        // Node n2 starts, registers its run and reserves, after the read.
        let mut other = Storage::open(root.path(), "n2", false).unwrap();
        other.count_usage(&quotas, false).unwrap();
        let Some(theirs) = other.usage.clone() else {
            panic!("no ledger");
        };
        theirs
            .change_at(Slot::Folder(0), Change::reserved(9, 1))
            .unwrap();
        let reread = || storage.live_runs(&ours);
        let reread: &dyn Fn() -> io::Result<HashSet<u64>> = &reread;
        let walked = (Usage::default(), mark);
        let set = ours
            .recount_at(Slot::Folder(0), walked, (&mut live, reread))
            .unwrap();
        assert!(
            !set.quiet,
            "n2's upload in flight was taken for a dead run's"
        );
        assert_eq!(ours.read_at(Slot::Folder(0)).unwrap().bytes, 9);
        drop(other);
    }
}
