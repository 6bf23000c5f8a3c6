// The shopping overlay: state folded from the events (as the server's
// overlay.State) and its rendering. Every text from the channel goes into
// the page as text, never as HTML.
import { h, clear, safeURL } from '../lib/dom.js';
import { price, compact } from '../lib/format.js';

export function emptyState() {
  return {
    products: [],
    voucher: null,
    likes: 0,
    viewers: 0,
    live: false,
    phase: 'prelive',
    settings: { prelive_chat: true, replay_chat: true, slow_mode_seconds: 0, max_length: 500, survey: true, orders_ticker: false },
    chat: [],
    poll: null,
    instant_wins: [],
    last_draw: null,
  };
}

export class Overlay {
  // ui: the elements; app: {send, me(), shop(type, product), track, mediaNow, productName(id), onPhase, onSettings}
  constructor(ui, app) {
    this.ui = ui;
    this.app = app;
    this.state = emptyState();
    this.cards = new Map(); // product id -> card element
    this.lines = new Map(); // message id -> chat line
    this.votes = {}; // poll id -> option voted
    try {
      this.votes = JSON.parse(sessionStorage.getItem('vitrine.votes') || '{}');
    } catch {}
    this.entered = new Set();
    this.debug = app.debug;
  }

  // reset shows a snapshot's state (or the replay's state at a time).
  reset(st, { chat = true } = {}) {
    const e = emptyState();
    const s = { ...e, ...st };
    s.settings = { ...e.settings, ...(st.settings || {}) };
    for (const k of ['products', 'chat', 'instant_wins']) if (!Array.isArray(s[k])) s[k] = [];
    s.likes = Number(s.likes) || 0;
    s.viewers = Number(s.viewers) || 0;
    this.state = s;
    this.renderProducts(null);
    this.renderVoucher();
    this.renderLikes();
    this.renderViewers();
    this.renderPoll();
    this.renderWins();
    if (chat) {
      clear(this.ui.chat);
      this.lines.clear();
      for (const c of s.chat || []) this.addLine(c.type, c);
    }
    this.app.onSettings?.(s.settings);
  }

  apply(env, mediaNow) {
    const s = this.state;
    const d = env.data || {};
    switch (env.type) {
      case 'product.pinned':
        if (!d.product?.id) return;
        s.products = s.products.filter((p) => p.id !== d.product.id);
        s.products.push(d.product);
        this.renderProducts(env);
        break;
      case 'product.unpinned':
        s.products = s.products.filter((p) => p.id !== d.product_id);
        this.renderProducts(env);
        break;
      case 'voucher.pinned':
        s.voucher = d.voucher || null;
        this.renderVoucher();
        break;
      case 'voucher.unpinned':
        if (!d.voucher_id || s.voucher?.id === d.voucher_id) s.voucher = null;
        this.renderVoucher();
        break;
      case 'chat.message':
      case 'chat.question':
      case 'chat.answer':
        this.addLine(env.type, { ...d, at: env.at });
        break;
      case 'chat.deleted':
        this.lines.get(d.message_id)?.remove();
        this.lines.delete(d.message_id);
        break;
      case 'room.settings':
        s.settings = { ...s.settings, ...d };
        this.app.onSettings?.(s.settings);
        break;
      case 'like.count':
        if (typeof d.count === 'number') s.likes = Math.max(d.count, 0);
        this.pendingLikes = 0;
        this.renderLikes();
        break;
      case 'viewer.count':
        s.viewers = d.count ?? s.viewers;
        this.renderViewers();
        break;
      case 'poll.opened':
        if (!d.poll) return;
        s.poll = { ...d.poll, votes: (d.poll.options || []).map(() => 0), total: 0, closed: false };
        this.renderPoll();
        break;
      case 'poll.results':
      case 'poll.closed':
        if (!s.poll || s.poll.id !== d.poll_id) return;
        s.poll.votes = d.votes || s.poll.votes;
        s.poll.total = d.total ?? s.poll.total;
        if (env.type === 'poll.closed') s.poll.closed = true;
        this.renderPoll();
        break;
      case 'instant_win.opened':
        if (!d.instant_win) return;
        s.instant_wins = s.instant_wins.filter((w) => w.id !== d.instant_win.id).concat(d.instant_win);
        this.renderWins();
        break;
      case 'instant_win.drawn':
        s.instant_wins = s.instant_wins.filter((w) => w.id !== d.instant_win_id);
        s.last_draw = d;
        this.renderWins();
        break;
      case 'order.placed':
        if (s.settings.orders_ticker) this.ticker(d);
        break;
      case 'stream.live':
        s.live = true;
        s.phase = 'live';
        this.app.onPhase?.('live');
        break;
      case 'stream.ended':
        s.live = false;
        s.phase = 'replay';
        this.app.onPhase?.('ended');
        break;
      default:
        return; // unknown types are ignored
    }
    this.debug.shown.push({ type: env.type, seq: env.seq, at: env.at, media: mediaNow ?? null, wall: Date.now() });
    if (this.debug.shown.length > 500) this.debug.shown.shift();
  }

