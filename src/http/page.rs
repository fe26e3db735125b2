//! The HTML listing page a browser gets for a folder: a table that works
//! without JavaScript (links, exact sizes, UTC times), made into the web
//! interface by the stylesheet and script embedded below (human sizes,
//! local times, sorting, counts, type icons, upload, each row's actions,
//! `.zip`/`.tar` download, one field to filter the rows or search the
//! folder's tree, previews of images, text, PDF, sound and video).
//!
//! Written piece by piece like every listing (a [`ListingFormat`](crate::serve::ListingFormat)),
//! so a folder of any size is never built whole. A folder of more than
//! [`ROWS_UP_TO`] entries is sent as data, each name once, which the
//! script builds the rows from (`page_data.rs`), with a `<noscript>` link
//! to the plain listing (`?plain`: these rows without the script).
//!
//! Every name reaches the page escaped for where it lands: HTML text and
//! attributes through [`html_escape`], URLs through [`url_path`] (which
//! leaves only `A-Z a-z 0-9 - . _ ~ / %`, nothing HTML would read as
//! markup), the data block as JSON with `<` escaped. The script reads
//! names from the links' addresses or the data block (`JSON.parse`) and
//! writes them only with `textContent`, so no name is ever parsed as
//! markup or code.

use std::fmt::Write;

use time::OffsetDateTime;
use time::macros::format_description;

use super::fields::url_path;
use super::page_data::{Entries, may_words, row_words};
use crate::model::{ListEntry, Space};
use crate::serve::terms::{Details, Format, Wants};
use crate::serve::{Piece, Rights};

/// The interface's style and script (`ui.rs`; none in a build without
/// the `web` feature: the page is then its table, which works without
/// JavaScript).
use super::ui::{SCRIPT_SOURCE, STYLE_SOURCE};

/// The first thing in a listing's `<body>`: with JavaScript, the table is
/// not drawn (`html.loading`, in `ui/page.css`) until the page has been
/// read and the script has decorated it (`DOMContentLoaded` fires after
/// the script at the end of the body has run). A browser otherwise lays
/// the table out again and again as its rows arrive, each time whole:
/// for 5,000 rows that was most of the time to interactive
/// (`benches/page.sh`). Without JavaScript nothing is held back; and it
/// does not depend on the main script, so an error there still shows
/// the table.
const HOLD: &str = "document.documentElement.classList.add('loading');\
addEventListener('DOMContentLoaded',()=>document.documentElement.classList.remove('loading'))";

/// The style every page carries: [`STYLE_SOURCE`] without its comments.
pub(super) fn style() -> &'static str {
    static STYLE: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| compact_style(STYLE_SOURCE));
    &STYLE
}

/// The script every listing carries: [`SCRIPT_SOURCE`] without its
/// comment lines and indentation.
fn script() -> &'static str {
    static SCRIPT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| compact_script(SCRIPT_SOURCE));
    &SCRIPT
}

