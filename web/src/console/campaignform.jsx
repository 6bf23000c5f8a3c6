import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, listAll } from './api.js';
import { base, useTitle } from './app.jsx';
import { Field, Loading, Notice, fmtMoney, fromLocalInput, toLocalInput } from './ui.jsx';
import { ImagePicker } from './images.jsx';

const beforeChoices = [
  ['15m', '15 minutes'],
  ['30m', '30 minutes'],
  ['1h', '1 hour'],
  ['3h', '3 hours'],
  ['24h', '1 day'],
];

// The campaign's transport: how the player page plays the live.
const transportChoices = [
  ['auto', 'Automatic (recommended)', 'Real time (WebRTC, under a second behind); if your encoder sends B-frames, a few seconds behind (LL-HLS) so that viewers see every frame.'],
  ['webrtc', 'Always real time (WebRTC)', 'Under a second behind, for auctions and quick answers. If your encoder sends B-frames, viewers see only about a third of the frames: turn them off.'],
  ['llhls', 'Always smooth (LL-HLS)', 'A few seconds behind, every frame, whatever the encoder sends.'],
];

// countryHint names the country of a two-letter code as the seller types it.
function countryHint(code) {
  const what = 'Phone numbers shoppers write without their country code (like 06 12 34 56 78) are read as numbers of this country.';
  const c = (code || '').trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(c)) return 'Two letters, e.g. FR for France or GB for the United Kingdom. ' + what;
  let name = '';
  try {
    name = new Intl.DisplayNames(['en'], { type: 'region' }).of(c);
  } catch {}
  return (name && name !== c ? `${c}: ${name}. ` : '') + what;
}

function blank() {
  const start = new Date(Date.now() + 60 * 60 * 1000);
  start.setMinutes(0, 0, 0);
  const end = new Date(start.getTime() + 60 * 60 * 1000);
  return {
    title: '', description: '', images: [], imageURLs: {}, starts_at: toLocalInput(start.toISOString()), ends_at: toLocalInput(end.toISOString()),
    visibility: 'suggested', product_ids: [], voucher_ids: [], notify_at_creation: false, notify_before: '', published: false,
    transport: 'auto', country: '',
  };
}

function fromCampaign(c, clone) {
  const f = {
    title: clone ? `${c.title} (copy)` : c.title,
    description: c.description,
    images: [...c.images],
    imageURLs: Object.fromEntries(c.images.map((id, i) => [id, c.image_urls[i]])),
    starts_at: toLocalInput(c.starts_at),
    ends_at: toLocalInput(c.ends_at),
    visibility: c.visibility,
    product_ids: [...c.product_ids],
    voucher_ids: [...c.voucher_ids],
    notify_at_creation: c.notify_at_creation,
    notify_before: c.notify_before_start && c.notify_before_start !== '0s' ? shortDuration(c.notify_before_start) : '',
    published: c.published,
    transport: c.transport || 'auto',
    country: c.country || '',
  };
  if (clone && new Date(c.ends_at) < new Date()) {
    const b = blank();
    f.starts_at = b.starts_at;
    f.ends_at = b.ends_at;
  }
  return f;
}

// shortDuration turns Go's "30m0s" into "30m", as the choices are written.
function shortDuration(d) {
  return d.replace(/(\d+h)0m0s$/, '$1').replace(/(\d+m)0s$/, '$1').replace(/^0h/, '');
}