  // Products: cards keyed by id, so a card that stays is not redrawn.
  renderProducts(env) {
    const list = this.ui.pins;
    const want = new Set(this.state.products.map((p) => p.id));
    for (const [id, el] of this.cards) {
      if (!want.has(id)) {
        el.remove();
        this.cards.delete(id);
      }
    }
    for (const p of this.state.products) {
      if (this.cards.has(p.id)) continue;
      const el = this.productCard(p, 'vt-card');
      this.cards.set(p.id, el);
      list.append(el);
      if (env) {
        // When it is painted: the test measures this against the frame.
        const at = env.at;
        const seq = env.seq;
        requestAnimationFrame(() =>
          this.debug.pins.push({ id: p.id, seq, at, media: this.app.mediaNow(), wall: Date.now(), transport: this.app.transport() }),
        );
      }
    }
    this.ui.root.classList.toggle('vt-has-pins', this.state.products.length > 0);
  }

  productCard(p, cls) {
    const img = safeURL(p.image_url);
    const url = safeURL(p.url);
    return h(
      'article',
      { class: cls, 'data-product': p.id, 'aria-label': p.name },
      img ? h('img', { src: img, alt: '', loading: 'lazy', decoding: 'async', width: 64, height: 64 }) : h('div', { class: 'vt-noimg', 'aria-hidden': 'true' }),
      h(
        'div',
        { class: 'vt-card-body' },
        h('h3', { class: 'vt-card-name', text: p.name }),
        h('p', { class: 'vt-price', text: price(p.price, p.currency) }),
        h(
          'div',
          { class: 'vt-card-actions' },
          h('button', { type: 'button', class: 'vt-btn vt-primary vt-add', onclick: () => this.app.shop('add_to_cart', p) }, 'Add to cart'),
          url
            ? h('a', { class: 'vt-btn vt-link', href: url, target: '_blank', rel: 'noopener', onclick: (e) => this.app.shop('product_click', p, e) }, 'View')
            : null,
        ),
      ),
    );
  }

