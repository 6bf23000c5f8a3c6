// The viewer's player page, GET /watch/{id}: the live (WebRTC, LL-HLS
// fallback), the shopping overlay in sync with the frame on screen, the
// upcoming, ended and replay states. No framework: plain modules.
import '../player.css';
import { h, clear, safeURL, store, uuid } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { price, countdown, dateTime, clockTime } from '../lib/format.js';
import { tracker, trafficSource } from '../lib/track.js';
import { Video } from './video.js';
import { Events } from './events.js';
import { Timeline } from './timeline.js';
import { Overlay } from './overlay.js';
import { handoff, parentOrigin } from './shop.js';
import { loadReplayEvents, chapters, replayCursor } from './replay.js';
import { replayControls } from './replaycontrols.js';
import { preferWebRTC as webrtcSuits } from './transport.js';

const root = document.getElementById('vitrine');
const id = root.dataset.campaign;
const params = new URLSearchParams(location.search);
const embedded = window.parent !== window;
const origin = parentOrigin(params);
const force = ['whep', 'hls'].includes(params.get('transport')) ? params.get('transport') : '';
const enc = encodeURIComponent(id);
const urls = {
  info: `/live/${enc}/info`,
  whep: `/live/${enc}/whep`,
  hls: `/live/${enc}/index.m3u8`,
  replay: `/replay/${enc}/index.m3u8`,
  calendar: `/live/${enc}/calendar.ics`,
  reminders: `/live/${enc}/reminders`,
  track: `/live/${enc}/track`,
  watch: `${location.origin}/watch/${enc}`,
};

// Test and debugging hooks: what was shown when.
const debug = (window.__vitrine = { pins: [], shown: [], tracked: [], errors: [], transport: '', phase: '' });
const clock = { offset: 0 };
let info = null;
let phase = '';
let me = '';
let localId = store('vitrine.vid') || store('vitrine.vid', uuid());
let settings = {};
let watchedFrom = 0;
let watchedMs = 0;
let surveyShown = false;
const cart = [];

root.classList.toggle('vt-embedded', embedded);
clear(root);

// ---- layout -----------------------------------------------------------------
const ui = {};
ui.root = root;
ui.video = h('video', { class: 'vt-video', playsinline: true, muted: true, autoplay: true, 'aria-label': 'Live video' });
ui.video.muted = true;
ui.msg = h('p', { class: 'vt-msg', role: 'status', hidden: true });
ui.title = h('h1', { class: 'vt-title' });
ui.badge = h('span', { class: 'vt-badge' });
ui.viewers = h('span', { class: 'vt-viewers-n' });
ui.pins = h('section', { class: 'vt-pins', 'aria-label': 'Products on screen' }, h('h2', { class: 'vt-sr', text: 'Products on screen' }));
ui.voucher = h('div', { class: 'vt-voucher', role: 'region', 'aria-label': 'Voucher', hidden: true });
ui.chat = h('ul', { class: 'vt-chat', 'aria-label': 'Chat', 'aria-live': 'polite', 'aria-relevant': 'additions' });
ui.poll = h('section', { class: 'vt-poll vt-panel', 'aria-label': 'Poll', hidden: true });
ui.win = h('section', { class: 'vt-win vt-panel', 'aria-label': 'Instant win', hidden: true });
ui.likes = h('span', { class: 'vt-likes-n', text: '0' });
ui.hearts = h('div', { class: 'vt-hearts', 'aria-hidden': 'true' });
ui.ticker = h('div', { class: 'vt-ticker', 'aria-live': 'polite' });
ui.upcoming = h('section', { class: 'vt-upcoming', 'aria-label': 'Upcoming live' });
ui.ended = h('section', { class: 'vt-ended', 'aria-label': 'Live ended' });
ui.chapters = h('nav', { class: 'vt-chapters', 'aria-label': 'Products in this replay', hidden: true });
ui.cartN = h('span', { class: 'vt-cart-n', text: '0' });
ui.chatStatus = h('p', { class: 'vt-chat-status', role: 'status' });

