// Health: per-route p50/p95/p99 latencies and the projection lag over the
// last minutes as small charts, the alerts firing now, the node's state (as
// /healthz) and the sizes of the log and the read model.
import { get, qs } from './api.js';
import { el, facts, route, section } from './dom.js';
import { lineChart } from './charts.js';
import { bytes, text } from './format.js';

const WINDOWS = [5, 15, 30, 60];
let pending = [];

export async function render(view, r, ctx) {
  const asked = Number.parseInt(r.params.get('minutes') || '15', 10);
  const minutes = WINDOWS.includes(asked) ? asked : 15;
  const answer = await get(`/health${qs({ minutes })}`);

  const select = el('select', { id: 'health-window' },
    WINDOWS.map((m) => el('option', { value: m, selected: m === minutes }, `last ${m} minutes`)));
  select.addEventListener('change', () => { location.hash = route(['health'], { minutes: select.value }); });

  pending = [];
  const charts = [];
  const to = Date.now();
  const span = [to - minutes * 60 * 1000, to];
  const routes = answer.routes && typeof answer.routes === 'object' ? answer.routes : {};
  for (const name of Object.keys(routes).sort()) {
    const samples = Array.isArray(routes[name]) ? routes[name] : [];
    charts.push(lineChart(`Latency ${name}`, samples.map((s) => s.t), [
      { label: 'p50', values: samples.map((s) => s.p50) },
      { label: 'p95', values: samples.map((s) => s.p95) },
      { label: 'p99', values: samples.map((s) => s.p99) },
    ], { unit: ' ms', onLeave: ctx.onLeave, window: span }));
  }
  const lag = Array.isArray(answer.projection_lag) ? answer.projection_lag : [];
  const lagChart = lineChart('Projection lag', lag.map((s) => s.t),
    [{ label: 'events behind', values: lag.map((s) => s.events) }], { onLeave: ctx.onLeave, window: span });
  pending = [lagChart, ...charts];

  view.append(
    el('h1', {}, 'Health'),
    el('div', { class: 'row' }, el('label', { for: 'health-window', class: 'inline' }, 'Window'), select,
      el('span', { class: 'note' }, ` sampled every ${answer.interval_secs ?? 10} s`)),
    alertsSection(answer.alerts),
    section('Projection', lagChart.figure),
    section('Latency by route', charts.length
      ? el('div', { class: 'charts' }, charts.map((c) => c.figure))
      : el('p', {}, 'No request has been timed yet.')),
    sizesSection(answer.sizes),
    nodeSection(answer.node));
}

export function afterMount(view) {
  for (const c of pending) c.mount();
  pending = [];
  view.querySelector('h1').focus({ preventScroll: true });
}

function alertsSection(alerts) {
  const list = Array.isArray(alerts) ? alerts : [];
  return section('Alerts', list.length
    ? el('ul', { class: 'alerts' }, list.map((a) => el('li', { class: `alert sev-${a.severity}` },
      el('span', { class: 'badge dead' }, String(a.severity ?? 'alert')), ' ',
      el('strong', {}, String(a.name ?? '')), ': ', String(a.summary ?? ''))))
    : el('p', { class: 'ok' }, 'No alert is firing.'));
}

function sizesSection(sizes) {
  const s = sizes || {};
  return section('Sizes', facts([
    ['Event log', bytes(s.log_bytes)],
    ['Read model', bytes(s.read_model_bytes)],
  ]));
}

function nodeSection(node) {
  const n = node && typeof node === 'object' ? node : {};
  return section('This node', facts(Object.entries(n).map(([k, v]) => [k, text(v)])));
}
