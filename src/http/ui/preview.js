// Previews (embedded by src/http/page.rs after page.js, in the same script
// element): a click on a file's name opens it in a dialog instead of
// leaving the page, for the kinds in SHOWN (page.js' ferry.kindOf, by
// extension, which the icons use too); others keep their plain link. Ctrl-, Shift- or middle-click opens the link as
// usual, and the dialog has a Download link.
//
// Nothing the user stored runs here. Text (code, HTML, SVG source...) is
// fetched, at most TEXT_CAP bytes, and shown with textContent, never as
// markup; images (SVG included) are img elements, which run no script;
// sound and video are audio and video elements; a PDF is framed, and comes with the
// sandboxing Content-Security-Policy every user file has (docs/security.md).
// The dialog's data-state is "loading", "ready" or "failed" (the browser
// test waits on it). Previous/next (buttons, arrow keys) go through the
// folder's previewable files in the order shown; Escape closes.
'use strict';
(() => {
  const SHOWN = new Set(['image', 'text', 'pdf', 'audio', 'video']);
  // Text beyond this is not fetched: a preview, not a download.
  const TEXT_CAP = 256 * 1024;

  const table = document.getElementById('listing');
  const ferry = window.ferry;
  if (!table || !ferry) return;
  const kindOf = (name) => {
    const kind = ferry.kindOf(name);
    return SHOWN.has(kind) ? kind : undefined;
  };
  const urlOf = ferry.urlOf;
  // The previewable files, in the order the table shows them.
  const previewable = () => Array.from(table.querySelectorAll('tr.file'), (row) => row.dataset.name).filter(kindOf);

  function element(tag, props, children) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    if (children) e.append(...children);
    return e;
  }
  const title = element('h2', { id: 'preview-title' });
  const count = element('span', { className: 'count' });
  const prev = element('button', { type: 'button', textContent: '\u2039', title: 'Previous (\u2190)' });
  prev.setAttribute('aria-label', 'Previous file');
  const next = element('button', { type: 'button', textContent: '\u203a', title: 'Next (\u2192)' });
  next.setAttribute('aria-label', 'Next file');
  const download = element('a', { className: 'button', textContent: 'Download' });
  download.setAttribute('download', '');
  const close = element('button', { type: 'button', textContent: '\u00d7', title: 'Close (Esc)' });
  close.setAttribute('aria-label', 'Close preview');
  const view = element('div', { className: 'view' });
  const bar = element('div', { className: 'bar' }, [title, count, prev, next, download, close]);
  const dialog = element('dialog', { id: 'preview' }, [bar, view]);
  dialog.setAttribute('aria-labelledby', 'preview-title');
  document.body.appendChild(dialog);
  let shown = null;
  let loading = null;
  // Which showing this is: an element replaced by the next file may still
  // report its load or error, which must not speak for the new one.
  let showing = 0;

  function show(name) {
    const names = previewable();
    const at = names.indexOf(name);
    shown = name;
    title.textContent = name.slice(name.lastIndexOf('/') + 1);
    count.textContent = names.length > 1 ? (at + 1) + ' / ' + names.length : '';
    prev.disabled = next.disabled = names.length < 2;
    download.href = urlOf(name);
    if (loading) loading.abort();
    loading = null;
    dialog.dataset.state = 'loading';
    view.replaceChildren(content(kindOf(name), urlOf(name), name));
    if (!dialog.open) dialog.showModal();
  }

  // The element that shows a file of `what` kind at `url`.
  function content(what, url, name) {
    const mine = ++showing;
    const ready = () => { if (mine === showing) dialog.dataset.state = 'ready'; };
    const failed = () => { if (mine === showing) dialog.dataset.state = 'failed'; };
    if (what === 'image') {
      const img = element('img', { src: url, alt: name, onload: ready, onerror: failed });
      return img;
    }
    if (what === 'audio' || what === 'video') {
      const media = element(what, { src: url, controls: true, preload: 'metadata', onloadedmetadata: ready, onerror: failed });
      media.setAttribute('aria-label', name);
      return media;
    }
    if (what === 'pdf') {
      // The browser's own viewer; a frame's load says nothing of the
      // PDF, so it is ready once asked for.
      const frame = element('iframe', { src: url, title: name });
      ready();
      return frame;
    }
    const pre = element('pre', { className: 'text', tabIndex: 0 });
    pre.setAttribute('aria-label', name);
    loading = text(url, pre, ready, failed);
    return pre;
  }

  // The first TEXT_CAP bytes of `url`, as text in `pre`. (XMLHttpRequest,
  // as page.js: fetch refuses a page opened as http://user:token@host/.)
  function text(url, pre, ready, failed) {
    const xhr = new XMLHttpRequest();
    xhr.open('GET', url);
    xhr.responseType = 'arraybuffer';
    xhr.setRequestHeader('Range', 'bytes=0-' + (TEXT_CAP - 1));
    xhr.onload = () => {
      if (xhr.status !== 200 && xhr.status !== 206) {
        // The refusal in the server's words (page.js, explain).
        const reason = new TextDecoder().decode(xhr.response || new ArrayBuffer(0));
        const header = (field) => xhr.getResponseHeader(field);
        pre.textContent = ferry.explain('Not shown', { status: xhr.status, text: reason, header });
        failed();
        return;
      }
      const bytes = new Uint8Array(xhr.response).subarray(0, TEXT_CAP);
      const whole = /\/(\d+)$/.exec(xhr.getResponseHeader('Content-Range') || '');
      const size = whole ? Number(whole[1]) : bytes.length;
      pre.textContent = new TextDecoder().decode(bytes);
      if (size > bytes.length) {
        pre.append(element('span', { className: 'cut', textContent: '\n\u2026 the first ' + bytes.length + ' of ' + size + ' bytes; Download for all of it' }));
      }
      ready();
    };
    xhr.onerror = () => { pre.textContent = ferry.explain('Not shown', { status: 0 }); failed(); };
    xhr.send();
    return xhr;
  }

  function step(by) {
    const names = previewable();
    if (names.length === 0) return;
    const at = names.indexOf(shown);
    show(names[(at + by + names.length) % names.length]);
  }
  prev.addEventListener('click', () => step(-1));
  next.addEventListener('click', () => step(1));
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('keydown', (e) => {
    // Arrows stay with the players' and the text's own controls.
    if (e.target.closest && e.target.closest('audio, video, input')) return;
    if (e.key === 'ArrowLeft') { e.preventDefault(); step(-1); }
    if (e.key === 'ArrowRight') { e.preventDefault(); step(1); }
  });
  // A click on the backdrop (outside the dialog's box) closes it.
  dialog.addEventListener('click', (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener('close', () => {
    if (loading) loading.abort();
    loading = null;
    shown = null;
    // Players stop, frames go: nothing keeps loading behind the page.
    view.replaceChildren();
    showing++;
    delete dialog.dataset.state;
  });

  // One listener on the table, which outlives the rows a refresh replaces.
  table.addEventListener('click', (e) => {
    const link = e.target.closest && e.target.closest('tr.file td.n a');
    if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    const name = link.closest('tr').dataset.name;
    if (!kindOf(name)) return;
    e.preventDefault();
    show(name);
  });
})();
