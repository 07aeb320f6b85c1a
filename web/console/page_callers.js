// Callers: search by name, phone number or user id; with no search, the
// most recent callers first. Each row: last call, number of calls and
// current memories, the name linking to the caller's page.
import { get, qs } from './api.js';
import { el, link, route, table } from './dom.js';
import { utc } from './format.js';

const LIMIT = 50;

const COLUMNS = [
  { label: 'Name' },
  { label: 'Phone numbers' },
  { label: 'User id', cls: 'mono' },
  { label: 'Last call', cls: 'date' },
  { label: 'Calls', cls: 'num' },
  { label: 'Current memories', cls: 'num' },
];

export async function render(view, r) {
  const q = (r.params.get('q') || '').trim();
  const input = el('input', {
    id: 'callers-q',
    type: 'search',
    name: 'q',
    value: q,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'Priya, +15125550147 or cust_000184',
  });
  const form = el('form', { role: 'search', class: 'search', 'aria-label': 'Callers' },
    el('label', { for: 'callers-q' }, 'Search callers'),
    el('div', { class: 'row' }, input, el('button', { type: 'submit' }, 'Search')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const target = route(['callers'], { q: input.value.trim() });
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = target;
  });

  const answer = await get(`/callers${qs({ q, limit: LIMIT })}`);
  const list = Array.isArray(answer.callers) ? answer.callers : [];
  const total = typeof answer.total === 'number' ? answer.total : list.length;

  view.append(el('h1', {}, 'Callers'), form);
  let summary;
  if (q && list.length === 0) summary = `No caller matches “${q}”.`;
  else if (q) summary = `${total} caller${total === 1 ? '' : 's'} match “${q}”.`;
  else summary = `${total} caller${total === 1 ? '' : 's'}, most recent call first.`;
  if (list.length < total) summary += ` Showing the first ${list.length}.`;
  view.append(el('p', { class: 'summary', role: 'status' }, summary));

  const rows = list.map((c) => ({
    dataset: { userId: String(c.user_id) },
    cells: [
      link(c.name || c.user_id, ['caller', c.user_id]),
      (c.phones || []).length ? (c.phones || []).join(', ') : '—',
      String(c.user_id),
      utc(c.last_call_at),
      String(c.calls ?? 0),
      String(c.current_memories ?? 0),
    ],
  }));
  view.append(table('Callers', COLUMNS, rows, { cards: true }));
}

export function afterMount(view, r) {
  // Keep the caret in the box after a search, so typing on continues.
  if (r.params.has('q')) {
    const input = view.querySelector('#callers-q');
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  } else {
    view.querySelector('h1').focus({ preventScroll: true });
  }
}
