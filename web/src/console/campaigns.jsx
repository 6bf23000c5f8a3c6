import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api } from './api.js';
import { base, useTitle } from './app.jsx';
import { CopyButton, Field, Loading, Notice, StatusBadge, count, fmtDate, fromLocalInput, statusLabels, useConfirm } from './ui.jsx';

const tabs = ['ongoing', 'upcoming', 'ended', 'completed'];
const pageSize = 20;

// editable: the seed's rule, the API's too (409 campaign_not_editable).
export const editable = (c) => c.status === 'upcoming' || c.status === 'ended';
export const watchURL = (c) => c.playback?.watch || `${location.origin}/watch/${c.id}`;

function query(f, extra = {}) {
  const p = new URLSearchParams();
  if (f.q) p.set('q', f.q);
  if (f.active) p.set('active_only', 'true');
  if (f.from) p.set('from', f.from);
  if (f.to) p.set('to', f.to);
  for (const [k, v] of Object.entries(extra)) if (v) p.set(k, v);
  return '?' + p.toString();
}

// countOf counts a status's campaigns under the filters, page by page.
async function countOf(status, f) {
  let n = 0;
  let cursor = '';
  do {
    const page = await api('GET', '/campaigns' + query(f, { status, limit: '100', cursor }));
    n += page.items.length;
    cursor = page.next_cursor || '';
  } while (cursor);
  return n;
}

