import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Dialog, Field, Notice, fromLocalInput } from '../ui.jsx';

// saveBlob hands a downloaded file to the browser as a file to keep.
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// download fetches an admin file with the session, reporting progress
// (0..1, or null when the size is unknown) as it arrives.
export async function download(path, onProgress) {
  const res = await api('GET', path, undefined, { raw: true });
  if (!res.ok) {
    let msg = `The file could not be prepared (${res.status}).`;
    try {
      msg = (await res.json()).error.message || msg;
    } catch {}
    const e = new Error(msg);
    e.status = res.status;
    throw e;
  }
  const total = Number(res.headers.get('Content-Length')) || 0;
  const reader = res.body.getReader();
  const parts = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    got += value.length;
    onProgress(total ? got / total : null, got);
  }
  const cd = res.headers.get('Content-Disposition') || '';
  const name = (cd.match(/filename="?([^";]+)"?/) || [])[1] || path.split('/').pop();
  return { blob: new Blob(parts, { type: res.headers.get('Content-Type') || 'application/octet-stream' }), name };
}

// ExportDialog exports the event's spreadsheet: the time range and the
// data to include, then the file, with progress while it is prepared.
export function ExportDialog({ c, open, onClose, range }) {
  const [from, setFrom] = useState(range.from || '');
  const [to, setTo] = useState(range.to || '');
  const [parts, setParts] = useState({ metrics: true, users: true, chat: true });
  const [state, setState] = useState({ busy: false, progress: null, error: '' });
  const run = async () => {
    const include = Object.keys(parts).filter((k) => parts[k]);
    if (!include.length) {
      setState({ busy: false, progress: null, error: 'Choose at least one kind of data.' });
      return;
    }
    const q = new URLSearchParams({ include: include.join(',') });
    if (from) q.set('from', fromLocalInput(from));
    if (to) q.set('to', fromLocalInput(to));
    setState({ busy: true, progress: null, error: '' });
    try {
      const { blob, name } = await download(`/campaigns/${c.id}/export.xlsx?${q}`, (p, bytes) => setState({ busy: true, progress: p, bytes, error: '' }));
      saveBlob(blob, name.endsWith('.xlsx') ? name : `${c.id}.xlsx`);
      setState({ busy: false, progress: 1, error: '', done: true });
    } catch (e) {
      setState({ busy: false, progress: null, error: e.message });
    }
  };
  const toggle = (k) => (e) => setParts({ ...parts, [k]: e.currentTarget.checked });
  return (
    <Dialog
      title="Export the event"
      open={open}
      onClose={onClose}
      actions={[
        <button type="button" class="secondary" onClick={onClose}>Close</button>,
        <button type="button" onClick={run} disabled={state.busy}>{state.busy ? 'Preparing…' : 'Export'}</button>,
      ]}
    >
      <p>A spreadsheet (.xlsx) of the event. The time range applies to the prelive and the replay; the live is always whole.</p>
      <div class="row">
        <Field label="From">{(a) => <input {...a} type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />}</Field>
        <Field label="To">{(a) => <input {...a} type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />}</Field>
      </div>
      <fieldset>
        <legend>Data</legend>
        <label class="check"><input type="checkbox" checked={parts.metrics} onChange={toggle('metrics')} /> Analytics metrics</label>
        <label class="check"><input type="checkbox" checked={parts.users} onChange={toggle('users')} /> User data</label>
        <label class="check"><input type="checkbox" checked={parts.chat} onChange={toggle('chat')} /> Chat messages</label>
      </fieldset>
      {state.busy && (
        <div role="status" class="progress">
          <progress max="1" value={state.progress ?? undefined} aria-label="Export progress" /> {state.bytes ? `${Math.round(state.bytes / 1024)} KB received` : 'Preparing the spreadsheet…'}
        </div>
      )}
      {state.done && <Notice kind="success">The spreadsheet is downloaded.</Notice>}
      <Notice kind="error">{state.error}</Notice>
    </Dialog>
  );
}
