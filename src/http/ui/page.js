// The listing page's script (embedded by src/http/page.rs). It turns the
// plain table into the web interface: local times, sorting (folders
// first), counts, uploads by tus (sendFile; what is sent and when, the
// pickers, the drop overlay and the queue, are queue.js'), delete,
// rename, a .zip button per folder, and refresh.
// Names come only from the links' addresses (decoded) and reach the page
// only through textContent, so no name is ever parsed as markup.
// body.dataset.state is "busy" while
// requests run and "idle" otherwise (the browser test waits on it).
//
// The server writes each row of a small folder as small as a listing
// without JavaScript allows (page.rs, file_row): the link, the size and
// the UTC time in words. A big folder's entries come as data instead,
// each name once (page_data.rs, the #entries block), and the script
// builds the rows from it in one pass (build). The script reads the name
// (row.dataset.name), the size and the time (row.size, row.mtime) from
// the server's rows once (a built row has them from the start), and
// gives a row its type's icon (inline SVG, cloned: nothing is fetched)
// and its action buttons (download, rename, delete, share: icons named
// by aria-label) only when the row first comes into view, is pointed at
// or focused (activate), so a folder of 5,000 files makes those of the
// few dozen rows seen; one listener on the table runs
// every row's buttons (data-act, a key of ferry.acts) and boxes, so no
// row costs a listener (benches/page.sh measures it). On a narrow screen
// (page.css, 600px) a row's buttons fold into one menu (its "more"
// button); the keyboard reaches the same buttons (Delete, F2).
//
// It offers only what the server says the client may do here: <body>'s
// data-may ("write", "delete") and data-read-only come from the serve
// layer's grant check (src/serve/access.rs, Rights), never worked out
// here; a folder's row carries its own data-may where the grants differ
// below this folder (a token that may delete in one sub-folder only).
//
// Hooks for the scripts concatenated after this one (page.rs, SCRIPT_SOURCE):
//   ferry.rights       {read, write, delete, readOnly} in this folder
//   ferry.rowRights(row)  the same for what a folder's row names
//   ferry.acts         data-act -> function (name, row): a row button's
//                      action; ferry.actionButton(label, act, title)
//                      makes such a button (its icon: the label's first
//                      word, ICONS)
//   ferry.kindOf(name) what a file holds, by its extension: image, text,
//                      pdf, audio, video, archive (icons, previews)
//   ferry.folderRow    functions (row, acts, rights) adding buttons to a
//                      folder's row (to its actions, `acts`) when it is
//                      activated
//   ferry.rowShown     functions (row) run on every row once activated
//                      (grid.js: an image's thumbnail)
//   ferry.sendFile(item, show)  one file ({file, path}) sent by tus;
//                      ferry.terminate(item) ends what the server holds
//                      of it (a cancel); ferry.busy(+1/-1) counts work
//                      in body.dataset.state
//   ferry.refresh()    the listing again from the server, in place
//   ferry.explain(what, answer)  a refusal in words, with the server's
//                      reason (`ten.bin: quota: token qb holds its 10
//                      files already (507)`)
//   ferry.report(name, status, reason)  a failure shown in words
//   ferry.selection()  the names (data-name) of the rows ticked
//   ferry.send(method, url, {headers, body})  one request, counted in
//                      body.dataset.state; resolves {status, text, header}
//   ferry.urlOf(name)  a name's URL path
//
// Uploads go through the server's tus 1.0.0 dialect (docs/http.md,
// "Resumable uploads (tus)"), in 8 MiB PATCHes, so one cut off by a
// dropped connection, a server restart or a closed lid goes on from the
// last byte the server kept: each upload's Location is remembered in
// localStorage (per target, size and modification time), so it goes on
// after a reload too, once the same file is picked again. The tus client
// is the few functions below, not a vendored tus-js-client: that is, even
// minified, bigger than this whole script (which is embedded in the
// binary and sent with every listing page), would bring a build step to
// pin and embed it, and serves much that ferry does not (concatenation,
// deferred lengths, other storages for its URLs); the page needs only
// creation, HEAD, PATCH and termination (DELETE: a cancel).
'use strict';
(() => {
  const body = document.body;
  const prefix = body.dataset.prefix || '';
  const message = document.getElementById('message');
  const summary = document.getElementById('summary');
  const sorting = { key: 'name', order: 1 };
  let tbody = document.querySelector('#listing tbody');
  let running = 0;
  const may = (body.dataset.may || '').split(' ');
  const rights = {
    read: true, write: may.includes('write'), delete: may.includes('delete'),
    readOnly: 'readOnly' in body.dataset,
  };
  // The hooks above, for the scripts after this one; also what folders.js
  // and search.js build on (folderRow: what each adds to a folder's row).
  const ferry = window.ferry = {
    prefix, rights, rowRights, send, say, explain, refresh, report, selection, urlOf, humanSize,
    actionButton, kindOf, acts: {}, folderRow: [], rowShown: [], busy, sendFile, terminate, forgetOld,
  };
  const table = document.getElementById('listing');

  // What a file holds, by its extension: its icon, and whether and how
  // preview.js shows it (it previews all but archives).
  const KINDS = {};
  const kind = (name, extensions) => { for (const e of extensions.split(' ')) KINDS[e] = name; };
  kind('image', 'png jpg jpeg gif webp avif svg');
  kind('text', 'txt log md csv json xml html htm css js mjs ts rs py sh c h cc cpp hpp go java rb pl lua sql toml yaml yml ini conf cfg diff patch');
  kind('pdf', 'pdf');
  kind('audio', 'wav mp3 ogg oga opus flac m4a');
  kind('video', 'webm mp4 m4v ogv mov');
  kind('archive', 'zip tar gz tgz bz2 xz zst 7z rar');
  function kindOf(name) {
    const dot = name.lastIndexOf('.');
    return dot < 0 ? undefined : KINDS[name.slice(dot + 1).toLowerCase()];
  }
  // Icons: one path each on a 24-unit grid, stroked in the text's colour
  // (page.css, svg.ic). Made once, then cloned: inline SVG, so the page
  // still fetches nothing and the policy needs no img-src for them.
  const ICONS = {
    folder: 'M3 6h6l2 2h10v11H3z',
    file: 'M6 3h8l4 4v14H6zM14 3v4h4',
    text: 'M6 3h8l4 4v14H6zM9 12h6M9 16h6',
    image: 'M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9h.01',
    video: 'M3 6h13v12H3zM16 10l5-3v10l-5-3z',
    audio: 'M9 17V5l10-2v12M6 20a3 3 0 1 0 0-6 3 3 0 0 0 0 6M16 18a3 3 0 1 0 0-6 3 3 0 0 0 0 6',
    archive: 'M4 4h16v4H4zM5 8v12h14V8M10 12h4',
    pdf: 'M6 3h8l4 4v14H6zM14 3v4h4M8 12h8v5H8z',
    download: 'M12 4v11M7 10l5 5 5-5M5 20h14',
    rename: 'M4 20h4L19 9l-4-4L4 16zM13 7l4 4',
    delete: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
    share: 'M12 15V3M7 8l5-5 5 5M5 13v7h14v-7',
    pause: 'M8 5v14M16 5v14',
    resume: 'M7 4l12 8-12 8z',
    cancel: 'M6 6l12 12M18 6L6 18',
    grid: 'M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z',
  };
  const drawn = {};
  function icon(name) {
    if (!drawn[name]) {
      const NS = 'http://www.w3.org/2000/svg';
      const svg = document.createElementNS(NS, 'svg');
      svg.setAttribute('viewBox', '0 0 24 24');
      svg.setAttribute('class', 'ic ic-' + name);
      svg.setAttribute('aria-hidden', 'true');
      const path = document.createElementNS(NS, 'path');
      path.setAttribute('d', ICONS[name]);
      svg.append(path);
      drawn[name] = svg;
    }
    return drawn[name].cloneNode(true);
  }
  const typeOf = (row) => row.size < 0 ? 'folder' : kindOf(row.dataset.name) || 'file';

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
  // What a failed request means to a person, in words: what was asked,
  // the server's own reason, the status. The one place a refusal
  // becomes words: every caller hands it the answer as send resolved it
  // ({status, text, header}), or {status, text} for a reason the server
  // gave inside a report (a folder's 207). The reason is the first line
  // of a text answer (response.rs, error: `507 Insufficient Storage:
  // quota: token qb holds its 10 files already`) without its status
  // words: `ten.bin: quota: token qb holds its 10 files already (507)`.
  // An answer without one (empty, or not text: a proxy's HTML page, XML)
  // says what its status means: `ten.bin: not enough space on the server
  // (507)`. Shown by say, through textContent: never parsed as markup.
  const MEANINGS = {
    404: 'not found', 405: 'not allowed here', 408: 'the server stopped waiting',
    409: 'in the way of something already there', 410: 'gone', 412: 'changed meanwhile',
    413: 'too large for this server', 423: 'locked', 429: 'too many requests, try again later',
    500: 'the server failed', 503: 'the server is busy, try again later',
    507: 'not enough space on the server',
  };
  // A reason longer than this (a proxy's page sent as text) is cut.
  const LONGEST = 300;
  function reasonOf(answer) {
    const type = answer.header ? answer.header('Content-Type') || '' : 'text/plain';
    if (!/^text\/plain\b/i.test(type)) return '';
    const line = String(answer.text || '').trim().split('\n')[0]
      .replace(/^\d{3}( [A-Za-z' -]+)?: */, '').trim();
    return line.length > LONGEST ? line.slice(0, LONGEST - 1) + '\u2026' : line;
  }
  function explain(what, answer) {
    const status = answer.status;
    if (status === 0) return what + ': the server could not be reached';
    const reason = reasonOf(answer);
    if (status === 401) {
      return what + ': not signed in (' + (reason ? reason + '; ' : '') +
        'reload the page to sign in: any name, the token as password)';
    }
    if (status === 403) return what + ': not permitted (' + (reason || 'forbidden') + ')';
    const meaning = MEANINGS[status] || (status >= 500 ? 'the server failed' : 'refused');
    return what + ': ' + (reason || meaning) + ' (' + status + ')';
  }

  // One request; resolves with {status, text, header(name)} (status 0:
  // no answer).
  function send(method, url, options) {
    const opts = options || {};
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [name, value] of Object.entries(opts.headers || {})) xhr.setRequestHeader(name, value);
      if (opts.progress) xhr.upload.onprogress = (e) => opts.progress(e.loaded);
      // `control.abort()` cuts the request off (a paused or cancelled upload).
      if (opts.control) opts.control.abort = () => xhr.abort();
      const header = (name) => xhr.getResponseHeader(name);
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, header });
      xhr.onerror = xhr.onabort = () => resolve({ status: 0, text: '', header: () => null });
      busy(1);
      xhr.send(opts.body === undefined ? null : opts.body);
    }).finally(() => busy(-1));
  }

  function rows() {
    return Array.from(tbody.querySelectorAll('tr.dir, tr.file'));
  }

  // One formatter and one collator for all rows: toLocaleString and
  // localeCompare with options build one per call (5,000 rows: seconds).
  const DATE = new Intl.DateTimeFormat(undefined,
    { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  const NAMES = new Intl.Collator(undefined, { numeric: true });
  // A time as the server writes it: UTC, to the second.
  const UTC = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/;
  // On a phone (the width at which page.css folds a row's buttons into a
  // menu) a time is compact, so that the Modified column fits: the time
  // of day for today, the day for this year, else the month.
  const phone = matchMedia('(max-width: 600px)');
  const COMPACT = [{ hour: '2-digit', minute: '2-digit' }, { day: 'numeric', month: 'short' },
    { year: 'numeric', month: 'short' }].map((o) => new Intl.DateTimeFormat(undefined, o));
  function compact(date) {
    const now = new Date();
    if (date.toDateString() === now.toDateString()) return COMPACT[0].format(date);
    return COMPACT[date.getFullYear() === now.getFullYear() ? 1 : 2].format(date);
  }
  // A time in the browser's zone, to the minute: formatted once a
  // minute (a folder's files often share one), for the width in force
  // (a phone's texts under negative keys, apart from the others).
  const minutes = new Map();
  function local(seconds) {
    const minute = Math.floor(seconds / 60);
    const key = phone.matches ? -1 - minute : minute;
    let text = minutes.get(key);
    if (text === undefined) {
      const date = new Date(minute * 60000);
      text = phone.matches ? compact(date) : DATE.format(date);
      minutes.set(key, text);
    }
    return text;
  }
  phone.addEventListener('change', () => {
    for (const row of rows()) if (row.mtime) row.cells[2].textContent = local(row.mtime);
  });
  // Each row's box: one made, the rest cloned from it.
  const PICK = document.createElement('input');
  PICK.type = 'checkbox';
  PICK.className = 'pick';

  // A row as the server writes one, for build to fill (no name in it).
  const ROW = document.createElement('tr');
  ROW.innerHTML = '<td class="n"><a></a><td class="s"><td class="t"><td class="o">';
  // A big folder's rows from its #entries block (page_data.rs): names
  // front-coded (each keeps d.p[i] UTF-16 units of the one before), a
  // folder's ending in /, sizes, times, a folder's own rights where
  // they differ (d.m). Sorted before they reach the page, so that the
  // table is laid out once.
  function fill(block) {
    const d = JSON.parse(block.textContent);
    const made = [];
    let name = '';
    for (let i = 0; i < d.n.length; i++) {
      name = name.slice(0, d.p[i]) + d.n[i];
      const row = ROW.cloneNode(true);
      const dir = name.endsWith('/');
      const cells = row.cells;
      row.className = dir ? 'dir' : 'file';
      row.dataset.name = prefix + name;
      if (d.m[i] !== undefined) row.dataset.may = d.m[i];
      row.size = dir ? -1 : d.s[i];
      row.mtime = d.t[i];
      cells[0].firstChild.setAttribute('href', urlOf(prefix + name));
      cells[0].firstChild.textContent = name;
      cells[1].textContent = dir ? '-' : humanSize(row.size);
      cells[2].textContent = local(row.mtime);
      made.push(row);
    }
    tbody.append(...ordered(made));
  }
  // What the server wrote, read once per row: the name from the link's
  // address, the size (data-size where the words round it), the time;
  // then local times, a box, the counts.
  function read(row) {
    const cells = row.cells;
    row.dataset.name = decodeURIComponent(cells[0].lastElementChild.getAttribute('href').slice(1));
    const t = UTC.exec(cells[2].textContent);
    row.mtime = t ? Date.UTC(+t[1], t[2] - 1, +t[3], +t[4], +t[5], +t[6]) / 1000 : 0;
    if (t) cells[2].textContent = local(row.mtime);
    row.size = row.classList.contains('dir') ? -1 :
      Number(cells[1].dataset.size || parseInt(cells[1].textContent, 10)) || 0;
  }
  function decorate() {
    let dirs = 0, files = 0, bytes = 0;
    if (inView) inView.disconnect();
    for (const row of rows()) {
      if (row.size === undefined) read(row);
      const box = PICK.cloneNode();
      box.setAttribute('aria-label', 'Select ' + row.dataset.name);
      row.cells[0].prepend(box);
      if (inView) inView.observe(row);
      if (row.size < 0) {
        dirs++;
        continue;
      }
      files++;
      bytes += row.size;
    }
    const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's');
    summary.textContent = plural(dirs, 'folder') + ', ' + plural(files, 'file') + ', ' + humanSize(bytes);
    sort();
    narrow();
    ticked();
    // The rows a window shows first get their icon and buttons before the
    // table is first laid out (page.rs, HOLD), so the observer has nothing
    // to add to them and the table is not laid out again for it; once the
    // scripts after this one have run (folders.js' hook for folder rows).
    queueMicrotask(() => { for (const row of rows().slice(0, FIRST_SEEN)) activate(row); });
  }
  const FIRST_SEEN = 60;

  // What the client may do to what a folder's row names: its own
  // data-may where the server wrote one, else the folder's.
  function rowRights(row) {
    const words = row.dataset.may;
    if (words === undefined) return rights;
    const w = words.split(' ');
    return { ...rights, write: w.includes('write'), delete: w.includes('delete') };
  }
  // A row's button: its icon (ICONS, named by the label's first word)
  // and its label, which page.css shows only in a row's menu; the label
  // is its name for a screen reader, the title says on what it acts.
  function actionButton(label, act, title) {
    const b = document.createElement('button');
    b.type = 'button';
    const words = document.createElement('span');
    words.textContent = label;
    b.append(icon(label.split(' ')[0].toLowerCase()), words);
    b.setAttribute('aria-label', label);
    b.dataset.act = act;
    if (title) b.title = title;
    return b;
  }
  // A row's icon and buttons, made the first time it comes into view
  // (inView), is pointed at (a tap too) or focused (Tab reaches its box,
  // then its link, then these), with the exact size and time as
  // tooltips: 5,000 rows' icons made at once would double the time the
  // table takes to be laid out (benches/page.sh). What
  // it offers follows the rights: a file's Rename and Delete here, a
  // folder's by its own (folders.js); Download and Share only read.
  function activate(row) {
    if (!row || row.activated || row.size === undefined) return;
    row.activated = true;
    const cells = row.cells;
    const name = row.dataset.name;
    cells[0].lastElementChild.before(icon(typeOf(row)));
    if (row.size >= 0) cells[1].title = row.size + ' bytes';
    cells[2].title = new Date(row.mtime * 1000).toISOString();
    const acts = document.createElement('span');
    acts.className = 'acts';
    if (row.size < 0) {
      // A button, not a link: crawlers and `wget -r` follow links, and
      // each folder's archive would fetch everything below it again.
      const zip = actionButton('Download .zip', 'zip', 'Download ' + name + ' as one .zip file');
      zip.className = 'archive';
      zip.dataset.href = urlOf(name) + '?zip';
      acts.append(zip);
      for (const hook of ferry.folderRow) hook(row, acts, rowRights(row));
    } else {
      acts.append(actionButton('Download', 'download', 'Download ' + name));
      // A rename is a delete of the old name and a write of the new.
      if (rights.write && rights.delete) acts.append(actionButton('Rename', 'rename', 'Rename or move ' + name));
      if (rights.delete) acts.append(actionButton('Delete', 'delete', 'Delete ' + name));
    }
    acts.append(actionButton('Share', 'share', 'Share ' + name));
    // The menu a narrow screen shows instead of the row's buttons.
    const more = document.createElement('button');
    more.type = 'button';
    more.className = 'more';
    more.textContent = '\u22ef';
    more.dataset.act = 'more';
    more.setAttribute('aria-label', 'Actions');
    more.title = 'What can be done with ' + name;
    more.setAttribute('aria-haspopup', 'true');
    more.setAttribute('aria-expanded', 'false');
    cells[3].append(more, acts);
    for (const hook of ferry.rowShown) hook(row);
  }
  // Rows come into view as they scroll, are filtered in or are laid out
  // once the page has loaded (page.rs, HOLD): then their buttons are made.
  const inView = window.IntersectionObserver ? new IntersectionObserver((seen) => {
    for (const entry of seen) {
      if (!entry.isIntersecting) continue;
      inView.unobserve(entry.target);
      activate(entry.target);
    }
  }, { rootMargin: '200px' }) : null;
  // The row whose menu is open (a narrow screen), if any.
  let menuRow = null;
  // Opens `row`'s menu, or closes it if open; null closes any.
  function menu(row) {
    const was = menuRow;
    const mark = (r, open) => {
      r.classList.toggle('menu', open);
      r.querySelector('button.more').setAttribute('aria-expanded', String(open));
    };
    if (was) mark(was, false);
    menuRow = row && row !== was ? row : null;
    if (menuRow) mark(menuRow, true);
  }
  // Saves `name`: a file as it is, a folder as its .zip.
  function save(name) {
    const link = document.createElement('a');
    link.href = urlOf(name) + (name.endsWith('/') ? '?zip' : '');
    link.download = '';
    link.click();
  }
  ferry.acts.zip = save;
  ferry.acts.download = save;
  ferry.acts.rename = (name) => rename(name);
  ferry.acts.delete = (name) => remove(name);
  ferry.acts.share = (name) => ferry.share(location.origin + urlOf(name), name.replace(/\/$/, '').split('/').pop());
  ferry.acts.more = (name, row) => menu(row);
  // Runs a row's button; the menu it was in closes first.
  function run(button) {
    const row = button.closest('tr');
    const act = ferry.acts[button.dataset.act];
    if (button.dataset.act !== 'more') menu(null);
    return act && row ? act(row.dataset.name, row) : undefined;
  }
  const rowOf = (e) => e.target.closest && e.target.closest('#listing tbody tr');
  table.addEventListener('pointerover', (e) => activate(rowOf(e)));
  table.addEventListener('focusin', (e) => activate(rowOf(e)));
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('#listing td.o button[data-act]');
    if (b) run(b);
    else if (menuRow && !menuRow.contains(e.target)) menu(null);
  });
  table.addEventListener('change', (e) => { if (e.target.classList.contains('pick')) ticked(); });

  // Folders first, then by the key; the rows are moved only if the
  // order changes (the server's is by name already).
  function ordered(list) {
    const { key, order } = sorting;
    const value = (row) => key === 'name' ? row.dataset.name : row[key];
    return list.slice().sort((a, b) => {
      const folders = Number(b.classList.contains('dir')) - Number(a.classList.contains('dir'));
      if (folders) return folders;
      const [x, y] = [value(a), value(b)];
      const c = key === 'name' ? NAMES.compare(x, y) : x - y;
      return c * order;
    });
  }
  function sort() {
    const { key, order } = sorting;
    const before = rows();
    const sorted = ordered(before);
    if (sorted.some((row, at) => row !== before[at])) tbody.append(...sorted);
    for (const th of document.querySelectorAll('th[data-key]')) {
      if (th.dataset.key === key) th.setAttribute('aria-sort', order > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }
  // Each heading's words become a button (the keyboard reaches it, a
  // screen reader reads the th's aria-sort with it); a click anywhere on
  // the heading sorts. The times are local from here: no "(UTC)".
  for (const utc of document.querySelectorAll('th .utc')) utc.remove();
  for (const th of document.querySelectorAll('th[data-key]')) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'sort';
    b.title = 'Sort by ' + th.textContent.trim().toLowerCase() + ' (again to reverse)';
    b.append(...th.childNodes);
    th.append(b);
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
    // No `Accept: text/html`: a refusal comes as one line of text to
    // explain, not as the page a person's navigation gets.
    const answer = await send('GET', location.pathname);
    if (answer.status !== 200) { say(explain('Refresh', answer)); return; }
    const page = new DOMParser().parseFromString(answer.text, 'text/html');
    const fresh = page.querySelector('#listing tbody');
    if (!fresh) return;
    tbody.replaceWith(document.adoptNode(fresh));
    tbody = fresh;
    const block = page.getElementById('entries');
    if (block) fill(block);
    decorate();
  }

  async function remove(name) {
    if (!confirm('Delete ' + name + '?')) return;
    const answer = await send('DELETE', urlOf(name));
    if (succeeded(answer)) say('Deleted ' + name, true);
    else say(explain('Delete ' + name, answer));
    await refresh();
  }

  async function rename(name) {
    const wanted = prompt('New name for ' + name + ' (a leading / starts from the top)', name.slice(prefix.length));
    if (!wanted) return;
    const target = wanted.startsWith('/') ? wanted.slice(1) : prefix + wanted;
    const answer = await send('MOVE', urlOf(name), { headers: { Destination: urlOf(target) } });
    if (succeeded(answer)) say('Renamed ' + name + ' to ' + target, true);
    else say(explain('Rename ' + name, answer));
    await refresh();
  }

  function succeeded(answer) { return answer.status >= 200 && answer.status < 300 && answer.status !== 207; }
  // What a folder's DELETE left (its 207 multistatus): `name: reason`
  // for each member that stayed.
  function leftovers(answer) {
    const xml = new DOMParser().parseFromString(answer.text, 'application/xml');
    return Array.from(xml.getElementsByTagNameNS('DAV:', 'response'), (r) => {
      const href = r.getElementsByTagNameNS('DAV:', 'href')[0];
      const why = r.getElementsByTagNameNS('DAV:', 'responsedescription')[0];
      return decodeURIComponent(href ? href.textContent : '?').slice(1) + ': ' + (why ? why.textContent : 'left');
    });
  }

  // New folder: WebDAV's MKCOL, which the HTTP listener serves.
  const newFolder = document.getElementById('new-folder');
  if (newFolder && rights.write) {
    newFolder.hidden = false;
    newFolder.addEventListener('click', async () => {
      const wanted = prompt('Name of the new folder in /' + prefix);
      if (!wanted) return;
      const name = prefix + wanted.replace(/^\/+|\/+$/g, '') + '/';
      const answer = await send('MKCOL', urlOf(name));
      if (succeeded(answer)) say('Made ' + name, true);
      else say(explain('New folder ' + name, answer));
      await refresh();
    });
  }

  // Multi-select: a box per row and one for all the rows shown; with
  // some ticked, Download (one by one: the server zips folders, not a
  // selection) and Delete (one request each, folders with all in them).
  const selectedBar = document.getElementById('selected');
  const deleteSelected = document.getElementById('delete-selected');
  const all = document.createElement('input');
  all.type = 'checkbox';
  all.setAttribute('aria-label', 'Select all');
  all.addEventListener('click', (e) => e.stopPropagation());
  all.addEventListener('change', () => {
    for (const row of rows()) if (!row.hidden) row.cells[0].firstElementChild.checked = all.checked;
    ticked();
  });
  document.querySelector('th[data-key=name]').prepend(all);
  deleteSelected.hidden = !rights.delete;
  function selection() {
    return Array.from(tbody.querySelectorAll('input.pick:checked'), (box) => box.closest('tr').dataset.name);
  }
  function ticked() {
    const names = selection();
    selectedBar.hidden = names.length === 0;
    document.getElementById('count').textContent = names.length + ' selected';
    const shown = rows().filter((row) => !row.hidden);
    all.checked = shown.length > 0 && shown.every((row) => row.cells[0].firstElementChild.checked);
  }
  deleteSelected.addEventListener('click', async () => {
    const names = selection();
    const folders = names.filter((n) => n.endsWith('/')).length;
    if (!confirm('Delete ' + names.length + (names.length === 1 ? ' item' : ' items') +
      (folders ? ' (folders with everything in them)' : '') + '?')) return;
    const failures = [];
    for (const name of names) {
      const answer = await send('DELETE', urlOf(name));
      if (answer.status === 207) failures.push(...leftovers(answer));
      else if (!succeeded(answer)) failures.push(explain(name, answer));
    }
    if (failures.length) say('Not deleted:\n' + failures.join('\n'));
    else say('Deleted ' + names.length + (names.length === 1 ? ' item' : ' items'), true);
    await refresh();
  });
  document.getElementById('download-selected').addEventListener('click', () => {
    for (const name of selection()) save(name);
  });

  // The filter: the rows whose name holds what is typed (any case); `/`
  // anywhere but in a text field goes to it.
  const filter = document.getElementById('filter');
  filter.hidden = false;
  let narrowed = false;
  function narrow() {
    const wanted = filter.value.trim().toLowerCase();
    // Nothing typed and nothing hidden: nothing to do (a page's load).
    if (wanted === '' && !narrowed) return;
    narrowed = wanted !== '';
    for (const row of rows()) {
      const own = row.dataset.name.slice(prefix.length).toLowerCase();
      row.hidden = wanted !== '' && !own.includes(wanted);
    }
  }
  // The one search field: typing narrows the rows at once (here), Enter
  // searches the folder's tree (search.js), and cleared, the rows are back.
  filter.addEventListener('input', () => { narrow(); ticked(); });
  // Keys, for the row that holds the focus (the selection: page.css,
  // tr:focus-within). The arrows move it through the rows shown, from the
  // field, from `../` or from a row (its box, link or a button), and Down
  // where nothing has the focus (a page just loaded, or a click beside
  // the rows) selects the first row, as file managers do; Enter
  // opens it (its link has the focus); Delete and F2 press the row's own
  // Delete and Rename (offered, and asking, as the buttons do). `/`
  // anywhere but in a text field goes to the field; Escape closes a
  // row's menu, else clears the field. `../` is no entry of the folder,
  // the filter never hides it, and Down from the field should land on the
  // first match (Tab and the breadcrumbs reach it).
  const KEYED = { Delete: 'delete', F2: 'rename' };
  document.addEventListener('keydown', (e) => {
    const focused = document.activeElement;
    const typing = focused.matches('textarea, select, input:not([type=checkbox])');
    const row = focused.closest('#listing tbody tr[data-name]');
    if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); filter.focus(); }
    if (e.key === 'Escape' && menuRow) { menuRow.querySelector('button.more').focus(); menu(null); return; }
    if (e.key === 'Escape' && focused === filter) { filter.value = ''; filter.dispatchEvent(new Event('input')); }
    if (KEYED[e.key] && row && !typing) { e.preventDefault(); press(row, KEYED[e.key]); }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const shown = rows().filter((r) => !r.hidden);
    const at = shown.indexOf(row);
    // Nothing focused: the body (a text field or a dialog would have
    // it); the page scrolls as before where no row is there to select.
    const nowhere = focused === body && e.key === 'ArrowDown' && shown.length > 0 && !table.hidden;
    if (at < 0 && focused !== filter && !focused.closest('tr.up') && !nowhere) return;
    e.preventDefault();
    const next = at < 0 ? 0 : at + (e.key === 'ArrowDown' ? 1 : -1);
    if (next < 0) filter.focus();
    else if (shown[next]) shown[next].querySelector('td.n a').focus();
  });
  // Presses `row`'s button whose act starts with `what` (a folder's is
  // `delete-folder`), if it has one; then the selection stays where it
  // was (the rows shown may have been built again).
  async function press(row, what) {
    const button = row.querySelector('button[data-act^="' + what + '"]');
    if (!button) return;
    const at = rows().filter((r) => !r.hidden).indexOf(row);
    await run(button);
    const shown = rows().filter((r) => !r.hidden);
    const to = shown[Math.min(at, shown.length - 1)];
    if (to) to.querySelector('td.n a').focus();
  }

  // Share: the ticked items' addresses, to the clipboard where the
  // browser allows (a secure origin), else shown to be copied by hand.
  document.getElementById('copy-links').addEventListener('click', async () => {
    const links = selection().map((name) => location.origin + urlOf(name)).join('\n');
    try {
      await navigator.clipboard.writeText(links);
      say('Copied: ' + links, true);
    } catch (_) {
      prompt('Copy the address', links);
    }
  });

  // tus, as much of it as the page needs. A file is created with a POST to
  // its folder's URL (filename and mtime in Upload-Metadata), then sent in
  // CHUNK-sized PATCHes. What can pass (no answer, 5xx but 501/505/507,
  // 408, 423, 429, a 409 for a busy or moved offset) is tried again after
  // a pause that doubles from half a second to eight, each time from the
  // offset a HEAD reports, until RETRY_FOR has passed without a byte
  // stored; any other refusal ends the file with the server's reason.
  const TUS = { 'Tus-Resumable': '1.0.0' };
  const CHUNK = 8 * 1024 * 1024;
  const RETRY_FOR = 5 * 60 * 1000;
  const PAUSES = [500, 8000];
  // localStorage keys of remembered uploads; entries older than KEEP
  // (well past the server's default --upload-ttl) are let go.
  const REMEMBERED = 'ferry-upload ';
  const KEEP = 7 * 24 * 3600 * 1000;

  function base64(text) {
    let binary = '';
    for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
    return btoa(binary);
  }
  function passes(status) {
    return status === 0 || status === 408 || status === 409 || status === 423 || status === 429 ||
      (status >= 500 && status !== 501 && status !== 505 && status !== 507);
  }
  // The Location remembered for a key, or null; localStorage may be
  // refused (privacy settings, a full quota): then nothing is remembered.
  function recall(key) {
    try {
      const entry = JSON.parse(localStorage.getItem(key) || 'null');
      return entry && typeof entry.location === 'string' ? entry.location : null;
    } catch (_) { return null; }
  }
  function remember(key, location) {
    try { localStorage.setItem(key, JSON.stringify({ location, at: Date.now() })); } catch (_) { /* not kept */ }
  }
  function forget(key) {
    try { localStorage.removeItem(key); } catch (_) { /* nothing kept */ }
  }
  function forgetOld() {
    try {
      for (let at = localStorage.length - 1; at >= 0; at--) {
        const key = localStorage.key(at);
        if (!key || !key.startsWith(REMEMBERED)) continue;
        const entry = JSON.parse(localStorage.getItem(key) || 'null');
        if (!entry || !(Date.now() - entry.at < KEEP)) localStorage.removeItem(key);
      }
    } catch (_) { /* nothing kept */ }
  }
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

  // Sends one file by tus; resolves with null once it is stored, or the
  // refusal ({status, text}) that ended it, or STOPPED once `item.stop`
  // is set (queue.js: pause or cancel; the PATCH in flight is cut off,
  // item.abort). A stopped upload stays on the server and remembered
  // (item.key), to go on from the server's offset when sent again, or to
  // be ended by terminate. `show(offset, loaded, state)` draws its
  // progress: `offset` bytes stored and `loaded` more on their way,
  // `state` for its state cell.
  async function sendFile(item, show) {
    const file = item.file;
    const target = prefix + item.path;
    const slash = target.lastIndexOf('/');
    const folder = slash < 0 ? '/' : urlOf(target.slice(0, slash)) + '/';
    const key = item.key = REMEMBERED + JSON.stringify([target, file.size, file.lastModified]);
    const metadata = 'filename ' + base64(target.slice(slash + 1)) +
      ',mtime ' + base64(String(Math.floor(file.lastModified / 1000)));
    let location = recall(key);
    let offset = 0;
    let pause = PAUSES[0];
    let giveUp = Date.now() + RETRY_FOR;
    // Whether to try again after `answer`, having waited; false: it ends.
    const again = async (answer) => {
      if (item.stop || !passes(answer.status) || Date.now() > giveUp) return false;
      show(offset, 0, 'retrying\u2026');
      await sleep(pause);
      pause = Math.min(pause * 2, PAUSES[1]);
      return true;
    };
    const moved = (to) => {
      if (to > offset) { pause = PAUSES[0]; giveUp = Date.now() + RETRY_FOR; }
      offset = to;
    };
    for (;;) {
      if (item.stop) return STOPPED;
      if (location) {
        // How far it got: the upload may be gone (expired, or finished
        // elsewhere), or kept more than the last answer said.
        const answer = await send('HEAD', location, { headers: TUS });
        const length = Number(answer.header('Upload-Length'));
        const at = Number(answer.header('Upload-Offset'));
        if (answer.status === 200 && length === file.size && Number.isSafeInteger(at) && at <= file.size) {
          moved(at);
          show(offset, 0, offset > 0 ? 'resuming' : 'sending');
        } else if (answer.status === 200 || answer.status === 403 || answer.status === 404 || answer.status === 410) {
          forget(key);
          location = null;
          offset = 0;
        } else if (await again(answer)) {
          continue;
        } else {
          return item.stop ? STOPPED : answer;
        }
      }
      if (!location) {
        show(0, 0, 'sending');
        const answer = await send('POST', folder, {
          headers: { ...TUS, 'Upload-Length': String(file.size), 'Upload-Metadata': metadata },
        });
        const created = answer.status === 201 && answer.header('Location');
        if (!created) {
          if (await again(answer)) continue;
          return item.stop ? STOPPED : answer;
        }
        location = created;
        offset = Number(answer.header('Upload-Offset')) || 0;
        if (offset >= file.size) { forget(key); return null; }
        // Remembered before anything else: a cancel now finds it to end.
        remember(key, location);
      }
      while (offset < file.size && !item.stop) {
        const end = Math.min(offset + CHUNK, file.size);
        const answer = await send('PATCH', location, {
          body: file.slice(offset, end),
          headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) },
          progress: (loaded) => show(offset, loaded, 'sending'),
          control: item,
        });
        const at = Number(answer.header('Upload-Offset'));
        if (answer.status === 204 && Number.isSafeInteger(at) && at > offset) {
          moved(at);
          show(offset, 0, 'sending');
          continue;
        }
        if (answer.status === 404 || answer.status === 410) {
          // Expired while away: begin again.
          forget(key);
          location = null;
          break;
        }
        if (await again(answer)) break;
        if (item.stop) return STOPPED;
        // Refused for good: forgotten. Out of time: kept, for another try.
        if (!passes(answer.status)) forget(key);
        return answer;
      }
      if (location && offset >= file.size) { forget(key); return null; }
    }
  }
  const STOPPED = { status: 0, text: 'stopped' };

  // Ends the upload the server holds for `item`, if one is remembered
  // (tus termination: its staged bytes are freed), then forgets it;
  // resolves with null, or the refusal that kept it. A request cut off
  // just before may still hold the upload for a moment: what can pass is
  // tried again, as in sendFile.
  async function terminate(item) {
    const location = item.key && recall(item.key);
    for (let pause = PAUSES[0], giveUp = Date.now() + RETRY_FOR; location; pause = Math.min(pause * 2, PAUSES[1])) {
      const answer = await send('DELETE', location, { headers: TUS });
      if (answer.status === 204 || answer.status === 404 || answer.status === 410) break;
      if (!passes(answer.status) || Date.now() > giveUp) return answer;
      await sleep(pause);
    }
    if (item.key) forget(item.key);
    return null;
  }

  function report(name, status, reason) { say(explain(name, { status, text: reason })); }

  body.dataset.state = 'idle';
  const entries = document.getElementById('entries');
  if (entries) fill(entries);
  decorate();
})();
