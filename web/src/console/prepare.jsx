import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api } from './api.js';
import { base, useTitle } from './app.jsx';
import * as pub from './publisher.js';
import { CopyButton, Field, Loading, Notice, fmtMoney } from './ui.jsx';

// Prepare is the preparation screen: the host checks the sources, the
// internet speed and the shop before Start livestream opens the live to
// viewers. Entering it puts the campaign in preparation: its stream key
// is accepted, viewers still see the prelive page.
export function Prepare() {
  const { params } = useRoute();
  const loc = useLocation();
  const [c, setC] = useState(null);
  const [pre, setPre] = useState(null);
  const [error, setError] = useState('');
  const [source, setSource] = useState('browser');
  const [starting, setStarting] = useState(false);
  useTitle(c ? 'Prepare: ' + c.title : 'Prepare');

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        let camp = await api('GET', '/campaigns/' + params.id);
        if (camp.stage === 'live') {
          loc.route(`${base}/campaigns/${params.id}/live`);
          return;
        }
        if (camp.stage !== 'preparing') camp = await api('POST', `/campaigns/${params.id}/prepare`);
        live && setC(camp);
      } catch (e) {
        live && setError(e.message);
      }
    })();
    return () => {
      live = false;
    };
  }, [params.id]);

  // The preflight: what the server measures of the encoder, every 2 s.
  useEffect(() => {
    if (!c) return;
    let live = true;
    const poll = () => api('GET', `/campaigns/${c.id}/preflight`).then((p) => live && setPre(p), () => {});
    poll();
    const t = setInterval(poll, 2000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [c]);

  if (error) return <Notice kind="error">{error}</Notice>;
  if (!c) return <Loading label="Preparing the live…" />;

  const start = async () => {
    setStarting(true);
    try {
      await api('POST', `/campaigns/${c.id}/live`);
      loc.route(`${base}/campaigns/${c.id}/live`);
    } catch (e) {
      setError(e.message);
      setStarting(false);
    }
  };
  const leave = async () => {
    pub.stop();
    try {
      await api('DELETE', `/campaigns/${c.id}/prepare`);
    } catch {}
    loc.route(`${base}/campaigns/${c.id}`);
  };

  return (
    <section aria-labelledby="p-title" class="prepare">
      <p class="crumbs"><a href={base + '/'}>Campaigns</a> / <a href={`${base}/campaigns/${c.id}`}>{c.title}</a> / Preparation</p>
      <div class="page-head">
        <h1 id="p-title">Prepare “{c.title}”</h1>
        <div class="actions">
          <button type="button" class="secondary" onClick={leave}>Leave preparation</button>
          <button type="button" onClick={start} disabled={starting || !(pre && pre.publisher_connected)} aria-describedby="start-hint">
            {starting ? 'Starting…' : 'Start livestream'}
          </button>
        </div>
      </div>
      <p class="hint" id="start-hint">
        {pre && pre.publisher_connected ? 'Viewers see the prelive page until you start.' : 'Start livestream is enabled once the server receives your camera or encoder.'}
      </p>
      <div class="prep-grid">
        <div class="box">
          <h2>Sources</h2>
          <div role="radiogroup" aria-label="Source" class="seg">
            <label class="check"><input type="radio" name="source" checked={source === 'browser'} onChange={() => setSource('browser')} /> This browser</label>
            <label class="check"><input type="radio" name="source" checked={source === 'encoder'} onChange={() => setSource('encoder')} /> OBS or an encoder</label>
          </div>
          {source === 'browser' ? <BrowserSource c={c} /> : <EncoderSource c={c} />}
        </div>
        <div class="box">
          <h2>Internet speed</h2>
          <Speed pre={pre} browser={source === 'browser'} />
        </div>
        <div class="box">
          <h2>Shop livestream</h2>
          <Shop pre={pre} c={c} />
        </div>
      </div>
    </section>
  );
}

function BrowserSource({ c }) {
  const video = useRef(null);
  const [devices, setDevices] = useState({ video: [], audio: [] });
  const [choice, setChoice] = useState({ videoId: '', audioId: '', height: 720, fps: 30 });
  const [st, setSt] = useState(pub.current());
  const [err, setErr] = useState('');
  useEffect(() => pub.subscribe(setSt), []);
  useEffect(() => {
    if (video.current && st.stream && video.current.srcObject !== st.stream) video.current.srcObject = st.stream;
  }, [st.stream]);
  const list = async () => {
    const all = await navigator.mediaDevices.enumerateDevices();
    setDevices({ video: all.filter((d) => d.kind === 'videoinput'), audio: all.filter((d) => d.kind === 'audioinput') });
  };
  const open = async (ch = choice) => {
    setErr('');
    try {
      await pub.preview(c.id, ch);
      await list();
    } catch (e) {
      setErr(e.message);
    }
  };
  const goPublish = async () => {
    setErr('');
    try {
      await pub.publish(c.ingest.whip, c.stream_key);
    } catch (e) {
      setErr(e.message);
    }
  };
  const change = (k) => (e) => {
    const ch = { ...choice, [k]: k === 'height' || k === 'fps' ? Number(e.currentTarget.value) : e.currentTarget.value };
    setChoice(ch);
    if (st.stream) open(ch);
  };
  return (
    <div>
      <Notice kind="error">{err || st.error}</Notice>
      <video ref={video} class="preview" autoplay muted playsInline aria-label="Your camera's preview" />
      {st.stream && <Meter stream={st.stream} />}
      {!st.stream ? (
        <button type="button" onClick={() => open()}>Start camera and microphone</button>
      ) : (
        <>
          <div class="row">
            <Field label="Camera">
              {(a) => (
                <select {...a} value={choice.videoId} onChange={change('videoId')}>
                  <option value="">Default camera</option>
                  {devices.video.map((d, i) => <option value={d.deviceId}>{d.label || `Camera ${i + 1}`}</option>)}
                </select>
              )}
            </Field>
            <Field label="Microphone">
              {(a) => (
                <select {...a} value={choice.audioId} onChange={change('audioId')}>
                  <option value="">Default microphone</option>
                  {devices.audio.map((d, i) => <option value={d.deviceId}>{d.label || `Microphone ${i + 1}`}</option>)}
                </select>
              )}
            </Field>
          </div>
          <div class="row">
            <Field label="Resolution">
              {(a) => (
                <select {...a} value={String(choice.height)} onChange={change('height')}>
                  <option value="1080">1080p</option>
                  <option value="720">720p</option>
                  <option value="480">480p</option>
                </select>
              )}
            </Field>
            <Field label="Frame rate">
              {(a) => (
                <select {...a} value={String(choice.fps)} onChange={change('fps')}>
                  <option value="30">30 fps</option>
                  <option value="25">25 fps</option>
                  <option value="15">15 fps</option>
                </select>
              )}
            </Field>
          </div>
          <p class="status-line" role="status">
            {st.status === 'live' ? 'Sending to the server.' : st.status === 'connecting' ? 'Connecting to the server…' : 'Not sending yet.'}
          </p>
          {st.status !== 'live' && st.status !== 'connecting' && <button type="button" onClick={goPublish}>Send to the server</button>}
        </>
      )}
    </div>
  );
}

// Meter shows the microphone's level.
function Meter({ stream }) {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    const track = stream.getAudioTracks()[0];
    if (!track) return;
    const ctx = new AudioContext();
    const src = ctx.createMediaStreamSource(new MediaStream([track]));
    const an = ctx.createAnalyser();
    an.fftSize = 512;
    src.connect(an);
    const buf = new Uint8Array(an.fftSize);
    const t = setInterval(() => {
      an.getByteTimeDomainData(buf);
      let peak = 0;
      for (const v of buf) peak = Math.max(peak, Math.abs(v - 128));
      setLevel(Math.min(100, Math.round((peak / 128) * 100)));
    }, 100);
    return () => {
      clearInterval(t);
      ctx.close();
    };
  }, [stream]);
  return (
    <div class="meter">
      <span id="meter-label">Microphone level</span>
      <meter aria-labelledby="meter-label" min={0} max={100} low={10} high={85} optimum={50} value={level} />
    </div>
  );
}

