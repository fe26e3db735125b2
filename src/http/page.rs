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

/// The page's style, embedded: the page loads nothing from elsewhere.
const STYLE: &str = concat!(
    include_str!("ui/page.css"),
    include_str!("ui/preview.css"),
    include_str!("ui/qr.css")
);
/// The page's script, embedded: `ui/page.js` (the listing, uploads,
/// a file's rename and delete), `ui/folders.js` (a folder's rename, move
/// and delete), `ui/search.js` (the search of the folder's tree),
/// `ui/preview.js` (previews), `ui/qr.js` (the share dialog's QR code),
/// one script so that one hash in the policy allows it.
const SCRIPT: &str = concat!(
    include_str!("ui/page.js"),
    include_str!("ui/folders.js"),
    include_str!("ui/search.js"),
    include_str!("ui/preview.js"),
    include_str!("ui/qr.js")
);

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
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; img-src 'self'; media-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            sha256_source(SCRIPT),
            sha256_source(STYLE)
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
}

impl Format for Page {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        html_listing(prefix, self.rights, piece, out);
    }

    fn rights(&mut self, rights: Rights) {
        self.rights = rights;
    }
}

/// Appends `piece` of the listing of `prefix` (empty for the root, else
/// ending in `/`) as HTML, offering what `rights` allow.
fn html_listing(prefix: &str, rights: Rights, piece: Piece<'_>, out: &mut Vec<u8>) {
    let mut text = String::new();
    match piece {
        Piece::Start => start(prefix, rights, &mut text),
        Piece::Directory { name, mtime, .. } => {
            let shown = html_escape(&name[prefix.len()..]);
            let _ = writeln!(
                text,
                "<tr class=\"dir\" data-name=\"{}\" data-size=\"-1\" data-mtime=\"{mtime}\"><td class=\"n\"><a href=\"/{}\">{shown}</a></td><td class=\"s\">-</td><td class=\"t\">{}</td><td class=\"o\"></td></tr>",
                html_escape(name),
                url_path(name),
                utc(mtime)
            );
        }
        Piece::Files => {}
        Piece::File { entry, .. } => {
            let (size, mtime) = (entry.info.size, entry.info.mtime);
            let _ = writeln!(
                text,
                "<tr class=\"file\" data-name=\"{}\" data-size=\"{size}\" data-mtime=\"{mtime}\"><td class=\"n\"><a href=\"/{}\">{}</a></td><td class=\"s\">{size} B</td><td class=\"t\">{}</td><td class=\"o\"></td></tr>",
                html_escape(&entry.name),
                url_path(&entry.name),
                html_escape(&entry.name[prefix.len()..]),
                utc(mtime)
            );
        }
        // The page lists folders only.
        Piece::Only(_) => {}
        Piece::End => {
            let _ = write!(
                text,
                "</tbody></table>\n</main>\n<script>{SCRIPT}</script>\n</body></html>\n"
            );
        }
    }
    out.extend_from_slice(text.as_bytes());
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
<title>{}</title><style>{STYLE}</style></head>\n",
        html_escape(title)
    );
}

/// `<body>`'s attributes that tell the script what it may offer: the
/// folder, `data-may` (`write`, `delete`: the [`Rights`] granted) and
/// `data-read-only` on a read-only server.
fn body_attributes(prefix: &str, rights: Rights) -> String {
    let may: Vec<&str> = [(rights.write, "write"), (rights.delete, "delete")]
        .into_iter()
        .filter_map(|(granted, word)| granted.then_some(word))
        .collect();
    format!(
        "data-prefix=\"{}\" data-may=\"{}\"{}",
        html_escape(prefix),
        may.join(" "),
        if rights.read_only {
            " data-read-only"
        } else {
            ""
        }
    )
}

/// The upload pickers and the new-folder button, for a client that may
/// write here.
const WRITE_TOOLS: &str = "<button type=\"button\" id=\"new-folder\" hidden>New folder</button>\
<label class=\"button\">Upload files<input id=\"pick-files\" type=\"file\" multiple hidden></label>\
<label class=\"button\">Upload folder<input id=\"pick-folder\" type=\"file\" webkitdirectory multiple hidden></label>";

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
        "<body {}>\n<header><nav class=\"crumbs\" aria-label=\"path\"><a href=\"/\">ferry</a>",
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
<table id=\"listing\"><thead><tr><th data-key=\"name\">Name</th><th data-key=\"size\">Size</th><th data-key=\"mtime\">Modified</th><th></th></tr></thead>\n<tbody>\n",
    );
    if !prefix.is_empty() {
        text.push_str("<tr class=\"up\"><td class=\"n\"><a href=\"../\">../</a></td><td></td><td></td><td></td></tr>\n");
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

/// A Unix time as `2026-11-21 13:00 UTC`, for a page read without
/// JavaScript (the script shows local times instead).
fn utc(unix_seconds: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
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
    fn times_for_readers_without_javascript() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(html_escape("a\"'\n<&"), "a&quot;&#39;&#10;&lt;&amp;");
    }
}