const muteBtn = h('button', { type: 'button', class: 'vt-icon vt-mute', 'aria-label': 'Unmute', 'aria-pressed': 'false', onclick: toggleMute }, icon('muted'));
const likeBtn = h('button', { type: 'button', class: 'vt-icon vt-like', 'aria-label': 'Like', onclick: like }, icon('heart'), ui.likes);
const shareBtn = h('button', { type: 'button', class: 'vt-icon vt-share', 'aria-label': 'Share', onclick: share }, icon('share'));
const catalogBtn = h('button', { type: 'button', class: 'vt-icon vt-catalog-btn', 'aria-label': 'Products', 'aria-expanded': 'false', onclick: () => toggleCatalog() }, icon('bag'));
const cartBtn = h('button', { type: 'button', class: 'vt-btn vt-primary vt-checkout', hidden: true, onclick: checkout }, 'Checkout ', ui.cartN);
const leaveBtn = h('button', { type: 'button', class: 'vt-icon vt-leave', 'aria-label': 'Leave', onclick: leave }, icon('close'));

const nameIn = h('input', { class: 'vt-name-in', name: 'name', maxlength: 40, placeholder: 'Your name', autocomplete: 'nickname', 'aria-label': 'Your name' });
nameIn.value = store('vitrine.name') || '';
const textIn = h('input', { class: 'vt-text-in', name: 'text', maxlength: 500, placeholder: 'Say something…', autocomplete: 'off', 'aria-label': 'Chat message', required: true });
const questionIn = h('input', { type: 'checkbox', name: 'question', class: 'vt-question-in' });
const sendBtn = h('button', { type: 'submit', class: 'vt-btn vt-primary vt-send' }, 'Send');
ui.chatForm = h(
  'form',
  { class: 'vt-chat-form', 'aria-label': 'Send a message' },
  nameIn,
  h('div', { class: 'vt-chat-row' }, textIn, sendBtn),
  h('label', { class: 'vt-q-label' }, questionIn, ' Ask the host a question'),
  ui.chatStatus,
);
ui.chatForm.addEventListener('submit', sendChat);

ui.catalog = h('section', { class: 'vt-catalog', 'aria-label': 'Products of the show', hidden: true });
ui.survey = h('div', { class: 'vt-survey', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'How was the show?', hidden: true });

root.append(
  h(
    'div',
    { class: 'vt-stage' },
    ui.video,
    ui.msg,
    h('header', { class: 'vt-top' }, ui.badge, ui.title, h('span', { class: 'vt-viewers', hidden: true }, icon('eye', 16), ' ', ui.viewers), leaveBtn),
    ui.upcoming,
    ui.ended,
    h('div', { class: 'vt-bottom' }, h('div', { class: 'vt-left' }, ui.voucher, ui.pins), h('div', { class: 'vt-actions' }, likeBtn, catalogBtn, shareBtn, muteBtn, ui.hearts)),
    ui.ticker,
  ),
  h('aside', { class: 'vt-side' }, ui.poll, ui.win, ui.chapters, ui.chat, ui.chatForm, cartBtn),
  ui.catalog,
  ui.survey,
);

// ---- fitting the screen -------------------------------------------------------
// On a phone the page is the screen: its height follows the visual
// viewport, so an open keyboard shrinks the picture instead of scrolling it
// away, and a page the browser scrolled anyway (iOS, to show the input) is
// scrolled back. A vertical stream on an upright screen fills it (cover);
// anything else is fitted.
function fitScreen() {
  const vv = window.visualViewport;
  root.style.setProperty('--vt-h', `${Math.round(vv ? vv.height : innerHeight)}px`);
  root.style.setProperty('--vt-top', `${Math.round(vv ? vv.offsetTop : 0)}px`);
  if (scrollX || scrollY) scrollTo(0, 0);
  const v = ui.video;
  const upright = (vv ? vv.height : innerHeight) > (vv ? vv.width : innerWidth);
  const vertical = v.videoWidth > 0 && v.videoHeight > v.videoWidth * 1.2;
  root.dataset.fit = vertical && upright ? 'cover' : 'contain';
}
fitScreen();
window.visualViewport?.addEventListener('resize', fitScreen);
window.visualViewport?.addEventListener('scroll', fitScreen);
addEventListener('resize', fitScreen);
addEventListener('orientationchange', fitScreen);
ui.video.addEventListener('resize', fitScreen);
ui.video.addEventListener('loadedmetadata', fitScreen);
debug.fitScreen = fitScreen;

