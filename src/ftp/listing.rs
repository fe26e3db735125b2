//! FTP's listings, written as a folder is walked (the serve layer's
//! listing spool, as every protocol's): `LIST` in the `ls -l` form that
//! clients parse (curl, lftp, ftplib, FileZilla), `NLST` a name a line,
//! `MLSD` each entry's facts (RFC 3659: what lftp and rclone read), its
//! `perm` among them; and the two listings answered on the control
//! connection, `MLST`'s one entry and `STAT <path>`'s `LIST`.
//! Names are the entries' own (no folder before them), as they are,
//! but for `NLST`'s, which begin with the folder the client wrote (each
//! a path `RETR` takes: [`Asked`]); a file named alone is shown as
//! written. A wildcard leaves out the entries it does not match.
//!
//! ```text
//! drwxr-xr-x 1 ferry ferry        0 Nov 26 08:00 photos
//! -rw-r--r-- 1 ferry ferry     4096 Nov 26 08:01 a.jpg
//! -rw-r--r-- 1 ferry ferry      512 Jan  3  2024 old.csv     (over six months ago: the year)
//! ```

use super::glob::{self, Pattern};
use super::reply::Facts;
use crate::serve::Rights;
use crate::serve::terms::{Format, Piece, Wants};

/// Six months, in seconds: older entries show their year, as `ls` does.
const RECENT: i64 = 182 * 86_400;

/// `LIST`'s line of `piece`: `ls -l`'s, with the entry's own name.
pub fn ls_line(prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
    if let Some(entry) = Entry::of(prefix, piece) {
        entry.ls(entry.leaf, out);
    }
}

/// What `LIST` and `NLST` were asked, as the client wrote it (its
/// options left out): the one file it names is shown so, and `NLST`'s
/// names begin with the folder written, so that each is a path a `RETR`
/// takes from the same working folder (vsftpd's and ProFTPD's answer,
/// what `mget` relies on). With a wildcard in its last step
/// ([`Pattern`]), only the entries it matches.
#[derive(Debug)]
pub struct Asked {
    /// The path written (`photos`, `photos/*.jpg`, `a.jpg`, or nothing).
    written: String,
    /// What a folder's entry is shown under in `NLST`: the folder as
    /// written, with its `/` (nothing for the working folder).
    under: String,
    /// The pattern of its last step, if it has one.
    pattern: Option<Pattern>,
}

impl Asked {
    /// What the path `written` asks.
    pub(super) fn new(written: String) -> Asked {
        let (under, pattern) = match glob::split(&written) {
            Some((folder, pattern)) => (folder.to_owned(), Some(pattern)),
            None => match written.as_str() {
                "" | "." => (String::new(), None),
                folder if folder.ends_with('/') => (folder.to_owned(), None),
                folder => (format!("{folder}/"), None),
            },
        };
        Asked {
            written,
            under,
            pattern,
        }
    }

    /// The path the listing walks, as written: the folder a pattern is
    /// matched in, else the path itself (a folder, or a file alone).
    pub(super) fn path(&self) -> &str {
        match self.pattern {
            Some(_) => &self.under,
            None => &self.written,
        }
    }

    /// Whether only the entries a pattern matches are listed.
    pub(super) fn is_pattern(&self) -> bool {
        self.pattern.is_some()
    }
}

/// `LIST` (`ls -l` lines) or `NLST` (a name a line) of what was [`Asked`].
#[derive(Debug)]
pub struct Listed {
    /// `NLST`'s names, not `LIST`'s lines.
    names: bool,
    asked: Asked,
}

impl Listed {
    /// `LIST` of `asked`.
    pub(super) fn ls(asked: Asked) -> Listed {
        Listed {
            names: false,
            asked,
        }
    }

    /// `NLST` of `asked`.
    pub(super) fn nlst(asked: Asked) -> Listed {
        Listed { names: true, asked }
    }
}

