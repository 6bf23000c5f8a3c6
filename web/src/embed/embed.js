// embed.js — Vitrine on the seller's own pages:
//
//   <div data-vitrine-product="prd_…"></div>            the product widget
//   <div data-vitrine-campaign="cmp_…"></div>           a campaign's widget
//   <script src="https://live.example.com/embed.js" async></script>
//
// The widget shows the live (or the next upcoming one) featuring the
// product and opens the floating player, an iframe of /watch/{id} that
// follows the visitor from page to page (sessionStorage) until closed.
// The host page listens to the player's shop events:
//
//   Vitrine.on('add_to_cart', (product, msg) => …)   also 'checkout', 'product_click', 'close', '*'
//   Vitrine.purchase({amount: '129.00', currency: 'EUR', product_ids: ['prd_…']})
//   Vitrine.open('cmp_…'), Vitrine.close()
//
// Calls made before the script loaded are queued:
//   window.Vitrine = window.Vitrine || {q: []}; Vitrine.q.push(['on', 'add_to_cart', fn]);
// Widgets and the floating player report their views and clicks to
// POST /live/{id}/track: widget.view and widget.click with widget "product"
// (the product widget), "gallery" (a campaign's widget) or "player" (the
// floating player).
import { tracker, trafficSource } from '../lib/track.js';
import { uuid, store, h, safeURL } from '../lib/dom.js';
import { price, dateTime, countdown } from '../lib/format.js';