// CampaignForm creates (new, clone) or edits a campaign.
export function CampaignForm() {
  const { params, path } = useRoute();
  const loc = useLocation();
  const mode = !params.id ? 'new' : path.endsWith('/clone') ? 'clone' : 'edit';
  useTitle(mode === 'edit' ? 'Edit campaign' : mode === 'clone' ? 'Clone campaign' : 'Create campaign');
  const [form, setForm] = useState(mode === 'new' ? blank() : null);
  const [source, setSource] = useState(null);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (mode === 'new') return;
    api('GET', '/campaigns/' + params.id).then(
      (c) => {
        setSource(c);
        setForm(fromCampaign(c, mode === 'clone'));
      },
      (e) => setError(e.message),
    );
  }, [params.id, mode]);

  if (!form) return error ? <Notice kind="error">{error}</Notice> : <Loading />;
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value });

  const body = () => ({
    title: form.title.trim(),
    description: form.description,
    images: form.images,
    starts_at: fromLocalInput(form.starts_at),
    ends_at: fromLocalInput(form.ends_at),
    visibility: form.visibility,
    product_ids: form.product_ids,
    voucher_ids: form.voucher_ids,
    notify_at_creation: form.notify_at_creation,
    notify_before_start: form.notify_before || '0s',
    published: form.published,
    transport: form.transport,
    country: form.country.trim().toUpperCase(),
  });

  const save = async (goLive) => {
    setBusy(true);
    setErrors({});
    setError('');
    try {
      const c = mode === 'edit' ? await api('PATCH', '/campaigns/' + params.id, body()) : await api('POST', '/campaigns', body());
      loc.route(goLive ? `${base}/campaigns/${c.id}/prepare` : `${base}/campaigns/${c.id}?saved=1`);
    } catch (e) {
      setErrors(e.fields);
      setError(Object.keys(e.fields).length ? 'Some fields need a change: see below.' : e.message);
      document.getElementById('form-top')?.scrollIntoView();
    } finally {
      setBusy(false);
    }
  };

  const heading = mode === 'edit' ? `Edit “${source?.title}”` : mode === 'clone' ? `Clone “${source?.title}”` : 'Create a livestream campaign';
  return (
    <section aria-labelledby="form-title">
      <h1 id="form-title">{heading}</h1>
      <div id="form-top" />
      <Notice kind="error">{error}</Notice>
      <form
        class="campaign-form"
        onSubmit={(e) => {
          e.preventDefault();
          save(false);
        }}
        noValidate
      >
        <fieldset>
          <legend>Basic information</legend>
          <Field label="Livestream title" error={errors.title}>
            {(a) => <input {...a} name="title" required maxLength={200} value={form.title} onInput={set('title')} />}
          </Field>
          <Field label="Description" error={errors.description}>
            {(a) => <textarea {...a} name="description" rows={4} maxLength={5000} value={form.description} onInput={set('description')} />}
          </Field>
          <ImagePicker images={form.images} urls={form.imageURLs} error={errors.images} onChange={(images, imageURLs) => setForm({ ...form, images, imageURLs })} />
          <div class="row">
            <Field label="Start" hint={'Your time zone: ' + Intl.DateTimeFormat().resolvedOptions().timeZone} error={errors.starts_at}>
              {(a) => <input {...a} name="starts_at" type="datetime-local" required value={form.starts_at} onInput={set('starts_at')} />}
            </Field>
            <Field label="End" error={errors.ends_at}>
              {(a) => <input {...a} name="ends_at" type="datetime-local" required value={form.ends_at} onInput={set('ends_at')} />}
            </Field>
          </div>
          <fieldset class="radios">
            <legend>Who sees it</legend>
            <label class="check">
              <input type="radio" name="visibility" value="suggested" checked={form.visibility === 'suggested'} onChange={set('visibility')} />
              Suggested: shown to as many buyers as possible
            </label>
            <label class="check">
              <input type="radio" name="visibility" value="followers" checked={form.visibility === 'followers'} onChange={set('visibility')} />
              Only for followers
            </label>
          </fieldset>
        </fieldset>
        <fieldset>
          <legend>Products and vouchers</legend>
          <ProductPicker selected={form.product_ids} error={errors.product_ids} onChange={(product_ids) => setForm({ ...form, product_ids })} />
          <VoucherPicker selected={form.voucher_ids} error={errors.voucher_ids} onChange={(voucher_ids) => setForm({ ...form, voucher_ids })} />
        </fieldset>
        <fieldset>
          <legend>Notify followers</legend>
          <label class="check">
            <input type="checkbox" name="notify_at_creation" checked={form.notify_at_creation} onChange={set('notify_at_creation')} />
            When the campaign is created
          </label>
          <label class="check">
            <input type="checkbox" checked={!!form.notify_before} onChange={(e) => setForm({ ...form, notify_before: e.currentTarget.checked ? '30m' : '' })} />
            Before the livestream starts
          </label>
          {form.notify_before && (
            <Field label="How long before" error={errors.notify_before_start}>
              {(a) => (
                <select {...a} name="notify_before_start" value={form.notify_before} onChange={set('notify_before')}>
                  {beforeChoices.map(([v, l]) => (
                    <option value={v}>{l}</option>
                  ))}
                </select>
              )}
            </Field>
          )}
        </fieldset>
        <fieldset>
          <legend>Playback</legend>
          <fieldset class="radios" aria-describedby={errors.transport ? 'transport-err' : undefined}>
            <legend>How viewers receive the video</legend>
            {transportChoices.map(([v, l, d]) => (
              <label class="check">
                <input type="radio" name="transport" value={v} checked={form.transport === v} onChange={set('transport')} />
                <span>
                  {l}
                  <span class="sub">{d}</span>
                </span>
              </label>
            ))}
            {errors.transport && <p class="error" id="transport-err">{errors.transport}</p>}
          </fieldset>
          <Field label="Shoppers' country (optional)" hint={countryHint(form.country)} error={errors.country}>
            {(a) => (
              <input {...a} name="country" class="country" maxLength={2} autocomplete="off" autocapitalize="characters" spellcheck={false}
                placeholder="FR" value={form.country} onInput={set('country')} />
            )}
          </Field>
        </fieldset>
        <label class="check publish">
          <input type="checkbox" name="published" checked={form.published} onChange={set('published')} />
          Publish this campaign (viewers can find and watch it)
        </label>
        <div class="form-actions">
          <a class="button secondary" href={mode === 'new' ? base + '/' : `${base}/campaigns/${params.id}`}>Cancel</a>
          <button type="submit" disabled={busy}>{busy ? 'Saving…' : 'Save'}</button>
          <button type="button" disabled={busy} onClick={() => save(true)}>Save &amp; Go live</button>
        </div>
      </form>
    </section>
  );
}

