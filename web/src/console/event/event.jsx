import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api } from '../api.js';
import { base, useTitle } from '../app.jsx';
import { Dialog, Loading, Notice, StatusBadge, count, fmtDate, useAsync, useConfirm } from '../ui.jsx';
import { Analytics } from './analytics.jsx';
import { download, saveBlob } from './export.jsx';
import { ReplayPlayer } from './replayplayer.jsx';

const tabs = [
  ['content', 'Content'],
  ['analytics', 'Analytics'],
  ['products', 'Products'],
  ['chat', 'Chat'],
  ['interactions', 'Interactions'],
];

// EventPage is a campaign after (or during) its live: the seed's event
// page, with its tabs and the Reset and Download menu.
export function EventPage() {
  const { params, query } = useRoute();
  const loc = useLocation();
  const tab = tabs.some(([k]) => k === query.tab) ? query.tab : 'content';
  const { data: c, error, reload } = useAsync(() => api('GET', '/campaigns/' + params.id), [params.id]);
  const [menu, setMenu] = useState(false);
  const [downloads, setDownloads] = useState(false);
  const [msg, setMsg] = useState('');
  const [err, setErr] = useState('');
  const [confirmEl, ask] = useConfirm();
  useTitle(c ? 'Event: ' + c.title : 'Event');
  if (error) return <Notice kind="error">{error.message}</Notice>;
  if (!c) return <Loading />;
  const go = (t) => loc.route(`${base}/campaigns/${c.id}/event?tab=${t}`, true);
  const reset = async () => {
    setMenu(false);
    const ok = await ask(
      'Reset this event?',
      'The recording, the replay and its product sequences, the chat, the pins, polls and instant wins, the orders and every analytics figure of this event are deleted, and the campaign is back to before its live. The campaign itself (title, products, window) stays. This cannot be undone.',
      'Reset event',
      true,
    );
    if (!ok) return;
    try {
      await api('POST', `/campaigns/${c.id}/reset`, { confirm: c.id });
      setMsg('The event was reset.');
      reload();
    } catch (e) {
      setErr(e.message);
    }
  };
  return (
    <section aria-labelledby="e-title" class="event">
      <p class="crumbs"><a href={base + '/'}>Campaigns</a> / <a href={`${base}/campaigns/${c.id}`}>{c.title}</a> / Event</p>
      <div class="page-head">
        <h1 id="e-title">{c.title}</h1>
        <StatusBadge status={c.status} />
        <div class="menu">
          <button type="button" class="secondary" aria-haspopup="true" aria-expanded={menu ? 'true' : 'false'} aria-controls="event-menu" onClick={() => setMenu(!menu)}>
            Event actions
          </button>
          {menu && (
            <ul id="event-menu" class="menu-list" onKeyDown={(e) => e.key === 'Escape' && setMenu(false)}>
              <li><button type="button" class="link" onClick={() => { setMenu(false); setDownloads(true); }}>Download video</button></li>
              <li><button type="button" class="link danger-text" onClick={reset}>Reset event</button></li>
            </ul>
          )}
        </div>
      </div>
      <Notice kind="success" onClose={() => setMsg('')}>{msg}</Notice>
      <Notice kind="error" onClose={() => setErr('')}>{err}</Notice>
      <div role="tablist" aria-label="Event" class="tabs">
        {tabs.map(([k, l]) => (
          <button
            type="button"
            role="tab"
            id={'etab-' + k}
            aria-selected={tab === k ? 'true' : 'false'}
            aria-controls="event-panel"
            tabIndex={tab === k ? 0 : -1}
            onClick={() => go(k)}
            onKeyDown={(e) => {
              const i = tabs.findIndex(([x]) => x === k);
              const n = e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length][0] : e.key === 'ArrowLeft' ? tabs[(i + tabs.length - 1) % tabs.length][0] : null;
              if (n) {
                go(n);
                setTimeout(() => document.getElementById('etab-' + n)?.focus());
              }
            }}
          >
            {l}
          </button>
        ))}
      </div>
      <div id="event-panel" role="tabpanel" aria-labelledby={'etab-' + tab} class="panel">
        {tab === 'content' && <Content c={c} />}
        {tab === 'analytics' && <Analytics c={c} />}
        {tab === 'products' && <ProductsTab c={c} />}
        {tab === 'chat' && <ChatTab c={c} />}
        {tab === 'interactions' && <InteractionsTab c={c} />}
      </div>
      <Downloads c={c} open={downloads} onClose={() => setDownloads(false)} />
      {confirmEl}
    </section>
  );
}

