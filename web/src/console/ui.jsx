// Shared pieces of the console's screens: fields with their errors,
// buttons, dialogs, notices, formatters. Text from the API is rendered as
// text by Preact (never as HTML).
import { useEffect, useRef, useState } from 'preact/hooks';

let nextID = 0;
export function useID(prefix) {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++nextID}`;
  return ref.current;
}

// Field is a labelled control with its hint and its error, tied together
// for assistive technology (aria-describedby, aria-invalid).
export function Field({ label, hint, error, children, id: given }) {
  const auto = useID('f');
  const id = given || auto;
  const hintID = hint ? id + '-hint' : undefined;
  const errID = error ? id + '-err' : undefined;
  const describedBy = [hintID, errID].filter(Boolean).join(' ') || undefined;
  const control = typeof children === 'function' ? children({ id, 'aria-describedby': describedBy, 'aria-invalid': error ? 'true' : undefined }) : children;
  return (
    <div class={'field' + (error ? ' field-error' : '')}>
      <label for={id}>{label}</label>
      {control}
      {hint && <p class="hint" id={hintID}>{hint}</p>}
      {error && <p class="error" id={errID}>{error}</p>}
    </div>
  );
}

export function Notice({ kind = 'info', children, onClose }) {
  if (!children) return null;
  return (
    <div class={'notice notice-' + kind} role={kind === 'error' ? 'alert' : 'status'}>
      <span>{children}</span>
      {onClose && (
        <button type="button" class="link" onClick={onClose} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

// Dialog is a modal <dialog>: focus moves in, Escape closes, focus returns.
export function Dialog({ title, open, onClose, children, actions }) {
  const ref = useRef(null);
  const titleID = useID('dlg');
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleID} onClose={onClose} onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <h2 id={titleID}>{title}</h2>
      <div class="dialog-body">{children}</div>
      <div class="dialog-actions">{actions}</div>
    </dialog>
  );
}

// useConfirm returns [dialog element, ask(text, label) -> Promise<bool>].
export function useConfirm() {
  const [state, setState] = useState(null);
  const ask = (title, body, confirmLabel = 'Confirm', danger = false) =>
    new Promise((resolve) => setState({ title, body, confirmLabel, danger, resolve }));
  const close = (v) => {
    state && state.resolve(v);
    setState(null);
  };
  const el = (
    <Dialog
      title={state ? state.title : ''}
      open={!!state}
      onClose={() => close(false)}
      actions={[
        <button type="button" class="secondary" onClick={() => close(false)}>Cancel</button>,
        <button type="button" class={state && state.danger ? 'danger' : ''} onClick={() => close(true)}>
          {state ? state.confirmLabel : ''}
        </button>,
      ]}
    >
      <p>{state ? state.body : ''}</p>
    </Dialog>
  );
  return [el, ask];
}

export function Loading({ label = 'Loading…' }) {
  return <p class="loading" role="status">{label}</p>;
}

// useAsync runs fn when deps change and keeps {data, error, loading, reload}.
export function useAsync(fn, deps) {
  const [st, setSt] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setSt((s) => ({ ...s, loading: true, error: null }));
    fn().then(
      (data) => live && setSt({ data, error: null, loading: false }),
      (error) => live && setSt({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...st, reload: () => setTick((t) => t + 1) };
}

export function copy(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.append(ta);
  ta.select();
  document.execCommand('copy');
  ta.remove();
  return Promise.resolve();
}

// CopyButton copies text and says so for a moment.
export function CopyButton({ text, label = 'Copy', class: cls = 'secondary' }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class={cls}
      onClick={async () => {
        await copy(text);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? 'Copied' : label}
      <span class="visually-hidden" aria-live="polite">{done ? ' to the clipboard' : ''}</span>
    </button>
  );
}

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const fmtDate = (iso) => (iso ? dtf.format(new Date(iso)) : '—');

export function fmtMoney(amount, currency) {
  if (amount === '' || amount == null) return '—';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'EUR' }).format(Number(amount));
  } catch {
    return `${amount} ${currency || ''}`.trim();
  }
}

// toLocalInput turns an RFC 3339 time into a datetime-local value in the
// seller's time zone; fromLocalInput the other way.
export function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const statusLabels = { ongoing: 'Ongoing', upcoming: 'Upcoming', ended: 'Ended', completed: 'Completed' };

export function StatusBadge({ status }) {
  return <span class={'badge badge-' + status}>{statusLabels[status] || status}</span>;
}

// count writes n with its noun, singular or plural: "1 product", "2 products".
export const count = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;
