// A WHEP client (RFC 9725): one recvonly offer, non-trickle ICE (host
// candidates are there within milliseconds), DELETE on stop.

export async function whep(url, { onTrack, onFailed, timeoutMs = 8000 }) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  let location = '';
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    pc.close();
    if (location) fetch(location, { method: 'DELETE', keepalive: true }).catch(() => {});
  };
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (e) => onTrack(e.track, e.streams[0]);
    pc.onconnectionstatechange = () => {
      if (!stopped && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) onFailed(new Error('WebRTC ' + pc.connectionState));
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((ok) => {
      if (pc.iceGatheringState === 'complete') return ok();
      const t = setTimeout(ok, 1000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(t);
          ok();
        }
      });
    });
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), timeoutMs);
    const res = await fetch(url, {
      method: 'POST',
      body: pc.localDescription.sdp,
      headers: { 'Content-Type': 'application/sdp' },
      signal: ctl.signal,
    });
    clearTimeout(t);
    if (res.status !== 201) {
      const err = new Error(`WHEP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    const loc = res.headers.get('Location');
    if (loc) location = new URL(loc, new URL(url, document.baseURI)).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  } catch (e) {
    stop();
    throw e;
  }
  return {
    pc,
    stop,
    location,
    // The one-way network delay and the jitter buffer, in ms, for the
    // media clock estimate when frames carry no receive time.
    async latency() {
      let rtt = 0;
      let jb = 0;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
        if (s.type === 'inbound-rtp' && s.kind === 'video' && s.jitterBufferEmittedCount) jb = (s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000;
      });
      return { oneWay: rtt / 2, jitterBuffer: jb };
    },
  };
}