// ---- tracking -----------------------------------------------------------------
// The video requests name the viewer as the beacons do (?viewer=), so that
// the server merges what it sees of the video with the page's visit (and
// still counts a viewer whose beacons are blocked). The id is the
// server's once the events socket said hello.
let helloSeen;
const hello = new Promise((r) => (helloSeen = r));
const helloOrSoon = () => Promise.race([hello, sleep(1000)]);
const asViewer = (u) => {
  const v = me || localId;
  return v ? `${u}${u.includes('?') ? '&' : '?'}viewer=${encodeURIComponent(v)}` : u;
};
const source = trafficSource();
const tr = tracker({
  endpoint: urls.track,
  viewerId: () => me || localId,
  source,
  session: true,
  log: (ev) => {
    debug.tracked.push(ev);
    if (debug.tracked.length > 300) debug.tracked.shift();
  },
});
const track = tr.track;

// ---- video and overlay --------------------------------------------------------
let timeline;
const video = new Video(ui.video, {
  clock,
  onStatus: (s) => {
    if (s === 'connecting') message('Connecting…');
  },
  onFrame: () => timeline?.tick() || replayTick(),
  onPlaying: (transport) => {
    debug.transport = transport;
    root.dataset.transport = transport;
    message('');
    if (!watchedFrom) watchedFrom = performance.now();
  },
});
debug.mediaNow = () => video.mediaNow();
debug.whepSession = () => video.session;
debug.video = ui.video;

const overlay = new Overlay(ui, {
  debug,
  send: (type, data) => events.send(type, data),
  me: () => me,
  name: () => nameIn.value.trim() || 'Guest',
  mediaNow: () => video.mediaNow(),
  transport: () => video.transport,
  productName: (pid) => (info?.products || []).find((p) => p.id === pid)?.name || '',
  shop,
  onPhase: (p) => {
    if (p === 'live' && phase !== 'live' && phase !== 'replay') startLive();
    if (p === 'ended' && phase === 'live') endLive();
  },
  onSettings: (s) => {
    settings = s;
    textIn.maxLength = s.max_length || 500;
    chatOpenFor(phase);
  },
});
debug.overlay = overlay;
timeline = new Timeline(() => video.mediaNow(), (env, now) => overlay.apply(env, now));
setInterval(() => timeline.tick(), 100);

const events = new Events(id, {
  onHello: (d) => {
    me = d.viewer_id || '';
    helloSeen();
  },
  onSnapshot: (env) => {
    timeline.queue.length = 0;
    if (phase === 'replay') {
      settings = { ...settings, ...(env.data?.settings || {}) };
      return;
    }
    overlay.reset(env.data || {});
    if (env.data?.phase === 'live' && phase && phase !== 'live') startLive();
  },
  onEvent: (env) => {
    if (phase === 'replay') {
      if (env.type.startsWith('chat.')) overlay.apply(env, null);
      return;
    }
    const mine = env.type.startsWith('chat.') && me && env.data?.viewer_id === me;
    timeline.push(env, { now: mine || phase !== 'live' });
  },
  onError: (d) => {
    debug.errors.push(d);
    ui.chatStatus.textContent = d.message || d.code || 'Something went wrong';
    setTimeout(() => (ui.chatStatus.textContent = ''), 5000);
  },
});

// ---- phases -----------------------------------------------------------------
function setPhase(p) {
  phase = p;
  debug.phase = p;
  root.dataset.phase = p;
  ui.badge.textContent = { upcoming: 'Upcoming', live: 'LIVE', ended: 'Ended', replay: 'Replay' }[p] || '';
  chatOpenFor(p);
}

function chatOpenFor(p) {
  const open = p === 'live' || (p === 'upcoming' && settings.prelive_chat !== false) || ((p === 'replay' || p === 'ended') && settings.replay_chat !== false);
  ui.chatForm.hidden = !open;
}

function message(text) {
  ui.msg.textContent = text;
  ui.msg.hidden = !text;
}

async function fetchInfo() {
  const t0 = Date.now();
  const res = await fetch(urls.info, { cache: 'no-store' });
  const t1 = Date.now();
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`info: ${res.status}`);
  const v = await res.json();
  const now = Date.parse(v.now);
  if (!isNaN(now)) clock.offset = now - (t0 + t1) / 2;
  debug.clockOffset = clock.offset;
  return v;
}

