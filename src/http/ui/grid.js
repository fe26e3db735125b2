// The list/grid toggle (embedded after queue.js, src/http/ui.rs). The
// grid shows the rows as tiles, an image's with a thumbnail: the file
// itself, fetched lazily by the browser (loading="lazy": only the tiles
// near the window) and scaled by page.css. So the server makes and keeps
// no thumbnail files, and the policy's img-src 'self' (page.rs), which
// previews already need, allows them. The choice is remembered
// (localStorage) for every folder; without JavaScript there is no grid,
// only the plain table.
'use strict';
(() => {
  const ferry = window.ferry;
  const table = document.getElementById('listing');
  const KEY = 'ferry-view';
  const toggle = ferry.actionButton('Grid', 'grid', 'Show the rows as a grid of tiles, images as thumbnails');
  toggle.id = 'view';
  document.querySelector('main .bar').append(toggle);
  const grid = () => table.classList.contains('grid');

  // An image row's thumbnail, made when the row is first activated
  // (page.js, rowShown) in the grid, or when the grid is shown.
  function thumbnail(row) {
    if (row.thumb || !grid() || row.size < 0 || ferry.kindOf(row.dataset.name) !== 'image') return;
    const img = row.thumb = document.createElement('img');
    img.className = 'thumb';
    img.loading = 'lazy';
    img.decoding = 'async';
    img.alt = '';
    img.src = ferry.urlOf(row.dataset.name);
    row.cells[0].prepend(img);
  }
  ferry.rowShown.push(thumbnail);
  function show(on) {
    table.classList.toggle('grid', on);
    toggle.setAttribute('aria-pressed', String(on));
    if (on) for (const row of table.tBodies[0].rows) if (row.activated) thumbnail(row);
  }
  toggle.addEventListener('click', () => {
    show(!grid());
    try { localStorage.setItem(KEY, grid() ? 'grid' : 'list'); } catch (_) { /* not kept */ }
  });
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch (_) { /* none kept */ }
  show(saved === 'grid');
})();
