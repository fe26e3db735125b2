// The search of this folder and everything below it (embedded after
// page.js by src/http/page.rs), through the page's one field (#filter):
// typing narrows the folder's rows (page.js); Enter asks the server
// (GET <folder>/?q=<term>: JSON, what the token may read, at most 1,000
// results) and shows the results instead of the rows, as links to each
// file and folder named by its path from this folder down. Changing the
// field goes back to the rows (narrowed as typed; all of them once it
// is cleared), and an answer to an older term is dropped. Without
// JavaScript there is no field: the search needs the script. Names reach
// the page only through textContent.
'use strict';
(() => {
  const ferry = window.ferry;
  const table = document.getElementById('listing');
  const input = document.getElementById('filter');
  if (!ferry || !table || !input) return;

  const found = document.createElement('section');
  found.id = 'results';
  found.hidden = true;
  found.setAttribute('aria-live', 'polite');
  const summary = document.createElement('p');
  const list = document.createElement('ul');
  found.append(summary, list);
  table.before(found);

  let asked = 0;

  function result(item) {
    const name = String(item.name);
    const li = document.createElement('li');
    li.className = item.folder ? 'dir' : 'file';
    const link = document.createElement('a');
    link.href = ferry.urlOf(name);
    link.textContent = name.slice(ferry.prefix.length);
    li.appendChild(link);
    if (!item.folder && Number.isFinite(item.size)) li.append(' ' + ferry.humanSize(item.size));
    return li;
  }

  // The rows again, and no answer still on its way shown.
  function back() {
    asked++;
    found.hidden = true;
    table.hidden = false;
    list.replaceChildren();
  }

  async function search(term) {
    const mine = ++asked;
    if (!term.trim()) { back(); return; }
    const answer = await ferry.send('GET', location.pathname + '?q=' + encodeURIComponent(term),
      { headers: { Accept: 'application/json' } });
    if (mine !== asked) return;
    found.hidden = false;
    table.hidden = true;
    let body = null;
    try { body = answer.status === 200 ? JSON.parse(answer.text) : null; } catch (_) { body = null; }
    if (!body || !Array.isArray(body.results)) {
      list.replaceChildren();
      summary.textContent = ferry.explain('Search', answer);
      return;
    }
    const n = body.results.length;
    summary.textContent = n === 0 ? 'Nothing here or below is named like that.'
      : (body.truncated ? 'The first ' + n + ' found (there may be more: say more of the name)'
        : n + ' found here and below') + ':';
    list.replaceChildren(...body.results.map(result));
  }

  input.addEventListener('input', back);
  input.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    search(input.value);
  });
})();
