// The memory timeline of one caller: current memories first, then the
// superseded ones, each with its sector, salience, validity, what replaced
// it (or what it replaced) and the calls and transcript lines it came from.
// Paged: a caller with 10,000 memories loads the first page only and a
// "Show more" button fetches the next 50 (the API's limit/offset).
import { get, qs, seg } from './api.js';
import { appendRows, el, link, table } from './dom.js';
import { lines, num, utc } from './format.js';

export const PAGE = 50;

const COLUMNS = [
  { label: 'Status' },
  { label: 'Memory', cls: 'wide' },
  { label: 'Sector' },
  { label: 'Salience', cls: 'num' },
  { label: 'Valid from', cls: 'date' },
  { label: 'Valid to', cls: 'date' },
  { label: 'Learnt from', cls: 'src' },
];

function statusCell(m) {
  return m.current
    ? el('span', { class: 'badge current' }, 'Current')
    : el('span', { class: 'badge superseded' }, 'Superseded');
}

function memoryCell(m) {
  const parts = [el('span', { class: 'content' }, String(m.content ?? ''))];
  if (!m.current && m.superseded_by) {
    parts.push(el('span', { class: 'note superseded-by' },
      `superseded by “${m.superseded_by.content ?? m.superseded_by.id}” on ${utc(m.valid_to)}`));
  } else if (!m.current) {
    parts.push(el('span', { class: 'note superseded-by' }, `no longer valid since ${utc(m.valid_to)}`));
  }
  for (const old of m.supersedes || []) {
    parts.push(el('span', { class: 'note supersedes' }, `replaces “${old.content ?? old.id}”`));
  }
  return parts;
}

function sourcesCell(m) {
  const sources = m.sources || [];
  if (sources.length === 0) return '—';
  return el('ul', { class: 'plain' }, sources.map((s) => {
    const turns = (s.turns || []).filter(Number.isInteger).sort((a, b) => a - b);
    const text = `call ${s.conversation_id} ${turns.length ? lines(turns) : ''}`.trim();
    const a = link(text, ['call', s.conversation_id], turns.length ? { turns: turns.join(',') } : {});
    return el('li', { title: s.started_at ? `call started ${utc(s.started_at)}` : null }, a);
  }));
}

function row(m) {
  return {
    cls: m.current ? 'memory current' : 'memory superseded',
    dataset: { memoryId: String(m.id) },
    cells: [
      statusCell(m),
      memoryCell(m),
      String(m.sector ?? '—'),
      num(m.salience),
      utc(m.valid_from),
      m.valid_to ? utc(m.valid_to) : 'now',
      sourcesCell(m),
    ],
  };
}

// The "Memories" section for `answer` (the caller route's first page).
export function memoriesSection(userId, answer, sectionFn) {
  const memories = Array.isArray(answer.memories) ? answer.memories : [];
  const total = typeof answer.memories_total === 'number' ? answer.memories_total : memories.length;
  const user = answer.user || {};
  let loaded = memories.length;

  const summary = el('p', { class: 'summary' });
  const tableBox = table('Memory timeline', COLUMNS, memories.map(row), { cards: true });
  const tbody = tableBox.querySelector('tbody');
  const more = el('button', { type: 'button', class: 'more' }, 'Show more');
  const status = el('p', { class: 'note', role: 'status' });

  function update() {
    const current = user.current_memories ?? memories.filter((m) => m.current).length;
    const superseded = user.superseded_memories ?? 0;
    summary.textContent =
      `${current} current, ${superseded} superseded. Showing ${loaded} of ${total}: current first ` +
      '(newest first), then superseded (most recently replaced first).';
    more.hidden = loaded >= total;
  }

  more.addEventListener('click', async () => {
    more.disabled = true;
    status.textContent = 'Loading…';
    try {
      const next = await get(`/callers/${seg(userId)}${qs({ limit: PAGE, offset: loaded })}`);
      const page = Array.isArray(next.memories) ? next.memories : [];
      appendRows(tbody, COLUMNS, page.map(row));
      loaded += page.length;
      if (page.length === 0) loaded = total; // the list shrank meanwhile
      status.textContent = `Loaded ${page.length} more.`;
    } catch (e) {
      status.textContent = `Could not load more: ${e.message}`;
    } finally {
      more.disabled = false;
      update();
    }
  });

  update();
  const body = memories.length === 0 ? el('p', {}, 'Engram knows nothing about this caller yet.') : tableBox;
  return sectionFn('Memories', summary, body, more, status);
}