/// `css` without `/* ... */` comments and blank lines: the comments say
/// why for the reader of `ui/`, and every page would carry them (a
/// quarter of the style). The style has no strings that hold `/*`.
fn compact_style(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(at) = rest.find("/*") {
        out.push_str(&rest[..at]);
        rest = rest[at..]
            .find("*/")
            .map_or("", |end| &rest[at + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `js` without lines that are only a `//` comment, without blank lines
/// and indentation: a third of the script is comments (they say why, for
/// the reader of `ui/`), and every listing would carry them. Safe because
/// the scripts keep no string across lines (no template literals: the
/// unit test below checks there is no backtick), so a line that starts
/// with `//` is a comment and leading blanks are only indentation; lines
/// stay lines, so semicolon insertion reads the script as written.
fn compact_script(js: &str) -> String {
    js.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The interface's `Content-Security-Policy`: its own embedded script and
/// style, named by their SHA-256 (stricter than `'self'`, which would let a
/// user's uploaded `.js` run should the page ever point at one), requests
/// to this server only, in no frame, forms sent to this server only (the
/// archive downloads are GET forms, see [`ARCHIVES`]). Nothing injected
/// into the page (were an escape ever missed) runs. Previews load images,
/// sound and video from this server, and frame its PDFs (`frame-src`):
/// a framed file comes with its own sandboxing policy (`origin.rs`), and
/// the script frames PDFs alone.
pub fn interface_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src '{}' '{}'; style-src '{}'; connect-src 'self'; img-src 'self'; media-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            sha256_source(HOLD),
            sha256_source(script()),
            sha256_source(style())
        )
    });
    &POLICY
}

/// A CSP hash source (`sha256-<base64>`) for an inline element's text.
pub(super) fn sha256_source(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Folders of more entries than this are sent as data the script builds
/// the rows from (`page_data.rs`), each name once; up to it, as rows that
/// work without JavaScript. At 200 files the rows page weighs 16.8 KiB
/// gzipped, 1.1 KiB more than the data page (`benches/page.sh --files
/// 200` and `201`), and a folder that small is read without JavaScript
/// with no detour through `?plain`.
pub const ROWS_UP_TO: usize = 200;

/// The listing as the web page: it offers only what the serve layer says
/// the client may do here ([`Rights`], told before the walk).
#[derive(Debug, Default)]
pub struct Page {
    rights: Rights,
    /// The next folder row's own `data-may` words, where they differ.
    row: Option<&'static str>,
    kind: Kind,
    /// The room to write here (the disk's, or the tightest quota's), for
    /// the usage bar; told before the walk.
    space: Option<Space>,
}

/// How the entries reach the page.
#[derive(Debug, Default)]
enum Kind {
    /// As rows, with the script that makes them the interface.
    #[default]
    Rows,
    /// As data the script builds the rows from ([`ROWS_UP_TO`]).
    Data(Box<Entries>),
    /// As rows without the script (`?plain`): for browsers without
    /// JavaScript and `wget -r`, which the data page sends here.
    Plain,
}

impl Page {
    /// The plain listing (`?plain`): rows, links and sizes, no script.
    pub fn plain() -> Page {
        Page {
            kind: Kind::Plain,
            ..Page::default()
        }
    }
}

impl Format for Page {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let mut text = String::new();
        self.html(prefix, piece, &mut text);
        out.extend_from_slice(text.as_bytes());
    }

    fn rights(&mut self, rights: Rights) {
        self.rights = rights;
    }

    fn row_rights(&mut self, rights: Rights) {
        self.row = row_words(rights, self.rights);
    }

    fn entries(&mut self, count: usize) {
        if matches!(self.kind, Kind::Rows) && count > ROWS_UP_TO {
            self.kind = Kind::Data(Box::default());
        }
    }

    fn wants(&self) -> Wants {
        Wants::SPACE
    }

    fn details(&mut self, details: Details) {
        self.space = details.space.or(self.space);
    }
}

impl Page {
    /// Appends `piece` of the listing of `prefix` (empty for the root,
    /// else ending in `/`) as HTML, as rows or as data ([`Kind`]).
    fn html(&mut self, prefix: &str, piece: Piece<'_>, text: &mut String) {
        let row = self.row.take();
        match (piece, &mut self.kind) {
            (Piece::Start, kind) => {
                let scripted = !matches!(kind, Kind::Plain);
                start(prefix, (self.rights, self.space), scripted, text);
                if matches!(kind, Kind::Data(_)) {
                    text.push_str(TO_PLAIN);
                    text.push_str(Entries::OPEN);
                }
            }
            (Piece::Directory { name, mtime, .. }, Kind::Data(entries)) => {
                entries.put(&name[prefix.len()..], 0, mtime, row, text);
            }
            (Piece::File { entry, .. }, Kind::Data(entries)) => {
                let own = &entry.name[prefix.len()..];
                entries.put(own, entry.info.size, entry.info.mtime, None, text);
            }
            (Piece::Directory { name, mtime, .. }, _) => {
                folder_row(prefix, name, mtime, row, text);
            }
            (Piece::File { entry, .. }, _) => file_row(prefix, entry, text),
            // The page lists folders only.
            (Piece::Files | Piece::Only(_), _) => {}
            (Piece::End, kind) => {
                match kind {
                    Kind::Data(entries) => entries.close(text),
                    _ => text.push_str("</tbody></table>\n"),
                }
                if matches!(kind, Kind::Plain) {
                    text.push_str("</main>\n</body></html>\n");
                } else {
                    let _ = write!(
                        text,
                        "</main>\n<script>{}</script>\n</body></html>\n",
                        script()
                    );
                }
            }
        }
    }
}

/// Where a data page's rows would be: the table ends (its header and
/// `../` stay, for the script to fill), and a browser without JavaScript
/// is sent to the plain listing, which `wget -r` follows too.
const TO_PLAIN: &str = "</tbody></table>\n<noscript><p class=\"plain\">A big folder: \
<a href=\"?plain\">the plain listing</a> works without JavaScript.</p></noscript>\n";

/// A folder's row (the name twice: address and text), with its own
/// rights (`may` words) where they differ from the listed folder's.
///
/// A row is as small as a listing that works without JavaScript can be:
/// the link, the size and the time for people, no end tags (HTML closes
/// cells and rows itself) and no attributes the script can read from the
/// cells. The script finds the name in the link's address, the size in
/// the text (`data-size` only where the text rounds it) and the time in
/// the text, to the second.
fn folder_row(prefix: &str, name: &str, mtime: i64, may: Option<&str>, text: &mut String) {
    let may = may
        .map(|words| format!(" data-may=\"{words}\""))
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "<tr class=\"dir\"{may}><td class=\"n\"><a href=\"/{}\">{}</a><td class=\"s\">-<td class=\"t\">{}<td class=\"o\">",
        url_path(name),
        html_escape(&name[prefix.len()..]),
        utc(mtime)
    );
}

