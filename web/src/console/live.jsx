import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api } from './api.js';
import { base, useTitle } from './app.jsx';
import { hostEvents } from './hostevents.js';
import * as pub from './publisher.js';
import { whep } from '../player/whep.js';
import { watchURL } from './campaigns.jsx';
import { CopyButton, Field, Loading, Notice, fmtMoney, useConfirm } from './ui.jsx';

const maxPins = 3;

// fold keeps what the live screen shows from the host's events.
function fold(s, env) {
  const d = env.data || {};
  switch (env.type) {
    case 'viewer.count':
      return { ...s, viewers: d.count, peak: Math.max(s.peak, d.count) };
    case 'like.count':
      return { ...s, likes: d.count };
    case 'share':
      return { ...s, shares: s.shares + 1 };
    case 'chat.message':
    case 'chat.question':
    case 'chat.answer':
      return { ...s, chat: [...s.chat, { ...d, type: env.type, at: env.at }].slice(-500), messages: s.messages + (env.type === 'chat.answer' ? 0 : 1) };
    case 'chat.deleted':
      return { ...s, deleted: { ...s.deleted, [d.message_id]: true } };
    case 'chat.displayed':
      return { ...s, shown: { ...s.shown, [d.message_id]: true } };
    case 'viewer.banned':
      return { ...s, banned: { ...s.banned, [d.viewer_id]: true } };
    case 'viewer.unbanned':
      return { ...s, banned: { ...s.banned, [d.viewer_id]: false } };
    case 'product.pinned':
      return { ...s, pinned: [...s.pinned.filter((id) => id !== d.product.id), d.product.id] };
    case 'product.unpinned':
      return { ...s, pinned: s.pinned.filter((id) => id !== d.product_id) };
    case 'voucher.pinned':
      return { ...s, voucher: d.voucher.id };
    case 'voucher.unpinned':
      return { ...s, voucher: s.voucher === d.voucher_id ? '' : s.voucher };
    case 'order.placed':
      return { ...s, orderSeq: env.seq };
    case 'poll.opened':
      return { ...s, polls: { ...s.polls, [d.poll.id]: { ...d.poll, votes: d.poll.options.map(() => 0), total: 0, open: true } } };
    case 'poll.results':
    case 'poll.closed': {
      const p = s.polls[d.poll_id];
      if (!p) return s;
      return { ...s, polls: { ...s.polls, [d.poll_id]: { ...p, votes: d.votes, total: d.total, open: env.type !== 'poll.closed' && p.open } } };
    }
    case 'instant_win.opened':
      return { ...s, wins: { ...s.wins, [d.instant_win.id]: { ...d.instant_win, entrants: 0, drawn: null } } };
    case 'instant_win.entered': {
      const w = s.wins[d.instant_win_id];
      return w ? { ...s, wins: { ...s.wins, [d.instant_win_id]: { ...w, entrants: w.entrants + 1 } } } : s;
    }
    case 'instant_win.drawn': {
      const w = s.wins[d.instant_win_id];
      return w ? { ...s, wins: { ...s.wins, [d.instant_win_id]: { ...w, entrants: d.entrants, drawn: d.winners } } } : s;
    }
    case 'room.settings':
      return { ...s, settings: d };
    case 'chat.filter':
      return { ...s, words: d.words || [] };
    case 'stream.live':
      return { ...s, liveAt: env.at };
    default:
      return s;
  }
}

const initial = { viewers: 0, peak: 0, likes: 0, shares: 0, messages: 0, chat: [], deleted: {}, shown: {}, banned: {}, pinned: [], voucher: '', orderSeq: 0, polls: {}, wins: {}, settings: null, words: [], liveAt: '' };

