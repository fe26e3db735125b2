//! What a quota admits: whether a write's bytes and file fit beside what
//! an account holds, and the words of a refusal. One home for both places
//! a write is judged: before its body, where its size is known
//! (`serve/room.rs`), and at its commit, under the ledger's lock of each
//! account it counts in, so that commits side by side cannot together
//! pass a quota (`usage_counts.rs`).

use std::fmt;

use crate::model::{Account, Usage};

use super::usage::Slot;
use super::{Storage, StorageError};
use crate::access::quota::{Quota, covers};

/// A write a quota refuses: whose quota, its limit, what the account
/// holds and what the write would add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverQuota {
    /// Whose quota, as a refusal names it: `token cam`, `folder box/`,
    /// `the root` (never anything the writer could not see: its own
    /// token, or a folder above what it writes).
    pub whose: String,
    /// The quota passed.
    pub quota: Quota,
    /// What the account held.
    pub used: Usage,
    /// What the write would have added.
    pub more: Usage,
}

impl Storage {
    /// Refuses a write of `more` bytes and files to `name` by `writer`
    /// (its token and that token's quota) where it would pass a quota as
    /// the ledger counts now: the token's, then each quota'd folder's that
    /// holds `name`. Asked before a write's body, where its size is known
    /// (`serve/room.rs`); its commit is judged again, under the lock.
    /// Nothing is refused where usage is not counted.
    ///
    /// The folders are the ledger's, found by their places in it: each is
    /// read without its prefix compared again (a write asks this first).
    ///
    /// # Errors
    /// The ledger cannot be read.
    pub(super) fn quota_refuses(
        &self,
        (token, quota): (Option<&str>, Option<Quota>),
        name: &str,
        more: Usage,
    ) -> Result<Option<OverQuota>, StorageError> {
        let Some(ledger) = &self.usage else {
            return Ok(None);
        };
        if let (Some(token), Some(quota)) = (token, quota) {
            let used = ledger.read_at(Slot::Token(token))?;
            if let Some(over) = over_quota(quota, used, more, Account::Token(token)) {
                return Ok(Some(over));
            }
        }
        for (place, prefix) in ledger.folders.iter().enumerate() {
            if !covers(prefix, name) {
                continue;
            }
            let (used, quota) = (ledger.read_at(Slot::Folder(place))?, ledger.limits[place]);
            if let Some(over) = over_quota(quota, used, more, Account::Folder(prefix)) {
                return Ok(Some(over));
            }
        }
        Ok(None)
    }
}

/// Refuses `more` bytes and files beside `used` where they would pass
/// `quota` (of `account`): bytes first, then files.
#[inline]
pub fn over_quota(
    quota: Quota,
    used: Usage,
    more: Usage,
    account: Account<'_>,
) -> Option<OverQuota> {
    let bytes_over = quota
        .bytes
        .is_some_and(|limit| used.bytes.saturating_add(more.bytes) > limit);
    let files_over = quota
        .files
        .is_some_and(|limit| used.files.saturating_add(more.files) > limit);
    (bytes_over || files_over).then(|| refusal(quota, used, more, account))
}

/// The words of a refusal: apart, as a refusal is rare and every write
/// judged asks [`over_quota`].
#[cold]
fn refusal(quota: Quota, used: Usage, more: Usage, account: Account<'_>) -> OverQuota {
    OverQuota {
        whose: whose(account),
        quota,
        used,
        more,
    }
}

/// Whose quota `account` is, as a refusal names it.
fn whose(account: Account<'_>) -> String {
    match account {
        Account::Token(name) => format!("token {name}"),
        Account::Folder("") => "the root".to_owned(),
        Account::Folder(prefix) => format!("folder {prefix}"),
    }
}

impl fmt::Display for OverQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let OverQuota {
            whose,
            quota,
            used,
            more,
        } = self;
        if let Some(limit) = quota.bytes
            && used.bytes.saturating_add(more.bytes) > limit
        {
            let size = more.bytes;
            return write!(
                f,
                "quota: {size} more bytes would pass the {limit}-byte quota of {whose} ({} used)",
                used.bytes
            );
        }
        match quota.files {
            Some(limit) if used.files >= limit => {
                write!(f, "quota: {whose} holds its {limit} files already")
            }
            limit => write!(
                f,
                "quota: {} more files would pass the {}-file quota of {whose} ({} held)",
                more.files,
                limit.unwrap_or_default(),
                used.files
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_judged_before_files_and_each_refusal_says_which() {
        let quota = Quota::parse("100,files=2").unwrap();
        let used = Usage {
            bytes: 60,
            files: 1,
        };
        let file = |bytes| Usage { bytes, files: 1 };
        assert_eq!(over_quota(quota, used, file(40), Account::Token("t")), None);
        let over = over_quota(quota, used, file(41), Account::Token("t")).unwrap();
        assert_eq!(
            over.to_string(),
            "quota: 41 more bytes would pass the 100-byte quota of token t (60 used)"
        );
        let full = Usage { bytes: 0, files: 2 };
        let over = over_quota(quota, full, file(1), Account::Folder("box/")).unwrap();
        assert_eq!(
            over.to_string(),
            "quota: folder box/ holds its 2 files already"
        );
        let two = Usage { bytes: 0, files: 2 };
        let over = over_quota(quota, used, two, Account::Folder("")).unwrap();
        assert_eq!(
            over.to_string(),
            "quota: 2 more files would pass the 2-file quota of the root (1 held)"
        );
        // Taking off is never refused.
        let none = Usage::default();
        assert_eq!(over_quota(quota, full, none, Account::Token("t")), None);
    }
}