let liveGen = 0;
async function startLive() {
  const gen = ++liveGen;
  setPhase('live');
  clear(ui.upcoming);
  message('Waiting for the host…');
  for (;;) {
    if (gen !== liveGen || phase !== 'live') return;
    try {
      info = (await fetchInfo()) || info;
    } catch {}
    if (info?.online) break;
    await sleep(2000);
  }
  const preferWebRTC = webrtcSuits(info);
  debug.bframes = !!info.webrtc?.b_frames;
  await helloOrSoon();
  video.fallback = () => gen === liveGen && video.playHLS(asViewer(urls.hls), { live: true }).catch(fail);
  try {
    await video.live({ whepURL: asViewer(urls.whep), hlsURL: asViewer(urls.hls), preferWebRTC, force });
  } catch (e) {
    fail(e);
  }
  // B-frames the server had not seen yet when the page chose WebRTC (the
  // campaign's transport "auto"): LL-HLS then.
  if (!force && video.transport === 'whep') setTimeout(() => recheckBFrames(gen), 3000);
  heartbeat();
}

async function recheckBFrames(gen) {
  const i = await fetchInfo().catch(() => null);
  if (gen !== liveGen || video.transport !== 'whep' || !i?.webrtc?.b_frames || webrtcSuits(i)) return;
  debug.bframes = true;
  video.fallback?.();
}

function fail(e) {
  console.error('vitrine:', e);
  message('The video cannot play here: ' + (e.message || e));
}

function endLive() {
  liveGen++;
  video.stop();
  setPhase('ended');
  if (watchedFrom) watchedMs += performance.now() - watchedFrom;
  watchedFrom = 0;
  clear(ui.ended);
  ui.ended.append(h('h2', { text: 'This live has ended' }), h('p', { text: 'Thank you for watching.' }));
  if (settings.survey !== false && watchedMs > 0) showSurvey();
  waitForReplay();
}

async function replayAvailable() {
  try {
    const r = await fetch(urls.replay, { cache: 'no-store' });
    return r.ok;
  } catch {
    return false;
  }
}

async function waitForReplay() {
  for (let i = 0; i < 30 && phase === 'ended'; i++) {
    if (await replayAvailable()) {
      const btn = h('button', { type: 'button', class: 'vt-btn vt-primary', onclick: startReplay }, 'Watch the replay');
      ui.ended.append(btn);
      return;
    }
    await sleep(10000);
  }
}

