// The console's entry point: sign-in, the hash router and the "data loaded"
// marker. Pages are modules with `render(main, route)`; each resolves once
// its data is on screen, which is when the app sets
// <body data-loaded="PAGE"> and window.__engramLoadedAt (performance.now()),
// what the browser test waits for and tools/bench_console.sh measures.
import { probeSession, signIn, signOut, whenSignedOut, ApiError } from './api.js';
import { clear, el } from './dom.js';
import * as callers from './page_callers.js';
import * as caller from './page_caller.js';
import * as call from './page_call.js';
import * as audit from './page_audit.js';
import * as health from './page_health.js';

const PAGES = { callers, caller, call, audit, health };

const main = document.getElementById('main');
const top = document.getElementById('top');
const signin = document.getElementById('signin');
const signinForm = document.getElementById('signin-form');
const signinToken = document.getElementById('signin-token');
const signinError = document.getElementById('signin-error');
const notice = document.getElementById('notice');

let renderId = 0;
let cleanups = [];
let nextNotice = null;
let signedIn = false; // a session was open in this page at some point

// '#/call/conv_1?turns=3,4' -> {page: 'call', args: ['conv_1'], params}
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = path.split('/').filter((p) => p !== '').map(safeDecode);
  const page = parts.length && PAGES[parts[0]] ? parts[0] : 'callers';
  return { page, args: parts.slice(1), params };
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// Shows a short message in the status region (read out by screen readers).
export function notify(message, kind = 'info') {
  notice.textContent = message;
  notice.dataset.kind = kind;
}

// A message to show once the next navigation has happened (say, "Forgot X"
// while moving to the search page).
export function notifyAfterNavigation(message, kind = 'info') {
  nextNotice = { message, kind };
}

function showSignIn(message) {
  renderId += 1;
  runCleanups();
  top.hidden = true;
  clear(main);
  main.hidden = true;
  signin.hidden = false;
  signinError.textContent = message || '';
  delete document.body.dataset.loaded;
  document.title = 'Sign in · Engram console';
  signinToken.focus();
  markLoaded('signin');
}

function runCleanups() {
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // a page's cleanup failing must not stop the next page
    }
  }
  cleanups = [];
}

function markLoaded(page) {
  document.body.dataset.loaded = page;
  window.__engramLoadedAt = performance.now();
}

async function render() {
  const id = ++renderId;
  runCleanups();
  const r = parseHash(location.hash);
  delete document.body.dataset.loaded;
  signin.hidden = true;
  top.hidden = false;
  main.hidden = false;
  for (const a of top.querySelectorAll('nav a')) {
    if (a.dataset.page === r.page || (r.page === 'caller' && a.dataset.page === 'callers')) {
      a.setAttribute('aria-current', 'page');
    } else {
      a.removeAttribute('aria-current');
    }
  }
  const ctx = {
    // True while this render is still the latest (the hash has not moved on).
    current: () => id === renderId,
    onLeave: (fn) => cleanups.push(fn),
    notify,
    notifyAfterNavigation,
    rerender: () => render(),
  };
  const page = PAGES[r.page];
  const view = el('div', { class: `page page-${r.page}` });
  try {
    await page.render(view, r, ctx);
    if (!ctx.current()) return;
  } catch (e) {
    if (!ctx.current()) return;
    if (e instanceof ApiError && e.status === 401) return; // sign-in shown already
    clear(view).appendChild(el('h1', { tabindex: '-1' }, 'Could not load this page'));
    view.appendChild(el('p', { class: 'error', role: 'alert' }, e.message || String(e)));
  }
  clear(main).appendChild(view);
  const h1 = view.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    document.title = `${h1.textContent} · Engram console`;
  }
  if (page.afterMount) page.afterMount(view, r, ctx);
  else if (h1 && document.activeElement === document.body) h1.focus({ preventScroll: true });
  markLoaded(r.page);
}

signinForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  signinError.textContent = '';
  try {
    if (await signIn(signinToken.value)) {
      signedIn = true;
      signinToken.value = '';
      notify('');
      await render();
    } else {
      signinToken.select();
      signinError.textContent = 'That is not the admin token.';
    }
  } catch (e) {
    signinError.textContent = `Sign-in failed: ${e.message}`;
  }
});

document.getElementById('sign-out').addEventListener('click', async () => {
  try {
    await signOut();
  } finally {
    notify('Signed out.');
    showSignIn();
  }
});

whenSignedOut(() => showSignIn(signedIn ? 'Your session has ended: sign in again.' : ''));

window.addEventListener('hashchange', () => {
  if (nextNotice) notify(nextNotice.message, nextNotice.kind);
  else notify('');
  nextNotice = null;
  if (signin.hidden) render();
});

// The session probe and the first page's data requests go out together;
// without a session both answer 401 and the sign-in form shows.
async function start() {
  const page = render();
  if (await probeSession()) signedIn = true;
  else showSignIn();
  await page;
}

start();