/// A file's row, as small as [`folder_row`]'s.
fn file_row(prefix: &str, entry: &ListEntry, text: &mut String) {
    let size = entry.info.size;
    // The exact size where the text rounds it, for sorting and sums.
    let exact = if size < 1024 {
        String::new()
    } else {
        format!(" data-size=\"{size}\"")
    };
    let _ = writeln!(
        text,
        "<tr class=\"file\"><td class=\"n\"><a href=\"/{}\">{}</a><td class=\"s\"{exact}>{}<td class=\"t\">{}<td class=\"o\">",
        url_path(&entry.name),
        html_escape(&entry.name[prefix.len()..]),
        human_size(size),
        utc(entry.info.mtime)
    );
}

/// A size for people, as the script writes it too: `512 B`, `1.5 KiB`,
/// `3.0 GiB` (one decimal from KiB up).
pub(super) fn human_size(size: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if size < 1024 {
        return format!("{size} B");
    }
    let mut value = size as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The folder's archives, as forms that ask for `?format=zip` and
/// `?format=tar`: a crawler or `wget -r` follows links, not forms, so it
/// does not fetch everything again as archives (`rel="nofollow"` says so
/// to those that read it).
const ARCHIVES: &str = "<form class=\"archive\" method=\"get\" rel=\"nofollow\">\
<input type=\"hidden\" name=\"format\" value=\"zip\"><button id=\"zip\">Download folder (.zip)</button></form>\
<form class=\"archive\" method=\"get\" rel=\"nofollow\">\
<input type=\"hidden\" name=\"format\" value=\"tar\"><button id=\"tar\" title=\"The folder as one .tar file\">.tar</button></form>";

/// The page's head, up to `<body>`, titled `title` (escaped here).
pub(super) fn head(title: &str, text: &mut String) {
    let _ = write!(
        text,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{}</style></head>\n",
        html_escape(title),
        style()
    );
}

/// `<body>`'s attributes that tell the script what it may offer: the
/// folder, `data-may` (`write`, `delete`: the [`Rights`] granted) and
/// `data-read-only` on a read-only server.
fn body_attributes(prefix: &str, rights: Rights) -> String {
    format!(
        "data-prefix=\"{}\" data-may=\"{}\"{}",
        html_escape(prefix),
        may_words(rights),
        if rights.read_only {
            " data-read-only"
        } else {
            ""
        }
    )
}

/// The upload pickers and the new-folder button, for a client that may
/// write here; hidden until the script shows them (they need it). The
/// file inputs stay hidden: each is opened by a button of its own, which
/// the keyboard reaches and a screen reader names (a `<label>` around a
/// hidden input is neither).
const WRITE_TOOLS: &str = "<button type=\"button\" id=\"new-folder\" hidden>New folder</button>\
<button type=\"button\" id=\"upload-files\" aria-controls=\"pick-files\" hidden>Upload files</button>\
<input id=\"pick-files\" type=\"file\" multiple hidden tabindex=\"-1\" aria-label=\"Files to upload\">\
<button type=\"button\" id=\"upload-folder\" aria-controls=\"pick-folder\" hidden>Upload folder</button>\
<input id=\"pick-folder\" type=\"file\" webkitdirectory multiple hidden tabindex=\"-1\" aria-label=\"Folder to upload\">";

/// The one search field (typing narrows the rows, Enter searches below:
/// `ui/search.js`) and the ticked rows' tools, shown by the script.
const SELECTION: &str = "<input id=\"filter\" type=\"search\" placeholder=\"Filter, Enter: search below\" \
aria-label=\"Filter this folder; Enter searches it and below\" title=\"/ comes here from anywhere\" autocomplete=\"off\" hidden>\
<span id=\"selected\" hidden><span id=\"count\"></span> \
<button type=\"button\" id=\"copy-links\">Copy link</button>\
<button type=\"button\" id=\"download-selected\">Download</button>\
<button type=\"button\" id=\"delete-selected\" hidden>Delete</button></span>";

/// The head, the breadcrumbs, the tools (upload if `rights` allow,
/// archives) and the table's header, up to the first row; without the
/// script's tools where the page is not `scripted` (`?plain`).
fn start(
    prefix: &str,
    (rights, space): (Rights, Option<Space>),
    scripted: bool,
    text: &mut String,
) {
    head(&format!("/{prefix}"), text);
    let (hold, tools, selection) = match scripted {
        true => (format!("<script>{HOLD}</script>"), rights.write, SELECTION),
        false => (String::new(), false, ""),
    };
    let _ = write!(
        text,
        "<body {}>{hold}\n<header><nav class=\"crumbs\" aria-label=\"path\"><a href=\"/\">ferry</a>",
        body_attributes(prefix, rights)
    );
    // One link per folder on the way: `a/b/` gives `ferry / a / b`.
    let mut upto = 0;
    for segment in prefix.split_terminator('/') {
        upto += segment.len() + 1;
        let _ = write!(
            text,
            " / <a href=\"/{}\">{}</a>",
            url_path(&prefix[..upto]),
            html_escape(segment)
        );
    }
    let tools = if tools { WRITE_TOOLS } else { "" };
    let _ = write!(text, "</nav>\n<div class=\"tools\">{ARCHIVES}{tools}</div>");
    text.push_str(read_only_note(rights));
    if let Some(space) = space {
        room(space, text);
    }
    let _ = write!(
        text,
        "</header>\n\
<main><div class=\"bar\"><p id=\"summary\"></p>{selection}</div><div id=\"message\" role=\"alert\" hidden></div><div id=\"uploads\"></div>\n\
<table id=\"listing\"><thead><tr><th data-key=\"name\">Name</th><th data-key=\"size\">Size</th><th data-key=\"mtime\">Modified <span class=\"utc\">(UTC)</span></th><th></th></tr></thead>\n<tbody>\n",
    );
    if !prefix.is_empty() {
        text.push_str("<tr class=\"up\"><td class=\"n\"><a href=\"../\">../</a><td><td><td>\n");
    }
}

/// What says, without JavaScript too, that nothing can be changed here (a
/// read-only server; no write nor delete in this folder, though a row may
/// say it may write below: `data-may`). Empty where something can be.
fn read_only_note(rights: Rights) -> &'static str {
    match (rights.read_only, rights.write || rights.delete) {
        (true, _) => "<p id=\"read-only\">Read-only server</p>",
        (false, false) => "<p id=\"read-only\">Read-only here</p>",
        (false, true) => "",
    }
}

