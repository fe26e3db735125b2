//! Properties of files and folders beyond their bytes: `PROPPATCH`'s
//! changes (dead properties kept in the root, a modification time set),
//! all applied or none (RFC 4918 9.2), and what a listing's walk reads
//! for a format that shows them (WebDAV's `PROPFIND`). Where the records
//! live and how they follow a move, a copy or a delete is
//! `storage/posix/dead_props.rs`'s; what a property's value looks like is the
//! dialect's. One rule set with every write: `--read-only` refuses
//! `PROPPATCH` in `admit` (its verb writes), and it needs `write` on the
//! name (`operate.rs`).

use log::debug;

use super::at_change::judged_again;
use crate::access::Who;
use crate::model::{DeadProperty, Holder, ListEntry, Space};
use crate::model::{Recorded, Resource};
use crate::name::Name;
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::terms::{Details, Wants};
use crate::serve::{Ctx, ErrorKind, Next, Outcome, Reply, refuse, room_for, storage_refusal};
use crate::storage::{PropEdit, Store};

/// What a `PROPPATCH` names: a file, or a folder (the root is `None`).
#[derive(Debug)]
pub struct PropTarget {
    /// The name; `None` for the root.
    pub name: Option<Name>,
    /// Asked for as a folder (with its `/`): a file of that name is not it.
    pub folder: bool,
}

impl PropTarget {
    /// Its path from the root, without a trailing `/` ("" for the root).
    pub fn path(&self) -> &str {
        self.name.as_ref().map_or("", Name::as_str)
    }
}

/// One change a `PROPPATCH` asks for, in the order it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropUpdate {
    /// The property's namespace (empty for none).
    pub ns: String,
    /// Its local name.
    pub local: String,
    /// What to do with it.
    pub change: Change,
}

/// What a `PROPPATCH` does to one property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Keep this value (the dialect's text for it) as a dead property.
    Set(String),
    /// Remove the dead property (none there is no error: RFC 4918 14.23).
    Remove,
    /// Remove every dead property of the update's namespace (its local
    /// name is not read): S3's metadata replaced whole.
    Clear,
    /// Set the modification time (Unix seconds): the live property that
    /// clients may change (`getlastmodified`, Windows'
    /// `Win32LastModifiedTime`).
    Mtime(i64),
    /// A live property that cannot be changed: the request changes
    /// nothing (`403`, the others `424`).
    Protected,
}

impl Change {
    /// Whether it changes the dead properties' record (not the time).
    fn is_of_a_record(&self) -> bool {
        matches!(self, Change::Set(_) | Change::Remove | Change::Clear)
    }
}

/// How one change of a `PROPPATCH` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchStatus {
    /// Applied.
    Done,
    /// Refused or failed for this reason: nothing was applied.
    Failed(ErrorKind),
    /// Not applied because another change failed (WebDAV's `424`).
    Dependency,
}

/// How a `PROPPATCH` went, as its answer tells it.
#[derive(Debug)]
pub struct Patched {
    /// The file or folder, from the root ("" for the root).
    pub path: String,
    /// It is a folder.
    pub folder: bool,
    /// Each change's property (namespace, local name) and status, in the
    /// order asked.
    pub changes: Vec<(String, String, PatchStatus)>,
}

impl Patched {
    /// Why its changes were not made, if they were not: the first
    /// failure's kind (a change left for another's failure has none of
    /// its own). For a dialect that answers one status for the whole
    /// patch (SFTP's `SETSTAT`, FTP's `MFMT`).
    pub fn not_made(&self) -> Option<ErrorKind> {
        let failed = self.changes.iter().find_map(|(_, _, status)| match status {
            PatchStatus::Failed(kind) => Some(*kind),
            _ => None,
        });
        let left = || {
            self.changes
                .iter()
                .any(|(_, _, status)| *status == PatchStatus::Dependency)
        };
        failed.or_else(|| left().then_some(ErrorKind::Internal))
    }
}

