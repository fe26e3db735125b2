// Share links (embedded after qr.js by src/http/ui.rs, with the shares
// feature; docs/shares.md): a row's Share shows the row's address as
// before (qr.js' ferry.share: for people with a token), and below it a
// form that makes a link for people without one: how long it lasts, a
// password and a download limit (or, for a folder, that people send files
// into it and see nothing). The link made is shown in its place, with a
// copy button and its QR code; below either, the token's links, each
// revocable.
(() => {
  const ferry = window.ferry;
  const dialog = document.getElementById('share');
  if (!ferry || !ferry.acts || !ferry.send || !dialog) return;
  const SPANS = [['1 hour', '1h'], ['1 day', '1d'], ['7 days', '7d'], ['30 days', '30d']];
  const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

  function element(tag, props, ...children) {
    const el = Object.assign(document.createElement(tag), props || {});
    el.append(...children);
    return el;
  }
  function field(label, input) {
    return element('label', {}, label + ' ', input);
  }
  // The token's links, each with its Revoke.
  async function listLinks(list) {
    const answer = await ferry.send('GET', '/.ferry-shares', { headers: { Accept: 'application/json' } });
    if (answer.status !== 200) return;
    list.replaceChildren(...JSON.parse(answer.text).map((link) => {
      const revoke = element('button', { type: 'button', textContent: 'Revoke' });
      revoke.addEventListener('click', async () => {
        await ferry.send('DELETE', '/.ferry-shares/' + link.id);
        listLinks(list);
      });
      const until = new Date(link.expires_at).toLocaleString();
      const words = link.path + (link.mode === 'upload' ? ' (uploads)' : '') + ', until ' + until +
        (link.max_downloads ? ', ' + link.downloads + ' of ' + link.max_downloads + ' downloads' : '');
      return element('li', { className: 'link' }, element('a', { href: link.url, textContent: words }), ' ', revoke);
    }));
  }

  // The link made: its QR code and address (qr.js), and a copy button.
  function shown(link, name) {
    ferry.share(link.url, name);
    const copy = element('button', { type: 'button', id: 'copy-link', textContent: 'Copy link' });
    copy.addEventListener('click', () => {
      const done = () => { copy.textContent = 'Copied'; };
      if (navigator.clipboard) navigator.clipboard.writeText(link.url).then(done, () => {});
    });
    const list = element('ul', { className: 'links' });
    dialog.append(copy, element('h3', { textContent: 'Your links' }), list);
    listLinks(list);
  }

  function form(name) {
    const folder = name.endsWith('/');
    const expires = element('select', { name: 'expires' },
      ...SPANS.map(([words, span]) => element('option', { value: span, textContent: words, selected: span === '7d' })));
    const password = element('input', { type: 'password', name: 'password', autocomplete: 'new-password' });
    const max = element('input', { type: 'number', name: 'max', min: 1 });
    const upload = element('input', { type: 'checkbox', name: 'upload' });
    const error = element('p', { className: 'error', role: 'alert' });
    const create = element('button', { type: 'submit', id: 'create-link', textContent: 'Create link' });
    const list = element('ul', { className: 'links' });
    const parts = [element('h3', { textContent: 'A link for people without a token' }), field('Lasts', expires),
      field('Password (optional)', password), field('Most downloads (optional)', max)];
    if (folder) parts.push(field('People send files into it instead (they see nothing)', upload));
    const out = element('form', { method: 'dialog' }, ...parts, create, error,
      element('h3', { textContent: 'Your links' }), list);
    out.addEventListener('submit', async (event) => {
      event.preventDefault();
      const asked = { path: name, mode: upload.checked ? 'upload' : 'read', expires: expires.value };
      if (password.value) asked.password = password.value;
      if (max.value) asked.max_downloads = Number(max.value);
      const answer = await ferry.send('POST', '/.ferry-shares', { headers: JSON_HEADERS, body: JSON.stringify(asked) });
      if (answer.status === 201) return shown(JSON.parse(answer.text), lastName(name));
      error.textContent = 'No link: ' + (answer.text.trim() || 'the server did not answer') ;
    });
    listLinks(list);
    return out;
  }

  function lastName(name) {
    return name.replace(/\/$/, '').split('/').pop();
  }

  ferry.acts.share = (name) => {
    ferry.share(location.origin + ferry.urlOf(name), lastName(name));
    dialog.append(form(name));
  };
})();
