// The events WebSocket: hello (our viewer token, kept in localStorage and
// sent back as ?viewer=), snapshot, then events; reconnects with ?since=
// the last seq received, so nothing is lost or repeated.
import { store } from '../lib/dom.js';

const TOKEN_KEY = 'vitrine.viewer';

export class Events {
  constructor(id, { onHello, onSnapshot, onEvent, onError, onStatus }) {
    this.id = id;
    this.h = { onHello, onSnapshot, onEvent, onError, onStatus };
    this.seq = -1; // last seq received; -1: none (ask for a snapshot)
    this.ws = null;
    this.retry = 0;
    this.closed = false;
    this.pending = [];
    this.viewerId = '';
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams();
    const token = store(TOKEN_KEY);
    if (token) q.set('viewer', token);
    if (this.seq >= 0) q.set('since', String(this.seq));
    const qs = q.toString();
    return `${proto}//${location.host}/live/${encodeURIComponent(this.id)}/events${qs ? '?' + qs : ''}`;
  }

  connect() {
    if (this.closed) return;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.h.onStatus?.('open');
      for (const m of this.pending.splice(0)) ws.send(m);
    };
    ws.onmessage = (e) => {
      let env;
      try {
        env = JSON.parse(e.data);
      } catch {
        return;
      }
      if (!env || typeof env.type !== 'string') return;
      this.retry = 0;
      switch (env.type) {
        case 'hello':
          if (env.data?.token) store(TOKEN_KEY, env.data.token);
          this.viewerId = env.data?.viewer_id || '';
          this.h.onHello?.(env.data || {});
          return;
        case 'snapshot':
          this.seq = env.seq;
          this.h.onSnapshot?.(env);
          return;
        case 'error':
          this.h.onError?.(env.data || {});
          return;
      }
      if (typeof env.seq === 'number' && env.seq > 0) {
        if (env.seq <= this.seq) return; // a repeat after a reconnection
        this.seq = env.seq;
      }
      this.h.onEvent?.(env);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws || this.closed) return;
      this.h.onStatus?.('closed');
      // A since the server refuses (a reset log) would fail forever.
      if (!opened && ++this.retry > 3) this.seq = -1;
      const wait = Math.min(10000, 300 * 2 ** Math.min(this.retry, 5)) * (0.8 + Math.random() * 0.4);
      setTimeout(() => this.connect(), e.code === 1008 ? 100 : wait);
    };
  }

  send(type, data) {
    const m = JSON.stringify(data === undefined ? { type } : { type, data });
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(m);
    else if (this.pending.length < 20) this.pending.push(m);
  }

  close() {
    this.closed = true;
    this.ws?.close();
  }
}
