import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Field, Loading, Notice, fmtDate, fmtMoney, fromLocalInput, toLocalInput, useID } from '../ui.jsx';
import { BarChart, TimeChart } from './charts.jsx';
import { ExportDialog } from './export.jsx';

const titles = {
  general: 'General', audience: 'Audience', evolution: 'Evolution', product_widget: 'Product widget', floating_player_widget: 'Floating player widget',
  teasing_video: 'Teasing video', devices: 'Devices', traffic_sources: 'Traffic sources', alerting_funnel: 'Alerting funnel',
  conversion_funnel: 'Conversion funnel', alerting: 'Alerting', business: 'Business', products: 'Products', satisfaction: 'Audience satisfaction',
};
const phaseNames = { prelive: 'Prelive', live: 'Live', replay: 'Replay' };
const seriesNames = { viewers: 'Viewers', sms_subscriptions: 'SMS subscriptions', calendar_subscriptions: 'Calendar subscriptions', product_clicks: 'Product clicks', purchases: 'Purchases' };

// The OpenAPI document holds every metric's definition: the console shows
// them as they are documented, so they cannot drift apart.
let docPromise = null;
function openapi() {
  docPromise ||= fetch('/api/v1/openapi.json').then((r) => r.json());
  return docPromise;
}

// schemaOf resolves a $ref (or an allOf of one) in the document.
function schemaOf(doc, s) {
  if (!s) return null;
  const branch = (xs) => xs && (xs.find((b) => b.$ref) || {}).$ref;
  const ref = s.$ref || branch(s.allOf) || branch(s.anyOf);
  if (ref) return { ...doc.components.schemas[ref.split('/').pop()], description: s.description || doc.components.schemas[ref.split('/').pop()].description };
  return s;
}

// labelOf splits a description "Label: definition".
function labelOf(key, desc) {
  const m = desc && desc.match(/^([A-Z][^:]{1,40}): (.*)$/s);
  if (m) return { label: m[1], def: m[2] };
  return { label: key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()), def: desc || '' };
}

function fmtValue(key, v, currency) {
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) return fmtMoney(v, currency);
  if (typeof v !== 'number') return String(v ?? '—');
  if (/rate|percent/.test(key)) return `${v.toFixed(2)} %`;
  if (/seconds/.test(key)) {
    const s = Math.round(v);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }
  if (key === 'average_rating') return `${v.toFixed(2)} / 5`;
  return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(2);
}

function Metric({ k, v, desc, currency, path }) {
  const { label, def } = labelOf(k, desc);
  const id = useID('def');
  const [open, setOpen] = useState(false);
  return (
    <div class="metric" data-metric={path ? `${path}.${k}` : k} data-value={JSON.stringify(v)}>
      <dt>
        {label}
        {def && (
          <button type="button" class="info" aria-expanded={open ? 'true' : 'false'} aria-controls={id} onClick={() => setOpen(!open)} title={def}>
            <span aria-hidden="true">?</span>
            <span class="visually-hidden">What is {label}?</span>
          </button>
        )}
      </dt>
      <dd class="value">{fmtValue(k, v, currency)}</dd>
      {def && (
        <dd id={id} class="definition" hidden={!open} role="note">
          {def}
        </dd>
      )}
    </div>
  );
}

// Group renders one group of a phase: figures, or a chart, or a table.
function Group({ k, v, schema, doc, currency }) {
  const title = titles[k] || labelOf(k, '').label;
  const sch = schemaOf(doc, schema) || {};
  if (k === 'window') {
    return <p class="window">From {fmtDate(v.start || v.from)} to {v.end || v.to ? fmtDate(v.end || v.to) : 'now'}</p>;
  }
  if (k === 'evolution') {
    return (
      <section class="group group-wide">
        <h3>{title}</h3>
        <div class="charts">
          {Object.entries(v).map(([sk, pts]) => (
            <TimeChart title={seriesNames[sk] || labelOf(sk, '').label} series={[{ label: seriesNames[sk] || labelOf(sk, '').label, points: pts || [] }]} />
          ))}
        </div>
      </section>
    );
  }
  if (k === 'devices') {
    return (
      <section class="group">
        <h3>{title}</h3>
        <BarChart title="Unique viewers by device" unit=" %" bars={['desktop', 'mobile', 'tablet', 'other'].map((d) => ({ label: d[0].toUpperCase() + d.slice(1), value: v[d] }))} />
      </section>
    );
  }
  if (k === 'traffic_sources') {
    return (
      <section class="group">
        <h3>{title}</h3>
        {v.length ? <BarChart title="Unique viewers by origin" unit=" %" bars={v.slice(0, 8).map((s) => ({ label: s.source, value: s.percent }))} /> : <p class="empty">No traffic yet.</p>}
      </section>
    );
  }
  if (k.endsWith('_funnel')) {
    const props = sch.properties || {};
    return (
      <section class="group">
        <h3>{title}</h3>
        <BarChart title={title} bars={Object.entries(v).map(([fk, fv]) => ({ label: labelOf(fk, props[fk]?.description).label, value: fv }))} />
        <dl class="metrics">{Object.entries(v).map(([fk, fv]) => <Metric k={fk} v={fv} desc={props[fk]?.description} currency={currency} path={k} />)}</dl>
      </section>
    );
  }
  if (k === 'products') {
    return <ProductsTable rows={v} currency={currency} />;
  }
  if (k === 'satisfaction') {
    const props = sch.properties || {};
    return (
      <section class="group group-wide">
        <h3>{title}</h3>
        <div class="row">
          <dl class="metrics">
            {Object.entries(v)
              .filter(([sk]) => !sk.startsWith('distribution'))
              .map(([sk, sv]) => <Metric k={sk} v={sv} desc={props[sk]?.description} currency={currency} path={k} />)}
          </dl>
          <BarChart title="Ratings" bars={v.distribution.map((n, i) => ({ label: `${i + 1} ★`, value: n }))} />
        </div>
      </section>
    );
  }
  const props = sch.properties || {};
  return (
    <section class="group">
      <h3>{title}</h3>
      <dl class="metrics">
        {Object.entries(v)
          .filter(([, sv]) => typeof sv !== 'object')
          .filter(([sk]) => !sk.endsWith('_count'))
          .map(([sk, sv]) => <Metric k={sk} v={sv} desc={props[sk]?.description} currency={currency} path={k} />)}
      </dl>
    </section>
  );
}

