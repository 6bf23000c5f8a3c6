import { useLocation, useRoute } from 'preact-iso';
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { base, useTitle } from './app.jsx';
import { editable, watchURL } from './campaigns.jsx';
import { CopyButton, Loading, Notice, StatusBadge, count, fmtDate, useAsync, useConfirm } from './ui.jsx';

// CampaignDetails is a campaign as created, with what can be done with it.
export function CampaignDetails() {
  const { params, query } = useRoute();
  const loc = useLocation();
  const { data: c, error, reload } = useAsync(() => api('GET', '/campaigns/' + params.id), [params.id]);
  const [msg, setMsg] = useState(query.saved ? 'Saved.' : '');
  const [err, setErr] = useState('');
  const [confirmEl, ask] = useConfirm();
  useTitle(c ? c.title : 'Campaign');
  if (error) return <Notice kind="error">{error.status === 404 ? 'This campaign does not exist (it may have been deleted).' : error.message}</Notice>;
  if (!c) return <Loading />;
  const why = editable(c) ? '' : c.status === 'ongoing' ? 'Not while live: end the live first.' : 'A completed campaign cannot change.';
  const remove = async () => {
    if (!(await ask('Delete this campaign?', `“${c.title}” and its orders and reminders will be deleted. This cannot be undone.`, 'Delete', true))) return;
    try {
      await api('DELETE', '/campaigns/' + c.id);
      loc.route(base + '/');
    } catch (e) {
      setErr(e.message);
      reload();
    }
  };
  return (
    <section aria-labelledby="d-title">
      <p class="crumbs"><a href={base + '/'}>Campaigns</a> / {c.title}</p>
      <div class="page-head">
        <h1 id="d-title">{c.title}</h1>
        <StatusBadge status={c.status} />
      </div>
      <Notice kind="success" onClose={() => setMsg('')}>{msg}</Notice>
      <Notice kind="error" onClose={() => setErr('')}>{err}</Notice>
      <div class="actions wrap">
        {c.status === 'ongoing' ? <a class="button" href={`${base}/campaigns/${c.id}/live`}>Open live</a> : c.status !== 'completed' && <a class="button" href={`${base}/campaigns/${c.id}/prepare`}>{c.stage === 'preparing' ? 'Resume preparation' : 'Go live'}</a>}
        {editable(c) ? <a class="button secondary" href={`${base}/campaigns/${c.id}/edit`}>Edit</a> : <button type="button" class="secondary" disabled aria-describedby="why">Edit</button>}
        <a class="button secondary" href={`${base}/campaigns/${c.id}/event`}>Event page</a>
        <a class="button secondary" href={`${base}/campaigns/${c.id}/clone`}>Clone</a>
        <button type="button" class="danger-outline" disabled={!editable(c)} aria-describedby={why ? 'why' : undefined} onClick={remove}>Delete</button>
        <CopyButton text={watchURL(c)} label="Copy link" />
      </div>
      {why && <p class="hint" id="why">{why}</p>}
      <div class="details">
        <div>
          {c.image_urls.length > 0 && (
            <ul class="thumbs">
              {c.image_urls.map((u, i) => (
                <li><img src={u} alt={`Image ${i + 1}`} width={120} height={120} /></li>
              ))}
            </ul>
          )}
          <p class="description">{c.description || <em>No description.</em>}</p>
        </div>
        <dl>
          <dt>Window</dt>
          <dd>{fmtDate(c.starts_at)} – {fmtDate(c.ends_at)}</dd>
          <dt>Visibility</dt>
          <dd>{c.visibility === 'followers' ? 'Only for followers' : 'Suggested'}{c.published ? ', published' : ', not published'}</dd>
          <dt>Playback</dt>
          <dd>
            {c.transport === 'webrtc' ? 'Always real time (WebRTC)' : c.transport === 'llhls' ? 'Always smooth (LL-HLS)' : 'Automatic'}
            {c.country ? `; shoppers' country ${c.country}` : ''}
          </dd>
          <dt>Products and vouchers</dt>
          <dd>{count(c.product_ids.length, 'product')}, {count(c.voucher_ids.length, 'voucher')}</dd>
          <dt>Notifications</dt>
          <dd>
            {c.notify_at_creation ? 'At creation' : 'None at creation'}
            {c.notify_before_start && c.notify_before_start !== '0s' ? `; ${c.notify_before_start} before the start` : ''}
          </dd>
          <dt>Last live</dt>
          <dd>{c.live_started_at ? `${fmtDate(c.live_started_at)}${c.live_ended_at ? ' – ' + fmtDate(c.live_ended_at) : ' (on air)'}` : 'Never'}</dd>
          <dt>Viewers' page</dt>
          <dd><a href={watchURL(c)} target="_blank" rel="noopener">{watchURL(c)}</a></dd>
        </dl>
      </div>
      {confirmEl}
    </section>
  );
}
