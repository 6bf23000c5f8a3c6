// Replay: the recorded envelopes of the live (GET /replay/{id}/events),
// folded into the overlay's state at the time of the frame on screen, and
// the product chapters (pin intervals) to jump to.

// loadReplayEvents reads the whole timeline, page after page (a live
// writes thousands of events: likes, viewer counts, chat).
export async function loadReplayEvents(id, from, to, { maxPages = 200 } = {}) {
  const list = [];
  let cursor = '';
  for (let page = 0; page < maxPages; page++) {
    const q = new URLSearchParams({ limit: '5000' });
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    if (cursor) q.set('cursor', cursor);
    const res = await fetch(`/replay/${encodeURIComponent(id)}/events?${q}`);
    if (!res.ok) throw new Error(`replay events: ${res.status}`);
    const body = await res.json();
    list.push(...(Array.isArray(body) ? body : body.events || body.items || []));
    cursor = body.next_cursor || '';
    if (!cursor) break;
  }
  return list
    .filter((e) => e && typeof e.type === 'string')
    .map((e) => ({ ...e, _t: Date.parse(e.at) }))
    .sort((a, b) => a._t - b._t || (a.seq || 0) - (b.seq || 0));
}

// chapters: one per product pin, from its pin to its unpin (or the end).
export function chapters(events) {
  const open = new Map();
  const out = [];
  for (const e of events) {
    if (e.type === 'product.pinned' && e.data?.product?.id) {
      const ch = { product: e.data.product, start: e._t, end: null };
      open.set(e.data.product.id, ch);
      out.push(ch);
    } else if (e.type === 'product.unpinned' && open.has(e.data?.product_id)) {
      open.get(e.data.product_id).end = e._t;
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
