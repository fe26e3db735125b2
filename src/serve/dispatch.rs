//! Each operation to the function that serves it: the one `match` from
//! an admitted [`Operation`] to its serve function, apart from the
//! operations' declarations (`op.rs`), which the serve files read back.

use super::op::Operation;
use super::{
    Ctx, Next, Outcome, Reply, archive, deletes, files, folders, listing, locks, multipart, props,
    sessions,
};
use crate::access::Who;

impl Operation {
    /// Runs it: the operation's own serve function, once the serve layer
    /// has admitted it ([`super::serve`]: who it is from, their grants,
    /// read-only).
    pub(super) fn serve(self, ctx: &Ctx<'_>, who: Who) -> Outcome {
        match self {
            Operation::Put {
                name,
                body,
                crc,
                mtime,
                trailer,
                digests,
                folders,
                props,
                preconditions,
            } => files::put(
                ctx,
                super::user_of(ctx, &who),
                (name, folders, preconditions),
                body,
                (crc, trailer, digests),
                (mtime, props),
            ),
            Operation::Get { name, want } => super::get::get(ctx, name, want),
            Operation::Stat { name } => files::stat(ctx, name),
            Operation::List {
                prefix,
                scope,
                format,
                body,
            } => listing::list(ctx, who, prefix, scope, format, body),
            Operation::Archive {
                prefix,
                format,
                body,
            } => archive::archive(ctx, who, prefix, format, body),
            Operation::Delete { name, folders } => files::delete(who, name, folders),
            Operation::DeleteFolder { prefix, folders } => {
                folders::delete(ctx, who, prefix, folders)
            }
            Operation::DeleteEach {
                prefix,
                names,
                folders,
            } => deletes::delete_each(who, prefix, names, folders),
            Operation::MakeFolder { name, making } => folders::make_folder(&who, name, making),
            Operation::RemoveFolder { name } => folders::remove_folder(name),
            Operation::Move {
                from,
                to,
                overwrite,
                folders,
            } => files::rename(who, (from, to), overwrite, folders),
            Operation::CopyFolder {
                from,
                to,
                deep,
                overwrite,
            } => folders::copy(ctx, who, from, to, deep, overwrite),
            Operation::MoveFolder {
                from,
                to,
                overwrite,
            } => folders::rename(ctx, who, from, to, overwrite),
            Operation::Copy {
                from,
                to,
                overwrite,
                folders,
                mtime,
                props,
                source,
            } => files::copy(
                ctx,
                who,
                (from, to),
                overwrite,
                (folders, mtime, props, source),
            ),
            Operation::Lock { name, ask } => locks::lock_later(who, name, *ask),
            Operation::Unlock { name, token } => locks::unlock(name, token),
            Operation::PropPatch { target, updates } => props::patch(target, updates),
            Operation::Echo { size } => files::echo(size),
            Operation::Upload {
                name,
                size,
                crc,
                meta,
                first,
            } => sessions::upload(ctx, &who, name, size, (crc, meta, first)),
            Operation::Append {
                id,
                offset,
                len,
                commit,
                checksum,
                size,
            } => {
                let commit = commit.then(|| super::user_of(ctx, &who));
                sessions::append(who, id, (offset, len, checksum), commit, size)
            }
            Operation::Progress { id } => sessions::progress(who, id),
            Operation::Options => Outcome::answer(Reply::Offers {
                max_file_size: ctx.config.max_file_size,
            }),
            Operation::Commit { id, mtime } => sessions::commit(who, id, mtime),
            Operation::Abort { id } => sessions::abort(who, id),
            Operation::Sessions => sessions::list(who),
            Operation::BeginParts {
                name,
                mtime,
                props,
                checksum,
            } => multipart::begin(&who, name, (mtime, props), checksum),
            Operation::PutPart { name, ask } => multipart::put_part(ctx, name, ask),
            Operation::CopyPart { name, from, ask } => multipart::copy_part(name, from, ask),
            Operation::CompleteParts {
                name,
                id,
                parts,
                stated,
                preconditions,
            } => multipart::complete(
                (name, preconditions),
                id,
                (parts, stated),
                super::user_of(ctx, &who),
            ),
            Operation::AbortParts { name, id } => multipart::abort(name, id),
            Operation::ListParts {
                name,
                id,
                after,
                max,
            } => multipart::list_parts(name, id, after, max),
            Operation::ListUploads { prefix, after, max } => {
                super::uploads::list_uploads(who, prefix, after, max)
            }
            Operation::Auth { .. } => unreachable!("AUTH is answered by serve before admission"),
            Operation::Quit => Outcome::new(Reply::Done, Next::Close),
            Operation::Health => super::health::check(ctx),
        }
    }
}
