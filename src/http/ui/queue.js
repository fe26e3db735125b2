// The upload queue (embedded after page.js, src/http/ui.rs): what is
// uploaded, and when. Files come from the pickers, or are dropped on any
// part of the page: while files are dragged over it a full-page overlay
// says they can be dropped here, only where the token may write (a drop
// elsewhere is refused in words). Each file waits its turn in the panel
// (#uploads), one sent at a time, with its own bar and state and its
// buttons: Pause (its PATCH cut off; the upload stays on the server),
// Resume (sent again: sendFile asks the server how far it got and goes on
// from there), Cancel (the server's staged bytes freed: terminate).
// Sending is page.js' (ferry.sendFile, ferry.terminate): this file never
// speaks tus. Names reach the panel only through textContent.
'use strict';
(() => {
  const ferry = window.ferry;
  const { rights, explain } = ferry;
  const panel = document.getElementById('uploads');
  // The panel's files, in order: {file, path} as picked or dropped, with
  // their line's parts, a status (waiting, running, paused, done, failed,
  // cancelled), the bytes the server has (stored) and those on their way.
  let items = [];
  let overall = null;
  let draining = false;
  const open = (item) => item.status === 'waiting' || item.status === 'running' || item.status === 'paused';

  // Queues `files` and sends them in turn; a panel whose files have all
  // ended is cleared first.
  function enqueue(files) {
    if (files.length === 0) return;
    if (!items.some(open)) {
      items = [];
      overall = document.createElement('progress');
      overall.id = 'overall';
      panel.replaceChildren(overall);
    }
    for (const item of files) {
      item.stored = item.loaded = 0;
      panel.append(line(item));
      items.push(item);
      status(item, 'waiting');
    }
    drawOverall();
    drain();
  }
  // A file's line: its path, its bar, its state and its buttons.
  function line(item) {
    item.line = document.createElement('div');
    item.line.className = 'upload';
    item.line.item = item;
    const label = document.createElement('span');
    label.textContent = item.path;
    item.bar = document.createElement('progress');
    item.bar.max = item.file.size || 1;
    item.bar.value = 0;
    item.state = document.createElement('span');
    item.state.className = 'state';
    item.tools = document.createElement('span');
    item.tools.className = 'tools';
    item.line.append(label, item.bar, item.state, item.tools);
    return item.line;
  }
  // What each status offers.
  const OFFERS = { waiting: ['Pause', 'Cancel'], running: ['Pause', 'Cancel'], paused: ['Resume', 'Cancel'] };
  function status(item, to, words) {
    item.status = to;
    item.state.textContent = words || to;
    const buttons = (OFFERS[to] || []).map((verb) =>
      ferry.actionButton(verb + ' ' + item.path, verb.toLowerCase(), verb + ' the upload of ' + item.path));
    item.tools.replaceChildren(...buttons);
  }
  // The bar for all: what the server has of every file not cancelled.
  function drawOverall() {
    const counted = items.filter((item) => item.status !== 'cancelled');
    overall.max = counted.reduce((sum, item) => sum + item.file.size, 0) || 1;
    overall.value = counted.length && counted.every((item) => item.status === 'done') ? overall.max
      : counted.reduce((sum, item) => sum + item.stored + item.loaded, 0);
  }

  // Sends the waiting files one after another; then says what came of
  // them and lists the folder again.
  async function drain() {
    if (draining) return;
    draining = true;
    ferry.busy(1);
    ferry.forgetOld();
    for (let item; (item = items.find((i) => i.status === 'waiting'));) await send(item);
    draining = false;
    finish();
    await ferry.refresh();
    ferry.busy(-1);
  }
  async function send(item) {
    item.stop = undefined;
    status(item, 'running', 'sending');
    const refused = await ferry.sendFile(item, (offset, loaded, words) => {
      item.stored = offset;
      item.loaded = loaded;
      item.bar.value = offset + loaded;
      item.state.textContent = words;
      drawOverall();
    });
    item.loaded = 0;
    if (refused === null) {
      item.stored = item.file.size;
      item.bar.value = item.bar.max;
      status(item, 'done');
    } else if (item.stop === 'pause') {
      // What the server is known to have: the PATCH cut off may have
      // left more, which Resume's HEAD finds.
      item.bar.value = item.stored;
      status(item, 'paused');
    } else if (item.stop === 'cancel') {
      await end(item);
    } else {
      // Only what the server kept: a failed file's bar is not full.
      item.bar.value = item.stored;
      item.line.classList.add('failed');
      item.failure = explain(item.path, refused);
      status(item, 'failed');
    }
    drawOverall();
  }
  // A cancelled file: what the server holds of it is ended (nothing yet
  // for one that waited).
  async function end(item) {
    status(item, 'cancelled', 'cancelling\u2026');
    const kept = await ferry.terminate(item);
    item.stored = 0;
    item.bar.value = 0;
    if (kept) item.failure = explain('Cancel ' + item.path, kept);
    status(item, 'cancelled');
    drawOverall();
  }
  // What came of the panel's files, in words: `Uploaded 2 files`,
  // `Uploads: 1 paused, 1 cancelled`, or each failure's reason.
  function finish() {
    const failures = items.map((item) => item.failure).filter(Boolean);
    if (failures.length) { ferry.say(failures.join('\n')); return; }
    const count = (s) => items.filter((item) => item.status === s).length;
    const done = count('done');
    const parts = [count('paused') + ' paused', count('cancelled') + ' cancelled'].filter((p) => !p.startsWith('0 '));
    if (done) parts.unshift('Uploaded ' + done + (done === 1 ? ' file' : ' files'));
    else parts[0] = 'Uploads: ' + parts[0];
    ferry.say(parts.join(', '), true);
  }

  // The buttons of the panel's lines. Pause and Cancel of the file being
  // sent cut its request off; send() then sees why it stopped.
  const ACTS = {
    pause(item) {
      item.stop = 'pause';
      if (item.status === 'running') { if (item.abort) item.abort(); } else status(item, 'paused');
    },
    resume(item) {
      status(item, 'waiting');
      drain();
    },
    async cancel(item) {
      item.stop = 'cancel';
      if (item.status === 'running') { if (item.abort) item.abort(); return; }
      await end(item);
      if (!draining) finish();
    },
  };
  panel.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act]');
    const item = b && b.closest('.upload').item;
    if (item && open(item)) ACTS[b.dataset.act](item);
  });

  // The pickers are there only where the client may write; each hidden
  // input is opened by its button.
  function picker(button, input, pathOf) {
    if (!input) return;
    input.addEventListener('change', () => {
      const files = Array.from(input.files, (file) => ({ file, path: pathOf(file) }));
      input.value = '';
      enqueue(files);
    });
    const b = document.getElementById(button);
    b.hidden = false;
    b.addEventListener('click', () => input.click());
  }
  picker('upload-files', document.getElementById('pick-files'), (file) => file.name);
  picker('upload-folder', document.getElementById('pick-folder'), (file) => file.webkitRelativePath || file.name);

  // Files dragged over any part of the page. Only a drag that carries
  // files is an upload (not a link dragged within the page). The overlay
  // lets the pointer through (page.css), so the drag stays over the
  // elements below it, entering and leaving each: counted, to know when
  // it has left the window.
  const overlay = document.createElement('div');
  overlay.id = 'overlay';
  overlay.hidden = true;
  overlay.textContent = 'Drop files here to upload them to /' + ferry.prefix;
  document.body.append(overlay);
  let over = 0;
  const carriesFiles = (e) => Array.from(e.dataTransfer ? e.dataTransfer.types : []).includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!carriesFiles(e)) return;
    over++;
    overlay.hidden = !rights.write;
  });
  document.addEventListener('dragleave', (e) => {
    if (carriesFiles(e) && --over <= 0) { over = 0; overlay.hidden = true; }
  });
  // Taken, even where the token may not write: dropped on a page that
  // does not take it, the browser would leave the page for the file.
  document.addEventListener('dragover', (e) => { if (carriesFiles(e)) e.preventDefault(); });
  document.addEventListener('drop', async (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    over = 0;
    overlay.hidden = true;
    if (!rights.write) {
      ferry.report('Upload', 403, rights.readOnly ? 'the server is read-only' : 'no uploads here with this token');
      return;
    }
    // Dropped folders too, walked with webkitGetAsEntry (read before the
    // first await: the drop's items are gone after it).
    const entries = Array.from(e.dataTransfer.items || [], (item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
    const files = entries.length ? [] : Array.from(e.dataTransfer.files, (file) => ({ file, path: file.name }));
    for (const entry of entries) await walk(entry, '', files);
    enqueue(files);
  });
  async function walk(entry, path, files) {
    if (entry.isFile) {
      const file = await new Promise((ok, fail) => entry.file(ok, fail)).catch(() => null);
      if (file) files.push({ file, path: path + entry.name });
      return;
    }
    const reader = entry.createReader();
    for (;;) {
      // readEntries answers in batches: call it until it answers none.
      const batch = await new Promise((ok) => reader.readEntries(ok, () => ok([])));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, path + entry.name + '/', files);
    }
  }
})();
