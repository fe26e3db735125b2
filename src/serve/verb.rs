//! Every operation's fixed facts, declared once: its name in logs, its
//! label in metrics and the access log, and whether it writes (which the
//! serve layer checks against `--read-only` once, for all of them). What
//! an operation needs of which names is [`Needs`], given by
//! [`super::Operation::declared`] beside its subject.

/// The kinds of operation, in the order metrics count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Store a file.
    Put,
    /// Send (part of) a file.
    Get,
    /// Describe a file.
    Stat,
    /// List names.
    List,
    /// A folder as a tar archive.
    Tar,
    /// Remove a file.
    Delete,
    /// Rename a file.
    Move,
    /// Send back a body.
    Echo,
    /// Start a resumable upload.
    Upload,
    /// Stage bytes of one.
    Append,
    /// Commit one.
    Commit,
    /// Discard one.
    Abort,
    /// Authenticate.
    Auth,
    /// Close.
    Quit,
    /// List a token's upload sessions.
    Sessions,
}

/// A verb's facts.
struct Facts {
    /// In log lines.
    log: &'static str,
    /// In metrics labels and the access log.
    label: &'static str,
    /// It changes the tree or the staged uploads.
    writes: bool,
}

impl Verb {
    /// Every verb, each at its [`Verb::index`].
    pub const ALL: [Verb; 15] = [
        Verb::Put,
        Verb::Get,
        Verb::Stat,
        Verb::List,
        Verb::Tar,
        Verb::Delete,
        Verb::Move,
        Verb::Echo,
        Verb::Upload,
        Verb::Append,
        Verb::Commit,
        Verb::Abort,
        Verb::Auth,
        Verb::Quit,
        Verb::Sessions,
    ];

    fn facts(self) -> Facts {
        let facts = |log, label, writes| Facts { log, label, writes };
        match self {
            Verb::Put => facts("PUT", "put", true),
            Verb::Get => facts("GET", "get", false),
            Verb::Stat => facts("STAT", "stat", false),
            Verb::List => facts("LIST", "list", false),
            Verb::Tar => facts("TAR", "tar", false),
            Verb::Delete => facts("DEL", "delete", true),
            Verb::Move => facts("MOVE", "move", true),
            Verb::Echo => facts("ECHO", "echo", false),
            Verb::Upload => facts("UPLOAD", "upload", true),
            Verb::Append => facts("APPEND", "append", true),
            Verb::Commit => facts("COMMIT", "commit", true),
            Verb::Abort => facts("ABORT", "abort", true),
            Verb::Auth => facts("AUTH", "auth", false),
            Verb::Quit => facts("QUIT", "quit", false),
            Verb::Sessions => facts("SESSIONS", "sessions", false),
        }
    }

    /// Its name in log lines (`PUT`, `DEL`...).
    pub fn name(self) -> &'static str {
        self.facts().log
    }

    /// Its label in metrics and the access log (`put`, `delete`...).
    pub fn label(self) -> &'static str {
        self.facts().label
    }

    /// Whether it writes: refused on a read-only server.
    pub fn writes(self) -> bool {
        self.facts().writes
    }

    /// Its place in [`Verb::ALL`] (and in per-verb tables).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What an operation needs of the client's grants before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs<'a> {
    /// Nothing (authenticating, closing).
    Nothing,
    /// To read the file.
    Read(&'a str),
    /// To write the file.
    Write(&'a str),
    /// To delete the file.
    Delete(&'a str),
    /// To delete the one and write the other, as DEL and PUT would.
    Move(&'a str, &'a str),
    /// To see something under the prefix (see `Who::may_list`).
    Listing(&'a str),
    /// A token, when access control is on.
    Token,
    /// To write the file of the session, checked once it is found.
    Session,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_labels_are_distinct() {
        for (at, verb) in Verb::ALL.into_iter().enumerate() {
            assert_eq!(verb.index(), at);
            assert!(Verb::ALL[..at].iter().all(|v| v.label() != verb.label()));
            assert!(Verb::ALL[..at].iter().all(|v| v.name() != verb.name()));
        }
    }
}
