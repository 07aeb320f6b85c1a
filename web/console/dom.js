// Element builders for the console. Every piece of text that came from the
// API (transcripts, memories, names) reaches the page through textContent or
// createTextNode here, never through innerHTML: a transcript that says
// "<script>" shows those characters and runs nothing.

// el("td", {class: "num", dataset: {label: "Calls"}}, "3", child, null)
// attrs: class, text, dataset, on (event listeners), hidden, and plain
// attributes (set with setAttribute). Children: strings, numbers, Nodes;
// null/undefined/false are skipped; arrays are flattened.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    } else if (key === 'href') node.setAttribute('href', safeHref(value));
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The console only links inside itself (hash routes): anything else, such as
// a javascript: URL assembled from data, becomes a dead link.
function safeHref(value) {
  const href = String(value);
  return href.startsWith('#/') ? href : '#/';
}

// Builds '#/caller/<id>' style routes with every path part percent-encoded.
export function route(parts, params = {}) {
  const path = parts.map((p) => encodeURIComponent(String(p))).join('/');
  const query = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `#/${path}${query ? `?${query}` : ''}`;
}

export function link(text, parts, params) {
  return el('a', { href: route(parts, params) }, text);
}

// A section with a heading that names it (aria-labelledby), as the
// contract's accessible names require ("Transcript", "Memories", ...).
let sectionIds = 0;
export function section(title, ...children) {
  const id = `sec-${++sectionIds}`;
  return el('section', { 'aria-labelledby': id }, el('h2', { id }, title), ...children);
}

// A table whose header cells also label each body cell (data-label), so the
// stylesheet can turn rows into cards on narrow screens.
// columns: [{label, cls}], rows: arrays of cell contents (or {cells, cls}).
export function table(caption, columns, rows, { cards = false } = {}) {
  const head = el('thead', {},
    el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.cls }, c.label))));
  const body = el('tbody');
  appendRows(body, columns, rows);
  const t = el('table', { class: cards ? 'cards' : null }, el('caption', {}, caption), head, body);
  return el('div', { class: cards ? 'table-cards' : 'table-scroll' }, t);
}

export function appendRows(tbody, columns, rows) {
  for (const row of rows) {
    const cells = Array.isArray(row) ? row : row.cells;
    const tr = el('tr', { class: Array.isArray(row) ? null : row.cls });
    if (!Array.isArray(row) && row.dataset) Object.assign(tr.dataset, row.dataset);
    cells.forEach((content, i) => {
      const c = columns[i] || {};
      // Several pieces go in one box: as a card, a cell is a two-column grid
      // (its label, then its content).
      const body = Array.isArray(content) ? el('div', {}, content) : content;
      tr.appendChild(el('td', { class: c.cls, dataset: { label: c.label || '' } }, body));
    });
    tbody.appendChild(tr);
  }
}

// A definition list from [term, description] pairs (descriptions may be nodes).
export function facts(pairs) {
  return el('dl', { class: 'facts' },
    pairs.filter(Boolean).map(([term, desc]) => [el('dt', {}, term), el('dd', {}, desc)]));
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}