function Content({ c }) {
  const { data: seqs } = useAsync(() => api('GET', `/campaigns/${c.id}/sequences`).catch(() => ({ items: [] })), [c.id]);
  const { data: rec } = useAsync(() => api('GET', `/campaigns/${c.id}/recording`).catch(() => null), [c.id]);
  const [seek, setSeek] = useState(null);
  return (
    <div class="content-tab">
      <div>
        <h2>Replay</h2>
        {rec && rec.replay ? (
          <>
            <ReplayPlayer src={rec.replay} seekTo={seek} label="The replay" />
            <h3>Chapters</h3>
            {seqs && seqs.items.length ? (
              <ol class="chapters">
                {seqs.items.map((s) => (
                  <li>
                    <button type="button" class="link" onClick={() => setSeek({ t: s.start })}>
                      {clock(s.start)} — {s.name}
                    </button>
                  </li>
                ))}
              </ol>
            ) : (
              <p class="empty">No product was shown during the live.</p>
            )}
          </>
        ) : (
          <p class="empty">No replay yet: it is made from the recording once the live ends.</p>
        )}
      </div>
      <div>
        <h2>Content</h2>
        {c.image_urls.length > 0 && (
          <ul class="thumbs">
            {c.image_urls.map((u, i) => <li><img src={u} alt={`Image ${i + 1}`} width={96} height={96} /></li>)}
          </ul>
        )}
        <p class="description">{c.description || <em>No description.</em>}</p>
        <dl class="kv">
          <dt>Window</dt>
          <dd>{fmtDate(c.starts_at)} – {fmtDate(c.ends_at)}</dd>
          <dt>Live</dt>
          <dd>{c.live_started_at ? `${fmtDate(c.live_started_at)} – ${c.live_ended_at ? fmtDate(c.live_ended_at) : 'now'}` : 'Never'}</dd>
          <dt>Products and vouchers</dt>
          <dd>{count(c.product_ids.length, 'product')}, {count(c.voucher_ids.length, 'voucher')}</dd>
        </dl>
      </div>
    </div>
  );
}

export function clock(sec) {
  const s = Math.max(0, Math.round(sec));
  const pad = (n) => String(n).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}` : `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

// ProductsTab: each product in order of appearance, its display intervals
// on a bar of the live, its total time; each interval plays in place and
// downloads.
function ProductsTab({ c }) {
  const { data: tl, error } = useAsync(() => api('GET', `/campaigns/${c.id}/products-timeline`), [c.id]);
  const { data: seqs } = useAsync(() => api('GET', `/campaigns/${c.id}/sequences`).catch(() => ({ items: [] })), [c.id]);
  const [playing, setPlaying] = useState(null);
  const [err, setErr] = useState('');
  if (error) return <p class="empty">{error.status === 404 ? 'No recording of this event: nothing to show.' : error.message}</p>;
  if (!tl) return <Loading />;
  const start = tl.live_started_at ? new Date(tl.live_started_at).getTime() : 0;
  const end = tl.live_ended_at ? new Date(tl.live_ended_at).getTime() : Date.now();
  const span = Math.max(1, end - start);
  const seqOf = (pinSeq) => seqs && seqs.items.find((s) => s.id === String(pinSeq));
  const getMP4 = async (s) => {
    setErr('');
    try {
      const { blob, name } = await download(`/campaigns/${c.id}/sequences/${s.id}/download.mp4`, () => {});
      saveBlob(blob, name);
    } catch (e) {
      setErr(e.message);
    }
  };
  return (
    <div>
      <Notice kind="error" onClose={() => setErr('')}>{err}</Notice>
      {tl.products.length === 0 && <p class="empty">No product was shown during the live.</p>}
      <ol class="timeline">
        {tl.products.map((p) => (
          <li key={p.product_id}>
            <div class="tl-head">
              <strong>{p.name}</strong> <span class="sub">shown {clock(p.total_display_time)} in all</span>
            </div>
            <div class="tl-bar" role="img" aria-label={`${p.name}: shown ${p.intervals.length} times`}>
              {p.intervals.map((iv) => {
                const l = ((new Date(iv.from).getTime() - start) / span) * 100;
                const w = Math.max(0.8, ((new Date(iv.to).getTime() - new Date(iv.from).getTime()) / span) * 100);
                return <span class="tl-iv" style={{ left: `${Math.max(0, l)}%`, width: `${Math.min(100, w)}%` }} />;
              })}
            </div>
            <ul class="intervals">
              {p.intervals.map((iv, i) => {
                const s = seqOf(iv.pin_seq);
                return (
                  <li>
                    {fmtDate(iv.from)} · {clock(iv.duration)}
                    {s && (
                      <>
                        {' '}
                        <button type="button" class="small secondary" onClick={() => setPlaying(s)} aria-label={`Play ${p.name}, interval ${i + 1}`}>Play</button>{' '}
                        <button type="button" class="small secondary" onClick={() => getMP4(s)} aria-label={`Download ${p.name}, interval ${i + 1}`}>Download</button>
                      </>
                    )}
                  </li>
                );
              })}
            </ul>
            {playing && playing.product_id === p.product_id && playing.playlist && <ReplayPlayer src={playing.playlist} label={`${p.name}'s sequence`} />}
          </li>
        ))}
      </ol>
    </div>
  );
}