// ---- upcoming -----------------------------------------------------------------
function showUpcoming() {
  setPhase('upcoming');
  clear(ui.upcoming);
  const cover = safeURL(info.cover_url);
  const cd = h('p', { class: 'vt-countdown', role: 'timer', 'aria-live': 'off' });
  const tick = () => (cd.textContent = countdown(Date.parse(info.starts_at) - (Date.now() + clock.offset)));
  tick();
  const timer = setInterval(() => (phase === 'upcoming' ? tick() : clearInterval(timer)), 1000);
  // The number as the shopper writes it: the server reads it (spaces,
  // dots, dashes, a national number in the country of the browser's
  // language or the campaign's) and answers it in international form.
  const phone = h('input', { type: 'tel', name: 'phone', required: true, placeholder: '+33 6 12 34 56 78', inputmode: 'tel', autocomplete: 'tel', maxlength: 40, 'aria-label': 'Phone number' });
  const optIn = h('input', { type: 'checkbox', name: 'opt_in' });
  const status = h('p', { class: 'vt-muted', role: 'status' });
  const sms = h(
    'form',
    { class: 'vt-sms', 'aria-label': 'SMS reminder', novalidate: true },
    h('label', null, 'Remind me by SMS ', phone),
    h('label', { class: 'vt-small' }, optIn, ' I agree to receive offers from the seller'),
    h('button', { type: 'submit', class: 'vt-btn vt-primary' }, 'Remind me'),
    status,
  );
  sms.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!phone.value.trim()) {
      status.textContent = 'Enter your phone number.';
      phone.focus({ preventScroll: true });
      return;
    }
    status.textContent = 'Sending…';
    const sent = { phone: phone.value.trim(), opt_in: optIn.checked };
    const country = browserCountry();
    if (country) sent.country = country;
    try {
      const r = await fetch(urls.reminders, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(sent),
      });
      const body = await r.json().catch(() => ({}));
      if (r.ok) {
        status.textContent = 'We will text you before the live starts.';
        track('alert.subscribe', { channel: 'sms', phone: body.phone || sent.phone, opt_in: sent.opt_in });
      } else if (r.status === 422 && body?.error?.fields?.[0]?.field === 'phone') {
        const m = body.error.fields[0].message || '';
        status.textContent = 'Please check the number: ' + m;
        phone.setAttribute('aria-invalid', 'true');
      } else if (r.status === 429) status.textContent = 'Too many tries: wait a minute, then try again.';
      else status.textContent = r.status === 409 ? 'This live is over.' : 'Your number could not be saved. Try again in a moment.';
      if (r.ok) phone.removeAttribute('aria-invalid');
    } catch {
      status.textContent = 'Network error, try again.';
    }
  });
  const teaser = (info.products || []).slice(0, 6).map((p) => overlay.productCard(p, 'vt-card vt-card-wide'));
  ui.upcoming.append(
    ...[
      cover ? h('img', { class: 'vt-cover', src: cover, alt: '' }) : null,
      h('p', { class: 'vt-when', text: dateTime(info.starts_at) }),
      cd,
      info.description ? h('p', { class: 'vt-desc', text: info.description }) : null,
      h('a', { class: 'vt-btn', href: urls.calendar, download: `${id}.ics`, onclick: () => track('alert.subscribe', { channel: 'calendar' }) }, 'Add to calendar'),
      sms,
      teaser.length ? h('section', { class: 'vt-teaser', 'aria-label': 'Products of the show' }, h('h2', { class: 'vt-sr', text: 'Products of the show' }), teaser) : null,
    ].filter(Boolean),
  );
}

// ---- replay -----------------------------------------------------------------
let cursor = null;
let replayEvents = [];
let replayChapters = [];
let controls = null;
async function startReplay() {
  liveGen++;
  setPhase('replay');
  clear(ui.ended);
  overlay.reset({ phase: 'replay', settings });
  try {
    replayEvents = await loadReplayEvents(id);
  } catch (e) {
    console.warn('vitrine: replay events', e);
    replayEvents = [];
  }
  debug.replayEvents = replayEvents.length;
  cursor = replayCursor(replayEvents.filter((e) => !e.type.startsWith('stream.')));
  replayChapters = chapters(replayEvents);
  debug.chapters = replayChapters;
  controls?.destroy();
  controls = replayControls(ui.video, { chapters: replayChapters, duration: replayEvents.duration });
  ui.video.parentElement.append(controls.el);
  renderChapters();
  const t = Date.parse(params.get('at') || '');
  try {
    await helloOrSoon();
    await video.playHLS(asViewer(urls.replay), { live: false, start: isNaN(t) ? null : t });
  } catch (e) {
    fail(e);
  }
  heartbeat();
}

function replayTick() {
  if (phase !== 'replay' || !cursor) return;
  const t = video.mediaNow();
  if (t == null) return;
  for (const e of cursor.step(t, overlay)) overlay.apply(e, t);
  const cur = ui.chapters.querySelector('[aria-current]');
  const list = [...ui.chapters.querySelectorAll('button')];
  const pos = ui.video.currentTime;
  const active = list.filter((b) => Number(b.dataset.start) <= pos + 0.05 && (!b.dataset.end || Number(b.dataset.end) > pos)).pop();
  if (active !== cur) {
    cur?.removeAttribute('aria-current');
    active?.setAttribute('aria-current', 'true');
  }
}

function renderChapters() {
  clear(ui.chapters);
  const chs = replayChapters;
  ui.chapters.hidden = chs.length === 0;
  if (!chs.length) return;
  ui.chapters.append(h('h2', { text: 'Products in this show' }));
  const ol = h('ol');
  for (const c of chs) {
    ol.append(
      h(
        'li',
        null,
        h(
          'button',
          { type: 'button', class: 'vt-chapter', 'data-start': c.start, 'data-end': c.end ?? '', 'data-product': c.product.id, onclick: () => controls.seek(c.start) },
          h('span', { class: 'vt-chapter-t', text: clockTime(c.start) }),
          ' ',
          h('span', { text: c.product.name }),
          ' ',
          h('span', { class: 'vt-muted', text: price(c.product.price, c.product.currency) }),
        ),
      ),
    );
  }
  ui.chapters.append(ol);
}

