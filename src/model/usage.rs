//! What the usage ledger counts, as every layer sees it: whose usage
//! ([`Account`]) and what it holds ([`Usage`]). The ledger itself is
//! the storage's.

/// Whose usage: a token's uploads, or a folder's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account<'a> {
    /// The files token `name` stored.
    Token(&'a str),
    /// Everything below the folder `prefix` (ending in `/`; `""` for the
    /// root).
    Folder(&'a str),
}

/// What an account holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of its files.
    pub bytes: u64,
    /// Its files.
    pub files: u64,
}

impl Usage {
    /// One file of `size` bytes: what a write or a file's move adds.
    pub fn one_file(size: u64) -> Usage {
        Usage {
            bytes: size,
            files: 1,
        }
    }
}