impl Format for Listed {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let only = matches!(piece, Piece::Only(_));
        let Some(entry) = Entry::of(prefix, piece) else {
            return;
        };
        if let Some(pattern) = &self.asked.pattern
            && !pattern.matches(entry.leaf)
        {
            return;
        }
        let written = self.asked.written.as_str();
        let shown = match only && !written.is_empty() {
            true => written,
            false => entry.leaf,
        };
        if !self.names {
            return entry.ls(shown, out);
        }
        if !only {
            out.extend_from_slice(self.asked.under.as_bytes());
        }
        out.extend_from_slice(shown.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// A listed entry, as `LIST` and `NLST` write it.
struct Entry<'a> {
    folder: bool,
    /// Its own name ([`leaf`]).
    leaf: &'a str,
    size: u64,
    mtime: i64,
}

impl<'a> Entry<'a> {
    /// The entry `piece` is, if it is one.
    fn of(prefix: &str, piece: Piece<'a>) -> Option<Entry<'a>> {
        let (folder, name, size, mtime) = match piece {
            Piece::Directory { name, mtime, .. } => (true, name, 0, mtime),
            Piece::File { entry, .. } | Piece::Only(entry) => (
                false,
                entry.name.as_str(),
                entry.info.size,
                entry.info.mtime,
            ),
            _ => return None,
        };
        let leaf = leaf(prefix, name);
        Some(Entry {
            folder,
            leaf,
            size,
            mtime,
        })
    }

    /// Its `ls -l` line, showing it as `shown`.
    fn ls(&self, shown: &str, out: &mut Vec<u8>) {
        let line = ls_long(self.folder, self.size, self.mtime, shown);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// `MLSD` (RFC 3659 §7): an entry's facts, a space, its name; among the
/// facts `perm` (§7.5.5), what the client's token may do with the entry,
/// from the rights the listing is told (the web page's, `serve/access.rs`):
/// the listed folder's, or a folder's own where a grant lies below.
#[derive(Debug, Default)]
pub struct Mlsd {
    /// The facts given (`OPTS MLST`).
    facts: Facts,
    /// What the token may do in the listed folder.
    rights: Rights,
    /// What it may do in the next folder listed, where that differs.
    row: Option<Rights>,
}

impl Mlsd {
    /// A listing that gives `facts`.
    pub(super) fn giving(facts: Facts) -> Mlsd {
        Mlsd {
            facts,
            ..Mlsd::default()
        }
    }
}

impl Format for Mlsd {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let (file, name, rights) = match piece {
            Piece::Directory { name, .. } => {
                let rights = self.row.take().unwrap_or(self.rights.inherited());
                (None, name, rights)
            }
            Piece::File { entry, .. } | Piece::Only(entry) => {
                let file = (entry.info.size, entry.info.mtime);
                (Some(file), entry.name.as_str(), self.rights)
            }
            _ => return,
        };
        let facts = self.facts.of(file, || perm_of(file.is_some(), rights));
        let line = format!("{facts} {}\r\n", leaf(prefix, name));
        out.extend_from_slice(line.as_bytes());
    }

    fn rights(&mut self, rights: Rights) {
        self.rights = rights;
    }

    fn row_rights(&mut self, rights: Rights) {
        self.row = Some(rights);
    }
}

/// `MLST` (RFC 3659 §7.2): the one entry it names, its facts (`perm`
/// among them, as [`Mlsd`] gives it) on a line that begins with a space,
/// then the reply's end; the codec writes the reply's first line. A
/// folder is the folder alone (its members are never read).
#[derive(Debug, Default)]
pub struct Mlst {
    /// The facts given (`OPTS MLST`).
    facts: Facts,
    /// What the token may do with the entry named.
    rights: Rights,
}

impl Mlst {
    /// The entry, with `facts`.
    pub(super) fn giving(facts: Facts) -> Mlst {
        Mlst {
            facts,
            ..Mlst::default()
        }
    }
}

impl Format for Mlst {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let (file, path) = match piece {
            Piece::Start => (None, prefix.trim_end_matches('/')),
            Piece::Only(entry) => {
                let file = (entry.info.size, entry.info.mtime);
                (Some(file), entry.name.as_str())
            }
            _ => return,
        };
        let facts = self.facts.of(file, || perm_of(file.is_some(), self.rights));
        let lines = format!(" {facts} /{path}\r\n250 End\r\n");
        out.extend_from_slice(lines.as_bytes());
    }

    fn rights(&mut self, rights: Rights) {
        self.rights = rights;
    }

    fn wants(&self) -> Wants {
        Wants {
            itself: true,
            ..Wants::default()
        }
    }
}

/// `STAT <path>` (RFC 959): `LIST`'s lines, sent on the control
/// connection inside a `213` reply, whose last line this writes after
/// the entries (the codec writes the first). An `ls -l` line never
/// begins with a digit, so none is taken for the reply's end.
#[derive(Debug, Default)]
pub struct StatLines;

impl Format for StatLines {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        // A file named is the listing's one piece: nothing follows it.
        let last = matches!(piece, Piece::End | Piece::Only(_));
        ls_line(prefix, piece, out);
        if last {
            out.extend_from_slice(b"213 End of status\r\n");
        }
    }
}

/// An entry's `perm`: a file's or a folder's, with `rights`.
fn perm_of(file: bool, rights: Rights) -> String {
    match file {
        true => file_perm(rights),
        false => folder_perm(rights),
    }
}

/// A listed file's `perm`: read it (`r`; a file listed is readable),
/// write and append to it (`a`, `w`), delete it (`d`), rename it (`f`:
/// a rename needs both).
fn file_perm(rights: Rights) -> String {
    let (write, delete) = (rights.write, rights.delete);
    perm(&[
        (true, "r"),
        (write, "aw"),
        (delete, "d"),
        (write && delete, "f"),
    ])
}

/// A listed folder's `perm`: enter and list it (`e`, `l`), make files
/// and folders in it (`c`, `m`), delete it (`d`: by the grant on its
/// name, as `RMD` is judged) and what is in it (`p`), rename it (`f`).
fn folder_perm(rights: Rights) -> String {
    let (write, remove) = (rights.write, rights.remove);
    perm(&[
        (rights.read, "el"),
        (write, "cm"),
        (remove, "d"),
        (rights.delete, "p"),
        (write && remove, "f"),
    ])
}

/// The letters of those that hold.
fn perm(letters: &[(bool, &str)]) -> String {
    letters
        .iter()
        .filter(|(holds, _)| *holds)
        .map(|(_, l)| *l)
        .collect()
}

/// An entry's own name: its full name without the listed folder, nor a
/// folder's `/`.
pub fn leaf<'a>(prefix: &str, name: &'a str) -> &'a str {
    let name = name.strip_prefix(prefix).unwrap_or(name);
    name.strip_suffix('/').unwrap_or(name)
}