function EncoderSource({ c }) {
  const [reveal, setReveal] = useState(false);
  return (
    <div>
      <p>In OBS: Settings → Stream → Service “Custom”, then:</p>
      <dl class="kv">
        <dt>Server</dt>
        <dd>
          <code>{c.ingest.rtmp_server || '(RTMP is off on this server)'}</code> {c.ingest.rtmp_server && <CopyButton text={c.ingest.rtmp_server} class="small secondary" />}
        </dd>
        <dt>Stream key</dt>
        <dd>
          <code>{reveal ? c.stream_key : '•'.repeat(16)}</code>{' '}
          <button type="button" class="small secondary" onClick={() => setReveal(!reveal)} aria-pressed={reveal ? 'true' : 'false'}>
            {reveal ? 'Hide' : 'Reveal'}
          </button>{' '}
          <CopyButton text={c.stream_key} class="small secondary" />
        </dd>
        <dt>WHIP (OBS 30+)</dt>
        <dd>
          <code>{c.ingest.whip}</code> <CopyButton text={c.ingest.whip} class="small secondary" />
        </dd>
      </dl>
      <p class="hint">Recommended: H.264, keyframe every 1–2 s, B-frames off (WebRTC viewers cannot play them), AAC or Opus audio, 2.5–6 Mbit/s for 720p–1080p.</p>
    </div>
  );
}

