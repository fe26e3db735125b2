// The listing page's script (embedded by src/http/page.rs). It turns the
// plain table into the web interface: human sizes, local times, sorting
// (folders first), counts, upload (picker, folder picker, drag and drop)
// with progress, delete, rename, a .tar link per folder, and refresh.
// Names come only from data-name attributes and reach the page only
// through textContent, so no name is ever parsed as markup.
// body.dataset.state is "busy" while
// requests run and "idle" otherwise (the browser test waits on it).
'use strict';
(() => {
  const body = document.body;
  const prefix = body.dataset.prefix || '';
  const message = document.getElementById('message');
  const uploads = document.getElementById('uploads');
  const summary = document.getElementById('summary');
  const sorting = { key: 'name', order: 1 };
  let tbody = document.querySelector('#listing tbody');
  let running = 0;

  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  function humanSize(n) {
    if (n < 1024) return n + ' B';
    let value = n / 1024, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return value.toFixed(1) + ' ' + units[unit];
  }
  function urlOf(name) {
    return '/' + name.split('/').map(encodeURIComponent).join('/');
  }
  function busy(delta) {
    running += delta;
    body.dataset.state = running > 0 ? 'busy' : 'idle';
  }
  function say(text, ok) {
    message.hidden = false;
    message.className = ok ? 'ok' : '';
    message.textContent = text;
  }
  // What a failed request means to a person; the server's one-line reason
  // follows.
  function explain(what, status, text) {
    const reason = (text || '').trim();
    if (status === 0) return what + ': the server could not be reached';
    if (status === 401) return what + ': not signed in (reload the page to sign in)';
    if (status === 403) return what + ': not permitted (' + (reason || 'forbidden') + ')';
    return what + ': ' + status + (reason ? ' ' + reason : '');
  }

  // One request; resolves with {status, text} (status 0: no answer).
  function send(method, url, options) {
    const opts = options || {};
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [name, value] of Object.entries(opts.headers || {})) xhr.setRequestHeader(name, value);
      if (opts.progress) xhr.upload.onprogress = (e) => opts.progress(e.loaded);
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
      xhr.onerror = () => resolve({ status: 0, text: '' });
      busy(1);
      xhr.send(opts.body === undefined ? null : opts.body);
    }).finally(() => busy(-1));
  }

  function rows() {
    return Array.from(tbody.querySelectorAll('tr.dir, tr.file'));
  }

  // Sizes, times, buttons and the counts, on the rows as the server wrote them.
  function decorate() {
    let dirs = 0, files = 0, bytes = 0;
    for (const row of rows()) {
      const size = Number(row.dataset.size);
      const when = new Date(Number(row.dataset.mtime) * 1000);
      const cells = row.cells;
      cells[2].textContent = when.toLocaleString(undefined,
        { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
      cells[2].title = when.toISOString();
      if (row.classList.contains('dir')) {
        dirs++;
        const tar = document.createElement('a');
        tar.className = 'button';
        tar.href = urlOf(row.dataset.name) + '?tar';
        tar.download = '';
        tar.textContent = '.tar';
        cells[3].replaceChildren(tar);
        continue;
      }
      files++;
      bytes += size;
      cells[1].textContent = humanSize(size);
      cells[1].title = size + ' bytes';
      const name = row.dataset.name;
      cells[3].replaceChildren(button('Rename', () => rename(name)), button('Delete', () => remove(name)));
    }
    const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's');
    summary.textContent = plural(dirs, 'folder') + ', ' + plural(files, 'file') + ', ' + humanSize(bytes);
    sort();
  }
  function button(label, action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', action);
    return b;
  }

  function sort() {
    const { key, order } = sorting;
    const value = (row) => key === 'name' ? row.dataset.name : Number(row.dataset[key]);
    const sorted = rows().sort((a, b) => {
      const folders = Number(b.classList.contains('dir')) - Number(a.classList.contains('dir'));
      if (folders) return folders;
      const [x, y] = [value(a), value(b)];
      const c = key === 'name' ? x.localeCompare(y, undefined, { numeric: true }) : x - y;
      return c * order;
    });
    for (const row of sorted) tbody.appendChild(row);
    for (const th of document.querySelectorAll('th[data-key]')) {
      if (th.dataset.key === key) th.setAttribute('aria-sort', order > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }
  for (const th of document.querySelectorAll('th[data-key]')) {
    th.addEventListener('click', () => {
      const key = th.dataset.key;
      sorting.order = sorting.key === key ? -sorting.order : 1;
      sorting.key = key;
      sort();
    });
  }

  // The listing again, from the server, in place. (XMLHttpRequest, not
  // fetch: fetch refuses a page opened as http://user:token@host/.)
  async function refresh() {
    const answer = await send('GET', location.pathname, { headers: { Accept: 'text/html' } });
    if (answer.status !== 200) { say(explain('Refresh', answer.status, answer.text)); return; }
    const page = new DOMParser().parseFromString(answer.text, 'text/html');
    const fresh = page.querySelector('#listing tbody');
    if (fresh) { tbody.replaceWith(document.adoptNode(fresh)); tbody = fresh; decorate(); }
  }

  async function remove(name) {
    if (!confirm('Delete ' + name + '?')) return;
    const answer = await send('DELETE', urlOf(name));
    if (answer.status >= 200 && answer.status < 300) say('Deleted ' + name, true);
    else say(explain('Delete ' + name, answer.status, answer.text));
    await refresh();
  }

  async function rename(name) {
    const wanted = prompt('New name for ' + name + ' (a leading / starts from the top)', name.slice(prefix.length));
    if (!wanted) return;
    const target = wanted.startsWith('/') ? wanted.slice(1) : prefix + wanted;
    const answer = await send('MOVE', urlOf(name), { headers: { Destination: urlOf(target) } });
    if (answer.status >= 200 && answer.status < 300) say('Renamed ' + name + ' to ' + target, true);
    else say(explain('Rename ' + name, answer.status, answer.text));
    await refresh();
  }

  // Uploads: one PUT per file, one at a time, a bar each and one for all.
  async function upload(items) {
    if (items.length === 0) return;
    busy(1);
    const total = items.reduce((sum, item) => sum + item.file.size, 0) || 1;
    let done = 0;
    const overall = document.createElement('progress');
    overall.max = total;
    overall.value = 0;
    overall.id = 'overall';
    uploads.replaceChildren(overall);
    const bars = items.map((item) => {
      const line = document.createElement('div');
      line.className = 'upload';
      const label = document.createElement('span');
      label.textContent = item.path;
      const bar = document.createElement('progress');
      bar.max = item.file.size || 1;
      bar.value = 0;
      const state = document.createElement('span');
      state.className = 'state';
      state.textContent = 'waiting';
      line.append(label, bar, state);
      uploads.appendChild(line);
      return { line, bar, state };
    });
    const failures = [];
    for (const [at, item] of items.entries()) {
      const { line, bar, state } = bars[at];
      state.textContent = 'sending';
      const answer = await send('PUT', urlOf(prefix + item.path), {
        body: item.file,
        headers: { 'X-Ferry-Mtime': String(Math.floor(item.file.lastModified / 1000)) },
        progress: (loaded) => { bar.value = loaded; overall.value = done + loaded; },
      });
      done += item.file.size;
      overall.value = done;
      if (answer.status >= 200 && answer.status < 300) {
        bar.value = bar.max;
        state.textContent = 'done';
      } else {
        line.classList.add('failed');
        state.textContent = 'failed';
        failures.push(explain(item.path, answer.status, answer.text));
      }
    }
    if (failures.length) say(failures.join('\n'));
    else say('Uploaded ' + items.length + (items.length === 1 ? ' file' : ' files'), true);
    await refresh();
    busy(-1);
  }

  function picked(input, pathOf) {
    input.addEventListener('change', () => {
      const items = Array.from(input.files, (file) => ({ file, path: pathOf(file) }));
      input.value = '';
      upload(items);
    });
  }
  picked(document.getElementById('pick-files'), (file) => file.name);
  picked(document.getElementById('pick-folder'), (file) => file.webkitRelativePath || file.name);

  // Drag and drop, dropped folders included (walked with webkitGetAsEntry).
  const drop = document.getElementById('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('dragging'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    const entries = Array.from(e.dataTransfer.items || [], (item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
    const items = [];
    if (entries.length === 0) {
      for (const file of e.dataTransfer.files) items.push({ file, path: file.name });
    }
    for (const entry of entries) await walk(entry, '', items);
    upload(items);
  });
  async function walk(entry, path, items) {
    if (entry.isFile) {
      const file = await new Promise((ok, fail) => entry.file(ok, fail)).catch(() => null);
      if (file) items.push({ file, path: path + entry.name });
      return;
    }
    const reader = entry.createReader();
    for (;;) {
      // readEntries answers in batches: call it until it answers none.
      const batch = await new Promise((ok) => reader.readEntries(ok, () => ok([])));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, path + entry.name + '/', items);
    }
  }

  body.dataset.state = 'idle';
  decorate();
})();
