// Tracking beacons for analytics: POST {endpoint} with
// {"source": {"referrer", "utm_source"}, "events": [{id, type, at, viewer_id, data}]},
// batched every few seconds and flushed with sendBeacon (or a keepalive
// fetch) when the page goes away. A server without the endpoint (404) is
// not asked again; failures never reach the page.
import { uuid } from './dom.js';

export function trafficSource(params = new URLSearchParams(location.search), referrer = document.referrer) {
  return { referrer: referrer || '', utm_source: params.get('utm_source') || '' };
}

export function tracker({ endpoint, viewerId, source, every = 4000, log }) {
  let queue = [];
  let off = false;
  const sameOrigin = new URL(endpoint, location.href).origin === location.origin;

  function track(type, data = {}) {
    const ev = { id: uuid(), type, at: new Date().toISOString(), viewer_id: viewerId() || '', data };
    log?.(ev);
    if (off) return;
    queue.push(ev);
    if (queue.length >= 50) flush();
  }

  function flush(leaving) {
    if (off || queue.length === 0) return;
    const body = JSON.stringify({ source, events: queue });
    queue = [];
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
      })
      .catch(() => {});
  }

  setInterval(flush, every);
  addEventListener('pagehide', () => flush(true));
  document.addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && flush(true));
  return { track, flush };
}