// ProductsTable is sortable by each column.
function ProductsTable({ rows, currency }) {
  const [sort, setSort] = useState({ key: 'clicks', desc: true });
  const cols = [
    ['name', 'Product'],
    ['clicks', 'Clicks'],
    ...(rows[0] && 'purchases' in rows[0] ? [['purchases', 'Purchases'], ['quantity', 'Units'], ['sales', 'Sales']] : []),
  ];
  const sorted = [...rows].sort((a, b) => {
    const x = a[sort.key];
    const y = b[sort.key];
    const c = typeof x === 'string' && isNaN(Number(x)) ? String(x).localeCompare(String(y)) : Number(x) - Number(y);
    return sort.desc ? -c : c;
  });
  return (
    <section class="group group-wide">
      <h3>Products</h3>
      {rows.length === 0 ? (
        <p class="empty">No product figures for this phase.</p>
      ) : (
        <table class="list compact products-table">
          <thead>
            <tr>
              {cols.map(([k, l]) => (
                <th scope="col" aria-sort={sort.key === k ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
                  <button type="button" class="link" onClick={() => setSort({ key: k, desc: sort.key === k ? !sort.desc : true })}>
                    {l}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr>
                <td>{r.name || '(deleted product)'}{r.shown ? <span class="tag">Shown</span> : null}</td>
                <td>{r.clicks}</td>
                {'purchases' in r && (
                  <>
                    <td>{r.purchases}</td>
                    <td>{r.quantity}</td>
                    <td>{fmtMoney(r.sales, currency)}</td>
                  </>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function Analytics({ c }) {
  const [range, setRange] = useState({ from: '', to: '' });
  const [draft, setDraft] = useState({ from: '', to: '' });
  const [report, setReport] = useState(null);
  const [doc, setDoc] = useState(null);
  const [phase, setPhase] = useState('');
  const [error, setError] = useState('');
  const [exporting, setExporting] = useState(false);
  useEffect(() => {
    openapi().then(setDoc, () => setDoc({ components: { schemas: {} } }));
  }, []);
  useEffect(() => {
    let live = true;
    const load = () => {
      const q = new URLSearchParams();
      if (range.from) q.set('from', range.from);
      if (range.to) q.set('to', range.to);
      api('GET', `/campaigns/${c.id}/analytics?${q}`).then(
        (r) => {
          if (!live) return;
          setReport(r);
          setPhase((p) => p || (r.replay ? 'replay' : r.live ? 'live' : 'prelive'));
        },
        (e) => live && setError(e.message),
      );
    };
    load();
    // During a live, its figures update by themselves.
    const t = c.status === 'ongoing' ? setInterval(load, 10000) : null;
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [c.id, range.from, range.to]);
  if (error) return <Notice kind="error">{error}</Notice>;
  if (!report || !doc) return <Loading />;
  const phases = ['prelive', 'live', 'replay'].filter((p) => report[p]);
  const data = report[phase];
  const schema = schemaOf(doc, { $ref: '#/components/schemas/Report' });
  const phaseSchema = schema && schema.properties && schemaOf(doc, schema.properties[phase]);
  return (
    <div class="analytics">
      <div class="analytics-head">
        <div role="tablist" aria-label="Phase" class="tabs small-tabs">
          {phases.map((p) => (
            <button type="button" role="tab" id={'phase-' + p} aria-selected={phase === p ? 'true' : 'false'} aria-controls="phase-panel" tabIndex={phase === p ? 0 : -1} onClick={() => setPhase(p)}>
              {phaseNames[p]}
            </button>
          ))}
        </div>
        <form
          class="range"
          onSubmit={(e) => {
            e.preventDefault();
            setRange({ from: fromLocalInput(draft.from), to: fromLocalInput(draft.to) });
          }}
          aria-label="Date range of the prelive and replay figures"
        >
          <Field label="From">{(a) => <input {...a} type="datetime-local" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />}</Field>
          <Field label="To">{(a) => <input {...a} type="datetime-local" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />}</Field>
          <button type="submit" class="secondary">Apply</button>
          <button type="button" class="secondary" onClick={() => { setDraft({ from: '', to: '' }); setRange({ from: '', to: '' }); }}>Reset</button>
          <button type="button" onClick={() => setExporting(true)}>Export</button>
        </form>
      </div>
      {phases.length === 0 && <p class="empty">No figures yet.</p>}
      {data && (
        <div id="phase-panel" role="tabpanel" aria-labelledby={'phase-' + phase} class="groups">
          {Object.entries(data).map(([k, v]) => (
            <Group k={k} v={v} schema={phaseSchema?.properties?.[k]} doc={doc} currency={report.currency} />
          ))}
        </div>
      )}
      <ExportDialog c={c} open={exporting} onClose={() => setExporting(false)} range={{ from: draft.from, to: draft.to }} />
    </div>
  );
}
