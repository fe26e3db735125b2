//! WebDAV's locks as rules (RFC 4918 6, 7, 9.10, 9.11, 10.4), once for
//! every protocol: a request's conditions (HTTP's `If:`) are judged before
//! it is served (`412` when false), and every operation that writes is
//! refused (`423`) where a lock covers what it touches unless the request
//! submitted that lock's token ([`check`], which `admission.rs` applies
//! to every operation before it is served). FERRY/1 and tus submit no
//! token, so their writes into a locked name are refused. `LOCK` and
//! `UNLOCK` are declared and served here too. The records are
//! `storage/posix/dav_locks.rs`'s.
//!
//! What a write touches comes from what it [`Needs`] of the grants, so a
//! new writing operation (PROPPATCH: `Needs::Write` of its name) is
//! checked without a line here: [`check`] is the one rule.
//!
//! The cost for a write without a lock: the table is this node's copy,
//! known current by one `fstat` on the reactor (`LockTable::fresh`); only
//! when another change may have happened (or the request has an `If:`,
//! whose entity tags need the disk) is it judged on the pool.

use log::debug;

use super::reservations;
use crate::access::Who;
use crate::model::Occupant;
use crate::model::{DavLock, is_below};
use crate::name::Name;
use crate::serve::conditions::Conditions;
use crate::serve::operate::{Aim, Needs, Operate};
pub use crate::serve::terms::LockAsk;
use crate::serve::{Ctx, ErrorKind, Failure, Next, Outcome, Reply, refuse};
use crate::storage::{Edit, StorageError, new_token};

/// The longest lock granted, in seconds (`Timeout: Infinite` and larger
/// values get this; a client refreshes before it ends): one hour, so a
/// lock whose client vanished does not outlive a working day's patience.
pub const MAX_TIMEOUT: u64 = 3600;
/// Why a request is refused whose conditions require a version of a name
/// that nothing has (`If-Match` on it): `412`, which S3 answers `404`.
pub const NOTHING_THERE: &str = "the conditions name a version, and nothing has the name";
/// The most live locks one holder (a token; the clients without one
/// together; without access control, a client address) may hold at
/// once: more than any file manager takes (davfs2 locks each file it has
/// open for writing), few enough that one client cannot make every lock
/// check and every `lockdiscovery` of the others slow.
pub const MAX_LOCKS_PER_HOLDER: usize = 1000;
/// The most live locks on the root at once, whoever holds them: the
/// table every check reads stays small whatever many holders do.
pub const MAX_LOCKS: usize = 10_000;

/// A lock granted or refreshed, as the client is told it.
#[derive(Debug)]
pub struct Granted {
    /// The lock.
    pub lock: DavLock,
    /// Seconds it has left.
    pub left: u64,
    /// The `LOCK` made the file (an unmapped name: `201`).
    pub created: bool,
    /// A new lock (its token goes in `Lock-Token`), not a refresh.
    pub new: bool,
}

