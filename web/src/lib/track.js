// Tracking beacons for analytics: POST {endpoint} (POST /live/{id}/track)
// with the server's batch, one viewer per batch:
//   {"viewer_id", "session_id", "referrer", "page_url", "utm_source", "sent_at",
//    "events": [{"id", "type", "at", ...the type's fields}]}
// Types and fields are the server's (analytics.TrackEvent): page.view,
// session.start/heartbeat/end, widget.view/click {widget}, catalog.open,
// product.click {product_id}, cart.add {product_id, quantity},
// cart.create {amount, currency}, purchase {amount, currency, product_ids,
// order_id}, alert.subscribe {channel, phone, opt_in}, survey.view, like...
// The server refuses a whole batch for one bad field, so an event is
// checked here first: fields of another type are dropped, an event whose
// required field is missing or malformed is not sent.
// Batched every few seconds and flushed with sendBeacon (or a keepalive
// fetch) when the page goes away. A server without the endpoint (404) is
// not asked again; failures never reach the page.
import { uuid } from './dom.js';

export function trafficSource(params = new URLSearchParams(location.search), referrer = document.referrer) {
  return { referrer: referrer || '', utm_source: params.get('utm_source') || '' };
}

const idRe = /^[A-Za-z0-9_-]{1,64}$/;
const amountRe = /^\d{1,10}(\.\d{1,4})?$/;
const currencyRe = /^[A-Z]{3}$/;
const phoneRe = /^\+[1-9]\d{6,14}$/;
const widgets = ['product', 'player', 'gallery'];
const channels = ['sms', 'calendar'];

// fields returns the server fields of an event of type from data, or null
// when the event cannot be sent.
export function fields(type, d = {}) {
  const money = () => {
    const amount = String(d.amount ?? '');
    return amountRe.test(amount) && currencyRe.test(d.currency || '') ? { amount, currency: d.currency } : null;
  };
  switch (type) {
    case 'page.view':
    case 'session.start':
    case 'session.heartbeat':
    case 'session.end':
    case 'catalog.open':
    case 'survey.view':
    case 'like':
      return {};
    case 'widget.view':
    case 'widget.click':
      return widgets.includes(d.widget) ? { widget: d.widget } : null;
    case 'product.click':
      return idRe.test(d.product_id || '') ? { product_id: d.product_id } : null;
    case 'cart.add': {
      if (!idRe.test(d.product_id || '')) return null;
      const q = Number(d.quantity) || 1;
      return { product_id: d.product_id, quantity: Math.min(Math.max(Math.trunc(q), 1), 100000) };
    }
    case 'cart.create':
      return money();
    case 'purchase': {
      const m = money();
      if (!m) return null;
      const ids = (Array.isArray(d.product_ids) ? d.product_ids : []).filter((x) => typeof x === 'string' && idRe.test(x)).slice(0, 50);
      if (ids.length) m.product_ids = ids;
      if (d.order_id) m.order_id = String(d.order_id).slice(0, 64);
      return m;
    }
    case 'share':
      return { network: String(d.network || 'link').slice(0, 32) };
    case 'alert.open':
      return channels.includes(d.channel) ? { channel: d.channel } : {};
    case 'alert.subscribe': {
      if (!channels.includes(d.channel)) return null;
      const f = { channel: d.channel };
      if (phoneRe.test(d.phone || '')) f.phone = d.phone;
      if (d.opt_in) f.opt_in = true;
      return f;
    }
    case 'teaser.watch': {
      const ms = Math.round(Number(d.duration_ms) || 0);
      return ms > 0 ? { duration_ms: Math.min(ms, 86400000) } : null;
    }
    default:
      return null; // not a type the server takes
  }
}

const clip = (s, n) => String(s || '').slice(0, n);

// tracker batches events. viewerId() is read when a batch is made: the
// page learns its server id a moment after it loads, and the events
// queued before then belong to it too; session: true gives the batches a session
// id, new per page load and after 5 minutes without an event (the player
// page); widgets on the seller's site send none.
export function tracker({ endpoint, viewerId, source, session = false, every = 4000, log }) {
  let queue = [];
  let off = false;
  const sameOrigin = new URL(endpoint, location.href).origin === location.origin;
  let sessionId = session ? uuid() : '';
  let lastAt = Date.now();

  function track(type, data = {}) {
    const f = fields(type, data);
    const vid = viewerId() || '';
    const now = Date.now();
    if (session && now - lastAt > 5 * 60 * 1000) sessionId = uuid();
    lastAt = now;
    const ev = { id: uuid(), type, at: new Date(now).toISOString(), ...(f || {}) };
    log?.({ ...ev, viewer_id: vid, sent: !!f });
    if (off || !f || !idRe.test(vid)) return;
    queue.push({ vid, sid: sessionId, ev });
    if (queue.length >= 50) flush();
  }

  function batches() {
    // One viewer and one session per batch, at most 100 events.
    const groups = new Map();
    let vid = viewerId() || '';
    if (!idRe.test(vid)) vid = queue[0]?.vid || '';
    for (const q of queue) {
      const k = q.sid;
      if (!groups.has(k)) groups.set(k, { vid, sid: q.sid, events: [] });
      groups.get(k).events.push(q.ev);
    }
    queue = [];
    const out = [];
    for (const g of groups.values()) {
      for (let i = 0; i < g.events.length; i += 100) {
        const b = {
          viewer_id: g.vid,
          referrer: clip(source?.referrer, 2048),
          page_url: clip(location.href, 2048),
          utm_source: clip(source?.utm_source, 64),
          sent_at: new Date().toISOString(),
          events: g.events.slice(i, i + 100),
        };
        if (g.sid) b.session_id = g.sid;
        out.push(JSON.stringify(b));
      }
    }
    return out;
  }

  function send(body, leaving) {
    if (leaving && sameOrigin && navigator.sendBeacon) {
      try {
        if (navigator.sendBeacon(endpoint, new Blob([body], { type: 'application/json' }))) return;
      } catch {}
    }
    fetch(endpoint, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json' },
      keepalive: body.length < 60000,
      credentials: 'omit',
      mode: sameOrigin ? 'same-origin' : 'cors',
    })
      .then((r) => {
        if (r.status === 404 || r.status === 405) off = true; // no tracking on this server
        else if (!r.ok) console.warn('vitrine: tracking batch refused', r.status);
      })
      .catch(() => {});
  }

  function flush(leaving) {
    if (off || queue.length === 0) return;
    for (const body of batches()) send(body, leaving);
  }

  setInterval(flush, every);
  addEventListener('pagehide', () => flush(true));
  document.addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && flush(true));
  return { track, flush };
}
