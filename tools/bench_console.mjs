// The measuring half of tools/bench_console.sh: in headless Chromium
// (Debian's chromium through puppeteer-core), sign in to the console of a
// running engram (ENGRAM_ADMIN_TOKEN), then load each page --loads times as
// a fresh navigation and read window.__engramLoadedAt, the
// performance.now() the app records when the page's data is on screen
// (navigation start = 0, so it includes the HTML, the modules, the API
// fetches and the rendering). Prints one line per page: median, p95, max.
//   node tools/bench_console.mjs --url http://127.0.0.1:18540 [--loads 20]
//     [--big-user bench_user_0001] [--small-user scale_user_000001]
import fs from 'node:fs';
import puppeteer from 'puppeteer-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const url = args.url || 'http://127.0.0.1:18540';
const loads = Number(args.loads || 20);
const big = args['big-user'] || 'bench_user_0001';
const small = args['small-user'] || 'scale_user_000001';
const token = process.env.ENGRAM_ADMIN_TOKEN;
if (!token) throw new Error('ENGRAM_ADMIN_TOKEN is not set');
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  .find((p) => p && fs.existsSync(p));
if (!chromium) throw new Error('no chromium (tools/setup.sh installs it)');

async function api(path) {
  const r = await fetch(url + path, { headers: { Authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

const bigCaller = await api(`/console/api/callers/${encodeURIComponent(big)}?limit=1`);
const someCall = (bigCaller.conversations || []).at(-1);
const pages = [
  ['callers (1,000 callers, most recent)', '#/callers', 'callers'],
  ['callers search by name', '#/callers?q=a', 'callers'],
  [`caller ${small}`, `#/caller/${small}`, 'caller'],
  [`caller ${big} (${bigCaller.memories_total} memories)`, `#/caller/${big}`, 'caller'],
  ['call of the big caller', `#/call/${someCall ? someCall.conversation_id : 'none'}`, 'call'],
  [`audit of ${small}`, `#/audit?user=${small}`, 'audit'],
  ['health', '#/health', 'health'],
];

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: [...(process.getuid() === 0 ? ['--no-sandbox'] : []), '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(`${url}/console/`);
  await page.waitForFunction(() => document.body.dataset.loaded === 'signin');
  await page.type('#signin-token', token);
  await Promise.all([
    page.waitForFunction(() => document.body.dataset.loaded === 'callers'),
    page.click('#signin-form button[type="submit"]'),
  ]);
  const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  console.log(`${'page'.padEnd(52)} ${'median'.padStart(9)} ${'p95'.padStart(9)} ${'max'.padStart(9)}  (ms, ${loads} loads)`);
  for (const [label, hash, name] of pages) {
    const times = [];
    for (let i = 0; i < loads + 1; i += 1) {
      await page.goto('about:blank');
      await page.goto(`${url}/console/${hash}`);
      await page.waitForFunction((n) => document.body.dataset.loaded === n, { timeout: 30000 }, name);
      const t = await page.evaluate(() => window.__engramLoadedAt);
      if (i > 0) times.push(t); // the first load warms the server's caches
    }
    times.sort((a, b) => a - b);
    const f = (v) => v.toFixed(1).padStart(9);
    console.log(`${label.padEnd(52)} ${f(pct(times, 50))} ${f(pct(times, 95))} ${f(times.at(-1))}`);
  }
} finally {
  await browser.close();
}