/// What a write touches: a name, or a folder (its `/`-ended prefix) and
/// all in it.
#[derive(Debug, Clone, Copy)]
enum Touch<'a> {
    Name(&'a str),
    Folder(&'a str),
}

/// Whether a write that `needs` this touches anything the lock rule
/// guards.
pub(in crate::serve) fn touches(needs: Needs<'_>) -> bool {
    touched(needs).iter().any(Option::is_some)
}

/// What an operation that writes touches, from what it `needs` of the
/// grants.
fn touched(needs: Needs<'_>) -> [Option<Touch<'_>>; 2] {
    // A name a DELETE, MOVE or COPY takes away or replaces may turn out
    // to be a folder (a collection's URL without its `/`, a destination
    // cleared whole): touched whole, as a folder's would be, since what
    // is there is known only on the pool. Found by the model test
    // (tests/invariants/model.rs): a file's COPY onto a folder replaced the
    // reservation of a lock inside it.
    match needs {
        Needs::Write(name) | Needs::WriteOrWithin(name) => [Some(Touch::Name(name)), None],
        Needs::Delete(name) => [Some(Touch::Folder(name)), None],
        Needs::Move(from, to) => [Some(Touch::Folder(from)), Some(Touch::Folder(to))],
        Needs::Copy(_, to) => [Some(Touch::Folder(to)), None],
        Needs::DeleteUnder(prefix) => [Some(Touch::Folder(prefix)), None],
        Needs::CopyUnder(_, to) => [Some(Touch::Folder(to)), None],
        Needs::MoveWhole(from, to) => [Some(Touch::Folder(from)), Some(Touch::Folder(to))],
        _ => [None, None],
    }
}

/// The folder holding `name` (`""`: the root).
fn parent(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Whether `lock` stands in the way of writing `touch`: it covers it, it
/// locks the folder whose members it changes (a folder's lock guards its
/// membership, RFC 4918 7.4; taken for every write, as whether the name
/// exists is not known yet), or it is inside a folder written whole.
fn in_the_way(lock: &DavLock, touch: Touch<'_>) -> bool {
    let (name, whole) = match touch {
        Touch::Name(name) => (name, false),
        Touch::Folder(prefix) => (prefix.trim_end_matches('/'), true),
    };
    lock.covers(name) || lock.root == parent(name) || (whole && is_below(&lock.root, name))
}

/// The lock rule: a write may touch what a lock covers only with that
/// lock's token (for shared locks on one name, one of theirs) among the
/// `submitted`. Live locks only (`now`).
///
/// # Errors
/// [`ErrorKind::Locked`], naming the locked name where the request named
/// it (the name or a folder above it); a lock below a name touched whole
/// is not named, as its client may not be allowed to read it (found by
/// the model test: a folder's DELETE named another token's locked file).
pub fn check(
    locks: &[DavLock],
    now: i64,
    needs: Needs<'_>,
    submitted: &[&str],
) -> Result<(), Failure> {
    for touch in touched(needs).into_iter().flatten() {
        let mut blocking = locks
            .iter()
            .filter(|lock| lock.expires > now && in_the_way(lock, touch));
        let unmet = blocking.find(|lock| {
            !locks.iter().any(|other| {
                other.root == lock.root
                    && other.expires > now
                    && submitted.contains(&other.token.as_str())
            })
        });
        if let Some(lock) = unmet {
            let message = match touch {
                Touch::Folder(prefix) if is_below(&lock.root, prefix.trim_end_matches('/')) => {
                    let prefix = prefix.trim_end_matches('/');
                    format!("something in /{prefix} is locked: submit its lock token")
                }
                _ => format!("/{} is locked: submit its lock token", lock.root),
            };
            return Err(Failure::new(ErrorKind::Locked, message));
        }
    }
    Ok(())
}

/// The timeout granted for one asked: at most [`MAX_TIMEOUT`], at least
/// a second.
fn granted_timeout(asked: Option<u64>) -> u64 {
    asked.unwrap_or(MAX_TIMEOUT).clamp(1, MAX_TIMEOUT)
}

/// Lock `name` (WebDAV's `LOCK`; FERRY/1 has no verb for it): a new lock
/// (an unmapped name becomes an empty file) or a refresh.
#[derive(Debug)]
pub struct Lock {
    /// The name (a folder's without its `/`).
    pub name: Name,
    /// What is asked (boxed: an owner's XML is rare and long).
    pub ask: Box<LockAsk>,
    /// The lock tokens the request submits (HTTP's `If:`), the one a
    /// refresh renews among them: kept from the request's conditions once
    /// they hold ([`Operate::keep`]), not set by a codec.
    pub submitted: Vec<String>,
}

impl Operate for Lock {
    /// A lock is a write (the `write` grant; refused read-only), under
    /// rules of its own rather than the lock rule's.
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn keep(&mut self, conditions: &Conditions) {
        self.submitted = conditions.submitted().map(str::to_owned).collect();
    }

    /// On the pool, its conditions already judged.
    fn serve(self, _ctx: &Ctx<'_>, who: Who) -> Outcome {
        Outcome::on_pool(move |ctx| lock(ctx, &who, self))
    }
}

/// Remove the lock with `token` from `name` (WebDAV's `UNLOCK`).
#[derive(Debug)]
pub struct Unlock {
    /// The name (a folder's without its `/`).
    pub name: Name,
    /// The lock's token (`Lock-Token`).
    pub token: String,
}

impl Operate for Unlock {
    /// Under rules of its own rather than the lock rule's.
    fn aim(&self) -> Aim<'_> {
        Aim::at(self.name.as_str(), Needs::Write(self.name.as_str()))
    }

    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        unlock(self.name, self.token)
    }
}