const chatFilters = [
  ['all', 'All'],
  ['deleted', 'Deleted'],
  ['displayed', 'Displayed'],
  ['banned', 'Banned'],
  ['questions', 'Questions'],
];

function ChatTab({ c }) {
  const [filter, setFilter] = useState('all');
  const [pages, setPages] = useState(['']);
  const [tick, setTick] = useState(0);
  const [err, setErr] = useState('');
  const cursor = pages[pages.length - 1];
  const { data } = useAsync(() => api('GET', `/campaigns/${c.id}/messages?filter=${filter}&limit=50${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`), [c.id, filter, cursor, tick]);
  return (
    <div>
      <div class="seg" role="radiogroup" aria-label="Show">
        {chatFilters.map(([k, l]) => (
          <label class="check">
            <input type="radio" name="chat-filter" checked={filter === k} onChange={() => { setFilter(k); setPages(['']); }} /> {l}
          </label>
        ))}
      </div>
      <Notice kind="error" onClose={() => setErr('')}>{err}</Notice>
      {!data ? (
        <Loading />
      ) : data.items.length === 0 ? (
        <p class="empty">No messages here.</p>
      ) : (
        <table class="list compact chat-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Author</th>
              <th scope="col">Message</th>
              <th scope="col">State</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((m) => (
              <tr class={m.deleted ? 'deleted' : ''}>
                <td>{fmtDate(m.at)}</td>
                <td>{m.name || (m.type === 'chat.answer' ? 'Host' : 'Viewer')}</td>
                <td>
                  {m.type === 'chat.question' && <span class="tag">Question</span>}
                  {m.type === 'chat.answer' && <span class="tag tag-answer">Answer</span>}
                  {m.reply_text && <span class="sub">↪ {m.reply_text}</span>}
                  {m.text}
                </td>
                <td>{[m.deleted && 'Deleted', m.displayed && 'Displayed', m.banned && 'Banned'].filter(Boolean).join(', ') || '—'}</td>
                <td>
                  {!m.deleted && (
                    <button
                      type="button"
                      class="small danger-outline"
                      aria-label={`Delete the message “${m.text.slice(0, 40)}”`}
                      onClick={() => api('DELETE', `/campaigns/${c.id}/messages/${m.id}`).then(() => setTick((t) => t + 1), (e) => setErr(e.message))}
                    >
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        <button type="button" class="secondary" disabled={pages.length < 2} onClick={() => setPages(pages.slice(0, -1))}>Previous</button>
        <span>Page {pages.length}</span>
        <button type="button" class="secondary" disabled={!data || !data.next_cursor} onClick={() => setPages([...pages, data.next_cursor])}>Next</button>
      </nav>
    </div>
  );
}

function InteractionsTab({ c }) {
  const { data, error } = useAsync(() => api('GET', `/campaigns/${c.id}/analytics?phase=live`), [c.id]);
  if (error) return <Notice kind="error">{error.message}</Notice>;
  if (!data) return <Loading />;
  const { polls, instant_wins: wins } = data.interactions;
  return (
    <div class="interactions">
      <h2>Polls</h2>
      {polls.length === 0 && <p class="empty">No poll during this event.</p>}
      {polls.map((p) => (
        <div class="box">
          <h3>{p.question}</h3>
          <p class="sub">{fmtDate(p.opened_at)} · {count(p.votes, 'vote')} · {p.closed ? 'closed' : 'open'}</p>
          <table class="list compact">
            <tbody>
              {p.options.map((o) => (
                <tr>
                  <th scope="row">{o.text}</th>
                  <td>{count(o.votes, 'vote')}</td>
                  <td>
                    <meter min={0} max={100} value={o.percent} aria-label={`${o.text}: ${o.percent} %`} /> {o.percent.toFixed(1)} %
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      <h2>Instant wins</h2>
      {wins.length === 0 && <p class="empty">No instant win during this event.</p>}
      {wins.map((w) => (
        <div class="box">
          <h3>{w.prize}</h3>
          <p class="sub">{fmtDate(w.opened_at)} · {count(w.entrants, 'entrant')} · {w.planned_winners} to draw</p>
          <p>{w.drawn ? (w.winners.length ? 'Winners: ' + w.winners.map((x) => x.name || x.viewer_id).join(', ') : 'Drawn: nobody had entered.') : 'Not drawn yet.'}</p>
        </div>
      ))}
    </div>
  );
}

// Downloads: the whole replay, or every product sequence; while the
// recording is being finalised, its progress.
function Downloads({ c, open, onClose }) {
  const [rec, setRec] = useState(null);
  const [state, setState] = useState({ busy: '', progress: null, error: '' });
  useEffect(() => {
    if (!open) return;
    let live = true;
    const poll = () => api('GET', `/campaigns/${c.id}/recording`).then((r) => live && setRec(r), (e) => live && setRec({ state: 'none', error: e.message }));
    poll();
    const t = setInterval(poll, 1500);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [open, c.id]);
  const get = async (what, path, fallback) => {
    setState({ busy: what, progress: null, error: '' });
    try {
      const { blob, name } = await download(path, (p) => setState({ busy: what, progress: p, error: '' }));
      saveBlob(blob, name || fallback);
      setState({ busy: '', progress: 1, error: '' });
    } catch (e) {
      setState({ busy: '', progress: null, error: e.message });
    }
  };
  const ready = rec && rec.state === 'ready';
  return (
    <Dialog title="Download video" open={open} onClose={onClose} actions={[<button type="button" class="secondary" onClick={onClose}>Close</button>]}>
      {!rec ? (
        <Loading />
      ) : rec.state === 'none' ? (
        <p class="empty">No recording of this event.</p>
      ) : !ready ? (
        <div role="status" class="progress">
          <progress max="1" value={rec.progress ?? undefined} aria-label="Finalising the recording" /> The recording is being finalised{rec.progress != null ? ` (${Math.round(rec.progress * 100)} %)` : ''}…
        </div>
      ) : (
        <ul class="downloads">
          <li>
            <button type="button" disabled={!!state.busy} onClick={() => get('replay', `/campaigns/${c.id}/download.mp4`, `${c.id}.mp4`)}>Replay</button> — the whole video (MP4, {Math.round(rec.duration / 60)} min)
          </li>
          <li>
            <button type="button" disabled={!!state.busy} onClick={() => get('products', `/campaigns/${c.id}/sequences.zip`, `${c.id}-products.zip`)}>Products</button> — every product sequence (ZIP of MP4s)
          </li>
        </ul>
      )}
      {state.busy && (
        <div role="status" class="progress">
          <progress max="1" value={state.progress ?? undefined} aria-label="Download progress" /> Downloading…
        </div>
      )}
      <Notice kind="error">{state.error}</Notice>
    </Dialog>
  );
}
