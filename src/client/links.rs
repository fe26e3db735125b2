//! Share links, made, listed and revoked by the client's token
//! (PROTOCOL.md §6.12; docs/shares.md): the lines and their answers.
//!
//! ```text
//! SHARE <target> <read|upload>[ expires=<secs>][ max=<n>][ password=<pct>]
//!                 -> OK <id> <expires> <url>
//! SHARES          -> OK <n> + n bytes, one link a line
//! UNSHARE <id>    -> OK
//! ```

use super::{Client, ClientError, Replies, Requests, Result};
use crate::protocol::LinkTerms;
use crate::protocol::request::Written;

/// A link just made, as `SHARE` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeLink {
    /// Its id, for `UNSHARE`.
    pub id: String,
    /// When it stops, Unix seconds.
    pub expires: i64,
    /// Its address, for people.
    pub url: String,
}

/// A link as `SHARES` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLink {
    /// Its id.
    pub id: String,
    /// `read` or `upload`.
    pub mode: String,
    /// When it stops, Unix seconds.
    pub expires: i64,
    /// Whole-file downloads it gave.
    pub downloads: u64,
    /// The most it gives, if limited.
    pub max_downloads: Option<u64>,
    /// Whether it asks for a password.
    pub password: bool,
    /// Its address; `None` where the server has no HTTP listener.
    pub url: Option<String>,
    /// What it shares: a file's name, a folder's ending in `/` (`/`: the
    /// root).
    pub path: String,
}

/// `OK <id> <expires> <url>`.
pub(super) fn made(fields: &[String]) -> Result<MadeLink> {
    let bad = || ClientError::protocol(format!("bad SHARE answer {fields:?}"));
    match fields {
        [id, expires, url, ..] => Ok(MadeLink {
            id: id.clone(),
            expires: expires.parse().map_err(|_| bad())?,
            url: url.clone(),
        }),
        _ => Err(bad()),
    }
}

/// One line of a `SHARES` answer: `<id> <mode> <expires> <downloads>
/// <max|-> <password yes|no> <url|-> <encoded-path>`.
pub(super) fn parse_link_line(line: &str) -> Result<ListedLink> {
    let bad = || ClientError::protocol(format!("bad shares line {line:?}"));
    let parts: Vec<&str> = line.splitn(8, ' ').collect();
    let [id, mode, expires, downloads, max, password, url, path] = parts[..] else {
        return Err(bad());
    };
    let path = crate::name::percent_decode(path.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    Ok(ListedLink {
        id: id.to_owned(),
        mode: mode.to_owned(),
        expires: expires.parse().map_err(|_| bad())?,
        downloads: downloads.parse().map_err(|_| bad())?,
        max_downloads: match max {
            "-" => None,
            max => Some(max.parse().map_err(|_| bad())?),
        },
        password: password == "yes",
        url: (url != "-").then(|| url.to_owned()),
        path,
    })
}

impl Client {
    /// Makes a share link to `target` (a file's name, a folder's ending
    /// in `/`, `/` the root) with `terms`.
    ///
    /// # Errors
    /// `ERR 403` the token may not read (an upload link: write) the
    /// target, has too many links, or the server serves no HTTP; `400` an
    /// expiry over the server's longest, an upload link of a file; `404`
    /// no such file or folder; `501` a server built without links.
    pub fn share<'a>(
        &mut self,
        target: &'a str,
        terms: LinkTerms<Written<'a>>,
    ) -> Result<MadeLink> {
        self.exchange(|requests| requests.share(target, terms), Replies::link)
    }

    /// The token's own links, oldest first.
    ///
    /// # Errors
    /// `ERR 401` without a token where the server has tokens; connection
    /// failures; a malformed answer.
    pub fn shares(&mut self) -> Result<Vec<ListedLink>> {
        self.exchange(Requests::shares, Replies::links)
    }

    /// Revokes link `id`.
    ///
    /// # Errors
    /// `ERR 404` no such link of this token's; `400` not a link's id.
    pub fn unshare(&mut self, id: &str) -> Result<()> {
        self.exchange(|requests| requests.unshare(id), Replies::done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_lines_keep_spaces_in_paths() {
        let line = "AAAAAAAAAAAAAAAAAAAA-_ read 1800000000 2 5 yes http://h:1/s/AAAAAAAAAAAAAAAAAAAA-_/a%20b a/my%20file";
        let link = parse_link_line(line).unwrap();
        assert_eq!(link.path, "a/my file");
        assert_eq!((link.downloads, link.max_downloads), (2, Some(5)));
        assert!(link.password);
        let root = parse_link_line("AAAAAAAAAAAAAAAAAAAA-_ upload 9 0 - no - /").unwrap();
        assert_eq!(
            (root.url, root.max_downloads, root.path.as_str()),
            (None, None, "/")
        );
        assert!(parse_link_line("AAAAAAAAAAAAAAAAAAAA-_ read 9 0 - no").is_err());
    }
}
