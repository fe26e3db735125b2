//! The HTML listing page a browser gets for a folder: a table that works
//! without JavaScript (links, exact sizes, UTC times), made into the web
//! interface by the stylesheet and script embedded below (human sizes,
//! local times, sorting, counts, upload, delete, rename, `.zip`/`.tar`
//! download, folders renamed, moved and deleted, a search of the
//! folder's tree, previews of images, text, PDF, sound and video).
//!
//! Written piece by piece like every listing (a [`ListingFormat`](crate::serve::ListingFormat)),
//! so a folder of any size is never built whole. Every name reaches the
//! page escaped for where it lands: HTML text and attributes through
//! [`html_escape`], URLs through [`url_path`] (which leaves only
//! `A-Z a-z 0-9 - . _ ~ / %`, nothing HTML would read as markup). The
//! script reads names only from `data-name` attributes and writes them
//! only with `textContent`, so no name is ever parsed as markup or code.

use std::fmt::Write;

use time::OffsetDateTime;
use time::macros::format_description;

use super::request::url_path;
use crate::serve::terms::Format;
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
fn style() -> &'static str {
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
fn sha256_source(text: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The listing as the web page: it offers only what the serve layer says
/// the client may do here ([`Rights`], told before the walk).
#[derive(Debug, Default)]
pub struct Page {
    rights: Rights,
    /// The next folder row's own rights, where they differ.
    row: Option<Rights>,
}

impl Format for Page {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        html_listing(prefix, self.rights, &mut self.row, piece, out);
    }

    fn rights(&mut self, rights: Rights) {
        self.rights = rights;
    }

    fn row_rights(&mut self, rights: Rights) {
        self.row = Some(rights);
    }
}

/// Appends `piece` of the listing of `prefix` (empty for the root, else
/// ending in `/`) as HTML, offering what `rights` allow; `row` is what the
/// client may do to the next folder row where it differs from `rights`
/// (told by [`Format::row_rights`], taken here).
///
/// A row is as small as a listing that works without JavaScript can be,
/// since a folder of 5,000 files sends 5,000 of them (`benches/page.sh`):
/// the link (the name twice: address and text), the size and the time for
/// people, no end tags (HTML closes cells and rows itself) and no
/// attributes the script can read from the cells. The script finds the
/// name in the link's address, the size in the text (`data-size` only
/// where the text rounds it) and the time in the text, to the second.
fn html_listing(
    prefix: &str,
    rights: Rights,
    row: &mut Option<Rights>,
    piece: Piece<'_>,
    out: &mut Vec<u8>,
) {
    let mut text = String::new();
    match piece {
        Piece::Start => start(prefix, rights, &mut text),
        Piece::Directory { name, mtime, .. } => {
            let may = row
                .take()
                .map(|r| format!(" data-may=\"{}\"", may(r)))
                .unwrap_or_default();
            let _ = writeln!(
                text,
                "<tr class=\"dir\"{may}><td class=\"n\"><a href=\"/{}\">{}</a><td class=\"s\">-<td class=\"t\">{}<td class=\"o\">",
                url_path(name),
                html_escape(&name[prefix.len()..]),
                utc(mtime)
            );
        }
        Piece::Files => {}
        Piece::File { entry, .. } => {
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
        // The page lists folders only.
        Piece::Only(_) => {}
        Piece::End => {
            let _ = write!(
                text,
                "</tbody></table>\n</main>\n<script>{}</script>\n</body></html>\n",
                script()
            );
        }
    }
    out.extend_from_slice(text.as_bytes());
}

/// A size for people, as the script writes it too: `512 B`, `1.5 KiB`,
/// `3.0 GiB` (one decimal from KiB up).
fn human_size(size: u64) -> String {
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
fn head(title: &str, text: &mut String) {
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
        may(rights),
        if rights.read_only {
            " data-read-only"
        } else {
            ""
        }
    )
}

/// `rights` as `data-may` words: `write`, `delete`, both or none.
fn may(rights: Rights) -> &'static str {
    match (rights.write, rights.delete) {
        (true, true) => "write delete",
        (true, false) => "write",
        (false, true) => "delete",
        (false, false) => "",
    }
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

/// The filter box and what can be done with the rows ticked, shown by the
/// script (they do nothing without it).
const SELECTION: &str = "<input id=\"filter\" type=\"search\" placeholder=\"Filter (press /)\" aria-label=\"Filter this folder\" hidden>\
<span id=\"selected\" hidden><span id=\"count\"></span> \
<button type=\"button\" id=\"copy-links\">Copy link</button>\
<button type=\"button\" id=\"download-selected\">Download</button>\
<button type=\"button\" id=\"delete-selected\" hidden>Delete</button></span>";

/// The head, the breadcrumbs, the tools (upload if `rights` allow,
/// archives) and the table's header, up to the first row.
fn start(prefix: &str, rights: Rights, text: &mut String) {
    head(&format!("/{prefix}"), text);
    let _ = write!(
        text,
        "<body {}><script>{HOLD}</script>\n<header><nav class=\"crumbs\" aria-label=\"path\"><a href=\"/\">ferry</a>",
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
    let tools = if rights.write { WRITE_TOOLS } else { "" };
    let _ = write!(
        text,
        "</nav>\n<div class=\"tools\">{ARCHIVES}{tools}</div></header>\n\
<main id=\"drop\"><div class=\"bar\"><p id=\"summary\"></p>{SELECTION}</div><div id=\"message\" role=\"alert\" hidden></div><div id=\"uploads\"></div>\n\
<table id=\"listing\"><thead><tr><th data-key=\"name\">Name</th><th data-key=\"size\">Size</th><th data-key=\"mtime\">Modified <span class=\"utc\">(UTC)</span></th><th></th></tr></thead>\n<tbody>\n",
    );
    if !prefix.is_empty() {
        text.push_str("<tr class=\"up\"><td class=\"n\"><a href=\"../\">../</a><td><td><td>\n");
    }
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
fn utc(unix_seconds: i64) -> String {
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
        start("a b/<c>/", Rights::default(), &mut text);
        assert!(text.contains("<a href=\"/\">ferry</a> / <a href=\"/a%20b/\">a b</a> / <a href=\"/a%20b/%3Cc%3E/\">&lt;c&gt;</a></nav>"), "{text}");
        assert!(text.contains("data-prefix=\"a b/&lt;c&gt;/\""));
        assert!(text.contains("href=\"../\""));
        let mut root = String::new();
        start("", Rights::default(), &mut root);
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

    #[test]
    fn times_for_readers_without_javascript() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(html_escape("a\"'\n<&"), "a&quot;&#39;&#10;&lt;&amp;");
    }
}