  renderVoucher() {
    const box = this.ui.voucher;
    clear(box);
    const v = this.state.voucher;
    box.hidden = !v;
    if (!v) return;
    const off = v.discount_type === 'percent' ? `${v.discount_value}% off` : `${price(v.discount_value, v.currency)} off`;
    const min = v.min_spend && Number(v.min_spend) > 0 ? ` from ${price(v.min_spend, v.currency)}` : '';
    const btn = h('button', { type: 'button', class: 'vt-btn vt-copy', 'aria-label': `Copy code ${v.code}` }, 'Copy');
    btn.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(v.code);
      } catch {
        const r = document.createRange();
        r.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(r);
      }
      btn.textContent = 'Copied';
      setTimeout(() => (btn.textContent = 'Copy'), 1500);
    });
    const code = h('code', { class: 'vt-code', text: v.code });
    box.append(h('p', { class: 'vt-voucher-name', text: v.name || off }), h('p', { class: 'vt-voucher-off', text: off + min }), h('div', { class: 'vt-voucher-row' }, code, btn));
  }

  addLine(type, m) {
    if (!m?.id || this.lines.has(m.id)) return;
    const mine = m.viewer_id && m.viewer_id === this.app.me();
    const li = h(
      'li',
      { class: `vt-line vt-${type.split('.')[1]}${mine ? ' vt-mine' : ''}`, 'data-id': m.id },
      type === 'chat.answer' && m.reply_text ? h('q', { class: 'vt-reply', text: m.reply_text }) : null,
      type === 'chat.question' ? h('span', { class: 'vt-tag', text: 'Question' }) : null,
      type === 'chat.answer' ? h('span', { class: 'vt-tag vt-host', text: 'Host' }) : null,
      h('b', { class: 'vt-name', text: m.name || (type === 'chat.answer' ? 'Host' : 'Guest') }),
      ' ',
      h('span', { class: 'vt-text', text: m.text }),
    );
    const chat = this.ui.chat;
    const atBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 40;
    chat.append(li);
    this.lines.set(m.id, li);
    while (chat.children.length > 200) {
      const first = chat.firstElementChild;
      this.lines.delete(first.dataset.id);
      first.remove();
    }
    if (atBottom || mine) chat.scrollTop = chat.scrollHeight;
  }

  renderLikes() {
    this.ui.likes.textContent = compact(this.state.likes + (this.pendingLikes || 0));
  }

  like() {
    this.pendingLikes = (this.pendingLikes || 0) + 1;
    this.renderLikes();
    const heart = h('span', { class: 'vt-heart', 'aria-hidden': 'true', text: '♥' });
    this.ui.hearts.append(heart);
    setTimeout(() => heart.remove(), 1200);
  }

  renderViewers() {
    this.ui.viewers.textContent = compact(this.state.viewers);
    this.ui.viewers.parentElement.hidden = !this.state.viewers;
  }

  renderPoll() {
    const box = this.ui.poll;
    clear(box);
    const p = this.state.poll;
    box.hidden = !p;
    if (!p) return;
    const voted = this.votes[p.id];
    const showResults = voted != null || p.closed;
    box.append(h('h3', { class: 'vt-poll-q', text: p.question }));
    if (p.closed) box.append(h('p', { class: 'vt-muted', text: 'Poll closed' }));
    const list = h('ol', { class: 'vt-poll-options' });
    (p.options || []).forEach((opt, i) => {
      const n = p.votes?.[i] || 0;
      const pct = p.total ? Math.round((n * 100) / p.total) : 0;
      const label = showResults ? `${opt} — ${pct}%` : opt;
      const btn = h(
        'button',
        { type: 'button', class: `vt-option${voted === i ? ' vt-chosen' : ''}`, disabled: showResults, 'aria-pressed': voted === i ? 'true' : 'false', 'data-option': i },
        h('span', { class: 'vt-bar', 'aria-hidden': 'true' }),
        h('span', { text: label }),
      );
      if (showResults) btn.querySelector('.vt-bar').style.width = pct + '%';
      btn.addEventListener('click', () => {
        this.votes[p.id] = i;
        try {
          sessionStorage.setItem('vitrine.votes', JSON.stringify(this.votes));
        } catch {}
        this.app.send('poll.vote', { poll_id: p.id, option: i });
        this.renderPoll();
      });
      list.append(h('li', null, btn));
    });
    box.append(list);
    if (showResults) box.append(h('p', { class: 'vt-muted', text: `${compact(p.total || 0)} votes` }));
  }

  renderWins() {
    const box = this.ui.win;
    clear(box);
    const s = this.state;
    const open = s.instant_wins[0];
    const draw = s.last_draw;
    box.hidden = !open && !draw;
    if (open) {
      const entered = this.entered.has(open.id);
      box.append(
        h('h3', { text: `Instant win: ${open.prize}` }),
        h(
          'button',
          {
            type: 'button',
            class: 'vt-btn vt-primary',
            disabled: entered,
            onclick: () => {
              this.entered.add(open.id);
              this.app.send('instant_win.enter', { instant_win_id: open.id, name: this.app.name() });
              this.renderWins();
            },
          },
          entered ? 'You are in the draw' : 'Enter the draw',
        ),
      );
    } else if (draw) {
      const me = this.app.me();
      const won = (draw.winners || []).some((w) => w.viewer_id === me);
      box.append(
        h('h3', { text: won ? 'You won!' : 'Winners' }),
        h('p', { text: (draw.winners || []).map((w) => w.name || 'Guest').join(', ') || 'No winner' }),
      );
    }
  }

  ticker(d) {
    const names = (d.items || []).map((i) => this.app.productName(i.product_id)).filter(Boolean);
    const el = h('p', { class: 'vt-toast', role: 'status', text: `${d.name || 'Someone'} just bought ${names.join(', ') || 'a product'}` });
    this.ui.ticker.append(el);
    setTimeout(() => el.remove(), 5000);
  }
}