/// An entry as `ls -l` shows it (without a line's end), named `shown`:
/// FTP's `LIST` line, and SFTP's long name (what `sftp`'s `ls -l` prints).
pub fn ls_long(folder: bool, size: u64, mtime: i64, shown: &str) -> String {
    let mode = match folder {
        true => "drwxr-xr-x",
        false => "-rw-r--r--",
    };
    format!(
        "{mode} 1 ferry ferry {size:>12} {} {shown}",
        when(mtime, now())
    )
}

/// `ls`'s time: month, day and time, or the year for an old entry.
fn when(mtime: i64, now: i64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(mtime) else {
        return "Jan  1  1970".to_owned();
    };
    let month = &format!("{}", at.month())[..3];
    match (now - mtime).abs() < RECENT {
        true => format!(
            "{month} {:>2} {:02}:{:02}",
            at.day(),
            at.hour(),
            at.minute()
        ),
        false => format!("{month} {:>2}  {}", at.day(), at.year()),
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_as_ls_shows_them() {
        let now = 1_764_115_200; // 2025-11-26 00:00 UTC
        assert_eq!(when(now - 3_600, now), "Nov 25 23:00");
        assert_eq!(when(1_704_240_000, now), "Jan  3  2024");
    }

    #[test]
    fn names_are_the_entries_own() {
        assert_eq!(leaf("photos/", "photos/a.jpg"), "a.jpg");
        assert_eq!(leaf("photos/", "photos/sub/"), "sub");
        assert_eq!(leaf("", "top"), "top");
    }
}
