// Small time-series charts drawn with uPlot (served by engram as
// assets/uPlot.iife.min.js, from the pinned npm package, loaded before this
// module). Time axes in UTC like the rest of the console.
import { el } from './dom.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

// A <figure> titled `title` ("Latency /tools/memory-query") with one line
// per series: series = [{label, values}], times in unix ms. Registers a
// resize observer with `onLeave` so charts follow the page width.
// `window`: [from, to] in unix ms, the span the x axis shows (the health
// page's whole window, so one sample does not make a zero-width axis).
export function lineChart(title, times, series, { unit = '', onLeave, window: span } = {}) {
  const figure = el('figure', { class: 'chart', 'aria-label': title },
    el('figcaption', {}, title));
  const box = el('div', { class: 'plot' });
  figure.appendChild(box);
  const points = times.length;
  if (points === 0 || typeof window.uPlot !== 'function') {
    box.appendChild(el('p', { class: 'note' }, points === 0
      ? 'No samples yet: the server samples every 10 s.'
      : 'Charts unavailable (uPlot did not load).'));
    return { figure, mount: () => {} };
  }
  const last = series.map((s) => `${s.label} ${fmt(s.values[s.values.length - 1])}${unit}`).join(', ');
  figure.appendChild(el('p', { class: 'visually-hidden' }, `Latest: ${last}.`));
  const data = [times.map((t) => t / 1000), ...series.map((s) => s.values)];
  const opts = {
    width: 600,
    height: 160,
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: span ? { time: true, range: () => [span[0] / 1000, span[1] / 1000] } : { time: true } },
    axes: [{ values: (u, ticks) => ticks.map(hhmm) }, { values: (u, ticks) => ticks.map((v) => `${fmt(v)}${unit}`), size: 72 }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
  };
  // Mounted once the figure is in the document, so it can take its width.
  function mount() {
    const width = () => Math.max(240, Math.floor(box.clientWidth || 600));
    const plot = new window.uPlot({ ...opts, width: width() }, data, box);
    const observer = new ResizeObserver(() => {
      const w = width();
      if (w !== plot.width) plot.setSize({ width: w, height: opts.height });
    });
    observer.observe(box);
    if (onLeave) onLeave(() => { observer.disconnect(); plot.destroy(); });
  }
  return { figure, mount };
}

// Tick labels as UTC hours and minutes (seconds when ticks are closer).
function hhmm(t, i, ticks) {
  const iso = new Date(t * 1000).toISOString();
  const step = ticks && ticks.length > 1 ? ticks[1] - ticks[0] : 60;
  return step < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
}

function fmt(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Number(v.toFixed(2)));
}
