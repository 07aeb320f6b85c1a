// One call: the transcript with speakers and times (the lines named in
// ?turns= highlighted and scrolled to), the memory tool calls made during it
// with what they returned and their latency, what the call taught, its
// extraction status and its dead letters (with a retry button each).
import { get, post, seg } from './api.js';
import { el, facts, link, section, table } from './dom.js';
import { clock, ms, utc } from './format.js';

export async function render(view, r, ctx) {
  const id = r.args[0] || '';
  const answer = await get(`/calls/${seg(id)}`);
  const c = answer.conversation || {};
  const wanted = new Set((r.params.get('turns') || '').split(',')
    .map((t) => Number.parseInt(t, 10)).filter(Number.isInteger));
  const who = c.user_name || c.user_id;

  view.append(
    el('p', { class: 'crumbs' }, link('Callers', ['callers']), ' / ',
      c.user_id ? link(who, ['caller', c.user_id]) : 'unknown caller', ' / call'),
    el('h1', { class: 'break' }, `Call ${c.conversation_id ?? id}`),
    facts([
      ['Caller', c.user_id ? link(who, ['caller', c.user_id]) : '—'],
      ['Agent', el('span', { class: 'mono' }, String(c.agent_id ?? '—'))],
      ['Started', utc(c.started_at)],
      ['Duration', typeof c.duration_secs === 'number' ? clock(c.duration_secs) : '—'],
      ['Status', String(c.status ?? '—')],
      ['Extraction', String((answer.learning || {}).extraction ?? '—')],
    ]),
    el('p', { class: 'actions' }, link('Audit trail of this call', ['audit'], { conversation: c.conversation_id ?? id })),
    transcriptSection(answer.turns, wanted),
    toolCallsSection(answer.tool_calls),
    learningSection(answer.learning),
    deadLettersSection(answer.dead_letters, ctx));
}

export function afterMount(view) {
  const first = view.querySelector('li.turn.highlight');
  if (first) {
    first.scrollIntoView({ block: 'center' });
    first.focus({ preventScroll: true });
  } else {
    view.querySelector('h1').focus({ preventScroll: true });
  }
}

function speaker(role) {
  if (role === 'user') return 'Caller';
  if (role === 'agent') return 'Agent';
  return String(role ?? '?');
}

function transcriptSection(turns, wanted) {
  const list = Array.isArray(turns) ? turns : [];
  const ol = el('ol', { class: 'transcript' }, list.map((t) => {
    const hit = wanted.has(t.index);
    const li = el('li', {
      class: `turn ${t.role === 'user' ? 'user' : 'agent'}${hit ? ' highlight' : ''}`,
      value: Number.isInteger(t.index) ? t.index : null,
      dataset: { turn: String(t.index) },
      tabindex: hit ? '-1' : null,
    },
    el('span', { class: 'who' }, speaker(t.role)),
    el('span', { class: 'when' }, clock(t.time_in_call_secs)),
    t.message ? el('span', { class: 'said' }, String(t.message))
      : el('span', { class: 'said note' }, '(no speech: a tool call or a pause)'),
    hit ? el('span', { class: 'visually-hidden' }, ' (a source of the memory you followed)') : null);
    return li;
  }));
  const note = wanted.size
    ? el('p', { class: 'summary' }, `Highlighted: line${wanted.size === 1 ? '' : 's'} ${[...wanted].sort((a, b) => a - b).join(', ')}, where the memory came from.`)
    : null;
  return section('Transcript', note, list.length ? ol : el('p', {}, 'No transcript stored (erased, or an audio-only call).'));
}

function toolCallsSection(calls) {
  const list = Array.isArray(calls) ? calls : [];
  const rows = list.map((t) => [
    utc(t.invoked_at),
    el('span', { class: 'content' }, String(t.query ?? '')),
    (t.returned || []).length
      ? el('ol', { class: 'plain numbered' }, t.returned.map((m) => el('li', {}, String(m.content ?? m.id))))
      : 'nothing',
    ms(t.latency_ms),
    t.is_error ? el('span', { class: 'badge dead' }, 'error') : 'ok',
  ]);
  return section('Memory tool calls', rows.length
    ? table('Memory tool calls during the call', [{ label: 'When' }, { label: 'Query' },
      { label: 'Returned', cls: 'wide' }, { label: 'Latency', cls: 'num' }, { label: 'Result' }], rows, { cards: true })
    : el('p', {}, 'The agent did not call the memory tool.'));
}

const RELATION = { created: 'Created', reinforced: 'Reinforced', superseded: 'Superseded' };

function learningSection(learning) {
  const l = learning || {};
  const list = Array.isArray(l.memories) ? l.memories : [];
  const rows = list.map((m) => {
    let now = m.current ? 'current' : 'superseded';
    if (!m.current && (m.replacement || m.superseded_by)) {
      const by = m.replacement && typeof m.replacement === 'object' ? m.replacement.content : m.replacement;
      now = `superseded by “${by ?? m.superseded_by}”`;
    }
    return {
      cls: `relation-${m.relation}`,
      cells: [
        el('span', { class: `badge rel-${m.relation}` }, RELATION[m.relation] || String(m.relation ?? '?')),
        el('span', { class: 'content' }, String(m.content ?? '')),
        String(m.sector ?? '—'),
        now,
      ],
    };
  });
  return section('What this call taught',
    el('p', { class: 'summary' }, `Extraction: ${l.extraction ?? 'unknown'}.`),
    rows.length
      ? table('Memories from this call', [{ label: 'What happened' }, { label: 'Memory', cls: 'wide' },
        { label: 'Sector' }, { label: 'Now' }], rows, { cards: true })
      : el('p', {}, 'Nothing learnt from this call.'));
}

function deadLettersSection(letters, ctx) {
  const list = Array.isArray(letters) ? letters : [];
  const items = list.map((d) => {
    const out = el('span', { class: 'note', role: 'status' });
    const retry = el('button', { type: 'button', 'aria-describedby': `dl-${d.seq}` }, 'Retry');
    retry.addEventListener('click', async () => {
      retry.disabled = true;
      try {
        const answer = await post('/dead-letters/retry', { seq: d.seq });
        out.textContent = `Queued again (${JSON.stringify(answer)}).`;
        ctx.notify(`Dead letter ${d.seq} queued again.`);
      } catch (e) {
        out.textContent = `Retry failed: ${e.message}`;
        retry.disabled = false;
      }
    });
    return el('li', { class: 'dead-letter' },
      el('span', { id: `dl-${d.seq}` }, `Dead letter ${d.seq}: ${d.attempts ?? '?'} attempts, last error: ${d.last_error ?? '—'}`),
      ' ', retry, ' ', out);
  });
  return section('Dead letters', items.length
    ? el('ul', { class: 'plain' }, items)
    : el('p', {}, 'None: nothing about this call is waiting for a retry.'));
}