(() => {
  const script = document.currentScript || document.querySelector('script[src*="/embed.js"]');
  if (!script) return;
  const base = new URL(script.src, location.href).origin;
  const prior = window.Vitrine;
  if (prior && prior.__loaded) return;

  const handlers = {};
  const trackers = {};
  const vid = store('vitrine.vid') || store('vitrine.vid', uuid());
  const source = trafficSource();
  const FLOAT_KEY = 'vitrine.floating';
  const LAST_KEY = 'vitrine.last_campaign';
  let floating = null;

  function trackerFor(id) {
    if (!trackers[id]) trackers[id] = tracker({ endpoint: `${base}/live/${encodeURIComponent(id)}/track`, viewerId: () => vid, source });
    return trackers[id];
  }
  const track = (id, type, data = {}) => trackerFor(id).track(type, data);

  const api = {
    __loaded: true,
    base,
    on(type, fn) {
      (handlers[type] ||= []).push(fn);
      return api;
    },
    off(type, fn) {
      handlers[type] = (handlers[type] || []).filter((f) => f !== fn);
      return api;
    },
    open: (id) => openFloating(id, true),
    close: () => closeFloating(),
    // purchase reports an order to the live the visitor watched: the
    // floating player's, else o.campaign_id, else the last one opened on
    // this site (the order page usually has no player).
    purchase(o = {}) {
      if (floating) return floating.frame.contentWindow?.postMessage({ source: 'vitrine-host', type: 'purchase', ...o }, base);
      const { campaign_id: cid, ...data } = o;
      const id = cid || store(LAST_KEY);
      if (id) track(id, 'purchase', data);
    },
  };
  window.Vitrine = api;

  function emit(type, msg) {
    for (const fn of [...(handlers[type] || []), ...(handlers['*'] || [])]) {
      try {
        fn(msg.product, msg);
      } catch (e) {
        console.error('Vitrine handler', type, e);
      }
    }
    window.dispatchEvent(new CustomEvent('vitrine:' + type, { detail: msg }));
  }

  addEventListener('message', (e) => {
    if (e.origin !== base || !e.data || e.data.source !== 'vitrine' || typeof e.data.type !== 'string') return;
    if (floating && e.source !== floating.frame.contentWindow) return;
    if (e.data.type === 'close') closeFloating();
    emit(e.data.type, e.data);
  });

  // ---- widget ---------------------------------------------------------------
  async function widget(el) {
    if (el.__vitrine) return;
    el.__vitrine = true;
    const pid = el.getAttribute('data-vitrine-product');
    const cid = el.getAttribute('data-vitrine-campaign');
    const url = pid ? `${base}/embed/products/${encodeURIComponent(pid)}` : `${base}/live/${encodeURIComponent(cid)}/info`;
    let c;
    let product = null;
    try {
      const res = await fetch(url, { credentials: 'omit' });
      if (!res.ok) return; // nothing featured: the widget stays empty
      const body = await res.json();
      c = pid ? body.campaign : body;
      product = pid ? body.product : null;
    } catch {
      return;
    }
    if (!c || c.status === 'completed') return;
    const root = el.attachShadow ? el.attachShadow({ mode: 'open' }) : el;
    const live = c.status === 'ongoing';
    const kind = pid ? 'product' : 'gallery';
    const when = h('span', { class: 'when' });
    const tick = () => (when.textContent = live ? 'Live now' : c.status === 'ended' ? 'Replay' : `${dateTime(c.starts_at)} · ${countdown(Date.parse(c.starts_at) - Date.now())}`);
    tick();
    if (!live) setInterval(tick, 1000);
    const cover = safeURL(product?.image_url || c.cover_url);
    const btn = h('button', { type: 'button', class: 'watch' }, live ? 'Watch the live' : c.status === 'ended' ? 'Watch the replay' : 'See the live');
    btn.addEventListener('click', () => {
      track(c.id, 'widget.click', { widget: kind });
      if (el.getAttribute('data-vitrine-floating') === 'false') window.open(`${base}/watch/${encodeURIComponent(c.id)}${utm()}`, '_blank', 'noopener');
      else openFloating(c.id, true);
    });
    root.append(
      h('style', { text: __EMBED_CSS__ }),
      h(
        'div',
        { class: `vw${live ? ' live' : ''}`, part: 'widget' },
        cover ? h('img', { src: cover, alt: '' }) : null,
        h('div', { class: 'txt' }, h('span', { class: 'badge', text: live ? 'LIVE' : c.status === 'ended' ? 'REPLAY' : 'SOON' }), h('strong', { class: 'title', text: c.title }), when, product ? h('span', { class: 'price', text: `${product.name} · ${price(product.price, product.currency)}` }) : null),
        btn,
      ),
    );
    const seen = () => track(c.id, 'widget.view', { widget: kind });
    if ('IntersectionObserver' in window) {
      const io = new IntersectionObserver((es) => {
        if (es.some((x) => x.isIntersecting)) {
          io.disconnect();
          seen();
        }
      });
      io.observe(el);
    } else seen();
  }

  function utm() {
    const u = new URLSearchParams(location.search).get('utm_source');
    return u ? `?utm_source=${encodeURIComponent(u)}` : '';
  }

  // ---- floating player ----------------------------------------------------------
  function openFloating(id, fresh, minimized = false) {
    if (floating?.id === id) return;
    store(LAST_KEY, id);
    closeFloating(true);
    const q = new URLSearchParams({ embed: '1', origin: location.origin });
    const u = new URLSearchParams(location.search).get('utm_source');
    if (u) q.set('utm_source', u);
    const host = h('div', { 'data-vitrine-floating': id });
    const root = host.attachShadow({ mode: 'open' });
    const frame = h('iframe', {
      src: `${base}/watch/${encodeURIComponent(id)}?${q}`,
      title: 'Live shopping player',
      allow: 'autoplay; fullscreen; picture-in-picture; clipboard-write',
    });
    const box = h('div', { class: `fp${minimized ? ' min' : ''}`, role: 'dialog', 'aria-label': 'Live shopping player' });
    const bar = h(
      'div',
      { class: 'bar' },
      h('button', { type: 'button', 'aria-label': 'Minimise', class: 'b', onclick: () => setMin(!box.classList.contains('min')) }, '–'),
      h(
        'button',
        {
          type: 'button',
          'aria-label': 'Open in full page',
          class: 'b',
          onclick: () => {
            track(id, 'widget.click', { widget: 'player' });
            window.open(`${base}/watch/${encodeURIComponent(id)}${utm()}`, '_blank', 'noopener');
          },
        },
        '⤢',
      ),
      // The player has its own close (Leave: the survey, then 'close'):
      // this one shows only while the player is minimised (embed.css).
      h('button', { type: 'button', 'aria-label': 'Close the player', class: 'b x', onclick: () => closeFloating() }, '✕'),
    );
    box.addEventListener('pointerdown', (e) => {
      if (e.target === box || e.target === bar) track(id, 'widget.click', { widget: 'player' });
    });
    box.append(bar, frame);
    root.append(h('style', { text: __EMBED_CSS__ }), box);
    document.body.append(host);
    floating = { id, host, frame, box };
    const setMin = (m) => {
      box.classList.toggle('min', m);
      save();
    };
    const save = () => {
      try {
        sessionStorage.setItem(FLOAT_KEY, JSON.stringify({ id, min: box.classList.contains('min') }));
      } catch {}
    };
    save();
    if (fresh) track(id, 'widget.view', { widget: 'player' });
  }

  function closeFloating(replacing) {
    if (!floating) return;
    floating.host.remove();
    floating = null;
    if (!replacing) {
      try {
        sessionStorage.removeItem(FLOAT_KEY);
      } catch {}
    }
  }

  function scan() {
    document.querySelectorAll('[data-vitrine-product],[data-vitrine-campaign]').forEach(widget);
  }

  function boot() {
    scan();
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
    try {
      const f = JSON.parse(sessionStorage.getItem(FLOAT_KEY) || 'null');
      if (f?.id) openFloating(f.id, false, f.min); // follows the visitor to this page
    } catch {}
    for (const [m, ...args] of prior?.q || []) api[m]?.(...args);
    document.dispatchEvent(new CustomEvent('vitrine:ready'));
  }
  if (document.body) boot();
  else document.addEventListener('DOMContentLoaded', boot);
})();
