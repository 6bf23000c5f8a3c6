// The browser publisher: the camera and microphone published over WHIP
// (RFC 9725) to a campaign. It lives outside the screens, so that the
// preparation screen's publishing goes on into the live screen.

const listeners = new Set();
let state = { campaignId: '', stream: null, pc: null, status: 'idle', error: '', location: '', video: true, audio: true };

function set(patch) {
  state = { ...state, ...patch };
  for (const fn of listeners) fn(state);
}

export function subscribe(fn) {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}

export function current() {
  return state;
}

// preview opens the camera and microphone chosen (no publishing yet).
export async function preview(campaignId, { videoId, audioId, height = 720, fps = 30 } = {}) {
  if (state.stream) for (const t of state.stream.getTracks()) t.stop();
  const constraints = {
    video: { deviceId: videoId ? { exact: videoId } : undefined, height: { ideal: height }, frameRate: { ideal: fps } },
    audio: { deviceId: audioId ? { exact: audioId } : undefined, echoCancellation: true, noiseSuppression: true },
  };
  try {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    set({ campaignId, stream, error: '', video: true, audio: true });
    // A publishing connection takes the new tracks in place of the old.
    if (state.pc) {
      for (const sender of state.pc.getSenders()) {
        const track = stream.getTracks().find((t) => t.kind === sender.track?.kind);
        if (track) await sender.replaceTrack(track);
      }
    }
    return stream;
  } catch (e) {
    const msg =
      e.name === 'NotAllowedError'
        ? 'The browser was not allowed to use the camera or microphone: allow them in the address bar, then try again.'
        : e.name === 'NotFoundError'
          ? 'No camera or microphone was found.'
          : !window.isSecureContext
            ? 'The camera needs a secure page: open the console over HTTPS (see the README).'
            : 'The camera or microphone could not start: ' + e.message;
    set({ error: msg });
    throw new Error(msg);
  }
}

// publish sends the previewed stream to the campaign's WHIP endpoint with
// its stream key.
export async function publish(whipURL, streamKey) {
  if (!state.stream) throw new Error('Start the camera first.');
  stopConnection();
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  set({ pc, status: 'connecting', error: '' });
  for (const t of state.stream.getTracks()) {
    const tr = pc.addTransceiver(t, { direction: 'sendonly', streams: [state.stream] });
    // H.264 first: viewers' browsers decode it everywhere, and LL-HLS and
    // the recording take it as it is.
    if (t.kind === 'video' && RTCRtpSender.getCapabilities) {
      const caps = RTCRtpSender.getCapabilities('video').codecs;
      const h264 = caps.filter((c) => c.mimeType === 'video/H264');
      if (h264.length && tr.setCodecPreferences) tr.setCodecPreferences([...h264, ...caps.filter((c) => c.mimeType !== 'video/H264')]);
    }
  }
  pc.onconnectionstatechange = () => {
    if (state.pc !== pc) return;
    if (pc.connectionState === 'connected') set({ status: 'live' });
    if (pc.connectionState === 'failed') set({ status: 'failed', error: 'The connection to the server was lost: publish again.' });
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => {
    if (pc.iceGatheringState === 'complete') return ok();
    const t = setTimeout(ok, 1500);
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && (clearTimeout(t), ok()));
  });
  const res = await fetch(whipURL, {
    method: 'POST',
    body: pc.localDescription.sdp,
    headers: { 'Content-Type': 'application/sdp', Authorization: 'Bearer ' + streamKey },
  });
  if (res.status !== 201) {
    let msg = `The server refused the stream (${res.status}).`;
    try {
      msg = (await res.json()).error.message || msg;
    } catch {}
    pc.close();
    set({ pc: null, status: 'failed', error: msg });
    throw new Error(msg);
  }
  const loc = res.headers.get('Location') || '';
  set({ location: loc ? new URL(loc, whipURL).href : '' });
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
}

function stopConnection() {
  if (state.pc) {
    state.pc.close();
    if (state.location) fetch(state.location, { method: 'DELETE', keepalive: true }).catch(() => {});
  }
  set({ pc: null, location: '', status: 'idle' });
}

// stop ends the publishing and closes the camera.
export function stop() {
  stopConnection();
  if (state.stream) for (const t of state.stream.getTracks()) t.stop();
  set({ stream: null, campaignId: '' });
}

// toggle turns the camera ("video") or the microphone ("audio") off or
// on: the track stays, muted, so that the connection goes on.
export function toggle(kind) {
  const on = !state[kind];
  if (state.stream) for (const t of state.stream.getTracks()) if (t.kind === kind) t.enabled = on;
  set({ [kind]: on });
}

// uplink reads the sending side's statistics: bitrate over the interval
// since the last call, round trip and loss.
let last = null;
export async function uplink() {
  if (!state.pc) return null;
  const stats = await state.pc.getStats();
  let bytes = 0;
  let rtt = null;
  let lost = 0;
  let sent = 0;
  stats.forEach((s) => {
    if (s.type === 'outbound-rtp') {
      bytes += s.bytesSent || 0;
      sent += s.packetsSent || 0;
    }
    if (s.type === 'remote-inbound-rtp') {
      if (s.roundTripTime != null) rtt = s.roundTripTime;
      lost += s.packetsLost || 0;
    }
    if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime != null && rtt == null) rtt = s.currentRoundTripTime;
  });
  const now = performance.now();
  let bitrate = null;
  if (last && now > last.at) bitrate = ((bytes - last.bytes) * 8 * 1000) / (now - last.at);
  last = { bytes, at: now };
  return { bitrate, rtt, loss: sent ? lost / (sent + lost) : 0 };
}
