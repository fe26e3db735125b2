// Folders from the page (embedded after page.js by src/http/page.rs):
// Rename (a new name, or a path from the top to move it elsewhere) and
// Delete (the folder and everything in it, after a confirmation) on each
// folder's row. A rename is one MOVE of the folder (Overwrite: F, so
// nothing there is replaced); a delete is one DELETE of it. Both ask for
// JSON: what the server could not remove (a file the token may not
// delete, a file in use) comes back as {"failed":[{name,status,reason}]}
// with a 207, and is shown name by name. Uses page.js's window.ferry;
// shows a button only where the rights (page.js', and the row's own)
// allow it; page.js makes the buttons when the row is activated and runs
// them (ferry.acts).
'use strict';
(() => {
  const ferry = window.ferry;
  if (!ferry) return;
  const JSON_ONLY = { Accept: 'application/json' };
  // What the page knows the token may do here; all, until it knows.
  const may = (what) => !ferry.rights || ferry.rights[what] !== false;

  // The folder's name without its trailing /, for people.
  const shown = (name) => name.replace(/\/$/, '');

  // What a 207 said stayed, as lines: `a/b.txt: not permitted (...)`.
  function remained(what, answer) {
    let report;
    try { report = JSON.parse(answer.text); } catch (_) { report = null; }
    const failed = (report && Array.isArray(report.failed)) ? report.failed : [];
    const lines = failed.map((f) => ferry.explain(String(f.name), { status: Number(f.status), text: String(f.reason || '') }));
    const more = report && report.more > 0 ? ['and ' + report.more + ' more'] : [];
    return [what + ', but some of it stayed:'].concat(lines, more).join('\n');
  }

  async function removeFolder(name) {
    if (!confirm('Delete the folder ' + shown(name) + ' and everything in it?')) return;
    const answer = await ferry.send('DELETE', ferry.urlOf(name), { headers: JSON_ONLY });
    if (answer.status === 207) ferry.say(remained('Deleted ' + shown(name), answer));
    else if (answer.status >= 200 && answer.status < 300) ferry.say('Deleted ' + shown(name), true);
    else ferry.say(ferry.explain('Delete ' + shown(name), answer));
    await ferry.refresh();
  }

  async function renameFolder(name) {
    const here = shown(name).slice(ferry.prefix.length);
    const wanted = prompt('New name for the folder ' + shown(name) +
      ' (a path starting with / moves it there from the top)', here);
    if (!wanted || !wanted.replace(/\//g, '')) return;
    const path = wanted.startsWith('/') ? wanted.slice(1) : ferry.prefix + wanted;
    const target = path.replace(/\/+$/, '');
    const answer = await ferry.send('MOVE', ferry.urlOf(name), {
      headers: { ...JSON_ONLY, Destination: ferry.urlOf(target) + '/', Overwrite: 'F' },
    });
    const what = 'Rename ' + shown(name);
    if (answer.status === 207) ferry.say(remained(what, answer));
    else if (answer.status >= 200 && answer.status < 300) ferry.say('Renamed ' + shown(name) + ' to ' + target, true);
    // Named, for a name taken (412: `the destination exists`).
    else ferry.say(ferry.explain(what + ' to ' + target, answer));
    await ferry.refresh();
  }

  // A folder's row, when page.js activates it: Rename where the client
  // may write here and delete the folder, Delete where it may delete the
  // folder itself (its row's rights: the server's folder_rights, by the
  // grant on the folder's name, as a folder's DELETE is judged).
  function buttons(row, cell, rights) {
    const name = row.dataset.name;
    if (may('write') && rights.delete) {
      cell.append(ferry.actionButton('Rename', 'rename-folder', 'Rename or move ' + shown(name)));
    }
    if (rights.delete) {
      cell.append(ferry.actionButton('Delete', 'delete-folder', 'Delete ' + shown(name) + ' and everything in it'));
    }
  }

  ferry.acts['rename-folder'] = renameFolder;
  ferry.acts['delete-folder'] = removeFolder;
  ferry.folderRow.push(buttons);
})();