/// The usage bar: how much of the room to write here is used, and what
/// is free (the disk's above the reserve, or the tightest quota's).
fn room(space: Space, text: &mut String) {
    let size = space.used.saturating_add(space.available);
    let _ = write!(
        text,
        "<p id=\"room\"><meter min=\"0\" max=\"{size}\" value=\"{}\"></meter> {} free of {}</p>",
        space.used,
        human_size(space.available),
        human_size(size)
    );
}

/// A refusal (`status` 401, 403 or 404) as a page for a person: the
/// interface's look, what happened in words, the server's reason, how to
/// sign in (401), and a link to `back` (a URL, already encoded), shown as
/// `shown`.
pub fn refusal_page(status: u16, reason: &str, back: &str, shown: &str) -> String {
    let (title, help) = match status {
        401 => (
            "Sign-in needed",
            "<p>Sign in with <strong>any name</strong> and <strong>the token as the password</strong>: reload this page to be asked again.</p>",
        ),
        403 => ("Not permitted", ""),
        _ => ("Not found", ""),
    };
    let mut text = String::new();
    head(title, &mut text);
    let _ = write!(
        text,
        "<body class=\"refused\"><header><nav class=\"crumbs\" aria-label=\"path\"><a href=\"/\">ferry</a></nav></header>\n<main><h1>{title}</h1><p id=\"reason\">{}</p>{help}\
<p><a id=\"back\" href=\"{}\">Back to {}</a></p></main></body></html>\n",
        html_escape(reason),
        html_escape(back),
        html_escape(shown)
    );
    text
}