/// LOCK of `name` by `who` (on the pool, its conditions already judged):
/// a new lock where none conflicts and the caps allow (an unmapped name is
/// reserved, nothing made: `201`), or a refresh of one the request submits.
fn lock(
    ctx: &Ctx<'_>,
    who: &Who,
    Lock {
        name,
        ask,
        submitted,
    }: Lock,
) -> Outcome {
    let name = &name;
    let holder = holder_of(who, ctx.peer);
    let locks = ctx.store.locks();
    let changed = locks.change(|table, now| match &*ask {
        LockAsk::Refresh { timeout } => {
            let submitted: Vec<&str> = submitted.iter().map(String::as_str).collect();
            refresh(table, now, name.as_str(), &submitted, *timeout)
        }
        LockAsk::New {
            shared,
            deep,
            owner,
            timeout,
        } => {
            let asked = (*shared, *deep, owner.as_str(), *timeout);
            take(ctx, (table, now), (name, &holder), asked)
        }
    });
    match changed {
        Ok(granted) => {
            debug!("#{} LOCK {name} {}", ctx.client, granted.lock.token);
            Outcome::answer(Reply::Locked(Box::new(granted)))
        }
        Err(failure) => refuse(ctx, "LOCK", name.as_str(), failure, Next::Request),
    }
}

/// A refresh: the submitted lock that covers `name`, with a new expiry.
fn refresh(
    table: &[DavLock],
    now: i64,
    name: &str,
    submitted: &[&str],
    timeout: Option<u64>,
) -> Result<(Granted, Edit), Failure> {
    let Some(found) = table
        .iter()
        .find(|lock| lock.covers(name) && submitted.contains(&lock.token.as_str()))
    else {
        let missing = "no lock on this name was submitted to refresh";
        return Err(Failure::new(ErrorKind::PreconditionFailed, missing));
    };
    let timeout = granted_timeout(timeout);
    let lock = DavLock {
        timeout,
        expires: now.saturating_add_unsigned(timeout),
        ..found.clone()
    };
    let granted = Granted {
        left: timeout,
        lock: lock.clone(),
        created: false,
        new: false,
    };
    let edit = Edit {
        write: vec![lock],
        remove: Vec::new(),
    };
    Ok((granted, edit))
}

/// A new lock on `name` for `holder` (`shared`, `deep`, `owner`,
/// `timeout`), unless a live lock conflicts (`423`): an exclusive one on
/// or over it, or one below a deep lock's folder; shared locks share.
/// Nothing is made where nothing has the name (its folder must exist:
/// `409`): a lock-null resource (RFC 2518 7.4, as Apache keeps them), a
/// name reserved for the lock's holder that nobody reads, lists or
/// copies until a `PUT` or `MKCOL` gives it content, gone with the lock
/// (`reservations.rs`). A reservation `holder` made already is taken
/// over, not in conflict: its lock goes, the new one reserves the name
/// (`reservations::taken_over`: a holder that lost its token).
fn take(
    ctx: &Ctx<'_>,
    (table, now): (&[DavLock], i64),
    (name, holder): (&Name, &str),
    (shared, deep, owner, timeout): (bool, bool, &str, Option<u64>),
) -> Result<(Granted, Edit), Failure> {
    check_caps(table, now, holder)?;
    let (created, folder) = match ctx.store.occupant(name) {
        Ok(Occupant::Nothing) => (true, false),
        Ok(occupant) => (false, occupant == Occupant::Folder),
        Err(StorageError::NotFound) => {
            let missing = "the parent folder does not exist";
            return Err(Failure::new(ErrorKind::Conflict, missing));
        }
        Err(err) => return Err(err.into()),
    };
    let in_the_way = |lock: &DavLock| {
        (lock.covers(name.as_str()) || (deep && is_below(&lock.root, name.as_str())))
            && !(shared && lock.shared)
    };
    // Those in the way that `holder`'s own reservation makes go instead.
    let taken = |lock: &&DavLock| {
        in_the_way(lock) && created && reservations::taken_over(lock, name.as_str(), holder)
    };
    let conflicts = |lock: &&DavLock| in_the_way(lock) && !taken(lock);
    if let Some(lock) = table.iter().find(conflicts) {
        let message = format!("/{} holds a conflicting lock", lock.root);
        return Err(Failure::new(ErrorKind::Locked, message));
    }
    let timeout = granted_timeout(timeout);
    let lock = DavLock {
        token: new_token()?,
        root: name.as_str().to_owned(),
        deep: deep && folder,
        shared,
        owner: owner.into(),
        timeout,
        expires: now.saturating_add_unsigned(timeout),
        holder: holder.to_owned(),
    };
    let granted = Granted {
        lock: lock.clone(),
        left: timeout,
        created,
        new: true,
    };
    let remove = table
        .iter()
        .filter(taken)
        .map(|lock| lock.token.clone())
        .collect();
    let edit = Edit {
        write: vec![lock],
        remove,
    };
    Ok((granted, edit))
}

