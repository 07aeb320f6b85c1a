// One caller: what the conversation-initiation webhook would tell the agent
// right now, the memory timeline, the calls, a console query of the memory
// tool, and forgetting the caller.
import { get, post, qs, seg } from './api.js';
import { el, facts, link, section, table } from './dom.js';
import { memoriesSection, PAGE } from './memories.js';
import { forgetButton } from './forget.js';
import { num, ms, text, utc } from './format.js';

export async function render(view, r, ctx) {
  const userId = r.args[0] || '';
  const answer = await get(`/callers/${seg(userId)}${qs({ limit: PAGE, offset: 0 })}`);
  const user = answer.user || {};
  const name = user.name || user.user_id || userId;

  view.append(
    el('p', { class: 'crumbs' }, link('Callers', ['callers']), ' / ', name),
    el('h1', {}, name),
    facts([
      ['User id', el('span', { class: 'mono' }, String(user.user_id ?? userId))],
      ['Phone numbers', (user.phones || []).length ? user.phones.join(', ') : '— (stored keyed only, or none)'],
      ['First seen', utc(user.created_at)],
      ['Last call', utc(user.last_call_at)],
      ['Calls', String(user.calls ?? 0)],
      ['Memories', `${user.current_memories ?? 0} current, ${user.superseded_memories ?? 0} superseded`],
    ]),
    el('p', { class: 'actions' },
      link('Audit trail', ['audit'], { user: user.user_id ?? userId }), ' ',
      forgetButton(user, userId, ctx)),
    initSection(answer.init),
    memoriesSection(user.user_id ?? userId, answer, section),
    callsSection(answer.conversations),
    querySection(user.user_id ?? userId));
}

function initSection(init) {
  const vars = (init && init.dynamic_variables) || {};
  const rows = Object.entries(vars).map(([k, v]) => [el('code', {}, k), el('span', { class: 'prewrap' }, text(v))]);
  return section('What the agent is told',
    el('p', { class: 'summary' },
      'Exactly the dynamic variables the conversation-initiation webhook would answer for this caller now.'),
    rows.length
      ? table('Dynamic variables', [{ label: 'Variable' }, { label: 'Value', cls: 'wide' }], rows, { cards: true })
      : el('p', {}, 'No dynamic variables.'));
}

function callsSection(conversations) {
  const list = Array.isArray(conversations) ? conversations : [];
  const rows = list.map((c) => [
    link(`Call ${c.conversation_id}`, ['call', c.conversation_id]),
    utc(c.started_at),
    String(c.turns ?? '—'),
    el('span', { class: `badge extraction-${c.extraction}` }, String(c.extraction ?? '—')),
  ]);
  return section('Calls', rows.length
    ? table('Calls of this caller',
      [{ label: 'Call' }, { label: 'Started' }, { label: 'Turns', cls: 'num' }, { label: 'Extraction' }], rows)
    : el('p', {}, 'No calls recorded.'));
}

function querySection(userId) {
  const input = el('input', { id: 'memory-query', type: 'text', required: true, autocomplete: 'off',
    placeholder: 'what CRM does the customer use' });
  const limit = el('select', { id: 'memory-query-limit' },
    [3, 5, 10, 20].map((n) => el('option', { value: n, selected: n === 5 }, String(n))));
  const out = el('div', { class: 'query-out' });
  const form = el('form', { class: 'search' },
    el('label', { for: 'memory-query' }, 'Memory query'),
    el('div', { class: 'row' }, input,
      el('label', { for: 'memory-query-limit', class: 'inline' }, 'Results'), limit,
      el('button', { type: 'submit' }, 'Run query')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    out.replaceChildren(el('p', { role: 'status' }, 'Running…'));
    try {
      const answer = await post(`/callers/${seg(userId)}/query`, { query: input.value, limit: Number(limit.value) });
      out.replaceChildren(queryResults(answer));
      out.querySelector('h2').focus();
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', role: 'alert' }, `The query failed: ${e.message}`));
    } finally {
      button.disabled = false;
    }
  });
  return section('Ask the memory',
    el('p', { class: 'summary' },
      'Runs the memory tool for this caller as the agent would. A console query is not logged, ' +
      'not counted as a tool call of the agent and does not reinforce what it finds.'),
    form, out);
}

function queryResults(answer) {
  const results = Array.isArray(answer.results) ? answer.results : [];
  const components = [...new Set(results.flatMap((r) => Object.keys(r.scores || {})))].sort();
  const rows = results.map((r, i) => [
    String(i + 1),
    el('span', { class: 'content' }, String(r.content ?? '')),
    String(r.sector ?? '—'),
    num(r.score),
    components.length
      ? el('span', { class: 'mono small' }, components.map((c) => `${c} ${num((r.scores || {})[c])}`).join(' · '))
      : '—',
  ]);
  const s = section('Query results (console query)',
    el('p', { class: 'summary' },
      `“${answer.query ?? ''}”: ${results.length} result${results.length === 1 ? '' : 's'} in ${ms(answer.latency_ms)}.`),
    rows.length
      ? table('Ranked memories', [{ label: 'Rank', cls: 'num' }, { label: 'Memory', cls: 'wide' },
        { label: 'Sector' }, { label: 'Score', cls: 'num' }, { label: 'Score parts' }], rows, { cards: true })
      : el('p', {}, 'Nothing relevant found.'),
    el('h3', {}, 'What the tool would answer'),
    el('pre', { class: 'answer' }, String(answer.answer ?? '')));
  s.classList.add('console-query');
  s.querySelector('h2').setAttribute('tabindex', '-1');
  return s;
}