export function CampaignList() {
  useTitle('Campaigns');
  const loc = useLocation();
  const initial = new URLSearchParams(loc.query ? new URLSearchParams(loc.query) : '');
  const [tab, setTab] = useState(loc.query?.tab && tabs.includes(loc.query.tab) ? loc.query.tab : 'ongoing');
  const [filters, setFilters] = useState({ q: '', active: false, from: '', to: '' });
  const [draft, setDraft] = useState({ from: '', to: '' });
  const [search, setSearch] = useState('');
  const [counts, setCounts] = useState({});
  const [pages, setPages] = useState(['']); // cursors of the pages seen
  const [page, setPage] = useState(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [confirmEl, ask] = useConfirm();
  const [tick, setTick] = useState(0);
  void initial;

  useEffect(() => {
    let live = true;
    Promise.all(tabs.map((s) => countOf(s, filters))).then(
      (ns) => live && setCounts(Object.fromEntries(tabs.map((s, i) => [s, ns[i]]))),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [filters, tick]);

  const cursor = pages[pages.length - 1];
  useEffect(() => {
    let live = true;
    setPage(null);
    api('GET', '/campaigns' + query(filters, { status: tab, limit: String(pageSize), cursor, sort: tab === 'upcoming' ? 'starts_at' : '-starts_at' })).then(
      (p) => live && setPage(p),
      (e) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [tab, filters, cursor, tick]);

  const choose = (t) => {
    setTab(t);
    setPages(['']);
  };
  const apply = (f) => {
    setFilters(f);
    setPages(['']);
  };
  const remove = async (c) => {
    if (!(await ask('Delete this campaign?', `“${c.title}” and its orders and reminders will be deleted. This cannot be undone.`, 'Delete', true))) return;
    try {
      await api('DELETE', '/campaigns/' + c.id);
      setNotice(`“${c.title}” was deleted.`);
      setTick((t) => t + 1);
    } catch (e) {
      setError(e.message);
    }
  };

  return (
    <section aria-labelledby="list-title">
      <div class="page-head">
        <h1 id="list-title">Livestream campaigns</h1>
        <a class="button" href={base + '/campaigns/new'}>Create campaign</a>
      </div>
      <Notice kind="error" onClose={() => setError('')}>{error}</Notice>
      <Notice kind="success" onClose={() => setNotice('')}>{notice}</Notice>
      <div class="toolbar">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            apply({ ...filters, q: search.trim() });
          }}
        >
          <label for="q" class="visually-hidden">Search campaigns by name</label>
          <input id="q" type="search" placeholder="Search by campaign name" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
          <button type="submit" class="secondary">Search</button>
        </form>
        <label class="check">
          <input type="checkbox" checked={filters.active} onChange={(e) => apply({ ...filters, active: e.currentTarget.checked })} />
          Show active only
        </label>
        <details class="filter">
          <summary>Filter{filters.from || filters.to ? ' (period set)' : ''}</summary>
          <form
            class="filter-body"
            onSubmit={(e) => {
              e.preventDefault();
              apply({ ...filters, from: fromLocalInput(draft.from), to: fromLocalInput(draft.to) });
            }}
          >
            <Field label="From">{(a) => <input {...a} type="datetime-local" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />}</Field>
            <Field label="To">{(a) => <input {...a} type="datetime-local" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />}</Field>
            <div class="row">
              <button type="submit">Apply</button>
              <button
                type="button"
                class="secondary"
                onClick={() => {
                  setDraft({ from: '', to: '' });
                  apply({ ...filters, from: '', to: '' });
                }}
              >
                Reset
              </button>
            </div>
          </form>
        </details>
      </div>
      <div role="tablist" aria-label="Campaigns by status" class="tabs">
        {tabs.map((t) => (
          <button
            type="button"
            role="tab"
            id={'tab-' + t}
            aria-selected={tab === t ? 'true' : 'false'}
            aria-controls="campaign-panel"
            tabIndex={tab === t ? 0 : -1}
            onClick={() => choose(t)}
            onKeyDown={(e) => {
              const i = tabs.indexOf(t);
              const next = e.key === 'ArrowRight' ? tabs[(i + 1) % 4] : e.key === 'ArrowLeft' ? tabs[(i + 3) % 4] : null;
              if (next) {
                choose(next);
                document.getElementById('tab-' + next)?.focus();
              }
            }}
          >
            {statusLabels[t]} <span class="count">{counts[t] ?? '…'}</span>
          </button>
        ))}
      </div>
      <div id="campaign-panel" role="tabpanel" aria-labelledby={'tab-' + tab}>
        {!page ? (
          <Loading />
        ) : page.items.length === 0 ? (
          <p class="empty">No {statusLabels[tab].toLowerCase()} campaigns{filters.q || filters.from || filters.to || filters.active ? ' match these filters' : ''}.</p>
        ) : (
          <table class="list">
            <thead>
              <tr>
                <th scope="col">Campaign</th>
                <th scope="col">Window</th>
                <th scope="col">Status</th>
                <th scope="col"><span class="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((c) => (
                <tr key={c.id} class={'row-' + c.status}>
                  <td>
                    <a href={`${base}/campaigns/${c.id}`} class="title">{c.title}</a>
                    <div class="sub">{c.published ? 'Public' : 'Not published'} · {count(c.product_ids.length, 'product')} · {count(c.voucher_ids.length, 'voucher')}</div>
                  </td>
                  <td>
                    {fmtDate(c.starts_at)} – {fmtDate(c.ends_at)}
                  </td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>
                    <RowActions c={c} onDelete={() => remove(c)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <nav class="pager" aria-label="Pages">
          <button type="button" class="secondary" disabled={pages.length < 2} onClick={() => setPages(pages.slice(0, -1))}>Previous</button>
          <span>Page {pages.length}</span>
          <button type="button" class="secondary" disabled={!page || !page.next_cursor} onClick={() => setPages([...pages, page.next_cursor])}>Next</button>
        </nav>
      </div>
      {confirmEl}
    </section>
  );
}

// RowActions are a row's actions; those the status forbids are disabled
// and say why.
function RowActions({ c, onDelete }) {
  const why = editable(c) ? '' : c.status === 'ongoing' ? 'Not while live: end the live first' : 'A completed campaign cannot change';
  const canLive = c.status === 'upcoming' || c.status === 'ended';
  return (
    <div class="actions">
      <a href={c.status === 'upcoming' && !c.live_started_at ? `${base}/campaigns/${c.id}` : `${base}/campaigns/${c.id}/event`} class="button small secondary">View details</a>
      {editable(c) ? <a href={`${base}/campaigns/${c.id}/edit`} class="button small secondary">Edit</a> : <button type="button" class="small secondary" disabled title={why} aria-describedby={'why-' + c.id}>Edit</button>}
      <a href={`${base}/campaigns/${c.id}/clone`} class="button small secondary">Clone</a>
      <button type="button" class="small danger-outline" disabled={!editable(c)} title={why || undefined} aria-describedby={why ? 'why-' + c.id : undefined} onClick={onDelete}>Delete</button>
      {c.status === 'ongoing' ? (
        <a href={`${base}/campaigns/${c.id}/live`} class="button small">Open live</a>
      ) : canLive ? (
        <a href={`${base}/campaigns/${c.id}/prepare`} class="button small">{c.stage === 'preparing' ? 'Resume preparation' : 'Go live'}</a>
      ) : null}
      <CopyButton text={watchURL(c)} label="Copy link" class="small secondary" />
      {why && <span id={'why-' + c.id} class="visually-hidden">{why}</span>}
    </div>
  );
}