/// Who holds the locks `who` takes from `peer`: a token's name; a client
/// without a token where tokens are asked for (`--anonymous` grants),
/// [`STRANGERS`] and its address, so that only that address takes its
/// lock-null reservations over (`reservations.rs`) while the caps count
/// every such client as one ([`counted_as`], docs/security.md); without
/// access control, the client's address.
fn holder_of(who: &Who, peer: std::net::IpAddr) -> String {
    match who {
        Who::Holder(_) => who.name().unwrap_or_default().to_owned(),
        Who::Anonymous(_) => format!("{STRANGERS} addr {peer}"),
        Who::Everyone => format!("addr {peer}"),
    }
}

/// The holder the clients without a token hold their locks as, where
/// tokens are asked for: `(anonymous)`, a name no token can have.
const STRANGERS: &str = crate::access::Owner::ANONYMOUS;

/// Whose share of the caps a lock of `holder` takes: the clients without
/// a token share one.
fn counted_as(holder: &str) -> &str {
    match holder.strip_prefix(STRANGERS) {
        Some(_) => STRANGERS,
        None => holder,
    }
}

/// Refuses a new lock for `holder` that would pass a cap: its own
/// ([`MAX_LOCKS_PER_HOLDER`]) or the root's ([`MAX_LOCKS`]). Live locks
/// only (`now`).
///
/// # Errors
/// [`ErrorKind::Busy`] (`503`, to be tried again once locks are given
/// back or run out).
fn check_caps(table: &[DavLock], now: i64, holder: &str) -> Result<(), Failure> {
    let live = || table.iter().filter(|lock| lock.expires > now);
    let counted = counted_as(holder);
    let held = live().filter(|lock| counted_as(&lock.holder) == counted);
    if held.count() >= MAX_LOCKS_PER_HOLDER {
        let who = match counted {
            STRANGERS => "the clients without a token hold",
            _ => "this client holds",
        };
        let message =
            format!("{who} {MAX_LOCKS_PER_HOLDER} locks, the most one may: unlock some first");
        return Err(Failure::new(ErrorKind::Busy, message));
    }
    if live().count() >= MAX_LOCKS {
        let message =
            format!("the server holds {MAX_LOCKS} locks, the most it keeps: try again later");
        return Err(Failure::new(ErrorKind::Busy, message));
    }
    Ok(())
}

/// UNLOCK of `name` with `token` (on the pool): the lock goes if it
/// covers the name (else `409`, RFC 4918 9.11.1).
fn unlock(name: Name, token: String) -> Outcome {
    Outcome::on_pool(move |ctx| {
        let removed = ctx.store.locks().change(|table, _| {
            match table.iter().find(|lock| lock.token == token) {
                Some(lock) if lock.covers(name.as_str()) => {
                    let edit = Edit {
                        write: Vec::new(),
                        remove: vec![token.clone()],
                    };
                    Ok(((), edit))
                }
                _ => {
                    let message = "the lock token does not cover this name";
                    Err(Failure::new(ErrorKind::Conflict, message))
                }
            }
        });
        match removed {
            Ok(()) => {
                debug!("#{} UNLOCK {name} {token}", ctx.client);
                Outcome::answer(Reply::Done)
            }
            Err(failure) => refuse(ctx, "UNLOCK", name.as_str(), failure, Next::Request),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(root: &str, token: &str, deep: bool) -> DavLock {
        DavLock {
            token: token.into(),
            root: root.into(),
            deep,
            shared: false,
            owner: "".into(),
            timeout: 60,
            expires: 100,
            holder: String::new(),
        }
    }

    fn put(name: &str) -> Needs<'_> {
        Needs::Write(name)
    }

    #[test]
    fn a_write_needs_the_token_of_each_lock_in_its_way() {
        let locks = [lock("a", "t1", true), lock("b/c", "t2", false)];
        let none: &[&str] = &[];
        assert!(check(&locks, 0, put("x"), none).is_ok());
        assert!(check(&locks, 0, put("a/y"), none).is_err());
        assert!(check(&locks, 0, put("a/y"), &["t1"]).is_ok());
        assert!(check(&locks, 0, put("b/c"), &["t1"]).is_err());
        // Expired locks are no longer in the way.
        assert!(check(&locks, 100, put("b/c"), none).is_ok());
        let delete = Needs::DeleteUnder("b/");
        assert!(check(&locks, 0, delete, none).is_err());
        assert!(check(&locks, 0, delete, &["t2"]).is_ok());
    }

    #[test]
    fn timeouts_are_capped() {
        assert_eq!(granted_timeout(None), MAX_TIMEOUT);
        assert_eq!(granted_timeout(Some(u64::MAX)), MAX_TIMEOUT);
        assert_eq!(granted_timeout(Some(0)), 1);
        assert_eq!(granted_timeout(Some(30)), 30);
    }
}
