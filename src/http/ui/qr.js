// Share this page (embedded after page.js by src/http/page.rs): a "Share"
// button in the header opens a dialog with a QR code of the page's URL,
// drawn here with no network, and the URL as text to copy. Escape or the
// close button shuts it. The code holds location.href, percent-encoded
// as browsers give it, so any scanner opens it as is. The encoder (ISO/IEC 18004) is byte mode (the
// URL's UTF-8), error correction level M, versions 1 to 15 (up to 412
// bytes at M), the mask with the least penalty; ferry.qr(text, mask)
// gives the matrix (rows of 0/1) and ferry.share(text) opens the dialog
// for any text, both for tests (tests/browser/share.rs).
'use strict';
(() => {
  const MAX_VERSION = 15;
  // Level M, versions 1..15: error correction codewords per block, and blocks.
  const ECC = [10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24];
  const BLOCKS = [1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10];

  // GF(256) with the polynomial 0x11d, as the standard's Reed-Solomon code.
  function mul(x, y) {
    let z = 0;
    for (let i = 7; i >= 0; i--) {
      z = (z << 1) ^ ((z >>> 7) * 0x11d);
      z ^= ((y >>> i) & 1) * x;
    }
    return z;
  }
  function divisor(degree) {
    const poly = new Array(degree - 1).fill(0).concat([1]);
    let root = 1;
    for (let i = 0; i < degree; i++) {
      for (let j = 0; j < poly.length; j++) {
        poly[j] = mul(poly[j], root);
        if (j + 1 < poly.length) poly[j] ^= poly[j + 1];
      }
      root = mul(root, 2);
    }
    return poly;
  }
  function remainder(data, div) {
    const rest = div.map(() => 0);
    for (const b of data) {
      const factor = b ^ rest.shift();
      rest.push(0);
      div.forEach((c, i) => { rest[i] ^= mul(c, factor); });
    }
    return rest;
  }

  // Modules left for data and error correction once the patterns are drawn.
  function rawModules(ver) {
    let n = (16 * ver + 128) * ver + 64;
    if (ver >= 2) {
      const align = Math.floor(ver / 7) + 2;
      n -= (25 * align - 10) * align - 55;
      if (ver >= 7) n -= 36;
    }
    return n;
  }
  const dataCodewords = (ver) => Math.floor(rawModules(ver) / 8) - ECC[ver - 1] * BLOCKS[ver - 1];
  function alignments(ver, size) {
    if (ver === 1) return [];
    const count = Math.floor(ver / 7) + 2;
    const step = Math.ceil((ver * 4 + 4) / (count * 2 - 2)) * 2;
    const at = [6];
    for (let pos = size - 7; at.length < count; pos -= step) at.splice(1, 0, pos);
    return at;
  }

  // The codewords: mode, count, bytes, terminator and padding; then each
  // block's error correction, blocks interleaved.
  function codewords(bytes, ver) {
    const bits = [];
    const put = (value, len) => { for (let i = len - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
    put(4, 4);
    put(bytes.length, ver < 10 ? 8 : 16);
    bytes.forEach((b) => put(b, 8));
    const capacity = dataCodewords(ver) * 8;
    put(0, Math.min(4, capacity - bits.length));
    put(0, (8 - bits.length % 8) % 8);
    const data = [];
    for (let i = 0; i < bits.length; i += 8) data.push(parseInt(bits.slice(i, i + 8).join(''), 2));
    for (let pad = 0xec; data.length < capacity / 8; pad ^= 0xec ^ 0x11) data.push(pad);
    const count = BLOCKS[ver - 1], eccLen = ECC[ver - 1];
    const raw = Math.floor(rawModules(ver) / 8);
    const short = count - raw % count, shortLen = Math.floor(raw / count);
    const div = divisor(eccLen);
    const blocks = [];
    for (let i = 0, k = 0; i < count; i++) {
      const block = data.slice(k, k + shortLen - eccLen + (i < short ? 0 : 1));
      k += block.length;
      const ecc = remainder(block, div);
      if (i < short) block.push(0);
      blocks.push(block.concat(ecc));
    }
    const out = [];
    for (let i = 0; i < blocks[0].length; i++) {
      blocks.forEach((block, j) => { if (i !== shortLen - eccLen || j >= short) out.push(block[i]); });
    }
    return out;
  }

  // A BCH code's check bits appended to `value`, as format and version info.
  function bch(value, len, poly) {
    let rest = value;
    for (let i = 0; i < len; i++) rest = (rest << 1) ^ ((rest >>> (len - 1)) * poly);
    return (value << len) | rest;
  }

  const MASKS = [
    (x, y) => (x + y) % 2 === 0, (x, y) => y % 2 === 0, (x) => x % 3 === 0,
    (x, y) => (x + y) % 3 === 0, (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
    (x, y) => x * y % 2 + x * y % 3 === 0, (x, y) => (x * y % 2 + x * y % 3) % 2 === 0,
    (x, y) => ((x + y) % 2 + x * y % 3) % 2 === 0,
  ];

  function symbol(ver, words, mask) {
    const size = ver * 4 + 17;
    const dark = [...Array(size)].map(() => new Array(size).fill(false));
    const fixed = [...Array(size)].map(() => new Array(size).fill(false));
    const set = (x, y, on) => { dark[y][x] = on; fixed[y][x] = true; };
    for (let i = 0; i < size; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); }
    for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const d = Math.max(Math.abs(dx), Math.abs(dy)), x = cx + dx, y = cy + dy;
          if (x >= 0 && x < size && y >= 0 && y < size) set(x, y, d !== 2 && d !== 4);
        }
      }
    }
    const at = alignments(ver, size), last = at.length - 1;
    at.forEach((cx, i) => at.forEach((cy, j) => {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }));
    // Format information (level M is 00), twice; then the dark module.
    const format = bch(mask, 10, 0x537) ^ 0x5412;
    const bit = (v, i) => ((v >>> i) & 1) === 1;
    for (let i = 0; i < 6; i++) set(8, i, bit(format, i));
    set(8, 7, bit(format, 6)); set(8, 8, bit(format, 7)); set(7, 8, bit(format, 8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, bit(format, i));
    for (let i = 0; i < 8; i++) set(size - 1 - i, 8, bit(format, i));
    for (let i = 8; i < 15; i++) set(8, size - 15 + i, bit(format, i));
    set(8, size - 8, true);
    if (ver >= 7) {
      const info = bch(ver, 12, 0x1f25);
      for (let i = 0; i < 18; i++) {
        const a = size - 11 + i % 3, b = Math.floor(i / 3);
        set(a, b, bit(info, i)); set(b, a, bit(info, i));
      }
    }
    // Data in two-module columns, zig-zag from the bottom right, masked.
    let i = 0;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let v = 0; v < size; v++) {
        for (let j = 0; j < 2; j++) {
          const x = right - j, y = ((right + 1) & 2) === 0 ? size - 1 - v : v;
          if (fixed[y][x]) continue;
          const on = i < words.length * 8 && bit(words[i >>> 3], 7 - (i & 7));
          i++;
          dark[y][x] = on !== MASKS[mask](x, y);
        }
      }
    }
    return dark;
  }

  // The standard's penalty: runs of 5+, 2x2 blocks, finder-like runs, and
  // the share of dark modules away from half.
  function penalty(m) {
    const size = m.length;
    let score = 0, darkCount = 0;
    const lines = [];
    for (let y = 0; y < size; y++) { lines.push(m[y]); lines.push(m.map((row) => row[y])); }
    for (const line of lines) {
      let run = 1;
      for (let i = 1; i <= size; i++) {
        if (i < size && line[i] === line[i - 1]) { run++; continue; }
        if (run >= 5) score += run - 2;
        run = 1;
      }
      const text = line.map((d) => (d ? 1 : 0)).join('');
      score += 40 * [...text.matchAll(/(?=10111010000|00001011101)/g)].length;
    }
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (m[y][x]) darkCount++;
        if (x < size - 1 && y < size - 1 && m[y][x] === m[y][x + 1] && m[y][x] === m[y + 1][x] &&
            m[y][x] === m[y + 1][x + 1]) score += 3;
      }
    }
    return score + Math.floor(Math.abs(darkCount * 20 - size * size * 10) / (size * size)) * 10;
  }

  // The matrix of `text` (rows of 0/1), or null if it is too long.
  function qr(text, forced) {
    const bytes = [...new TextEncoder().encode(text)];
    let ver = 1;
    while (ver <= MAX_VERSION && 4 + (ver < 10 ? 8 : 16) + bytes.length * 8 > dataCodewords(ver) * 8) ver++;
    if (ver > MAX_VERSION) return null;
    const words = codewords(bytes, ver);
    let best = null, least = Infinity;
    for (let mask = 0; mask < 8; mask++) {
      if (forced !== undefined && mask !== forced) continue;
      const m = symbol(ver, words, mask);
      const p = forced === undefined ? penalty(m) : 0;
      if (p < least) { best = m; least = p; }
    }
    return best.map((row) => row.map((d) => (d ? 1 : 0)));
  }

  // The matrix as an SVG, dark on light with the standard's 4-module quiet zone.
  function svg(matrix) {
    const NS = 'http://www.w3.org/2000/svg', size = matrix.length + 8;
    const el = document.createElementNS(NS, 'svg');
    el.setAttribute('viewBox', '0 0 ' + size + ' ' + size);
    el.setAttribute('shape-rendering', 'crispEdges');
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', 'QR code of the address');
    const back = document.createElementNS(NS, 'rect');
    back.setAttribute('width', size); back.setAttribute('height', size); back.setAttribute('fill', '#fff');
    let d = '';
    matrix.forEach((row, y) => row.forEach((on, x) => { if (on) d += 'M' + (x + 4) + ' ' + (y + 4) + 'h1v1h-1z'; }));
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', d); path.setAttribute('fill', '#000');
    el.append(back, path);
    return el;
  }

  const dialog = document.createElement('dialog');
  dialog.id = 'share';
  // Opens the dialog for `url` (a modal <dialog>: Escape closes it too),
  // named after `what` it shares (a row's name), else this page.
  function share(url, what) {
    dialog.setAttribute('aria-label', what ? 'Share ' + what : 'Share this page');
    const matrix = qr(url);
    const shown = document.createElement('p');
    shown.textContent = url;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = 'Close';
    close.addEventListener('click', () => dialog.close());
    const code = matrix ? svg(matrix) : document.createTextNode('The address is too long for a QR code.');
    dialog.replaceChildren(code, shown, close);
    if (!dialog.open) dialog.showModal();
    close.focus();
  }
  window.ferry = Object.assign(window.ferry || {}, { qr, share });
  const header = document.querySelector('header');
  if (!header || !window.HTMLDialogElement) return;
  const open = document.createElement('button');
  open.type = 'button';
  open.id = 'share-open';
  open.textContent = 'Share';
  open.title = 'A QR code and the link of this page';
  open.addEventListener('click', () => share(location.href));
  (header.querySelector('.tools') || header).append(open);
  document.body.append(dialog);
})();
