// The admin API as the console calls it: same origin, the session cookie
// (HttpOnly: the token never reaches this code after sign-in), JSON in and
// out. Errors carry the API's code, message and, for 422s, each field's.

export class APIError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

// onSignedOut is called on a 401: the session expired or was ended.
let onSignedOut = () => {};
export function setSignedOutHandler(fn) {
  onSignedOut = fn;
}

export async function api(method, path, body, { raw = false, signal } = {}) {
  const opts = { method, credentials: 'same-origin', headers: {}, signal };
  if (body instanceof Blob || body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, opts);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, 'network', 'The server cannot be reached: check the connection and try again.');
  }
  if (res.status === 401 && path !== '/session') {
    onSignedOut();
    throw new APIError(401, 'unauthorized', 'Your session has ended: sign in again.');
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new APIError(res.status, err.code || 'http_' + res.status, err.message || res.statusText || 'Request failed', fieldErrors(err));
  }
  return data;
}

// fieldErrors maps the API's validation details to form fields: the
// error's details (a list of {field, message}) when present, else the
// field its message names first.
function fieldErrors(err) {
  const out = {};
  const details = err.details || err.fields || [];
  if (Array.isArray(details)) {
    for (const d of details) if (d && d.field) out[d.field] = d.message;
  } else if (details && typeof details === 'object') {
    Object.assign(out, details);
  }
  if (err.field) out[err.field] = err.message;
  return out;
}

// list reads every page of a list route (the console's lists are small).
export async function listAll(path, { max = 1000 } = {}) {
  const items = [];
  let cursor = '';
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', path + sep + 'limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    items.push(...(page.items || []));
    cursor = page.next_cursor || '';
  } while (cursor && items.length < max);
  return items;
}
