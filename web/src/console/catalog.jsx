import { useEffect, useState } from 'preact/hooks';
import { api, listAll } from './api.js';
import { useTitle } from './app.jsx';
import { Dialog, Field, Loading, Notice, fmtDate, fmtMoney, fromLocalInput, toLocalInput, useConfirm } from './ui.jsx';

// Catalog is a list with a search, and a dialog to create or edit one
// item; each kind says its columns and its form.
function Catalog({ title, path, noun, columns, empty, toForm, toBody, FormFields, search }) {
  useTitle(title);
  const [items, setItems] = useState(null);
  const [q, setQ] = useState('');
  const [editing, setEditing] = useState(null); // {id?, form}
  const [errors, setErrors] = useState({});
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [busy, setBusy] = useState(false);
  const [confirmEl, ask] = useConfirm();
  const load = () => listAll(path).then(setItems, (e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);
  const shown = items && items.filter((it) => !q || search(it).toLowerCase().includes(q.toLowerCase()));
  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const body = toBody(editing.form, !!editing.id);
      if (editing.id) await api('PATCH', `${path}/${editing.id}`, body);
      else await api('POST', path, body);
      setNotice(`${noun} ${editing.id ? 'saved' : 'created'}.`);
      setEditing(null);
      load();
    } catch (err) {
      setErrors({ ...err.fields, _: Object.keys(err.fields).length ? '' : err.message });
    } finally {
      setBusy(false);
    }
  };
  const remove = async (it) => {
    if (!(await ask(`Delete this ${noun.toLowerCase()}?`, `“${it.name}” will be deleted and taken out of the campaigns that list it.`, 'Delete', true))) return;
    try {
      await api('DELETE', `${path}/${it.id}`);
      setNotice(`“${it.name}” was deleted.`);
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  return (
    <section aria-labelledby="cat-title">
      <div class="page-head">
        <h1 id="cat-title">{title}</h1>
        <button type="button" onClick={() => { setErrors({}); setEditing({ form: toForm(null) }); }}>
          Create {noun.toLowerCase()}
        </button>
      </div>
      <Notice kind="error" onClose={() => setError('')}>{error}</Notice>
      <Notice kind="success" onClose={() => setNotice('')}>{notice}</Notice>
      <div class="toolbar">
        <label for="cat-q" class="visually-hidden">Search {title.toLowerCase()}</label>
        <input id="cat-q" type="search" placeholder={`Search ${title.toLowerCase()}`} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </div>
      {!shown ? (
        <Loading />
      ) : shown.length === 0 ? (
        <p class="empty">{items.length ? 'Nothing matches.' : empty}</p>
      ) : (
        <table class="list">
          <thead>
            <tr>
              {columns.map(([h]) => (
                <th scope="col">{h}</th>
              ))}
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {shown.map((it) => (
              <tr key={it.id}>
                {columns.map(([, cell]) => (
                  <td>{cell(it)}</td>
                ))}
                <td>
<div class="actions">
                  <button type="button" class="small secondary" onClick={() => { setErrors({}); setEditing({ id: it.id, form: toForm(it) }); }} aria-label={`Edit ${it.name}`}>Edit</button>
                  <button type="button" class="small danger-outline" onClick={() => remove(it)} aria-label={`Delete ${it.name}`}>Delete</button>
                </div>
</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Dialog
        title={editing?.id ? `Edit ${noun.toLowerCase()}` : `Create ${noun.toLowerCase()}`}
        open={!!editing}
        onClose={() => setEditing(null)}
        actions={[
          <button type="button" class="secondary" onClick={() => setEditing(null)}>Cancel</button>,
          <button type="submit" form="catalog-form" disabled={busy}>{busy ? 'Saving…' : 'Save'}</button>,
        ]}
      >
        {editing && (
          <form id="catalog-form" onSubmit={save} noValidate>
            <Notice kind="error">{errors._}</Notice>
            <FormFields form={editing.form} errors={errors} set={(f) => setEditing({ ...editing, form: { ...editing.form, ...f } })} />
          </form>
        )}
      </Dialog>
      {confirmEl}
    </section>
  );
}

const text = (form, set, k) => (e) => set({ [k]: e.currentTarget.value });

export function Products() {
  return (
    <Catalog
      title="Products"
      noun="Product"
      path="/products"
      empty="No products yet: create the first."
      search={(p) => `${p.name} ${p.sku} ${p.category}`}
      columns={[
        ['Product', (p) => (
          <span class="pick">
            {p.image_url ? <img src={p.image_url} alt="" width={40} height={40} loading="lazy" /> : <span class="noimg" aria-hidden="true" />}
            <span>{p.name}</span>
            <span class="sub">{p.sku}</span>
          </span>
        )],
        ['Category', (p) => p.category || '—'],
        ['Price', (p) => fmtMoney(p.price, p.currency)],
        ['Stock', (p) => p.stock],
      ]}
      toForm={(p) => ({ sku: p?.sku || '', name: p?.name || '', category: p?.category || '', price: p?.price || '', currency: p?.currency || 'EUR', stock: String(p?.stock ?? 0), url: p?.url || '', image_url: p?.image_url || '' })}
      toBody={(f) => ({ sku: f.sku.trim(), name: f.name.trim(), category: f.category.trim(), price: f.price.trim(), currency: f.currency.trim().toUpperCase(), stock: Number(f.stock) || 0, url: f.url.trim(), image_url: f.image_url })}
      FormFields={ProductFields}
    />
  );
}

function ProductFields({ form, errors, set }) {
  const [upErr, setUpErr] = useState('');
  const upload = async (e) => {
    const f = e.currentTarget.files[0];
    if (!f) return;
    try {
      const img = await api('POST', '/images', new Blob([f], { type: f.type }));
      set({ image_url: img.url });
      setUpErr('');
    } catch (err) {
      setUpErr(err.message);
    }
  };
  return (
    <>
      <Field label="Name" error={errors.name}>{(a) => <input {...a} name="name" required value={form.name} onInput={text(form, set, 'name')} />}</Field>
      <div class="row">
        <Field label="SKU" hint="Your stock keeping unit, unique" error={errors.sku}>{(a) => <input {...a} name="sku" required value={form.sku} onInput={text(form, set, 'sku')} />}</Field>
        <Field label="Category" error={errors.category}>{(a) => <input {...a} name="category" value={form.category} onInput={text(form, set, 'category')} />}</Field>
      </div>
      <div class="row">
        <Field label="Price" hint="e.g. 129.00" error={errors.price}>{(a) => <input {...a} name="price" inputMode="decimal" required value={form.price} onInput={text(form, set, 'price')} />}</Field>
        <Field label="Currency" hint="ISO code, e.g. EUR" error={errors.currency}>{(a) => <input {...a} name="currency" maxLength={3} required value={form.currency} onInput={text(form, set, 'currency')} />}</Field>
        <Field label="Stock" error={errors.stock}>{(a) => <input {...a} name="stock" type="number" min="0" value={form.stock} onInput={text(form, set, 'stock')} />}</Field>
      </div>
      <Field label="Product page on your shop" hint="https://…" error={errors.url}>{(a) => <input {...a} name="url" type="url" value={form.url} onInput={text(form, set, 'url')} />}</Field>
      <Field label="Image" error={upErr || errors.image_url}>
        {(a) => <input {...a} type="file" accept="image/jpeg,image/png,image/webp,image/gif" onChange={upload} />}
      </Field>
      {form.image_url && (
        <div class="row">
          <img src={form.image_url} alt="The product's image" width={80} height={80} class="preview" />
          <button type="button" class="small secondary" onClick={() => set({ image_url: '' })}>Remove image</button>
        </div>
      )}
    </>
  );
}

export function Vouchers() {
  return (
    <Catalog
      title="Vouchers"
      noun="Voucher"
      path="/vouchers"
      empty="No vouchers yet: create the first."
      search={(v) => `${v.name} ${v.code}`}
      columns={[
        ['Voucher', (v) => (
          <span class="pick">
            <span>{v.name}</span>
            <span class="sub">{v.code}</span>
          </span>
        )],
        ['Discount', (v) => (v.discount_type === 'percent' ? `${v.discount_value} %` : fmtMoney(v.discount_value, v.currency))],
        ['Minimum spend', (v) => (Number(v.min_spend) ? fmtMoney(v.min_spend, v.currency) : 'None')],
        ['Quantity', (v) => v.quantity],
        ['Valid', (v) => `${fmtDate(v.starts_at)} – ${fmtDate(v.ends_at)}`],
      ]}
      toForm={(v) => {
        const now = new Date();
        return {
          code: v?.code || '', name: v?.name || '', discount_type: v?.discount_type || 'percent', discount_value: v?.discount_value || '',
          currency: v?.currency || '', min_spend: v && Number(v.min_spend) ? v.min_spend : '', quantity: String(v?.quantity ?? 100),
          starts_at: toLocalInput(v?.starts_at || now.toISOString()), ends_at: toLocalInput(v?.ends_at || new Date(now.getTime() + 30 * 864e5).toISOString()),
        };
      }}
      toBody={(f) => ({
        code: f.code.trim(), name: f.name.trim(), discount_type: f.discount_type, discount_value: f.discount_value.trim(),
        currency: f.currency.trim().toUpperCase(), min_spend: f.min_spend.trim(), quantity: Number(f.quantity) || 0,
        starts_at: fromLocalInput(f.starts_at), ends_at: fromLocalInput(f.ends_at),
      })}
      FormFields={VoucherFields}
    />
  );
}

function VoucherFields({ form, errors, set }) {
  return (
    <>
      <Field label="Name" error={errors.name}>{(a) => <input {...a} name="name" required value={form.name} onInput={text(form, set, 'name')} />}</Field>
      <Field label="Code" hint="What the buyer enters" error={errors.code}>{(a) => <input {...a} name="code" required value={form.code} onInput={text(form, set, 'code')} />}</Field>
      <div class="row">
        <Field label="Discount type" error={errors.discount_type}>
          {(a) => (
            <select {...a} name="discount_type" value={form.discount_type} onChange={text(form, set, 'discount_type')}>
              <option value="percent">Percent off</option>
              <option value="amount">Amount off</option>
            </select>
          )}
        </Field>
        <Field label={form.discount_type === 'percent' ? 'Percent' : 'Amount'} error={errors.discount_value}>
          {(a) => <input {...a} name="discount_value" inputMode="decimal" required value={form.discount_value} onInput={text(form, set, 'discount_value')} />}
        </Field>
        <Field label="Currency" hint="Needed for an amount or a minimum spend" error={errors.currency}>
          {(a) => <input {...a} name="currency" maxLength={3} value={form.currency} onInput={text(form, set, 'currency')} />}
        </Field>
      </div>
      <div class="row">
        <Field label="Minimum spend" hint="Empty: none" error={errors.min_spend}>{(a) => <input {...a} name="min_spend" inputMode="decimal" value={form.min_spend} onInput={text(form, set, 'min_spend')} />}</Field>
        <Field label="Quantity" error={errors.quantity}>{(a) => <input {...a} name="quantity" type="number" min="0" value={form.quantity} onInput={text(form, set, 'quantity')} />}</Field>
      </div>
      <div class="row">
        <Field label="Valid from" error={errors.starts_at}>{(a) => <input {...a} name="starts_at" type="datetime-local" value={form.starts_at} onInput={text(form, set, 'starts_at')} />}</Field>
        <Field label="Valid until" error={errors.ends_at}>{(a) => <input {...a} name="ends_at" type="datetime-local" value={form.ends_at} onInput={text(form, set, 'ends_at')} />}</Field>
      </div>
    </>
  );
}