/// A Unix time as `2026-11-21 13:00:05` (UTC, as the column's heading
/// says), for a page read without JavaScript; the script reads it back
/// (to the second, for sorting) and shows local times instead.
pub(super) fn utc(unix_seconds: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `text` safe in HTML text and in a double- or single-quoted attribute.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Kept out of attributes as characters: a newline in a name
            // stays a newline in `data-name`, not a space.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breadcrumbs_link_every_folder_on_the_way() {
        let mut text = String::new();
        start("a b/<c>/", (Rights::default(), None), true, &mut text);
        assert!(text.contains("<a href=\"/\">ferry</a> / <a href=\"/a%20b/\">a b</a> / <a href=\"/a%20b/%3Cc%3E/\">&lt;c&gt;</a></nav>"), "{text}");
        assert!(text.contains("data-prefix=\"a b/&lt;c&gt;/\""));
        assert!(text.contains("href=\"../\""));
        let mut root = String::new();
        start("", (Rights::default(), None), true, &mut root);
        assert!(!root.contains("href=\"../\""));
    }

    #[test]
    #[cfg(feature = "web")] // tests the assets, which go with the feature
    fn the_sent_script_and_style_lose_only_comments() {
        // No template literals (in the code: comments may quote with
        // backticks): a line of one could start with `//`, or with blanks
        // that belong to it.
        assert!(!script().contains('`'));
        assert!(!script().lines().any(|l| l.trim_start().starts_with("//")));
        assert!(script().contains("'use strict';") && script().len() < SCRIPT_SOURCE.len() * 4 / 5);
        assert!(!style().contains("/*") && style().contains("#preview"));
    }

    /// The listing of `files` files in `d/` through `page`, as the serve
    /// layer gives it (told the count first).
    fn listed(mut page: Page, files: usize) -> String {
        let entries: Vec<ListEntry> = (0..files)
            .map(|n| ListEntry {
                name: format!("d/f{n}"),
                info: crate::model::FileInfo { size: 3, mtime: 0 },
                stamp: Default::default(),
            })
            .collect();
        let mut out = Vec::new();
        page.entries(files + 1);
        page.put("d/", Piece::Start, &mut out);
        page.row_rights(Rights {
            write: true,
            ..Rights::default()
        });
        let (name, mtime) = ("d/sub/", 0);
        page.put(
            "d/",
            Piece::Directory {
                name,
                mtime,
                first: true,
            },
            &mut out,
        );
        page.put("d/", Piece::Files, &mut out);
        for (at, entry) in entries.iter().enumerate() {
            page.put(
                "d/",
                Piece::File {
                    entry,
                    first: at == 0,
                },
                &mut out,
            );
        }
        page.put("d/", Piece::End, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_big_folder_is_data_a_small_one_rows_and_plain_has_no_script() {
        let small = listed(Page::default(), ROWS_UP_TO - 1);
        assert!(small.contains("<tr class=\"dir\" data-may=\"write\">"));
        assert!(small.contains("<tr class=\"file\">") && !small.contains("id=\"entries\""));
        let big = listed(Page::default(), ROWS_UP_TO);
        assert!(!big.contains("<tr class=\"file\">") && !big.contains("<tr class=\"dir\""));
        assert!(big.contains("<a href=\"?plain\">") && big.contains("\"m\":{\"0\":\"write\"}"));
        assert!(big.contains("{\"n\":[\"sub/\",\"f0\",\"1\","));
        assert!(big.ends_with("</script>\n</body></html>\n"));
        let plain = listed(Page::plain(), ROWS_UP_TO);
        assert!(!plain.contains("<script") && !plain.contains("id=\"filter\""));
        assert_eq!(plain.matches("<tr class=\"file\">").count(), ROWS_UP_TO);
        assert!(plain.ends_with("</tbody></table>\n</main>\n</body></html>\n"));
    }

    #[test]
    fn a_client_that_can_change_nothing_here_is_told_so() {
        let page = |rights| {
            let mut text = String::new();
            start("", (rights, None), false, &mut text);
            text
        };
        let none = Rights::default();
        assert!(page(none).contains("<p id=\"read-only\">Read-only here</p>"));
        let server = Rights {
            read_only: true,
            ..none
        };
        assert!(page(server).contains("<p id=\"read-only\">Read-only server</p>"));
        let deleter = Rights {
            delete: true,
            ..none
        };
        assert!(!page(deleter).contains("id=\"read-only\""));
    }

    #[test]
    fn times_for_readers_without_javascript() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(html_escape("a\"'\n<&"), "a&quot;&#39;&#10;&lt;&amp;");
    }
}
