// The console's only way to the server: same-origin fetches of
// /console/api/..., the session cookie sent by the browser (HttpOnly, so
// this code never sees it), and the CSRF token the session route hands out
// kept in memory only (never in storage or a URL) and sent on every POST and
// DELETE. A 401 from any data route means the session ended: the app shows
// the sign-in form.

const BASE = '/console/api';

let csrf = null;
let onSignedOut = () => {};
// The first session probe, which POST/DELETE wait for: the page's first GET
// goes out beside it rather than after it.
let probed = Promise.resolve();

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function whenSignedOut(fn) {
  onSignedOut = fn;
}

async function request(method, path, body) {
  if (method !== 'GET' && path !== '/session') await probed;
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, `the server did not answer (${e.message})`);
  }
  // The body is always read, even for a 204: Chromium reports a response
  // left unread as aborted.
  let data = null;
  try {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: response.status, ok: response.ok, data };
}

// GET/POST/DELETE a data route; resolves with the parsed JSON answer or
// throws ApiError (status 0 when the server is unreachable).
export async function api(method, path, body) {
  const r = await request(method, path, body);
  if (r.status === 401) {
    csrf = null;
    onSignedOut();
    throw new ApiError(401, 'sign in');
  }
  if (!r.ok) {
    const message = r.data && typeof r.data.error === 'string' ? r.data.error : `HTTP ${r.status}`;
    throw new ApiError(r.status, message);
  }
  return r.data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});

// Whether a session is open (the cookie is HttpOnly: only the server knows).
export function probeSession() {
  probed = probe();
  return probed;
}

async function probe() {
  const r = await request('GET', '/session');
  if (r.ok && r.data && typeof r.data.csrf === 'string') {
    csrf = r.data.csrf;
    return true;
  }
  csrf = null;
  return false;
}

// Signs in with the admin token; resolves true, or false on a wrong token.
export async function signIn(token) {
  const r = await request('POST', '/session', { token });
  if (r.ok && r.data && typeof r.data.csrf === 'string') {
    csrf = r.data.csrf;
    return true;
  }
  if (r.status === 401) return false;
  throw new ApiError(r.status, (r.data && r.data.error) || `HTTP ${r.status}`);
}

export async function signOut() {
  if (csrf) await request('DELETE', '/session');
  csrf = null;
}

// Query strings for API paths.
export function qs(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export const seg = (s) => encodeURIComponent(String(s));
