//! A whole upload session verified and committed, on the pool: one
//! home for every protocol's commit of a session (FERRY/1's `COMMIT`,
//! tus's last `PATCH`, an empty tus upload, SFTP's `CLOSE`, FTP's resumed
//! `STOR`), with what refuses it (a lock, a name taken where it may only
//! make the file) and the commit path every upload takes (where a lock
//! taken while its bytes came in refuses it, the session kept).

use std::time::Instant;

use super::makes_only::MakesOnly;
use crate::access::Owner;
use crate::formats::upload_metadata;
use crate::serve::commit::{self, commit_now};
use crate::serve::{Ctx, Next, Outcome, refuse};
use crate::storage::StorageError;

/// Verifies and commits session `id` (on the pool), as `user`'s, with
/// its time, whether it may only make its file (SFTP's `EXCL`), and the
/// open it must still be the newest of (SFTP's handle's opener).
pub(in crate::serve) fn commit_session(
    ctx: &Ctx<'_>,
    id: &str,
    (mtime, create_only, opener): (Option<i64>, bool, Option<u64>),
    user: Option<Owner>,
) -> Outcome {
    match ctx.store.sessions().finish_session(id, opener) {
        // A name taken meanwhile where the commit may only make it (an
        // upload through a share link, SFTP's EXCL): refused, and the
        // upload goes, so that a tus client asking how far it got never
        // finds it whole and takes it for stored.
        Ok((upload, session, _))
            if create_only
                && matches!(
                    ctx.store.look_up(&session.name),
                    Ok(_) | Err(StorageError::IsDirectory)
                ) =>
        {
            drop(upload);
            MakesOnly::new(id, opener).end(ctx);
            refuse(
                ctx,
                "COMMIT",
                id,
                StorageError::Exists.into(),
                Next::Request,
            )
        }
        Ok((mut upload, session, crc)) => {
            // A time the COMMIT gives, else one the client gave with the
            // session (tus's metadata).
            let said = session.meta.as_deref().and_then(upload_metadata::mtime);
            upload.set_mtime(mtime.or(said));
            let makes_only = create_only.then(|| {
                upload.create_only();
                MakesOnly::new(id, opener)
            });
            // Already on the pool: the commit runs here too.
            let commit = commit::Commit {
                upload,
                name: session.name,
                size: session.size,
                crc,
                started: Instant::now(),
                user,
                session: Some(id.to_owned()),
                meta: session.meta,
                checksum: None,
                preconditions: None,
                makes_only,
            };
            commit_now(ctx, commit)
        }
        Err(err) => refuse(ctx, "COMMIT", id, err.into(), Next::Request),
    }
}
