// One browser context (its own cookies) at one screen width, with what the
// console test needs: actions by accessible name, waiting for a page's
// data-loaded marker, screenshots, and every console error, page error and
// failed request noted as a problem.
import assert from 'node:assert/strict';
import path from 'node:path';

// While the test is signed out on purpose (the sign-in probe, a wrong
// token, after signing out) the API answers 401, and Chromium logs each
// such answer as a console error: those, and only those, are expected then.
export const ANY_401 = 'signed-out';

const aria = (name, role) =>
  `::-p-aria([name=${JSON.stringify(name)}]${role ? `[role=${JSON.stringify(role)}]` : ''})`;

export class Session {
  constructor(context, page, base, width, shots) {
    Object.assign(this, { context, page, base, width, shots });
    this.problems = [];
    this.expect401 = ANY_401;
    this.current = 'start';
  }

  static async open(browser, base, width, shots) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width, height: width > 600 ? 900 : 844 });
    page.setDefaultTimeout(20000);
    const s = new Session(context, page, base, width, shots);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'assert' || m.type() === 'warn') {
        s.note('console', `${m.type()}: ${m.text()}`, (m.location() || {}).url);
      }
    });
    page.on('pageerror', (e) => s.note('pageerror', String(e.message || e)));
    page.on('requestfailed', (r) =>
      s.note('requestfailed', `${r.method()} ${r.url()}: ${(r.failure() || {}).errorText}`, r.url()));
    if (process.env.CONSOLE_TEST_DEBUG) {
      page.on('request', (r) => console.log(`# ${width} request ${r.method()} ${r.url()}`));
    }
    page.on('response', (r) => {
      if (r.status() >= 400) s.note('http', `${r.status()} ${r.request().method()} ${r.url()}`, r.url(), r.status());
    });
    return s;
  }

  note(kind, text, url = '', status = 0) {
    if (process.env.CONSOLE_TEST_DEBUG) console.log(`# ${this.width} ${this.current} ${kind}: ${text}`);
    const api401 = String(url).includes('/console/api/') &&
      (status === 401 || /status of 401/.test(text));
    if (this.expect401 === ANY_401 && api401) return;
    this.problems.push({ kind, text, page: this.current, width: this.width });
  }

  assertClean() {
    assert.deepEqual(this.problems, [], 'browser console errors, page errors or failed requests');
  }

  // Runs `action` and waits until the app marks page `name` loaded.
  async act(name, action) {
    await this.page.evaluate(() => { delete document.body.dataset.loaded; });
    await action();
    await this.page.waitForFunction((n) => document.body.dataset.loaded === n, {}, name);
    this.current = name;
    assert.equal(await this.page.evaluate(() => window.__xss), undefined, `script ran on ${name}`);
    assert.deepEqual(this.problems, [], `problems on the way to ${name}`);
  }

  async goto(urlPath, name) {
    await this.act(name, () => this.page.goto(this.base + urlPath));
  }

  // Rows in the body of the table whose caption is `caption`.
  async rowsOf(caption) {
    return this.page.evaluate((c) => {
      const t = [...document.querySelectorAll('table')].find((x) => x.caption && x.caption.textContent === c);
      return t ? t.tBodies[0].rows.length : -1;
    }, caption);
  }

  async find(name, role) {
    const handle = await this.page.waitForSelector(aria(name, role), { timeout: 10000 });
    assert.ok(handle, `nothing named ${JSON.stringify(name)} (${role})`);
    return handle;
  }

  async click(name, role) {
    await (await this.find(name, role)).click();
  }

  async type(name, value, role) {
    const input = await this.find(name, role);
    await input.evaluate((el) => { el.value = ''; });
    await input.type(value);
  }

  async text(selector) {
    return this.page.$eval(selector, (n) => n.innerText.trim());
  }

  async sectionText(name) {
    const region = await this.find(name, 'region');
    return region.evaluate((n) => n.innerText);
  }

  async signIn(token) {
    await this.type('Admin token', token);
    await this.act('callers', () => this.click('Sign in', 'button'));
    await this.find('Sign out', 'button');
    for (const link of ['Callers', 'Health', 'Audit']) await this.find(link, 'link');
  }

  async search(q) {
    await this.type('Search callers', q, 'searchbox');
    await this.act('callers', () => this.click('Search', 'button'));
    assert.ok(await this.page.$(aria('Callers', 'table')), 'no table named Callers');
  }

  async assertNoHorizontalScroll() {
    const [scroll, client] = await this.page.evaluate(() =>
      [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(scroll <= client + 1, `the ${this.current} page scrolls sideways at ${this.width} px (${scroll} > ${client})`);
  }

  // `viewport`: only what is on screen (a modal dialog and its backdrop).
  async shot(name, { viewport = false } = {}) {
    if (viewport) {
      await this.page.screenshot({ path: path.join(this.shots, `${name}-${this.width}.png`) });
      return;
    }
    // The whole page, down to 2,400 px (a caller's timeline can run far
    // longer; the top shows what each page is).
    const height = await this.page.evaluate(() => document.documentElement.scrollHeight);
    await this.page.screenshot({
      path: path.join(this.shots, `${name}-${this.width}.png`),
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: this.width, height: Math.min(height, 2400) },
    });
  }

  async close() {
    await this.context.close();
  }
}
