//! DESCRIBE (SFTP's `STAT`, `LSTAT`, `FSTAT`): what a name is, a file or a
//! folder, with its size and time, without a checksum (FERRY/1's `STAT`
//! states one, read from the whole file where none is recorded; a client
//! that stats every name it lists must not cost a read of each). Needs some
//! grant, of any kind, on the name or below it, as DF's folder does: a
//! name out of the client's reach is refused before it is looked for, so
//! the answer never tells whether it is there. A symlink or a special file
//! is not there, as everywhere (the jail).

use log::debug;

use crate::access::Who;
use crate::serve::operate::{Aim, Needs, Operate};
use crate::serve::{Ctx, Outcome, Reply, storage_refusal};

/// What `path` is (`""`: the root).
#[derive(Debug)]
pub struct Describe {
    /// A name below the root, without a leading or trailing `/`.
    pub path: String,
}

impl Operate for Describe {
    fn aim(&self) -> Aim<'_> {
        Aim::at(&self.path, Needs::Within(&self.path))
    }

    /// On the pool: one `stat` of the name.
    fn serve(self, _ctx: &Ctx<'_>, _who: Who) -> Outcome {
        Outcome::brief(move |ctx| match ctx.store.resource(&self.path, false) {
            Ok(found) => {
                debug!("#{} DESCRIBE {:?}", ctx.client, self.path);
                Outcome::answer(Reply::Described(found))
            }
            Err(err) => storage_refusal(ctx, "DESCRIBE", &self.path, err),
        })
    }
}