/// Change the properties of a file or folder (WebDAV's `PROPPATCH`): all
/// of `updates`, in order, or none.
#[derive(Debug)]
pub struct PropPatch {
    /// The file or folder.
    pub target: PropTarget,
    /// What to change.
    pub updates: Vec<PropUpdate>,
    /// The request's preconditions and lock tokens, judged again where
    /// the properties are written: kept from its conditions
    /// ([`Operate::keep`]), not set by a codec.
    pub preconditions: Option<Box<Conditions>>,
}

impl Operate for PropPatch {
    /// As a PUT of it would: a file's properties are its writer's.
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.target.path(), Needs::Write(self.target.path()))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.preconditions = conditions.at_commit();
    }

    /// On the pool, all of `updates` applied in order, or none. The mtime
    /// is set first and put back if the record cannot be written, so a
    /// failure leaves both as they were.
    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        patch(self)
    }
}

fn patch(op: PropPatch) -> Outcome {
    let PropPatch {
        target,
        updates,
        preconditions,
    } = op;
    Outcome::on_pool(move |ctx| {
        let path = target.path();
        let found = match ctx.store.resource(path, target.folder) {
            Ok(found) => found,
            Err(err) => return storage_refusal(ctx, "PROPPATCH", path, err),
        };
        let refused = updates.iter().any(|u| u.change == Change::Protected);
        // The time alone: a failure is its own, not another change's.
        let time_alone = !updates.iter().any(|u| u.change.is_of_a_record());
        let result = match refused {
            true => Err(ErrorKind::Forbidden),
            false => match judged_again(ctx, Needs::Write(path), preconditions.as_deref()) {
                Ok(_steady) => apply(ctx.store, path, found, &updates),
                Err(failure) => return refuse(ctx, "PROPPATCH", path, failure, Next::Request),
            },
        };
        if let Err(kind) = result {
            debug!("#{} PROPPATCH {path:?}: {kind}", ctx.client);
        } else {
            debug!("#{} PROPPATCH {path:?}", ctx.client);
        }
        let changes = updates
            .into_iter()
            .map(|update| {
                let status = match (&result, &update.change) {
                    (Ok(()), _) => PatchStatus::Done,
                    (Err(_), Change::Protected) => PatchStatus::Failed(ErrorKind::Forbidden),
                    (Err(ErrorKind::Forbidden), _) if refused => PatchStatus::Dependency,
                    (Err(kind), Change::Mtime(_)) if time_alone => PatchStatus::Failed(*kind),
                    (Err(_), Change::Mtime(_)) => PatchStatus::Dependency,
                    (Err(kind), _) => PatchStatus::Failed(*kind),
                };
                (update.ns, update.local, status)
            })
            .collect();
        let patched = Patched {
            path: path.to_owned(),
            folder: found.folder,
            changes,
        };
        Outcome::answer(Reply::Patched(Box::new(patched)))
    })
}

/// Applies `updates` to `path` (as `found`): the time, then the record,
/// changed as it stands under the records' lock (one check-and-change:
/// [`Store::patch_props`]).
///
/// # Errors
/// Why it failed; then nothing was changed.
fn apply(
    store: &dyn Store,
    path: &str,
    found: Resource,
    updates: &[PropUpdate],
) -> Result<(), ErrorKind> {
    let holder = holder(path, found.folder);
    let mut mtime = None;
    for update in updates {
        match &update.change {
            Change::Mtime(time) => mtime = Some(*time),
            Change::Protected => return Err(ErrorKind::Forbidden),
            Change::Set(_) | Change::Remove | Change::Clear => {}
        }
    }
    let mut edit = |props: &mut Vec<DeadProperty>| {
        for update in updates {
            change_one(props, update);
        }
    };
    // The time alone takes no look at the records (nor their lock).
    let records = updates.iter().any(|u| u.change.is_of_a_record());
    let edit = records.then_some(&mut edit as PropEdit<'_>);
    store
        .patch_props(holder, &found, mtime, edit)
        .map_err(|err| ErrorKind::from(&err))
}

/// Makes one update's change to `props` (the time aside).
fn change_one(props: &mut Vec<DeadProperty>, update: &PropUpdate) {
    let same = |p: &DeadProperty| p.ns == update.ns && p.local == update.local;
    match &update.change {
        Change::Set(value) => {
            let prop = DeadProperty {
                ns: update.ns.clone(),
                local: update.local.clone(),
                value: value.clone(),
            };
            match props.iter_mut().find(|p| same(p)) {
                Some(old) => *old = prop,
                None => props.push(prop),
            }
        }
        Change::Remove => props.retain(|p| !same(p)),
        Change::Clear => props.retain(|p| p.ns != update.ns),
        Change::Mtime(_) | Change::Protected => {}
    }
}

/// The holder of `path`'s record.
fn holder(path: &str, folder: bool) -> Holder<'_> {
    match folder {
        true => Holder::Folder(path),
        false => Holder::File(path),
    }
}

