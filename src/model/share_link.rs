//! A share link (docs/shares.md): a file or folder its creator lets people
//! without a token read (a download link) or drop files into (an upload
//! link, a "file request"), until it expires, runs out of downloads or is
//! revoked. A plain value: where links are kept is the storage's
//! (`LinkTable`), what they allow is the serve layer's (`ops/links.rs`,
//! `ops/via_link.rs`).

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    /// Read the file, or the folder's files (never write).
    Read,
    /// Put new files into the folder (never read or list it).
    Upload,
}

impl LinkMode {
    /// Its word in JSON and in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkMode::Read => "read",
            LinkMode::Upload => "upload",
        }
    }

    /// The mode a word names.
    pub fn parse(word: &str) -> Option<LinkMode> {
        match word {
            "read" => Some(LinkMode::Read),
            "upload" => Some(LinkMode::Upload),
            _ => None,
        }
    }
}

/// One link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// Its id: 128 random bits as 22 base64url characters, the last step
    /// of its URL (`/s/<id>`).
    pub id: String,
    /// The token that made it, by name; empty on a server without access
    /// control (everyone is the creator there).
    pub creator: String,
    /// The first 16 hex digits of that token's digest: a token issued
    /// anew under the same name (a leaked one replaced) is another
    /// creator, whose grants the old links never get. Empty without
    /// access control.
    pub creator_key: String,
    /// What it shares: a file's name, or a folder's ending in `/`.
    pub path: String,
    /// What it allows.
    pub mode: LinkMode,
    /// When it was made, Unix seconds.
    pub created: i64,
    /// When it stops, Unix seconds.
    pub expires: i64,
    /// The password's salted SHA-256, as `<salt hex>:<digest hex>`, if it
    /// has one.
    pub password: Option<String>,
    /// How many whole-file downloads it allows, if limited.
    pub max_downloads: Option<u64>,
    /// How many it has given.
    pub downloads: u64,
}

impl ShareLink {
    /// Whether it shares a folder (the whole root's path is empty).
    pub fn is_folder(&self) -> bool {
        self.path.is_empty() || self.path.ends_with('/')
    }

    /// Whether it has expired at `now` (Unix seconds).
    pub fn has_expired(&self, now: i64) -> bool {
        now >= self.expires
    }

    /// Whether its downloads are used up.
    pub fn is_used_up(&self) -> bool {
        self.max_downloads.is_some_and(|max| self.downloads >= max)
    }

    /// Whether people may still use it at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        !self.has_expired(now) && !self.is_used_up()
    }

    /// Its address on the server, `/s/<id>/` or, for a file,
    /// `/s/<id>/<file name>` ([`link_address`]).
    pub fn address(&self) -> String {
        match self.is_folder() {
            true => link_address(&self.id, None),
            false => link_address(&self.id, Some(&self.path)),
        }
    }
}

/// Where people use link `id`: `/s/<id>/`, or with the last name of the
/// `file` it shares, which a download keeps (browsers and `curl -O` save
/// a download by its address's last step). Every dialect's and FERRY/1's
/// answer names a link by it.
pub fn link_address(id: &str, file: Option<&str>) -> String {
    let last = file.and_then(|name| name.rsplit('/').next());
    format!(
        "/s/{id}/{}",
        crate::name::url_path(last.unwrap_or_default())
    )
}

/// The characters of an id (base64url's).
pub fn is_link_id(id: &str) -> bool {
    id.len() == LINK_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A span of time as people write it: seconds (`90`), or a number with
/// `s`, `m`, `h` or `d` (`2s`, `30m`, `12h`, `7d`), in seconds.
///
/// # Errors
/// Anything else, or more than about 31 years.
pub fn parse_span(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((at, unit @ ('s' | 'm' | 'h' | 'd'))) => (&text[..at], unit),
        _ => (text, 's'),
    };
    let scale = match unit {
        'm' => 60,
        'h' => 60 * 60,
        'd' => 24 * 60 * 60,
        _ => 1,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|secs| *secs <= 1_000_000_000)
        .ok_or_else(|| format!("expected seconds or a number with s, m, h or d (7d), got {text:?}"))
}

/// An id's length: 16 random bytes in base64url without padding.
pub const LINK_ID_LEN: usize = 22;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_base64url_characters() {
        assert!(is_link_id("AAAAAAAAAAAAAAAAAAAA-_"));
        assert!(!is_link_id("AAAAAAAAAAAAAAAAAAAAA"));
        assert!(!is_link_id("AAAAAAAAAAAAAAAAAAAA/_"));
        assert!(!is_link_id("AAAAAAAAAAAAAAAAAAAA.."));
    }

    #[test]
    fn spans_read_as_people_write_them() {
        assert_eq!(parse_span("90"), Ok(90));
        assert_eq!(parse_span("2s"), Ok(2));
        assert_eq!(parse_span("30m"), Ok(1800));
        assert_eq!(parse_span("7d"), Ok(604_800));
        for bad in ["", "d", "7w", "-1", "1.5h", "99999999999d"] {
            assert!(parse_span(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_link_is_live_until_it_expires_or_runs_out() {
        let mut link = ShareLink {
            id: "x".into(),
            creator: String::new(),
            creator_key: String::new(),
            path: "a/".into(),
            mode: LinkMode::Read,
            created: 0,
            expires: 10,
            password: None,
            max_downloads: Some(2),
            downloads: 1,
        };
        assert!(link.is_folder());
        assert!(link.is_live(9));
        assert!(!link.is_live(10));
        link.downloads = 2;
        assert!(!link.is_live(9));
    }
}
