// Replay: the recorded envelopes of the live (GET /replay/{id}/events),
// folded into the overlay's state at the time of the frame on screen, and
// the product chapters (pin intervals) to jump to.

// loadReplayEvents reads the whole timeline, page after page (a live
// writes thousands of events: likes, viewer counts, chat). The list also
// carries the replay's start (ms on the media clock: its first frame) and
// duration (s), as the server tells them.
export async function loadReplayEvents(id, from, to, { maxPages = 200 } = {}) {
  const list = [];
  let cursor = '';
  let start = NaN;
  let duration = NaN;
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams({ limit: '5000' });
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    if (cursor) q.set('cursor', cursor);
    const res = await fetch(`/replay/${encodeURIComponent(id)}/events?${q}`);
    if (!res.ok) throw new Error(`replay events: ${res.status}`);
    const body = await res.json();
    if (page === 0 && body && !Array.isArray(body)) {
      start = Date.parse(body.start || '');
      duration = Number(body.duration);
    }
    list.push(...(Array.isArray(body) ? body : body.events || body.items || []));
    cursor = body.next_cursor || '';
    if (!cursor) break;
  }
  const out = list
    .filter((e) => e && typeof e.type === 'string')
    .map((e) => ({ ...e, _t: Date.parse(e.at) }))
    .sort((a, b) => a._t - b._t || (a.seq || 0) - (b.seq || 0));
  out.start = start;
  out.duration = duration;
  return out;
}

// offsetOf is an event's position in the replay, in seconds from the
// recording's first frame: the server's offset (which skips publisher
// drops), else its time from the replay's start. Never from the first
// logged event: a prelive viewer count or chat comes long before the video.
export function offsetOf(e, start) {
  if (typeof e.offset === 'number' && isFinite(e.offset)) return e.offset;
  if (isFinite(start) && isFinite(e._t)) return Math.max(0, (e._t - start) / 1000);
  return 0;
}

// chapters: one per product pin, from its pin to its unpin (or the end);
// start and end are offsets in the replay (seconds), at and endAt the
// media clock (ms), for seeking.
export function chapters(events, start = events?.start) {
  const open = new Map();
  const out = [];
  for (const e of events) {
    if (e.type === 'product.pinned' && e.data?.product?.id) {
      const prev = open.get(e.data.product.id);
      if (prev) { prev.end = offsetOf(e, start); prev.endAt = e._t; }
      const ch = { product: e.data.product, start: offsetOf(e, start), end: null, at: e._t, endAt: null };
      open.set(e.data.product.id, ch);
      out.push(ch);
    } else if (e.type === 'product.unpinned' && open.has(e.data?.product_id)) {
      const ch = open.get(e.data.product_id);
      ch.end = offsetOf(e, start);
      ch.endAt = e._t;
      open.delete(e.data.product_id);
    }
  }
  return out;
}

// stateAt folds the pins, voucher, poll and likes up to t (ms).
const folded = new Set(['product.pinned', 'product.unpinned', 'voucher.pinned', 'voucher.unpinned', 'like.count', 'poll.opened', 'poll.results', 'poll.closed', 'instant_win.opened', 'instant_win.drawn']);

export function replayCursor(events) {
  let i = 0;
  return {
    // next returns the events between the last call and t; reset (a seek
    // back) when t went backwards.
    step(t, overlay) {
      if (i > 0 && events[i - 1]._t > t) {
        i = 0;
        overlay.reset({ phase: 'replay', settings: overlay.state.settings });
      }
      const out = [];
      while (i < events.length && events[i]._t <= t) out.push(events[i++]);
      return out;
    },
    folded,
  };
}
