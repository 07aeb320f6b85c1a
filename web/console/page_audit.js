// Audit: a caller's or a call's trail as `engram audit` prints it (every log
// entry about them, in order, with how it was verified and what the
// projections derived from it), and whether the log's hash chain verifies.
import { get, qs } from './api.js';
import { el, facts, link, route, section, table } from './dom.js';
import { utc } from './format.js';

export async function render(view, r) {
  const user = (r.params.get('user') || '').trim();
  const conversation = (r.params.get('conversation') || '').trim();
  view.append(el('h1', {}, user ? `Audit of ${user}` : conversation ? `Audit of call ${conversation}` : 'Audit'));
  view.append(subjectForm(user, conversation));
  if (!user && !conversation) {
    view.append(el('p', { class: 'summary' },
      'Name a caller (user id or phone number) or a call to read every log entry about them.'));
    return;
  }
  const answer = await get(`/audit${qs(user ? { user } : { conversation })}`);
  view.append(verification(answer.verification), trail(answer.trail || {}));
}

function subjectForm(user, conversation) {
  const who = el('input', { id: 'audit-user', type: 'text', value: user, autocomplete: 'off', spellcheck: 'false' });
  const call = el('input', { id: 'audit-conversation', type: 'text', value: conversation, autocomplete: 'off', spellcheck: 'false' });
  const form = el('form', { class: 'search grid2', 'aria-label': 'Audit subject' },
    el('div', {}, el('label', { for: 'audit-user' }, 'Caller (user id or phone number)'), who),
    el('div', {}, el('label', { for: 'audit-conversation' }, 'or call (conversation id)'), call),
    el('div', { class: 'row' }, el('button', { type: 'submit' }, 'Show audit trail')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = who.value.trim() ? { user: who.value.trim() } : { conversation: call.value.trim() };
    location.hash = route(['audit'], params);
  });
  return form;
}

function verification(v) {
  const ok = v && v.ok === true;
  const text = ok ? 'Log chain verified' : 'Log chain NOT verified';
  const detail = v ? [typeof v.entries === 'number' ? `${v.entries} entries` : null, v.detail || null]
    .filter(Boolean).join(': ') : 'no answer';
  return el('p', { class: `chain ${ok ? 'ok' : 'bad'}`, role: 'status' },
    el('strong', {}, text), detail ? ` (${detail})` : '');
}

function trail(t) {
  const entries = Array.isArray(t.entries) ? t.entries : [];
  const conversations = Array.isArray(t.conversations) ? t.conversations : [];
  const rows = entries.map((e) => [
    String(e.seq ?? ''),
    utc(e.time),
    el('span', { class: 'mono' }, String(e.type ?? '')),
    String(e.route ?? '—'),
    String(e.verification ?? '—'),
    [el('span', { class: 'content' }, String(e.detail ?? '')),
      (e.derived || []).length ? el('ul', { class: 'derived' }, e.derived.map((d) => el('li', {}, String(d)))) : null],
  ]);
  return section('Trail',
    facts([
      ['Subject', String(t.subject ?? '—')],
      ['Caller', t.user_id ? link(t.user_id, ['caller', t.user_id]) : '—'],
      ['Calls', conversations.length
        ? conversations.map((c, i) => [i ? ', ' : '', link(c, ['call', c])])
        : '—'],
    ]),
    el('p', { class: 'summary' }, `${entries.length} log entr${entries.length === 1 ? 'y' : 'ies'}, oldest first; times UTC.`),
    table('Audit trail', [{ label: 'Seq', cls: 'num' }, { label: 'Time', cls: 'date' }, { label: 'Event' },
      { label: 'Route' }, { label: 'Verified' }, { label: 'Detail and what it derived', cls: 'wide' }], rows, { cards: true }));
}