// ---- actions -----------------------------------------------------------------
function shop(type, product, e) {
  if (type === 'product_click') {
    track('product.click', { product_id: product.id });
    // Embedded or with callbacks, the shop decides; else the link opens.
    if (handoff({ embedded, origin, campaignId: id, viewerId: me || localId }, 'product_click', product)) e?.preventDefault();
    return;
  }
  if (type === 'add_to_cart') {
    track('cart.add', { product_id: product.id, quantity: 1 });
    const handled = handoff({ embedded, origin, campaignId: id, viewerId: me || localId }, 'add_to_cart', product);
    cart.push(product);
    if (cart.length === 1) track('cart.create', { amount: product.price, currency: product.currency });
    ui.cartN.textContent = String(cart.length);
    cartBtn.hidden = false;
    if (!handled) {
      const url = safeURL(product.url);
      if (url) window.open(url, '_blank', 'noopener');
    }
  }
}

function checkout() {
  const currency = cart[0]?.currency || '';
  const amount = cart.reduce((s, p) => s + (Number(p.price) || 0), 0).toFixed(2);
  const items = cart.map((p) => ({ product_id: p.id, price: p.price, currency: p.currency }));
  if (!handoff({ embedded, origin, campaignId: id, viewerId: me || localId }, 'checkout', null, { items, amount, currency })) {
    const url = safeURL(cart[0]?.url);
    if (url) window.open(url, '_blank', 'noopener');
  }
}

// The host page reports a purchase (embed.js Vitrine.purchase()).
addEventListener('message', (e) => {
  if (!embedded || e.source !== window.parent || (origin && e.origin !== origin)) return;
  const d = e.data;
  if (d?.source !== 'vitrine-host') return;
  if (d.type === 'purchase') track('purchase', { amount: String(d.amount ?? ''), currency: d.currency || '', product_ids: d.product_ids || [], order_id: d.order_id || '' });
});

function like() {
  overlay.like();
  events.send('like');
  // The socket's like.count carries no viewer: the tap is tracked too, so
  // that the liker counts in the live's engagement rate.
  track('like');
}

async function share() {
  let network = 'link';
  try {
    if (navigator.share) {
      await navigator.share({ title: info?.title || document.title, url: urls.watch });
      network = 'other';
    } else {
      await navigator.clipboard.writeText(urls.watch);
      flash(shareBtn, 'Link copied');
    }
  } catch {
    return;
  }
  events.send('share', { network }); // counted by the server from the socket, not tracked twice
}

function flash(el, text) {
  const tip = h('span', { class: 'vt-tip', role: 'status', text });
  el.append(tip);
  setTimeout(() => tip.remove(), 1500);
}

function toggleCatalog(open = ui.catalog.hidden) {
  ui.catalog.hidden = !open;
  catalogBtn.setAttribute('aria-expanded', String(open));
  if (!open) return catalogBtn.focus({ preventScroll: true });
  clear(ui.catalog);
  const close = h('button', { type: 'button', class: 'vt-icon vt-close', 'aria-label': 'Close the products', onclick: () => toggleCatalog(false) }, icon('close'));
  ui.catalog.append(h('div', { class: 'vt-catalog-head' }, h('h2', { text: 'Products of the show' }), close));
  for (const p of info?.products || []) ui.catalog.append(overlay.productCard(p, 'vt-card vt-card-wide'));
  close.focus({ preventScroll: true });
  track('catalog.open');
}

function toggleMute() {
  const v = ui.video;
  v.muted = !v.muted;
  muteBtn.replaceChildren(icon(v.muted ? 'muted' : 'sound'));
  muteBtn.setAttribute('aria-label', v.muted ? 'Unmute' : 'Mute');
  muteBtn.setAttribute('aria-pressed', String(!v.muted));
  // WebRTC carries no sound when the server cannot transcode an AAC
  // source (its info says "none: ..."): sound means LL-HLS then.
  if (!v.muted && video.transport === 'whep' && /^none/.test(info?.webrtc?.audio || '') && !force) {
    video.playHLS(asViewer(urls.hls), { live: true }).catch(fail);
  }
  v.play().catch(() => {});
}