export function Live() {
  const { params } = useRoute();
  const loc = useLocation();
  const [c, setC] = useState(null);
  const [products, setProducts] = useState([]);
  const [vouchers, setVouchers] = useState([]);
  const [s, dispatch] = useReducer(fold, initial);
  const [conn, setConn] = useState('connecting');
  const [error, setError] = useState('');
  const [orders, setOrders] = useState([]);
  const [shop, setShop] = useState({ clicks: 0, carts: 0 });
  const [confirmEl, ask] = useConfirm();
  const [pubState, setPubState] = useState(pub.current());
  useTitle(c ? 'Live: ' + c.title : 'Live');

  useEffect(() => pub.subscribe(setPubState), []);
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const camp = await api('GET', '/campaigns/' + params.id);
        const pre = await api('GET', `/campaigns/${params.id}/preflight`);
        if (!live) return;
        setC(camp);
        setProducts(pre.products);
        setVouchers(pre.vouchers);
      } catch (e) {
        live && setError(e.message);
      }
    })();
    const stop = hostEvents(params.id, dispatch, setConn);
    return () => {
      live = false;
      stop();
    };
  }, [params.id]);

  useEffect(() => {
    api('GET', `/campaigns/${params.id}/orders?limit=50`).then((p) => setOrders(p.items || []), () => {});
  }, [params.id, s.orderSeq]);

  // Clicks and carts come from the viewers' pages through analytics: read
  // the live's figures every 15 s.
  useEffect(() => {
    let live = true;
    const poll = () =>
      api('GET', `/campaigns/${params.id}/analytics?phase=live`).then(
        (r) => live && r.live && setShop({ clicks: (r.live.products || []).reduce((n, p) => n + p.clicks, 0), carts: r.live.business?.carts_created || 0 }),
        () => {},
      );
    poll();
    const t = setInterval(poll, 15000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [params.id]);

  if (error) return <Notice kind="error">{error}</Notice>;
  if (!c) return <Loading label="Opening the live…" />;

  const act = async (fn) => {
    setError('');
    try {
      await fn();
    } catch (e) {
      setError(e.message);
    }
  };
  const end = async () => {
    if (!(await ask('End the livestream?', 'Viewers see the end of the live; the replay is prepared from the recording.', 'End livestream', true))) return;
    await act(async () => {
      await api('POST', `/campaigns/${c.id}/end`);
      pub.stop();
      loc.route(`${base}/campaigns/${c.id}`);
    });
  };
  const sales = orders.reduce((sum, o) => sum + Number(o.total || 0), 0);
  const currency = orders[0]?.currency || products[0]?.currency || 'EUR';

  return (
    <section aria-labelledby="l-title" class="live">
      <div class="page-head">
        <h1 id="l-title">
          <span class="on-air" aria-hidden="true">●</span> {c.title}
        </h1>
        <div class="actions">
          <span class={'conn conn-' + conn} role="status">{conn === 'connected' ? 'Connected' : conn === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'}</span>
          <CopyButton text={watchURL(c)} label="Copy link" />
          <button type="button" class="danger" onClick={end}>End livestream</button>
        </div>
      </div>
      <Notice kind="error" onClose={() => setError('')}>{error}</Notice>
      <dl class="stats" aria-label="Live statistics">
        <Stat label="On air" value={<OnAir since={s.liveAt || c.live_started_at} />} />
        <Stat label="Viewers now" value={s.viewers} />
        <Stat label="Peak viewers" value={s.peak} />
        <Stat label="Likes" value={s.likes} />
        <Stat label="Messages" value={s.messages} />
        <Stat label="Shares" value={s.shares} />
        <Stat label="Product clicks" value={shop.clicks} />
        <Stat label="Carts" value={shop.carts} />
        <Stat label="Orders" value={orders.length} />
        <Stat label="Sales" value={fmtMoney(sales.toFixed(2), currency)} />
      </dl>
      <div class="live-grid">
        <div class="col">
          <Preview c={c} />
          {pubState.stream && (
            <div class="row">
              <button type="button" class="secondary" aria-pressed={pubState.video ? 'false' : 'true'} onClick={() => pub.toggle('video')}>
                {pubState.video ? 'Turn camera off' : 'Turn camera on'}
              </button>
              <button type="button" class="secondary" aria-pressed={pubState.audio ? 'false' : 'true'} onClick={() => pub.toggle('audio')}>
                {pubState.audio ? 'Mute microphone' : 'Unmute microphone'}
              </button>
            </div>
          )}
          <div class="box">
            <h2>Products</h2>
            <ul class="pins">
              {products.map((p) => {
                const on = s.pinned.includes(p.id);
                return (
                  <li key={p.id}>
                    <span>{p.name} <span class="sub">{fmtMoney(p.price, p.currency)}</span></span>
                    <button
                      type="button"
                      class={on ? 'small' : 'small secondary'}
                      aria-pressed={on ? 'true' : 'false'}
                      disabled={!on && s.pinned.length >= maxPins}
                      title={!on && s.pinned.length >= maxPins ? `At most ${maxPins} products at once: hide one first` : undefined}
                      onClick={() => act(() => (on ? api('DELETE', `/campaigns/${c.id}/pins/product/${p.id}`) : api('POST', `/campaigns/${c.id}/pins`, { kind: 'product', id: p.id })))}
                    >
                      {on ? 'Hide' : 'Show'} <span class="visually-hidden">{p.name}</span>
                    </button>
                  </li>
                );
              })}
            </ul>
            {!products.length && <p class="empty">No products in this campaign.</p>}
            <h2>Vouchers</h2>
            <ul class="pins">
              {vouchers.map((v) => {
                const on = s.voucher === v.id;
                return (
                  <li key={v.id}>
                    <span>{v.name} <span class="sub">{v.code}</span></span>
                    <button
                      type="button"
                      class={on ? 'small' : 'small secondary'}
                      aria-pressed={on ? 'true' : 'false'}
                      onClick={() => act(() => (on ? api('DELETE', `/campaigns/${c.id}/pins/voucher/${v.id}`) : api('POST', `/campaigns/${c.id}/pins`, { kind: 'voucher', id: v.id })))}
                    >
                      {on ? 'Hide' : 'Show'} <span class="visually-hidden">{v.name}</span>
                    </button>
                  </li>
                );
              })}
            </ul>
            {!vouchers.length && <p class="empty">No vouchers in this campaign.</p>}
          </div>
          <Orders orders={orders} />
        </div>
        <div class="col">
          <Chat c={c} s={s} act={act} />
          <Interactions c={c} s={s} act={act} />
        </div>
      </div>
      {confirmEl}
    </section>
  );
}

function Stat({ label, value }) {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function OnAir({ since }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  if (!since) return '—';
  const sec = Math.max(0, Math.floor((Date.now() - new Date(since)) / 1000));
  const pad = (n) => String(n).padStart(2, '0');
  return `${Math.floor(sec / 3600)}:${pad(Math.floor((sec % 3600) / 60))}:${pad(sec % 60)}`;
}

// Preview plays the live as viewers get it (WHEP), muted.
function Preview({ c }) {
  const ref = useRef(null);
  const [state, setState] = useState('connecting');
  useEffect(() => {
    let session = null;
    let stopped = false;
    let retry = null;
    const start = async () => {
      try {
        session = await whep(c.playback.whep, {
          onTrack: (track, stream) => {
            if (ref.current && ref.current.srcObject !== stream) ref.current.srcObject = stream;
            setState('playing');
          },
          onFailed: () => !stopped && (setState('waiting'), (retry = setTimeout(start, 3000))),
        });
      } catch {
        if (!stopped) {
          setState('waiting');
          retry = setTimeout(start, 3000);
        }
      }
    };
    start();
    return () => {
      stopped = true;
      clearTimeout(retry);
      session && session.stop && session.stop();
    };
  }, [c.id]);
  return (
    <div class="viewer-preview">
      <video ref={ref} autoplay muted playsInline aria-label="The live as viewers see it" />
      {state !== 'playing' && <p class="overlay-msg" role="status">{state === 'waiting' ? 'Waiting for the stream…' : 'Connecting to the stream…'}</p>}
    </div>
  );
}

function Orders({ orders }) {
  return (
    <div class="box">
      <h2>Livestream orders ({orders.length})</h2>
      {orders.length === 0 ? (
        <p class="empty">No orders yet.</p>
      ) : (
        <table class="list compact">
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Products</th>
              <th scope="col">Customer</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {orders.map((o) => (
              <tr key={o.id}>
                <td>{o.code}</td>
                <td>{o.product_count}</td>
                <td>{o.customer_name || '—'}</td>
                <td>{fmtMoney(o.total, o.currency)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Chat({ c, s, act }) {
  const [reply, setReply] = useState(null);
  const [text, setText] = useState('');
  const [showSettings, setShowSettings] = useState(false);
  const list = useRef(null);
  const lines = s.chat.filter((m) => !s.deleted[m.id]);
  useEffect(() => {
    const el = list.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  const send = (e) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    act(async () => {
      await api('POST', `/campaigns/${c.id}/messages`, { text: t, reply_to: reply ? reply.id : '' });
      setText('');
      setReply(null);
    });
  };
  return (
    <div class="box chat">
      <div class="box-head">
        <h2>Chat</h2>
        <button type="button" class="small secondary" aria-expanded={showSettings ? 'true' : 'false'} onClick={() => setShowSettings(!showSettings)}>Chat settings</button>
      </div>
      {showSettings && <ChatSettings c={c} s={s} act={act} />}
      <ol class="chat-lines" ref={list} aria-live="polite" aria-label="Messages">
        {lines.map((m) => (
          <li key={m.id} class={'line line-' + m.type.split('.')[1] + (s.shown[m.id] ? ' shown' : '')}>
            <div>
              {m.type === 'chat.question' && <span class="tag">Question</span>}
              {m.type === 'chat.answer' && <span class="tag tag-answer">Answer</span>}
              <strong>{m.name || 'Viewer'}</strong>
              {m.viewer_id && s.banned[m.viewer_id] && <span class="tag tag-banned">Banned</span>}
              {m.reply_text && <span class="sub"> ↪ {m.reply_text}</span>}
              <p>{m.text}</p>
            </div>
            {m.type !== 'chat.answer' && (
              <div class="line-actions">
                <button type="button" class="small secondary" onClick={() => setReply(m)} aria-label={`Answer ${m.name}`}>Answer</button>
                <button type="button" class="small secondary" disabled={!!s.shown[m.id]} onClick={() => act(() => api('POST', `/campaigns/${c.id}/messages/${m.id}/display`))} aria-label={`Display ${m.name}'s message to the host`}>
                  {s.shown[m.id] ? 'Displayed' : 'Display'}
                </button>
                <button type="button" class="small danger-outline" onClick={() => act(() => api('DELETE', `/campaigns/${c.id}/messages/${m.id}`))} aria-label={`Delete ${m.name}'s message`}>Delete</button>
                {m.viewer_id &&
                  (s.banned[m.viewer_id] ? (
                    <button type="button" class="small secondary" onClick={() => act(() => api('DELETE', `/campaigns/${c.id}/bans/${m.viewer_id}`))} aria-label={`Unban ${m.name}`}>Unban</button>
                  ) : (
                    <button type="button" class="small danger-outline" onClick={() => act(() => api('POST', `/campaigns/${c.id}/bans`, { viewer_id: m.viewer_id }))} aria-label={`Ban ${m.name}`}>Ban</button>
                  ))}
              </div>
            )}
          </li>
        ))}
        {!lines.length && <li class="empty">No messages yet.</li>}
      </ol>
      <form onSubmit={send} class="chat-form">
        {reply && (
          <p class="replying">
            Answering {reply.name}: “{reply.text}”{' '}
            <button type="button" class="link" onClick={() => setReply(null)}>Cancel</button>
          </p>
        )}
        <label for="host-msg" class="visually-hidden">{reply ? 'Your answer' : 'Your message'}</label>
        <input id="host-msg" maxLength={500} placeholder={reply ? 'Your answer' : 'Write to the viewers'} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <button type="submit" disabled={!text.trim()}>Send</button>
      </form>
    </div>
  );
}

function ChatSettings({ c, s, act }) {
  const [st, setSt] = useState(null);
  useEffect(() => {
    api('GET', `/campaigns/${c.id}/chat-settings`).then((v) => setSt({ ...v, words: (v.blocked_words || []).join(', ') }), () => {});
  }, [c.id, s.settings]);
  if (!st) return <Loading />;
  const save = (e) => {
    e.preventDefault();
    act(async () => {
      const body = {
        prelive_chat: st.prelive_chat, replay_chat: st.replay_chat, slow_mode_seconds: Number(st.slow_mode_seconds) || 0,
        max_length: st.max_length, survey: st.survey, orders_ticker: st.orders_ticker,
        blocked_words: st.words.split(',').map((w) => w.trim()).filter(Boolean),
      };
      await api('PUT', `/campaigns/${c.id}/chat-settings`, body);
    });
  };
  const flag = (k) => (e) => setSt({ ...st, [k]: e.currentTarget.checked });
  return (
    <form class="settings" onSubmit={save}>
      <Field label="Slow mode (seconds between two messages of a viewer; 0: off)">
        {(a) => <input {...a} type="number" min="0" max="3600" value={st.slow_mode_seconds} onInput={(e) => setSt({ ...st, slow_mode_seconds: e.currentTarget.value })} />}
      </Field>
      <Field label="Blocked words" hint="Separated by commas">
        {(a) => <input {...a} value={st.words} onInput={(e) => setSt({ ...st, words: e.currentTarget.value })} />}
      </Field>
      <label class="check"><input type="checkbox" checked={st.prelive_chat} onChange={flag('prelive_chat')} /> Chat before the live</label>
      <label class="check"><input type="checkbox" checked={st.replay_chat} onChange={flag('replay_chat')} /> Chat in the replay</label>
      <button type="submit" class="small">Save settings</button>
    </form>
  );
}

function Interactions({ c, s, act }) {
  const [q, setQ] = useState('');
  const [opts, setOpts] = useState('');
  const [prize, setPrize] = useState('');
  const [winners, setWinners] = useState('1');
  const polls = Object.values(s.polls).reverse();
  const wins = Object.values(s.wins).reverse();
  return (
    <div class="box">
      <h2>Polls</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          act(async () => {
            await api('POST', `/campaigns/${c.id}/polls`, { question: q.trim(), options: opts.split('\n').map((o) => o.trim()).filter(Boolean) });
            setQ('');
            setOpts('');
          });
        }}
      >
        <Field label="Question">{(a) => <input {...a} value={q} maxLength={200} onInput={(e) => setQ(e.currentTarget.value)} />}</Field>
        <Field label="Answers" hint="One per line, 2 to 6">{(a) => <textarea {...a} rows={3} value={opts} onInput={(e) => setOpts(e.currentTarget.value)} />}</Field>
        <button type="submit" class="small" disabled={!q.trim()}>Open poll</button>
      </form>
      {polls.map((p) => (
        <div class="poll" key={p.id}>
          <strong>{p.question}</strong> {p.open ? <span class="tag">Open</span> : <span class="tag">Closed</span>}
          <ul>
            {p.options.map((o, i) => (
              <li>
                {o}: {p.votes[i] || 0} ({p.total ? Math.round(((p.votes[i] || 0) * 100) / p.total) : 0} %)
              </li>
            ))}
          </ul>
          {p.open && <button type="button" class="small secondary" onClick={() => act(() => api('POST', `/campaigns/${c.id}/polls/${p.id}/close`))}>Close poll</button>}
        </div>
      ))}
      <h2>Instant wins</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          act(async () => {
            await api('POST', `/campaigns/${c.id}/instant-wins`, { prize: prize.trim(), winners: Number(winners) || 1 });
            setPrize('');
          });
        }}
      >
        <Field label="Prize">{(a) => <input {...a} value={prize} maxLength={200} onInput={(e) => setPrize(e.currentTarget.value)} />}</Field>
        <Field label="Winners">{(a) => <input {...a} type="number" min="1" max="100" value={winners} onInput={(e) => setWinners(e.currentTarget.value)} />}</Field>
        <button type="submit" class="small" disabled={!prize.trim()}>Open instant win</button>
      </form>
      {wins.map((w) => (
        <div class="poll" key={w.id}>
          <strong>{w.prize}</strong> — {w.entrants} entered
          {w.drawn ? (
            <p>Winners: {w.drawn.length ? w.drawn.map((x) => x.name || x.viewer_id).join(', ') : 'nobody entered'}</p>
          ) : (
            <button type="button" class="small secondary" onClick={() => act(() => api('POST', `/campaigns/${c.id}/instant-wins/${w.id}/draw`))}>Draw {w.winners}</button>
          )}
        </div>
      ))}
    </div>
  );
}
