// The search of this folder and everything below it (embedded after
// page.js by src/http/page.rs): a search box above the listing; as one
// types (a quarter of a second after the last key, or at once on Enter)
// the page asks the server (GET <folder>/?q=<term>: JSON, what the token
// may read, at most 1,000 results) and shows the results as links to each
// file and folder, named from this folder down. An answer to an older
// term is dropped. Without JavaScript there is no box: the search needs
// the script. Names reach the page only through textContent.
'use strict';
(() => {
  const ferry = window.ferry;
  const table = document.getElementById('listing');
  if (!ferry || !table) return;
  const WAIT = 250;

  const form = document.createElement('form');
  form.id = 'search';
  form.setAttribute('role', 'search');
  const label = document.createElement('label');
  label.textContent = 'Search in this folder and below ';
  const input = document.createElement('input');
  input.type = 'search';
  input.id = 'search-term';
  input.autocomplete = 'off';
  label.appendChild(input);
  form.appendChild(label);
  const found = document.createElement('section');
  found.id = 'results';
  found.hidden = true;
  found.setAttribute('aria-live', 'polite');
  const summary = document.createElement('p');
  const list = document.createElement('ul');
  found.append(summary, list);
  table.before(form, found);

  let asked = 0;
  let timer = null;

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

  async function search(term) {
    const mine = ++asked;
    if (!term.trim()) { found.hidden = true; list.replaceChildren(); return; }
    const answer = await ferry.send('GET', location.pathname + '?q=' + encodeURIComponent(term),
      { headers: { Accept: 'application/json' } });
    if (mine !== asked) return;
    found.hidden = false;
    let body = null;
    try { body = answer.status === 200 ? JSON.parse(answer.text) : null; } catch (_) { body = null; }
    if (!body || !Array.isArray(body.results)) {
      list.replaceChildren();
      summary.textContent = ferry.explain('Search', answer.status, answer.text);
      return;
    }
    const n = body.results.length;
    summary.textContent = n === 0 ? 'Nothing here or below is named like that.'
      : (body.truncated ? 'The first ' + n + ' found (there may be more: say more of the name)'
        : n + ' found') + ':';
    list.replaceChildren(...body.results.map(result));
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(input.value), WAIT);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    search(input.value);
  });
})();