function sendChat(e) {
  e.preventDefault();
  const text = textIn.value.trim();
  if (!text) return;
  const name = nameIn.value.trim() || 'Guest';
  store('vitrine.name', name);
  const data = { text, name };
  if (questionIn.checked) data.question = true;
  events.send('chat.send', data);
  textIn.value = '';
  questionIn.checked = false;
  const slow = settings.slow_mode_seconds || 0;
  if (slow > 0) {
    sendBtn.disabled = true;
    setTimeout(() => (sendBtn.disabled = false), slow * 1000);
  }
}

function leave() {
  if (settings.survey !== false && (phase === 'live' || phase === 'replay') && !surveyShown) {
    showSurvey(true);
    return;
  }
  close();
}

function close() {
  if (embedded) handoff({ embedded, origin, campaignId: id, viewerId: me || localId }, 'close', null);
  else if (history.length > 1) history.back();
}

function showSurvey(thenClose) {
  if (surveyShown) return;
  surveyShown = true;
  track('survey.view');
  clear(ui.survey);
  let rating = 0;
  const stars = h('div', { class: 'vt-stars', role: 'radiogroup', 'aria-label': 'Rating' });
  for (let i = 1; i <= 5; i++) {
    const b = h('button', { type: 'button', role: 'radio', 'aria-checked': 'false', 'aria-label': `${i} out of 5`, class: 'vt-star' }, '★');
    b.addEventListener('click', () => {
      rating = i;
      stars.querySelectorAll('button').forEach((x, j) => {
        x.setAttribute('aria-checked', String(j + 1 === i));
        x.classList.toggle('vt-on', j < i);
      });
    });
    stars.append(b);
  }
  const comment = h('textarea', { name: 'comment', maxlength: 500, rows: 3, placeholder: 'Anything to tell the seller? (optional)', 'aria-label': 'Comment' });
  const done = () => {
    ui.survey.hidden = true;
    if (thenClose) close();
  };
  const form = h(
    'form',
    null,
    h('h2', { text: 'How was the show?' }),
    stars,
    comment,
    h('div', { class: 'vt-row' }, h('button', { type: 'button', class: 'vt-btn', onclick: done }, 'Skip'), h('button', { type: 'submit', class: 'vt-btn vt-primary' }, 'Send')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (rating) events.send('survey.answer', { rating, comment: comment.value.trim() });
    done();
  });
  ui.survey.addEventListener('keydown', (e) => e.key === 'Escape' && done());
  ui.survey.append(form);
  ui.survey.hidden = false;
  stars.querySelector('button').focus({ preventScroll: true });
}

function heartbeat() {
  if (heartbeat.on) return;
  heartbeat.on = true;
  setInterval(() => {
    // The page's presence (the server sees the video's viewers itself).
    if (document.visibilityState === 'visible') track('session.heartbeat');
  }, 30000);
}

addEventListener('pagehide', () => {
  track('session.end');
  tr.flush(true);
});
addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !ui.catalog.hidden) toggleCatalog(false);
});

// browserCountry is the region of the browser's language (fr-FR: FR), the
// country of a number written without its country code.
function browserCountry() {
  for (const l of navigator.languages || [navigator.language]) {
    const m = /^[a-z]{2,3}-([A-Z]{2})\b/i.exec(l || '');
    if (m) return m[1].toUpperCase();
  }
  return '';
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- boot -----------------------------------------------------------------
(async () => {
  track('page.view');
  track('session.start');
  heartbeat();
  try {
    info = await fetchInfo();
  } catch (e) {
    message('This live cannot be loaded right now. Retry in a moment.');
    return;
  }
  if (!info) {
    message('This live does not exist or is not published.');
    return;
  }
  debug.info = info;
  ui.title.textContent = info.title;
  document.title = info.title;
  events.connect();
  if (info.status === 'ongoing') startLive();
  else if (info.status === 'upcoming') showUpcoming();
  else if (await replayAvailable()) startReplay();
  else {
    setPhase('ended');
    clear(ui.ended);
    ui.ended.append(h('h2', { text: 'This live has ended' }), h('p', { text: 'The replay will be here soon.' }));
    waitForReplay();
  }
})();
