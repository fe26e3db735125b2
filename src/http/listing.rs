//! Directory listings as HTTP serves them: an HTML page for browsers (the
//! web interface, `page.rs`), JSON for programs (`Accept: application/json`). Each is a [`ListingFormat`]:
//! written piece by piece as the walk goes, never built whole.
//!
//! ```text
//! {"prefix":"d/","dirs":["d/sub/"],"files":[{"name":"d/a","size":1,"mtime":0}],
//!  "space":{"free":70,"used":30,"size":100,"files_free":2,"files_used":1}}
//! ```
//!
//! `space` is the room the client has to write in the folder: the disk's
//! above the reserve, or the tightest quota's (`serve/room.rs`), as DF
//! and WebDAV's quota properties tell it; absent where it could not be
//! asked.

use super::page::Page;
use crate::model::Space;
use crate::serve::terms::{Details, Format, Wants};
use crate::serve::{ListingFormat, Piece};

/// The format for a request that wants JSON (`json`), the plain HTML
/// listing (`plain`: `?plain`, no script) or the web page.
pub fn format(json: bool, plain: bool) -> ListingFormat {
    match (json, plain) {
        (true, _) => Box::new(JsonListing::default()),
        (false, true) => Box::new(Page::plain()),
        (false, false) => Box::new(Page::default()),
    }
}

/// The media type of [`format`]'s output.
pub fn media_type(json: bool) -> &'static str {
    if json {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    }
}

/// The JSON listing: what the walk told of the folder's room, until its
/// end is written.
#[derive(Debug, Default)]
struct JsonListing {
    space: Option<Space>,
}

impl Format for JsonListing {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        match (piece, self.space) {
            (Piece::End, Some(space)) => out.extend_from_slice(
                format!(
                    "],\"space\":{{\"free\":{},\"used\":{},\"size\":{},\"files_free\":{},\"files_used\":{}}}}}\n",
                    space.available, space.used, space.size, space.files_available, space.files_used
                )
                .as_bytes(),
            ),
            (piece, _) => json_listing(prefix, piece, out),
        }
    }

    fn wants(&self) -> Wants {
        Wants::SPACE
    }

    fn details(&mut self, details: Details) {
        self.space = details.space.or(self.space);
    }
}

/// The JSON listing of a folder seen through a share link: as the main
/// listing's, with every name below the listed folder and no `prefix` or
/// `space` (they would name the creator's tree and room).
#[cfg(feature = "shares")]
pub fn link_format() -> ListingFormat {
    Box::new(LinkListing)
}

/// See [`link_format`].
#[cfg(feature = "shares")]
#[derive(Debug)]
struct LinkListing;

#[cfg(feature = "shares")]
impl Format for LinkListing {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let below = |name: &'_ str| name.strip_prefix(prefix).unwrap_or(name).to_owned();
        let text = match piece {
            Piece::Start => "{\"dirs\":[".to_owned(),
            Piece::Directory { name, first, .. } => format!(
                "{}{}",
                if first { "" } else { "," },
                crate::formats::json::string(&below(name))
            ),
            Piece::File { entry, first } => format!(
                "{}{{\"name\":{},\"size\":{},\"mtime\":{}}}",
                if first { "" } else { "," },
                crate::formats::json::string(&below(&entry.name)),
                entry.info.size,
                entry.info.mtime
            ),
            piece => return json_listing(prefix, piece, out),
        };
        out.extend_from_slice(text.as_bytes());
    }
}

/// `{"prefix": ..., "dirs": [...], "files": [{"name","size","mtime"}]}`.
fn json_listing(prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
    let text = match piece {
        Piece::Start => format!(
            "{{\"prefix\":{},\"dirs\":[",
            crate::formats::json::string(prefix)
        ),
        Piece::Directory { name, first, .. } => {
            format!(
                "{}{}",
                if first { "" } else { "," },
                crate::formats::json::string(name)
            )
        }
        Piece::Files => "],\"files\":[".to_owned(),
        Piece::File { entry, first } => format!(
            "{}{{\"name\":{},\"size\":{},\"mtime\":{}}}",
            if first { "" } else { "," },
            crate::formats::json::string(&entry.name),
            entry.info.size,
            entry.info.mtime
        ),
        Piece::End => "]}\n".to_owned(),
        // JSON lists folders only.
        Piece::Only(_) => String::new(),
    };
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FileInfo, ListEntry};

    fn render(
        mut format: ListingFormat,
        prefix: &str,
        dirs: &[&str],
        files: &[(&str, u64)],
    ) -> String {
        let entries: Vec<ListEntry> = files
            .iter()
            .map(|(name, size)| ListEntry {
                name: (*name).into(),
                info: FileInfo {
                    size: *size,
                    mtime: 0,
                },
                stamp: Default::default(),
            })
            .collect();
        let mut out = Vec::new();
        let mut format = |prefix: &str, piece, out: &mut Vec<u8>| format.put(prefix, piece, out);
        format(prefix, Piece::Start, &mut out);
        for (at, name) in dirs.iter().enumerate() {
            format(
                prefix,
                Piece::Directory {
                    name,
                    mtime: 0,
                    first: at == 0,
                },
                &mut out,
            );
        }
        format(prefix, Piece::Files, &mut out);
        for (at, entry) in entries.iter().enumerate() {
            format(
                prefix,
                Piece::File {
                    entry,
                    first: at == 0,
                },
                &mut out,
            );
        }
        format(prefix, Piece::End, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn html_links_and_escapes() {
        let html = render(
            format(false, false),
            "d/",
            &["d/sub/"],
            &[("d/a<b>.txt", 1), ("d/z", 4)],
        );
        assert!(html.contains("a&lt;b&gt;.txt") && html.contains("href=\"/d/a%3Cb%3E.txt\""));
        assert!(html.contains("href=\"/d/sub/\">sub/<"));
        assert!(html.contains("href=\"../\""));
        assert!(html.find("sub/").unwrap() < html.find("a&lt;b").unwrap());
        assert!(html.contains(
            "<a href=\"/d/a%3Cb%3E.txt\">a&lt;b&gt;.txt</a><td class=\"s\">1 B<td class=\"t\">1970-01-01 00:00:00<td class=\"o\">\n"
        ));
        assert!(html.ends_with("</script>\n</body></html>\n"));
    }

    #[cfg(feature = "shares")]
    #[test]
    fn a_link_listing_names_only_what_is_below_its_folder() {
        assert_eq!(
            render(
                link_format(),
                "team/d/",
                &["team/d/sub/"],
                &[("team/d/a\"b", 1)]
            ),
            "{\"dirs\":[\"sub/\"],\"files\":[{\"name\":\"a\\\"b\",\"size\":1,\"mtime\":0}]}\n"
        );
    }

    #[test]
    fn json_is_one_object() {
        assert_eq!(
            render(
                format(true, false),
                "d/",
                &["d/sub/", "d/t/"],
                &[("d/a<b>.txt", 1), ("d/z", 4)]
            ),
            "{\"prefix\":\"d/\",\"dirs\":[\"d/sub/\",\"d/t/\"],\"files\":[{\"name\":\"d/a<b>.txt\",\"size\":1,\"mtime\":0},{\"name\":\"d/z\",\"size\":4,\"mtime\":0}]}\n"
        );
        assert_eq!(
            render(format(true, false), "", &[], &[]),
            "{\"prefix\":\"\",\"dirs\":[],\"files\":[]}\n"
        );
    }
}