const verdicts = { ok: 'Good', low: 'Low', poor: 'Too low', unknown: 'Not measured yet' };

function Speed({ pre, browser }) {
  const [up, setUp] = useState(null);
  useEffect(() => {
    if (!browser) return;
    const t = setInterval(async () => setUp(await pub.uplink()), 2000);
    return () => clearInterval(t);
  }, [browser]);
  if (!pre) return <Loading />;
  const mbit = (b) => (b == null ? '—' : (b / 1e6).toFixed(2) + ' Mbit/s');
  return (
    <div>
      <p class={'verdict verdict-' + pre.speed.verdict}>
        <strong>{verdicts[pre.speed.verdict] || pre.speed.verdict}</strong> — {pre.speed.message}
      </p>
      <dl class="kv">
        <dt>Received by the server</dt>
        <dd>{mbit(pre.bitrate)} (needs {mbit(pre.speed.required)})</dd>
        {browser && up && (
          <>
            <dt>Sent by this browser</dt>
            <dd>{mbit(up.bitrate)}</dd>
            <dt>Round trip</dt>
            <dd>{up.rtt == null ? '—' : Math.round(up.rtt * 1000) + ' ms'}</dd>
            <dt>Packets lost</dt>
            <dd>{(up.loss * 100).toFixed(1)} %</dd>
          </>
        )}
        {pre.tracks.map((t) => (
          <>
            <dt>{t.width ? 'Video' : 'Audio'}</dt>
            <dd>
              {t.codec}
              {t.width ? `, ${t.width}×${t.height}, ${Math.round(t.frame_rate || 0)} fps` : `, ${t.sample_rate} Hz, ${t.channels === 1 ? 'mono' : 'stereo'}`}
            </dd>
          </>
        ))}
      </dl>
      {pre.warnings.length > 0 && (
        <ul class="warnings">
          {pre.warnings.map((w) => (
            <li>{w.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Shop({ pre, c }) {
  if (!pre) return <Loading />;
  return (
    <div>
      <h3>Products ({pre.products.length})</h3>
      {pre.products.length ? (
        <ul class="mini">
          {pre.products.map((p) => (
            <li>{p.name} — {fmtMoney(p.price, p.currency)}</li>
          ))}
        </ul>
      ) : (
        <p class="empty">No products: <a href={`${base}/campaigns/${c.id}/edit`}>add some</a> before going live.</p>
      )}
      <h3>Vouchers ({pre.vouchers.length})</h3>
      {pre.vouchers.length ? (
        <ul class="mini">
          {pre.vouchers.map((v) => (
            <li>{v.name} ({v.code})</li>
          ))}
        </ul>
      ) : (
        <p class="empty">No vouchers.</p>
      )}
      <p>
        <CopyButton text={pre.share_url} label="Copy link" /> <span class="hint">{pre.share_url}</span>
      </p>
    </div>
  );
}
