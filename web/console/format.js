// How the console writes times, durations and sizes. Times are always UTC
// and ISO-like ("2026-03-02 14:05:09 UTC") so that what operators read on
// the page matches `engram audit`, the access log and the API.

export function utc(value) {
  if (value === null || value === undefined || value === '') return '—';
  const d = typeof value === 'number' ? new Date(value) : new Date(String(value));
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function utcDate(value) {
  if (value === null || value === undefined || value === '') return '—';
  const d = new Date(String(value));
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().slice(0, 10);
}

// Seconds into a call as m:ss.
export function clock(secs) {
  if (typeof secs !== 'number' || !Number.isFinite(secs)) return '—';
  const s = Math.max(0, Math.round(secs));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function ms(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  return value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`;
}

export function num(value, digits = 3) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
  return Number(value.toFixed(digits)).toString();
}

export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]} (${n.toLocaleString('en')} bytes)`;
}

// A turn list such as [3, 4, 5] as "lines 3–5", [7] as "line 7",
// [2, 9] as "lines 2, 9".
export function lines(turns) {
  const t = [...new Set((turns || []).filter(Number.isInteger))].sort((a, b) => a - b);
  if (t.length === 0) return 'call';
  if (t.length === 1) return `line ${t[0]}`;
  const contiguous = t[t.length - 1] - t[0] === t.length - 1;
  return contiguous ? `lines ${t[0]}–${t[t.length - 1]}` : `lines ${t.join(', ')}`;
}

// A JSON value as one line of text (dynamic variables may be any JSON).
export function text(value) {
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