/// What a listing's walk reads for a format that asks ([`Wants`]): which
/// members of the listed folder have records (read once), and from them
/// each piece's [`Details`].
#[derive(Debug)]
pub(in crate::serve) struct Describer {
    wants: Wants,
    recorded: Recorded,
    /// The room told for the listed folder (where the format wants it):
    /// the disk's above the reserve, or the tightest quota's.
    space: Option<Space>,
}

impl Describer {
    /// For a listing of folder `path` ("" for the root), if the format
    /// wants anything: one or two reads of its mirror when members'
    /// properties are wanted, nothing per member without a record.
    pub(in crate::serve) fn new(
        ctx: &Ctx<'_>,
        (who, wants): (&Who, Wants),
        path: &str,
    ) -> Option<Describer> {
        if !(wants.own || wants.members || wants.space) {
            return None;
        }
        let recorded = match wants.members {
            true => ctx.store.props_members(path).unwrap_or_else(|err| {
                log::warn!("dead properties under {path:?} unread: {err}");
                Recorded::default()
            }),
            false => Recorded::default(),
        };
        Some(Describer {
            wants,
            recorded,
            space: wants.space.then(|| room_for(ctx, who, path).ok()).flatten(),
        })
    }

    /// The listed folder's own details (its time and record, the space).
    pub(in crate::serve) fn folder(&self, store: &dyn Store, path: &str) -> Details {
        let mut details = self.space();
        if let Ok(found) = store.resource(path, true) {
            details.mtime = Some(found.info.mtime);
            if self.wants.own {
                details.props = read(store, Holder::Folder(path), found.stamp.inode);
            }
        }
        details
    }

    /// A subfolder's details: its record, if its mirror is there.
    pub(in crate::serve) fn subfolder(&self, store: &dyn Store, name: &str, inode: u64) -> Details {
        let path = name.trim_end_matches('/');
        let mut details = Details::default();
        if !self.recorded.folders.is_empty() && self.recorded.folders.contains(leaf(path)) {
            details.props = read(store, Holder::Folder(path), inode);
        }
        details
    }

    /// A member file's details: its record, if it has one.
    pub(in crate::serve) fn file(&self, store: &dyn Store, entry: &ListEntry) -> Details {
        let mut details = Details::default();
        // Most folders have no record at all: no leaf looked for then.
        if !self.recorded.files.is_empty() && self.recorded.files.contains(leaf(&entry.name)) {
            details.props = read(store, Holder::File(&entry.name), entry.stamp.inode);
        }
        details
    }

    /// The one file a listing names: its record and the space.
    pub(in crate::serve) fn only(&self, store: &dyn Store, entry: &ListEntry) -> Details {
        let mut details = self.space();
        if self.wants.own {
            details.props = read(store, Holder::File(&entry.name), entry.stamp.inode);
        }
        details
    }

    fn space(&self) -> Details {
        Details {
            space: self.space,
            ..Details::default()
        }
    }
}

/// The last segment of `path`: found by a plain scan of its bytes, as a
/// listing asks it of every entry (`rsplit`'s searcher costs several times
/// that on a short name).
fn leaf(path: &str) -> &str {
    match path.bytes().rposition(|b| b == b'/') {
        Some(at) => &path[at + 1..],
        None => path,
    }
}

/// The dead properties of `holder` (inode `inode`); a record that cannot
/// be read shows as none rather than failing the listing.
fn read(store: &dyn Store, holder: Holder<'_>, inode: u64) -> Vec<DeadProperty> {
    store.props(holder, inode).unwrap_or_else(|err| {
        log::warn!("dead properties of {holder:?} unread: {err}");
        Vec::new()
    })
}