// Picker lists items with a search and checkboxes; selected ones first.
function Picker({ legend, items, selected, onChange, error, render, filters }) {
  return (
    <fieldset class="picker" aria-describedby={error ? legend + '-err' : undefined}>
      <legend>{legend} ({selected.length} selected)</legend>
      {filters}
      {!items ? (
        <Loading />
      ) : items.length === 0 ? (
        <p class="empty">Nothing matches.</p>
      ) : (
        <ul>
          {items.map((it) => (
            <li key={it.id}>
              <label class="check">
                <input
                  type="checkbox"
                  checked={selected.includes(it.id)}
                  onChange={(e) => onChange(e.currentTarget.checked ? [...selected, it.id] : selected.filter((x) => x !== it.id))}
                />
                {render(it)}
              </label>
            </li>
          ))}
        </ul>
      )}
      {error && <p class="error" id={legend + '-err'}>{error}</p>}
    </fieldset>
  );
}

function ProductPicker({ selected, onChange, error }) {
  const [all, setAll] = useState(null);
  const [q, setQ] = useState('');
  const [cat, setCat] = useState('');
  useEffect(() => {
    listAll('/products').then(setAll, () => setAll([]));
  }, []);
  const cats = all ? [...new Set(all.map((p) => p.category).filter(Boolean))].sort() : [];
  const shown = all && all.filter((p) => (!cat || p.category === cat) && (!q || p.name.toLowerCase().includes(q.toLowerCase())));
  return (
    <Picker
      legend="Products"
      items={shown}
      selected={selected}
      onChange={onChange}
      error={error}
      render={(p) => (
        <span class="pick">
          {p.image_url && <img src={p.image_url} alt="" width={40} height={40} loading="lazy" />}
          <span>{p.name}</span>
          <span class="sub">{p.category || 'No category'} · {fmtMoney(p.price, p.currency)} · {p.stock} in stock</span>
        </span>
      )}
      filters={
        <div class="row">
          <Field label="Category">
            {(a) => (
              <select {...a} value={cat} onChange={(e) => setCat(e.currentTarget.value)}>
                <option value="">All categories</option>
                {cats.map((c) => (
                  <option value={c}>{c}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Product name">{(a) => <input {...a} type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />}</Field>
        </div>
      }
    />
  );
}

function VoucherPicker({ selected, onChange, error }) {
  const [all, setAll] = useState(null);
  const [q, setQ] = useState('');
  useEffect(() => {
    listAll('/vouchers').then(setAll, () => setAll([]));
  }, []);
  const shown = all && all.filter((v) => !q || (v.name + ' ' + v.code).toLowerCase().includes(q.toLowerCase()));
  return (
    <Picker
      legend="Vouchers"
      items={shown}
      selected={selected}
      onChange={onChange}
      error={error}
      render={(v) => (
        <span class="pick">
          <span>{v.name}</span>
          <span class="sub">
            {v.code} · {v.discount_type === 'percent' ? `${v.discount_value} % off` : `${fmtMoney(v.discount_value, v.currency)} off`}
          </span>
        </span>
      )}
      filters={<Field label="Voucher name">{(a) => <input {...a} type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />}</Field>}
    />
  );
}
