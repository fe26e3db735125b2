//! The pages people see when they open a share link in a browser
//! (docs/shares.md): a folder's files, read only, with its `.zip`; an
//! upload link's drop zone, which shows nothing of the folder. The
//! interface's style, written piece by piece as the walk goes (a
//! [`Format`]), addresses relative to the page so they stay under
//! `/s/<id>/`, and a policy that lets only the drop zone's own script
//! run.

use std::fmt::Write;

use super::fields::url_path;
use super::page::{head, html_escape, human_size, utc};
use crate::serve::terms::Format;
use crate::serve::{ListingFormat, Piece};

/// The drop zone's script: each file chosen or dropped is sent as a tus
/// upload created at the page's own address, in pieces, its upload's
/// address kept in the browser's storage so that a cut connection, or a
/// page opened again, goes on from where the server says it stands; a
/// server built without tus takes a `PUT` instead. Rows say how each went
/// (a name taken is never replaced: 409).
const DROP_SCRIPT: &str = r#"(() => {
  const list = document.getElementById('sent');
  const pick = document.getElementById('pick');
  const zone = document.getElementById('zone');
  const TUS = { 'Tus-Resumable': '1.0.0' };
  const PIECE = 8 << 20;
  const wait = (ms) => new Promise((go) => setTimeout(go, ms));
  const key = (file) => 'ferry-tus ' + location.pathname + ' ' + [file.name, file.size, file.lastModified].join('/');
  const b64 = (text) => btoa(Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join(''));
  async function where(url) {
    const head = await fetch(url, { method: 'HEAD', headers: TUS });
    return head.status === 200 ? Number(head.headers.get('Upload-Offset')) : -1;
  }
  async function tus(file, row) {
    let url = localStorage.getItem(key(file));
    let at = url ? await where(url).catch(() => -1) : -1;
    if (at < 0) {
      const made = await fetch('./', { method: 'POST', headers: { ...TUS,
        'Upload-Length': String(file.size), 'Upload-Metadata': 'filename ' + b64(file.name) } });
      if (made.status === 405) return fetch(encodeURIComponent(file.name), { method: 'PUT', body: file }).then((a) => a.status);
      if (made.status !== 201) return made.status;
      url = new URL(made.headers.get('Location'), location.href).href;
      at = Number(made.headers.get('Upload-Offset') || 0);
      localStorage.setItem(key(file), url);
    }
    for (let tries = 0; at < file.size && tries < 6;) {
      try {
        const sent = await fetch(url, { method: 'PATCH', body: file.slice(at, at + PIECE), headers: { ...TUS,
          'Upload-Offset': String(at), 'Content-Type': 'application/offset+octet-stream' } });
        if (sent.status !== 204) { localStorage.removeItem(key(file)); return sent.status; }
        at = Number(sent.headers.get('Upload-Offset'));
        tries = 0;
        row.textContent = file.name + ': ' + Math.floor((100 * at) / file.size) + ' %';
      } catch (cut) {
        await wait(1000 << tries++);
        at = await where(url).catch(() => at);
      }
    }
    localStorage.removeItem(key(file));
    return at === file.size ? 201 : 0;
  }
  async function send(files) {
    for (const file of files) {
      const row = document.createElement('li');
      row.textContent = file.name + ': sending';
      list.append(row);
      const done = await tus(file, row).catch(() => 0);
      row.textContent = file.name + ': ' + ({ 201: 'received', 409: 'a file of that name is there already',
        507: 'no room left', 410: 'this link has stopped' }[done] || 'failed (' + done + ')');
      row.className = done === 201 ? 'ok' : 'failed';
    }
  }
  pick.addEventListener('change', () => send(pick.files));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => { e.preventDefault(); zone.classList.remove('over'); send(e.dataTransfer.files); });
})();"#;

/// The `Content-Security-Policy` of a link's pages: the interface's
/// style, the drop zone's script, requests to this server only.
pub fn link_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src '{}'; style-src '{}'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            super::page::sha256_source(DROP_SCRIPT),
            super::page::sha256_source(super::page::style())
        )
    });
    &POLICY
}

/// A folder link's listing as a page for people.
pub fn folder_format() -> ListingFormat {
    Box::new(FolderPage)
}

/// See [`folder_format`].
#[derive(Debug)]
struct FolderPage;

impl Format for FolderPage {
    fn put(&mut self, prefix: &str, piece: Piece<'_>, out: &mut Vec<u8>) {
        let mut text = String::new();
        let below = |name: &str| name.strip_prefix(prefix).unwrap_or(name).to_owned();
        match piece {
            Piece::Start => {
                head("Shared with you", &mut text);
                text.push_str(
                    "<body><header><h1>Shared with you</h1>\
<p><a id=\"zip\" href=\"?zip\" download>Download all (.zip)</a></p></header>\n<main><table>\
<thead><tr><th>Name<th>Size<th>Modified (UTC)</thead><tbody>\n",
                );
            }
            Piece::Directory { name, mtime, .. } => {
                let own = below(name);
                let _ = writeln!(
                    text,
                    "<tr class=\"dir\"><td class=\"n\"><a href=\"{}\">{}</a><td class=\"s\">-<td class=\"t\">{}",
                    url_path(&own),
                    html_escape(&own),
                    utc(mtime)
                );
            }
            Piece::File { entry, .. } => {
                let own = below(&entry.name);
                let _ = writeln!(
                    text,
                    "<tr class=\"file\"><td class=\"n\"><a href=\"{}\" download>{}</a><td class=\"s\">{}<td class=\"t\">{}",
                    url_path(&own),
                    html_escape(&own),
                    human_size(entry.info.size),
                    utc(entry.info.mtime)
                );
            }
            Piece::End => text.push_str("</tbody></table></main>\n</body></html>\n"),
            Piece::Files | Piece::Only(_) => {}
        }
        out.extend_from_slice(text.as_bytes());
    }
}

/// An upload link's page: a drop zone for `folder` (its last name only),
/// open until `expires_at` (RFC 3339).
pub fn drop_zone(folder: &str, expires_at: &str) -> String {
    let mut text = String::new();
    head("Send files", &mut text);
    let _ = write!(
        text,
        "<body><header><h1>Send files to {}</h1><p>Open until {} (UTC). Files already there are never replaced.</p></header>\n\
<main><label id=\"zone\" class=\"drop\">Drop files here, or <input id=\"pick\" type=\"file\" multiple></label>\
<ul id=\"sent\"></ul></main>\n<script>{DROP_SCRIPT}</script>\n</body></html>\n",
        html_escape(folder),
        html_escape(expires_at)
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_drop_zones_script_run_and_nothing_else() {
        let page = drop_zone("in<box>", "2026-12-01T00:00:00Z");
        assert!(page.contains("Send files to in&lt;box&gt;"));
        assert!(page.contains(DROP_SCRIPT));
        let policy = link_policy();
        assert!(policy.contains(&super::super::page::sha256_source(DROP_SCRIPT)));
        assert!(policy.starts_with("default-src 'none'; script-src 'sha256-"));
    }
}
