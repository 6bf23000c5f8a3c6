import { useEffect, useState } from 'preact/hooks';
import { api, listAll } from './api.js';
import { useTitle } from './app.jsx';
import { CopyButton, Dialog, Field, Loading, Notice, fmtDate, useConfirm } from './ui.jsx';

const eventTypes = ['*', 'campaign.created', 'campaign.published', 'campaign.starting_soon', 'campaign.live', 'campaign.ended'];

// Settings: the webhooks (create with the secret shown once, list, delete,
// recent deliveries), the API reference, the server's API version.
export function Settings() {
  useTitle('Settings');
  const [hooks, setHooks] = useState(null);
  const [error, setError] = useState('');
  const [creating, setCreating] = useState(false);
  const [form, setForm] = useState({ url: '', events: ['*'] });
  const [fieldErr, setFieldErr] = useState({});
  const [secret, setSecret] = useState(null);
  const [open, setOpen] = useState('');
  const [version, setVersion] = useState('');
  const [confirmEl, ask] = useConfirm();
  const load = () => listAll('/webhooks').then(setHooks, (e) => setError(e.message));
  useEffect(() => {
    load();
    fetch('/api/v1/openapi.json').then((r) => r.json()).then((d) => setVersion(d.info?.version || ''), () => {});
  }, []);
  const create = async (e) => {
    e.preventDefault();
    setFieldErr({});
    try {
      const h = await api('POST', '/webhooks', { url: form.url.trim(), events: form.events });
      setCreating(false);
      setSecret(h);
      setForm({ url: '', events: ['*'] });
      load();
    } catch (err) {
      setFieldErr({ ...err.fields, _: Object.keys(err.fields).length ? '' : err.message });
    }
  };
  const remove = async (h) => {
    if (!(await ask('Delete this webhook?', `${h.url} will get no more notifications.`, 'Delete', true))) return;
    try {
      await api('DELETE', '/webhooks/' + h.id);
      load();
    } catch (e) {
      setError(e.message);
    }
  };
  const toggleEvent = (t) => (e) => {
    let evs = e.currentTarget.checked ? [...form.events, t] : form.events.filter((x) => x !== t);
    if (t === '*' && e.currentTarget.checked) evs = ['*'];
    else if (t !== '*') evs = evs.filter((x) => x !== '*');
    setForm({ ...form, events: evs });
  };
  return (
    <section aria-labelledby="s-title">
      <h1 id="s-title">Settings</h1>
      <Notice kind="error" onClose={() => setError('')}>{error}</Notice>
      <div class="box">
        <div class="box-head">
          <h2>Webhooks</h2>
          <button type="button" onClick={() => setCreating(true)}>Add webhook</button>
        </div>
        <p class="hint">Vitrine POSTs signed notifications (Standard Webhooks) to these addresses when a campaign is created, published, about to start, live or ended.</p>
        {!hooks ? (
          <Loading />
        ) : hooks.length === 0 ? (
          <p class="empty">No webhooks.</p>
        ) : (
          <table class="list compact">
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Notifications</th>
                <th scope="col">Created</th>
                <th scope="col"><span class="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {hooks.map((h) => (
                <>
                  <tr key={h.id}>
                    <td><code>{h.url}</code></td>
                    <td>{h.events.join(', ')}</td>
                    <td>{fmtDate(h.created_at)}</td>
                    <td>
<div class="actions">
                      <button type="button" class="small secondary" aria-expanded={open === h.id ? 'true' : 'false'} onClick={() => setOpen(open === h.id ? '' : h.id)}>Deliveries</button>
                      <button type="button" class="small danger-outline" onClick={() => remove(h)} aria-label={`Delete the webhook ${h.url}`}>Delete</button>
                    </div>
</td>
                  </tr>
                  {open === h.id && (
                    <tr>
                      <td colSpan={4}>
                        <Deliveries id={h.id} />
                      </td>
                    </tr>
                  )}
                </>
              ))}
            </tbody>
          </table>
        )}
      </div>
      <div class="box">
        <h2>API</h2>
        <p>
          The admin API's reference: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1; open it in any OpenAPI viewer). API version {version || '…'}.
        </p>
      </div>
      <Dialog
        title="Add a webhook"
        open={creating}
        onClose={() => setCreating(false)}
        actions={[
          <button type="button" class="secondary" onClick={() => setCreating(false)}>Cancel</button>,
          <button type="submit" form="hook-form">Add</button>,
        ]}
      >
        <form id="hook-form" onSubmit={create} noValidate>
          <Notice kind="error">{fieldErr._}</Notice>
          <Field label="Address" hint="https://… on your shop's server" error={fieldErr.url}>
            {(a) => <input {...a} type="url" required value={form.url} onInput={(e) => setForm({ ...form, url: e.currentTarget.value })} />}
          </Field>
          <fieldset>
            <legend>Notifications</legend>
            {eventTypes.map((t) => (
              <label class="check">
                <input type="checkbox" checked={form.events.includes(t)} onChange={toggleEvent(t)} /> {t === '*' ? 'All' : t}
              </label>
            ))}
            {fieldErr.events && <p class="error">{fieldErr.events}</p>}
          </fieldset>
        </form>
      </Dialog>
      <Dialog title="Webhook added" open={!!secret} onClose={() => setSecret(null)} actions={[<button type="button" onClick={() => setSecret(null)}>Done</button>]}>
        <p>Keep this signing secret now: it is shown only once. Your server checks each notification's signature with it.</p>
        <p>
          <code>{secret?.secret}</code> <CopyButton text={secret?.secret || ''} />
        </p>
      </Dialog>
      {confirmEl}
    </section>
  );
}

function Deliveries({ id }) {
  const [d, setD] = useState(null);
  useEffect(() => {
    api('GET', `/webhooks/${id}/deliveries?limit=20`).then((p) => setD(p.items || []), () => setD([]));
  }, [id]);
  if (!d) return <Loading />;
  if (!d.length) return <p class="empty">No deliveries yet.</p>;
  return (
    <table class="list compact">
      <thead>
        <tr>
          <th scope="col">Notification</th>
          <th scope="col">Outcome</th>
          <th scope="col">Attempts</th>
          <th scope="col">When</th>
        </tr>
      </thead>
      <tbody>
        {d.map((x) => (
          <tr>
            <td>{x.type}</td>
            <td>{x.status}{x.last_status ? ` (HTTP ${x.last_status})` : ''}{x.last_error ? ` — ${x.last_error}` : ''}</td>
            <td>{x.attempts}</td>
            <td>{fmtDate(x.delivered_at || x.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
